"""Plan a sharded fleet: the core, then every shard in parallel processes, merged into one plan.

``make plan STACK=prod`` on a core (a stack whose settings list ``shards``) plans the core in
this process and writes its plan (``plan-prod.core.json``); each shard stack ``prod-<shard>``
runs in a fresh process of its own (one per core by default, ``--jobs``), started while the
core is planned and waiting for that plan, whose outputs answer its ``StackReference`` to the
core. Each stack's resources meet the resource rules where they are planned; the stack rules
run once, over the union, because quotas, dependencies and account boundaries are properties
of the fleet, not of one shard. The merged plan (``plan-prod.json``, same shape as an unsharded plan) and one plan per
shard (``plan-prod-<shard>.json``, resource findings only, written by the shard's own process) are
written side by side.

Processes, not threads: the Pulumi runtime keeps per-process state, and each shard's program
is CPU-bound Python. ``spawn`` with one task per process gives every shard a clean runtime.
"""

from __future__ import annotations

import atexit
import gc
import json
import multiprocessing
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from components.model.errors import PlatformInputError
from components.model.platform_inputs import PlatformInputs, load_platform_inputs
from components.model.settings import CONFIG_KEY
from components.model.sharding import StackRole, settings_file_name, shard_stack_name
from policies import pack_config
from policies.rules import RESOURCE_RULES

from . import plan_json
from .lean import exit_now
from .policy_check import Violation, evaluate
from .recorder import RecordingMonitor
from .report import plan_document
from .runner import Plan, load_policy_config, project_name, run_plan
from .stack_config import read_stack_config

PROGRESS_INTERVAL_SECONDS = 0.5
MERGED_OUTPUTS = ("pipelines", "cloudDeployTargets")
"""Outputs every stack of a fleet exports for its own services; the merged plan joins them."""


@dataclass
class FleetPlan:
    """A sharded fleet's plans: the merged one (what ``plan-<core>.json`` holds), the core's and each shard's."""

    merged: Plan
    core: Plan
    shards: dict[str, Plan]
    """Pulumi stack name → its plan, in the order the core's settings list the shards."""


def stack_inputs(project_dir: Path, stack: str, catalog: str | None) -> PlatformInputs:
    """The validated inputs of ``stack``, as the program will load them (role included)."""
    project_dir = project_dir.resolve()
    project = project_name(project_dir)
    config = read_stack_config(project_dir, stack, project)
    raw = config.values.get(f"{project}:{CONFIG_KEY}")
    return load_platform_inputs(json.loads(raw) if raw is not None else None, stack, project_dir, catalog)


def plan_fleet(
    project_dir: Path,
    stack: str,
    catalog: str | None,
    *,
    policy_config: Path,
    out_dir: Path,
    jobs: int | None = None,
    progress: TextIO | None = None,
) -> FleetPlan | None:
    """Plan ``stack`` and its shards when it is a sharded core; ``None`` for a whole stack (plan it as usual).

    Raises ``PlatformInputError`` for bad inputs and for a shard named directly (its core plans it).
    """
    started = time.perf_counter()
    inputs = stack_inputs(project_dir, stack, catalog)
    role = inputs.stack_role
    if role.kind == "shard":
        raise PlatformInputError(
            settings_file_name(stack),
            f"is shard '{role.shard}' of stack {role.core}: `make plan STACK={role.core}` plans the core and every "
            f"shard, and writes this one's plan to plan-{stack}.json",
        )
    if role.kind != "core":
        return None
    pack_settings = load_policy_config(policy_config.resolve(), project_dir.resolve())
    shard_stacks = [shard_stack_name(stack, shard.name) for shard in inputs.settings.shards]
    core_path = out_dir / core_plan_name(stack)
    # The shards' processes start (and import the SDKs, a second or two each) while the core is planned here.
    with ShardWorkers(
        project_dir, shard_stacks, catalog, policy_config, core_path, jobs or os.cpu_count() or 1
    ) as pool:
        core = run_plan(project_dir, stack, catalog, policy_config=policy_config, stack_rules=False)
        write_stack_plan(core, out_dir, core_plan_name(stack))
        pool.core_written()
        core_done = time.perf_counter()
        shards = pool.results(progress)
    shards_done = time.perf_counter()
    merged = merge(core, [shards[name] for name in shard_stacks], pack_settings, 0.0)
    finished = time.perf_counter()
    # The fleet's own phases (the core's and each shard's are in their own plans): where its wall time went.
    merged = replace(
        merged,
        seconds=finished - started,
        phase_seconds={"core": core_done - started, "shards": shards_done - core_done, "merge": finished - shards_done},
    )
    return FleetPlan(merged=merged, core=core, shards=shards)


