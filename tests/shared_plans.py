"""Plans computed once and shared by every pytest worker, and by later sessions, until one of their inputs changes.

A plan is the suite's most expensive fixture (10 to 20 s of CPU each). Under xdist every worker used
to compute ``dev_plan`` and ``prod_plan`` itself, and every module-scoped variant (a stack with one
setting changed) once per worker that ran one of its tests. Now the first worker to ask computes
the plan under an exclusive lock and writes it, pickled, atomically (write, then rename) under
``.plan-cache/suite/`` (beside, never among, the review's base plans); the others wait on the lock
and read it.

The file's name is a fingerprint of everything the plan can depend on, so a change of any input
computes a new plan and nothing is ever invalidated by hand: every file of the project (program,
components, functions, catalog, policies and their configuration, buildspecs, templates) except
tests, docs, benchmarks and the top-level README; of the stack files, the planned stack's own and
those of stacks it is read with (its core when it is a shard ``<core>-<shard>``, its shards when
it is a core: ``components/model/sharding.py``), but not unrelated stacks' (tests write temporary
stack files next to the real ones); every file of a planned copy of the project by content; the
catalog passed in; the catalog override variable; every installed distribution's version and the
Python version. When in doubt a file counts: a needless plan costs seconds, a stale one a wrong test.

``CICD_PLAN_CACHE=off`` plans afresh in every process, as before. The cache holds pickles this
suite wrote on this machine and only this suite reads them (the directory is gitignored).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from offline_plan.runner import CATALOG_OVERRIDE_VARIABLE, Plan, run_plan

PROJECT_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = PROJECT_DIR / ".plan-cache" / "suite"
SWITCH_VARIABLE = "CICD_PLAN_CACHE"
KEPT = 24
"""Plans kept (the most recently used); one session uses about ten."""
FORMAT = "2"
"""Bump when what a cached plan means changes (e.g. run_plan's signature), so old pickles go unused."""

NOT_PLAN_INPUTS = frozenset(
    {
        ".git",
        ".github",
        ".ci",
        ".venv",
        ".tools",
        ".plan-cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".bench",
        "__pycache__",
        "node_modules",
        "out",
        "tests",
        "docs",
        "bench",
    }
)
"""Directories nothing in a plan is read from (the program's dependencies count by their installed versions)."""


NOT_PLAN_INPUT_FILES = frozenset({"README.md"})
"""Files at the top of the project that nothing in a plan reads."""

_STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>.+)\.ya?ml$")


def stack_file_is_input(name: str, stack: str) -> bool:
    """Whether ``Pulumi.<other>.yaml`` can change the plan of ``stack``.

    A stack reads its own file; a shard ``<core>-<shard>`` with no file of its own reads its core's,
    and a core checks its shards' files (``components/model/sharding.py``): so any stack whose name
    extends or is extended by ``stack`` at a ``-`` counts.
    """
    match = _STACK_FILE.match(name)
    if match is None:
        return True
    other = match["stack"]
    return other == stack or stack.startswith(f"{other}-") or other.startswith(f"{stack}-")


def _project_files(root_dir: Path, stack: str) -> Iterator[Path]:
    for root, directories, files in os.walk(root_dir):
        directories[:] = sorted(d for d in directories if d not in NOT_PLAN_INPUTS)
        top = Path(root) == root_dir
        for name in sorted(files):
            if name.endswith(".pyc") or (top and name in NOT_PLAN_INPUT_FILES):
                continue
            if not stack_file_is_input(name, stack):
                continue
            yield Path(root) / name


@functools.cache
def _environment() -> str:
    distributions = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    return "\n".join([sys.version, *distributions])


def fingerprint(stack: str, project_dir: Path = PROJECT_DIR, catalog: str | None = None) -> str:
    """A hash of every input a plan of ``stack`` (from ``project_dir``, with ``catalog``) can depend on."""
    digest = hashlib.sha256()

    def add(label: str, content: bytes) -> None:
        digest.update(f"{label}\0{len(content)}\0".encode())
        digest.update(content)

    add("format", FORMAT.encode())
    add("stack", stack.encode())
    add("environment", _environment().encode())
    add("catalog override", os.environ.get(CATALOG_OVERRIDE_VARIABLE, "").encode())
    for path in _project_files(PROJECT_DIR, stack):
        add(str(path.relative_to(PROJECT_DIR)), path.read_bytes())
    if project_dir.resolve() != PROJECT_DIR.resolve():
        # A copy of the project with other settings: every file of it is an input too, by content.
        copy = project_dir.resolve()
        for path in _project_files(copy, stack):
            add(f"copy:{path.relative_to(copy)}", path.read_bytes())
    if catalog is not None:
        add("catalog", Path(catalog).read_bytes())
    return digest.hexdigest()[:32]


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: Path, content: bytes) -> None:
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def cache_enabled() -> bool:
    """Off with ``CICD_PLAN_CACHE=off`` (or 0, false, no): every process then plans afresh."""
    return os.environ.get(SWITCH_VARIABLE, "").lower() not in ("off", "0", "false", "no")


def shared_plan(project_dir: Path, stack: str, catalog: str | None = None) -> Plan:
    """``run_plan(project_dir, stack, catalog)``, computed once for all workers and sessions with these inputs."""
    if not cache_enabled():
        return run_plan(project_dir, stack, catalog)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    key = fingerprint(stack, project_dir, catalog)
    path = CACHE_DIR / f"plan-{stack}-{key}.pickle"
    with _exclusive(CACHE_DIR / f"plan-{stack}-{key}.lock"):
        if path.exists():
            try:
                plan = pickle.loads(path.read_bytes())  # written by this suite (module docstring)
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
                pass  # written by another version of the code: plan afresh and replace it
            else:
                path.touch()  # recently used: kept by _forget_old_plans
                return plan
        plan = run_plan(project_dir, stack, catalog)
        _write_atomically(path, pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
    _forget_old_plans()
    return plan


def _forget_old_plans() -> None:
    """Keep the ``KEPT`` most recently used plans: edits leave a trail of plans nobody will ask for again."""
    plans = sorted(CACHE_DIR.glob("plan-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in plans[KEPT:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".lock").unlink(missing_ok=True)
