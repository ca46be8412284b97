"""``offline_plan.shards.ShardWorkers``: shards start while the core is planned and never outlive a failed core."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pulumi
import pytest

import offline_plan.shards as shards
from policies import pack_config
from tests.sharded_fleet import THREE_SHARDS, fleet_project


def test_a_core_that_fails_releases_its_waiting_shards_and_leaves_no_plan(tmp_path, monkeypatch):
    """The shards wait for the core's plan: a failed core must end them, not leave them waiting (or use an old plan)."""
    project = fleet_project(tmp_path / "project", shards=THREE_SHARDS)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / shards.core_plan_name("prod")
    stale.write_text('{"stack": "prod", "outputs": {}}')  # an earlier run's core plan

    def failing_core(*args, **kwargs):
        time.sleep(1)  # long enough for the shard processes to be up and waiting
        raise pulumi.RunError("the core's program failed")

    monkeypatch.setattr(shards, "run_plan", failing_core)
    outcome: dict[str, BaseException] = {}

    def plan() -> None:
        try:
            shards.plan_fleet(project, "prod", None, policy_config=pack_config.DEFAULT_PATH, out_dir=out, jobs=2)
        except BaseException as error:
            outcome["error"] = error

    planner = threading.Thread(target=plan, daemon=True)
    planner.start()
    planner.join(timeout=60)
    if planner.is_alive():
        for child in multiprocessing.active_children():
            child.terminate()  # so the suite does not hang on the pool
        planner.join(timeout=30)
        pytest.fail("the shards were left waiting for a core plan that never came")
    error = outcome.get("error")
    assert isinstance(error, pulumi.RunError) and "the core's program failed" in str(error), error
    assert sorted(path.name for path in out.iterdir()) == [], "no shard planned from the earlier run's core plan"