def core_plan_name(stack: str) -> str:
    return f"plan-{stack}.core.json"


def write_stack_plan(plan: Plan, out_dir: Path, file_name: str | None = None) -> Path:
    """One stack's own plan file (``plan-<stack>.json``, or the core's ``plan-<stack>.core.json``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (file_name or f"plan-{plan.stack}.json")
    path.write_text(plan_json.dumps(plan_document(plan)) + "\n", encoding="utf-8")
    return path


def merge(core: Plan, shards: Sequence[Plan], pack_settings: pack_config.PackConfig, seconds: float) -> Plan:
    """One plan of the fleet: every stack's resources, its outputs joined, stack rules over the union.

    The merged plan describes the fleet as a whole stack would: its inputs read as ``whole``
    (every service, every queue), so the summary lists pipelines, waves and queues of all services.
    """
    resources = sorted([*core.resources, *(r for plan in shards for r in plan.resources)], key=lambda r: r.urn)
    rule_order = {rule.name: index for index, rule in enumerate(RESOURCE_RULES)}
    resource_findings = sorted(
        [*core.violations, *(v for plan in shards for v in plan.violations)],
        key=lambda v: (rule_order.get(v.policy, len(rule_order)), v.urn or ""),
    )
    stack_findings: list[Violation] = evaluate(resources, resource_rules=(), config=pack_settings)
    return Plan(
        stack=core.stack,
        project=core.project,
        inputs=replace(core.inputs, role=StackRole.whole(core.inputs.stack)),
        resources=resources,
        outputs=merged_outputs(core, shards),
        violations=[*resource_findings, *stack_findings],
        seconds=seconds,
        warnings=[*core.warnings, *(warning for plan in shards for warning in plan.warnings)],
        invokes=[*core.invokes, *(invoke for plan in shards for invoke in plan.invokes)],
    )


def merged_outputs(core: Plan, shards: Sequence[Plan]) -> dict[str, Any]:
    """The core's outputs, with each per-service output joined over the shards, in deploy order."""
    outputs = dict(core.outputs)
    order = {name: index for index, name in enumerate(core.inputs.catalog.deploy_order)}
    for key in MERGED_OUTPUTS:
        joined: dict[str, Any] = dict(core.outputs.get(key) or {})
        for plan in shards:
            joined.update(plan.outputs.get(key) or {})
        outputs[key] = dict(sorted(joined.items(), key=lambda item: order.get(item[0], len(order))))
    return outputs


# -- shards in parallel processes -------------------------------------------------------------------------------


class ShardProcessLostError(RuntimeError):
    """A shard's process ended without handing back its plan (killed, out of memory): the fleet has no plan."""

    def __init__(self, stacks: Sequence[str]) -> None:
        super().__init__(
            f"the process planning {', '.join(stacks) or 'a shard'} ended without a plan (killed, or out of "
            "memory?); nothing was merged. Plan again, with fewer processes at once (--jobs / JOBS=) if memory is short"
        )
        self.stacks = list(stacks)


