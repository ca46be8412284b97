"""The offline plan runs lean: no cyclic collection, no per-resource stack traces, a quick exit.

None of these may change what is planned (``tests/test_make_plan.py`` compares the command's
plan file byte for byte with the in-process plan), and none may leak into whoever calls
``run_plan`` in-process: the collector and the SDK are handed back as they were.
"""

from __future__ import annotations

import contextlib
import gc
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pulumi
import pytest
import yaml
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

import offline_plan.runner as runner
from offline_plan.lean import no_cyclic_gc, no_stack_traces, stack_traces_are_captured
from offline_plan.mocks import AwsMocks
from offline_plan.recorder import RecordingMonitor
from offline_plan.report import plan_document
from offline_plan.runner import Plan
from tests.conftest import PROJECT_DIR
from tests.offline_plan.worker_probe import collector_enabled_and_watch_teardown

# make test distributes whole files (--dist loadfile): the plan three tests watch is computed once.


@pytest.fixture(scope="module")
def one_service_catalog(tmp_path_factory) -> Path:
    """The reference catalog's first service alone: a whole plan (every shared part) in a few seconds."""
    services = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())["services"]
    path = tmp_path_factory.mktemp("catalog") / "services.yaml"
    path.write_text(yaml.safe_dump({"services": services[:1]}))
    return path


class StackTraceWitness(RecordingMonitor):
    """Notes how many stack frames each registration carried to the engine."""

    frames: list[int] = []  # noqa: RUF012 - shared on purpose: run_plan builds its own instance
    collections_before: int | None = None
    """How many cyclic collections the test had counted when the first resource registered."""

    def RegisterResource(self, request):  # noqa: N802
        type(self).frames.append(len(request.stackTrace.frames))
        if type(self).collections_before is None:
            type(self).collections_before = len(COLLECTIONS)
        return super().RegisterResource(request)


def test_no_cyclic_gc_hands_the_collector_back_as_it_was():
    assert gc.isenabled()
    with no_cyclic_gc():
        assert not gc.isenabled()
        with no_cyclic_gc():
            assert not gc.isenabled()
        assert not gc.isenabled(), "an inner block must not switch the collector back on"
    assert gc.isenabled()
    with pytest.raises(RuntimeError), no_cyclic_gc():
        raise RuntimeError("a failed plan")
    assert gc.isenabled()
    gc.disable()
    try:
        with no_cyclic_gc():
            pass
        assert not gc.isenabled(), "a caller that had it off keeps it off"
    finally:
        gc.enable()


COLLECTIONS: list[int] = []
"""The generation of every cyclic collection started while a test counts them."""


@dataclass
class WatchedPlan:
    plan: Plan
    collections: list[int]
    """The generation of every cyclic collection from the first registration to the end of the pack's run."""
    frames: list[int]
    """The number of stack frames each registration carried."""


@pytest.fixture(scope="module")
def watched_plan(one_service_catalog) -> WatchedPlan:
    def count(phase: str, info: dict) -> None:
        if phase == "start":
            COLLECTIONS.append(info["generation"])

    COLLECTIONS.clear()
    StackTraceWitness.collections_before = None
    threshold = gc.get_threshold()
    gc.set_threshold(100)  # with the collector on, a plan would now collect hundreds of times
    gc.callbacks.append(count)
    StackTraceWitness.frames = []
    original_monitor, original_evaluate = runner.RecordingMonitor, runner.evaluate
    collections_after: list[int] = []

    def evaluate_last(*args, **kwargs):
        """The pack's evaluation is the plan's last step: count up to its end."""
        violations = original_evaluate(*args, **kwargs)
        collections_after.append(len(COLLECTIONS))
        return violations

    runner.RecordingMonitor, runner.evaluate = StackTraceWitness, evaluate_last
    try:
        plan = runner.run_plan(PROJECT_DIR, "dev", str(one_service_catalog))
    finally:
        runner.RecordingMonitor, runner.evaluate = original_monitor, original_evaluate
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
    during = COLLECTIONS[StackTraceWitness.collections_before : collections_after[0]]
    return WatchedPlan(plan, during, list(StackTraceWitness.frames))


def test_the_plan_makes_no_cyclic_collection_and_gives_the_collector_back(watched_plan):
    """On main every plan ran full collections over its growing heap (a third of the run at 24 services)."""
    assert watched_plan.plan.resources
    assert watched_plan.collections == []
    assert gc.isenabled()


