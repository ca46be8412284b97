"""Where a plan's CPU time goes: cProfile over the whole command, worker threads included.

The SDK hands every registration to the resource monitor on a thread pool, where cProfile (which
profiles one thread) does not see it; here each monitor call runs under its worker thread's own
profiler and the per-thread figures are merged with the main thread's. The main thread is timed
by cProfile's default (wall) clock; the worker threads by their own CPU clock
(``time.thread_time``), or their figures would include every wait for the GIL while the main
thread runs. (The main thread, which runs the program and the pack, is the one that waits least;
a CPU clock there would cost a system call per profiler event and distort more than it corrects.)

    .venv/bin/python bench/profile_plan.py --catalog .bench/services-1000.yaml --top 15
    # one shard of a sharded fleet (after `make bench` planned it):
    .venv/bin/python bench/profile_plan.py --project-dir .bench/sharded-1000 --stack dev-s1 \
        --catalog .bench/services-1000.yaml --core-plan .bench/out-1000-sharded/plan-dev.core.json
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import pstats
import sys
import sysconfig
import threading
import time
import warnings
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
warnings.filterwarnings("ignore", category=DeprecationWarning)

from offline_plan.lean import no_cyclic_gc  # noqa: E402
from offline_plan.recorder import RecordingMonitor  # noqa: E402
from offline_plan.report import plan_document, write_plan  # noqa: E402
from offline_plan.runner import run_plan  # noqa: E402

STDLIB = sysconfig.get_paths()["stdlib"] + "/"
MONITOR_CALLS = ("RegisterResource", "Invoke", "RegisterResourceOutputs", "ReadResource", "SupportsFeature")

_thread_profiles: list[cProfile.Profile] = []
_local = threading.local()


def _profiled(method: Any) -> Any:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            return method(self, *args, **kwargs)  # already under the main thread's profiler
        profile = getattr(_local, "profile", None)
        if profile is None:
            profile = _local.profile = cProfile.Profile(time.thread_time)
            _thread_profiles.append(profile)
        profile.enable()
        try:
            return method(self, *args, **kwargs)
        finally:
            profile.disable()

    return call


def profile_plan(
    stack: str,
    catalog: str | None,
    policy_config: Path | None,
    out: Path,
    project_dir: Path = PROJECT_DIR,
    core_plan: Path | None = None,
) -> pstats.Stats:
    """Profile one stack's plan; a shard's (``core_plan``: its core's plan file) as its worker process runs it."""
    for name in MONITOR_CALLS:
        setattr(RecordingMonitor, name, _profiled(getattr(RecordingMonitor, name)))
    options: dict[str, Any] = {"policy_config": policy_config} if policy_config else {}
    if core_plan is not None:
        core = json.loads(core_plan.read_text(encoding="utf-8"))
        options.update(stack_references={core["stack"]: core["outputs"]}, stack_rules=False)
    main = cProfile.Profile()
    with no_cyclic_gc():  # as python -m offline_plan runs
        main.enable()
        plan = run_plan(project_dir, stack, catalog, **options)
        write_plan(plan_document(plan), out)
        main.disable()
    stats = pstats.Stats(main)
    for profile in _thread_profiles:
        stats.add(profile)
    return stats


PLUMBING = (
    "asyncio/",
    "concurrent/futures/",
    "contextlib.py",
    "selectors.py",
    "threading.py",
    "runpy",
    "sync_await.py",
    "_contextvars.Context",
    "builtins.exec",
    "select.epoll",
)
"""Event loop, thread pool and context-manager frames: they nest everything and say nothing by cumulative time."""


def top_entries(stats: pstats.Stats, key: str, count: int) -> list[dict[str, Any]]:
    """The ``count`` first functions by ``key`` ("cumulative", plumbing left out, or "tottime"), as plain data."""
    entries = []
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace(str(PROJECT_DIR) + "/", "")
        where = where.split("site-packages/", 1)[-1].replace(STDLIB, "")
        if key == "cumulative" and any(part in f"{where}({function})" for part in PLUMBING):
            continue
        entries.append(
            {"function": f"{where}:{line}({function})", "calls": calls, "own": own, "cumulative": cumulative}
        )
    order = "cumulative" if key == "cumulative" else "own"
    return sorted(entries, key=lambda entry: entry[order], reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--catalog", default=None)
    parser.add_argument("--policy-config", default=None, type=Path)
    parser.add_argument("--out", default=PROJECT_DIR / ".bench" / "profile", type=Path)
    parser.add_argument("--top", default=15, type=int)
    parser.add_argument("--json", default=None, type=Path, help="write the top entries here as JSON")
    parser.add_argument("--project-dir", default=PROJECT_DIR, type=Path)
    parser.add_argument("--core-plan", default=None, type=Path, help="profile a shard: its core's plan file")
    args = parser.parse_args()
    stats = profile_plan(args.stack, args.catalog, args.policy_config, args.out, args.project_dir, args.core_plan)
    total = stats.total_tt  # type: ignore[attr-defined]
    tops = {key: top_entries(stats, key, args.top) for key in ("cumulative", "tottime")}
    if args.json:
        args.json.write_text(json.dumps({"totalCpuSeconds": total, **tops}, indent=2))
    stream = io.StringIO()
    stats.stream = stream  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(stream.getvalue())


if __name__ == "__main__":
    main()