class ShardWorkers:
    """One process per shard (at most ``jobs`` at once), started before the core's plan exists.

    Each waits for ``core_written`` before reading the core's plan. If the core fails, leaving the
    block releases the waiting shards (they find no core plan and end) and cancels those not started.
    """

    def __init__(
        self,
        project_dir: Path,
        stacks: Sequence[str],
        catalog: str | None,
        policy_config: Path,
        core_path: Path,
        jobs: int,
    ) -> None:
        self._stacks = list(stacks)
        self._context = multiprocessing.get_context("spawn")
        self._updates: Any = self._context.Queue()
        # A flag in shared memory that the shards poll, not a multiprocessing.Event: Event.set() waits for
        # every process sleeping in wait() to wake, so one shard killed while waiting (out of memory) would
        # hang the parent for good.
        self._core_state: Any = self._context.RawValue("b", CORE_PENDING)
        core_path.unlink(missing_ok=True)  # a core plan from an earlier run must not stand in for this one's
        self._pool = ProcessPoolExecutor(
            max_workers=max(1, min(jobs, len(self._stacks))),
            mp_context=self._context,
            max_tasks_per_child=1,
            initializer=_start_worker,
            initargs=(self._updates, self._core_state, os.getpid()),
        )
        self._futures: dict[str, Future[Plan]] = {
            stack: self._pool.submit(plan_shard, project_dir, stack, catalog, policy_config, core_path)
            for stack in self._stacks
        }

    def __enter__(self) -> ShardWorkers:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if self._core_state.value == CORE_PENDING:
            self._core_state.value = CORE_FAILED
        self._pool.shutdown(wait=True, cancel_futures=error_type is not None)
        # With the collector off, a traceback's reference cycle would keep the pool's queues (and their
        # semaphores) alive until os._exit, and multiprocessing's resource tracker would warn of a leak.
        self._updates.close()
        self._updates.join_thread()
        del self._pool, self._updates, self._futures  # the executor's own queues go with it

    def core_written(self) -> None:
        self._core_state.value = CORE_WRITTEN

    def results(self, progress: TextIO | None) -> dict[str, Plan]:
        """Every shard's plan, in the order of ``stacks``; a progress line on ``progress`` if it is a terminal."""
        futures = self._futures
        counts = dict.fromkeys(self._stacks, 0)
        line = ProgressLine(progress, len(self._stacks))
        while not all(future.done() for future in futures.values()):
            _drain(self._updates, counts, timeout=PROGRESS_INTERVAL_SECONDS)
            line.show(sum(future.done() for future in futures.values()), sum(counts.values()))
        line.clear()
        # result() re-raises a shard's PlatformInputError or RunError here, as if it had been planned in-process.
        try:
            return {stack: futures[stack].result() for stack in self._stacks}
        except BrokenProcessPool:
            lost = [stack for stack, future in futures.items() if isinstance(future.exception(), BrokenProcessPool)]
            raise ShardProcessLostError(lost) from None


def plan_shard(project_dir: Path, stack: str, catalog: str | None, policy_config: Path, core_path: Path) -> Plan:
    """One shard, in a worker process: its core's outputs come from the core's plan, once the parent has written it.

    The shard's own plan file is written here, beside the core's, while other shards are still
    planning: written by the parent after the merge, a 1,000-service fleet's shard plans took
    five seconds of one core at the end.
    """
    _wait_for_the_core()
    if not core_path.exists():
        raise RuntimeError(f"no plan of the core at {core_path}: the core failed, so this shard is not planned")
    core_document = json.loads(core_path.read_text(encoding="utf-8"))
    references = {core_document["stack"]: core_document["outputs"]}
    plan = run_plan(
        project_dir,
        stack,
        catalog,
        policy_config=policy_config,
        stack_references=references,
        stack_rules=False,
        on_monitor=_report_progress_of(stack),
    )
    write_stack_plan(plan, core_path.parent)
    return plan


_updates: Any = None
_core_state: Any = None
ORPHAN_POLL_SECONDS = 0.5
CORE_PENDING, CORE_WRITTEN, CORE_FAILED = 0, 1, 2
CORE_POLL_SECONDS = 0.02