def test_registrations_carry_no_stack_trace_during_the_plan_only(watched_plan):
    """On main every registration walked the Python stack for a trace the offline plan never reads."""
    assert len(watched_plan.frames) == len(watched_plan.plan.resources)
    assert set(watched_plan.frames) == {0}
    assert stack_traces_are_captured(), "the SDK's own capture is back after the plan"


def _declare_a_role() -> None:
    import pulumi_aws as aws

    aws.iam.Role("witness", name="cicd-witness", assume_role_policy="{}")


def _register_outside_a_plan(switched_off: bool) -> list[int]:
    StackTraceWitness.frames = []
    monitor = StackTraceWitness(AwsMocks(tooling_account_id="210987654321", region="eu-west-1"))
    with no_stack_traces() if switched_off else contextlib.nullcontext():
        # set_mocks registers the stack resource itself.
        pulumi.runtime.settings.ROOT.set(None)
        pulumi.runtime.set_mocks(monitor.mocks, project="cicd-platform", stack="dev", preview=False, monitor=monitor)
        _sync_await(run_pulumi_func(_declare_a_role))
    return list(StackTraceWitness.frames)


def test_the_sdk_captures_a_stack_trace_unless_switched_off():
    """The control: without the switch the SDK does send frames, so the test above proves the switch."""
    assert max(_register_outside_a_plan(switched_off=False)) > 0
    assert set(_register_outside_a_plan(switched_off=True)) == {0}


def run_command(prelude: str, catalog: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``python -m offline_plan --stack dev`` in a fresh interpreter that first runs ``prelude``."""
    script = (
        f"{prelude}import runpy, sys\n"
        f"sys.argv = ['offline_plan', '--stack', 'dev', '--catalog', {str(catalog)!r}, '--out', {str(out)!r}]\n"
        "runpy.run_module('offline_plan', run_name='__main__', alter_sys=True)\n"
    )
    return subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, check=False)


def test_the_command_exits_as_soon_as_its_output_is_flushed(one_service_catalog, tmp_path):
    """``python -m offline_plan`` skips interpreter teardown (atexit never runs), yet its output is all there."""
    out = tmp_path / "out"
    teardown_witness = "import atexit\natexit.register(print, 'interpreter teardown ran')\n"
    result = run_command(teardown_witness, one_service_catalog, out)
    assert result.returncode == 0, result.stderr
    assert "interpreter teardown ran" not in result.stdout
    assert result.stdout.startswith("offline plan of stack 'dev'")
    assert result.stdout.rstrip().splitlines()[-1].startswith("approval guardrail SCP"), "stdout was cut short"
    assert json.loads((out / "plan-dev.json").read_text())["stack"] == "dev"


def test_the_summary_reports_where_the_time_went(watched_plan):
    summary = plan_document(watched_plan.plan)["summary"]
    assert set(summary["phaseSeconds"]) == {"inputs", "program", "policy"}
    assert all(seconds >= 0 for seconds in summary["phaseSeconds"].values())
    assert sum(summary["phaseSeconds"].values()) == pytest.approx(summary["durationSeconds"], abs=0.01)


def test_the_command_never_collects_after_planning(one_service_catalog, tmp_path):
    """Switching the collector back on before exiting scanned every object of the plan (a second at 24 services)."""
    watch = (
        "import gc\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and print('cyclic collection', flush=True))\n"
    )
    result = run_command(watch, one_service_catalog, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(index for index, line in enumerate(lines) if line.startswith("offline plan of stack 'dev'"))
    assert "cyclic collection" not in lines[first:]


def _worker_sees(initializer) -> tuple[bool, bool]:
    """(collector enabled in the worker, interpreter torn down after its task) for a one-task spawned worker."""
    context = get_context("spawn")
    with tempfile.TemporaryDirectory() as directory:
        marker = Path(directory) / "teardown"
        with ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            max_tasks_per_child=1,
            initializer=initializer,
            initargs=(context.SimpleQueue(),) if initializer else (),
        ) as pool:
            enabled = pool.submit(collector_enabled_and_watch_teardown, str(marker)).result()
        return enabled, marker.exists()


def test_a_shard_worker_never_collects_and_skips_teardown():
    """The parent waits for every worker to exit: tearing down a 100-service heap took seconds per shard."""
    from offline_plan.shards import _start_worker

    assert _worker_sees(None) == (True, True), "the control: a plain worker collects and is torn down"
    assert _worker_sees(_start_worker) == (False, False)
