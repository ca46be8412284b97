"""``offline_plan.shards.ShardWorkers``: shards start while the core is planned and never outlive a failed core."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import pulumi
import pytest
import yaml

import offline_plan.shards as shards
from policies import pack_config
from tests.conftest import PROJECT_DIR, with_dependencies
from tests.sharded_fleet import THREE_SHARDS, fleet_project


class PlannerThread:
    """``plan_fleet`` on a daemon thread, so a hang fails the test instead of the whole suite."""

    def __init__(self, project, out) -> None:
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._plan, args=(project, out), daemon=True)
        self._thread.start()

    def _plan(self, project, out) -> None:
        try:
            shards.plan_fleet(project, "prod", None, policy_config=pack_config.DEFAULT_PATH, out_dir=out, jobs=2)
        except BaseException as error:
            self.error = error

    def finish(self, hang: str, timeout: float = 60) -> BaseException | None:
        """What ``plan_fleet`` raised; fails with ``hang`` (after killing the pool's processes) if it never returns."""
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            for child in multiprocessing.active_children():
                child.kill()  # so the suite does not hang on the pool
            self._thread.join(timeout=30)
            pytest.fail(hang)
        return self.error


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
    error = PlannerThread(project, out).finish("the shards were left waiting for a core plan that never came")
    assert isinstance(error, pulumi.RunError) and "the core's program failed" in str(error), error
    assert sorted(path.name for path in out.iterdir()) == [], "no shard planned from the earlier run's core plan"


def _waiting_workers(timeout: float = 60) -> list[multiprocessing.Process]:
    """The pool's processes once they are all up and blocked waiting for the core's plan."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = multiprocessing.active_children()
        if len(children) >= 2:
            time.sleep(1.5)  # spawn, import, initializer, then waiting for the core
            return multiprocessing.active_children()
        time.sleep(0.1)
    return []


def test_a_shard_process_killed_while_the_core_is_planned_does_not_hang_the_plan(tmp_path, monkeypatch):
    """An OOM kill of one waiting shard (a hostile review's case): releasing the others must not block forever."""
    project = fleet_project(tmp_path / "project", shards=THREE_SHARDS)
    out = tmp_path / "out"
    release_core = threading.Event()

    def slow_core(*args, **kwargs):
        release_core.wait(90)
        raise RuntimeError("stop after the core phase: only the hang matters here")

    monkeypatch.setattr(shards, "run_plan", slow_core)
    planner = PlannerThread(project, out)
    workers = _waiting_workers()
    assert workers, "no shard process started"
    os.kill(workers[0].pid, signal.SIGKILL)
    release_core.set()
    error = planner.finish("plan_fleet hung releasing the shards (a multiprocessing.Event waits for every dead waiter)")
    assert error is not None


PARENT_SCRIPT = """
import multiprocessing, sys, time
import offline_plan.shards as shards
from pathlib import Path
from policies import pack_config

def slow_core(*args, **kwargs):
    deadline = time.monotonic() + 60
    while len(multiprocessing.active_children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    print(" ".join(str(child.pid) for child in multiprocessing.active_children()), flush=True)
    time.sleep(600)  # killed here, while the shards wait for its plan

shards.run_plan = slow_core
shards.plan_fleet(Path(sys.argv[1]), "prod", None, policy_config=pack_config.DEFAULT_PATH, out_dir=Path(sys.argv[2]))
"""


def test_shards_waiting_for_a_core_end_when_the_planning_process_is_killed(tmp_path):
    """``kill -9`` of ``make plan`` (a CI job cancelled) must not leave shard processes polling for ever."""
    project = fleet_project(tmp_path / "project", shards=THREE_SHARDS)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, str(project), str(tmp_path / "out")],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) >= 2, "the shard processes did not start"
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if _running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "shard processes outlived the planning process"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited


def test_a_shard_process_lost_is_named_and_the_command_exits_3(tmp_path, monkeypatch, capsys):
    """A worker killed (OOM) leaves the fleet without a plan: say which and why, not a BrokenProcessPool traceback."""
    project = fleet_project(tmp_path / "project", shards=THREE_SHARDS)
    stacks = [f"prod-{shard['name']}" for shard in THREE_SHARDS]
    with shards.ShardWorkers(project, stacks, None, pack_config.DEFAULT_PATH, tmp_path / "core.json", 2) as pool:
        workers = _waiting_workers()
        assert workers, "no shard process started"
        os.kill(workers[0].pid, signal.SIGKILL)
        pool.core_written()
        with pytest.raises(shards.ShardProcessLostError) as lost:
            pool.results(None)
    assert lost.value.stacks and set(lost.value.stacks) <= set(stacks)
    assert "ended without a plan" in str(lost.value)

    from offline_plan import __main__ as command

    def plan_fleet(*args, **kwargs):
        raise shards.ShardProcessLostError(["prod-commerce"])

    monkeypatch.setattr(shards, "plan_fleet", plan_fleet)
    assert command.main(["--stack", "prod", "--project-dir", str(project), "--out", str(tmp_path / "out")]) == 3
    assert capsys.readouterr().err.startswith("error: the process planning prod-commerce ended without a plan")
    assert not (tmp_path / "out").exists()


FAILING_SHARD_PROGRAM = """
import pulumi, runpy
if pulumi.get_stack() == "prod-insight":
    raise pulumi.RunError("the insight shard's program failed")
runpy.run_path({real!r}, run_name="__main__")
"""


def test_a_shard_that_fails_is_a_located_error_and_leaves_nothing_behind(tmp_path):
    """Exit 2 with the shard's error, and no resource-tracker warning of semaphores the failed pool leaked."""
    project = fleet_project(tmp_path / "project", shards=[{"name": "insight", "services": ["auth"]}])
    (project / "__main__.py").unlink()
    (project / "__main__.py").write_text(FAILING_SHARD_PROGRAM.format(real=str(PROJECT_DIR / "__main__.py")))
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    catalog = tmp_path / "services.yaml"
    catalog.write_text(yaml.safe_dump(with_dependencies(raw, ["auth"])))
    command = [sys.executable, "-m", "offline_plan", "--stack", "prod", "--project-dir", str(project)]
    command += ["--catalog", str(catalog), "--out", str(tmp_path / "out")]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2, done.stderr
    assert "error: " in done.stderr and "the insight shard's program failed" in done.stderr
    assert "leaked" not in done.stderr, done.stderr