def _wait_for_the_core() -> None:
    """Until the parent has written the core's plan; a failed core ends the shard (a parent gone: ``_orphan_watch``)."""
    if _core_state is None:
        return  # planned in-process: the core's plan is already there
    while _core_state.value == CORE_PENDING:
        time.sleep(CORE_POLL_SECONDS)
    if _core_state.value == CORE_FAILED:
        raise RuntimeError("the core failed, so this shard is not planned")


def _orphan_watch(parent_pid: int) -> None:
    """End this shard's process once the planning process is gone (``kill -9``, a cancelled CI job).

    Nothing else would: a worker blocked reading its task, waiting for the core or writing its result
    to a parent that no longer reads it stays forever, holding a shard's memory.
    """
    while os.getppid() == parent_pid:
        time.sleep(ORPHAN_POLL_SECONDS)
    os._exit(1)


def _start_worker(updates: Any, core_state: Any = None, parent_pid: int | None = None) -> None:
    global _updates, _core_state  # one queue and one flag per worker process, set once when it starts
    _updates, _core_state = updates, core_state
    if parent_pid is not None:
        threading.Thread(target=_orphan_watch, args=(parent_pid,), name="orphan-watch", daemon=True).start()
    # The worker plans one shard and ends (max_tasks_per_child=1), so, as in the command, it never
    # collects cycles and skips tearing its heap down: the parent waits for it to exit (lean.py). Its
    # exit code is then always 0: the pool reads a worker's outcome from its result, never its code.
    gc.disable()
    atexit.register(exit_now, 0)
    # As in the command: pulumi_aws.s3 warns about its deprecated V2 aliases on import.
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def _report_progress_of(stack: str) -> Callable[[RecordingMonitor], None]:
    """Every half second, how many resources the shard has registered so far (a daemon thread; dies with the worker)."""

    def watch(monitor: RecordingMonitor) -> None:
        if _updates is None:
            return

        def report() -> None:
            while True:
                _updates.put((stack, len(monitor.recorded)))
                time.sleep(PROGRESS_INTERVAL_SECONDS)

        threading.Thread(target=report, name=f"progress-{stack}", daemon=True).start()

    return watch


def _drain(updates: Any, counts: dict[str, int], timeout: float) -> None:
    try:
        stack, count = updates.get(timeout=timeout)
        counts[stack] = max(counts[stack], count)
        while True:
            stack, count = updates.get_nowait()
            counts[stack] = max(counts[stack], count)
    except queue.Empty:
        return


class ProgressLine:
    """``shards 2/3 planned, 1,234 resources`` rewritten in place, only on a terminal (never into a log or pipe)."""

    def __init__(self, stream: TextIO | None, total: int) -> None:
        self._stream = stream if stream is not None and stream.isatty() else None
        self._total = total
        self._width = 0

    def show(self, done: int, resources: int) -> None:
        if self._stream is None:
            return
        text = f"planning shards: {done}/{self._total} done, {resources:,} resources"
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self._stream is None or not self._width:
            return
        self._stream.write("\r" + " " * self._width + "\r")
        self._stream.flush()


def render_fleet(fleet: FleetPlan, out_dir: Path) -> str:
    """The lines printed after the merged summary: each stack of the fleet, its size and its plan file."""
    lines = [f"stacks of the fleet ({len(fleet.shards)} shards, planned in parallel):"]
    core = fleet.core
    lines.append(
        f"  {core.stack} (core): {sum(r.custom for r in core.resources)} resources -> "
        f"{out_dir / core_plan_name(core.stack)}"
    )
    for stack, plan in fleet.shards.items():
        services = ", ".join(service.name for service in plan.inputs.declared_services)
        count = sum(r.custom for r in plan.resources)
        lines.append(f"  {stack}: {count} resources ({services}) -> {out_dir / f'plan-{stack}.json'}")
    return "\n".join(lines)
