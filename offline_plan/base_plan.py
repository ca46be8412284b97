"""The plan of another revision (a PR's base), made in a temporary git worktree and cached by commit.

The base is planned by its own code: ``python -m offline_plan`` of that revision, run in a detached
worktree with this environment's interpreter, with the same stack and the same overrides as the
working tree (``--catalog`` as given, so a relative path is read from each revision the way
``make plan`` reads it; an explicit ``--policy-config`` file is used for both). Whatever that revision's
plan does (shards, other rules) it writes ``plan-<stack>.json``, which is all a review needs.

A plan is a function of the commit, the stack, the overrides and the installed packages, so it is
cached under ``.plan-cache/`` keyed by all of them; a second review of the same base costs a file read.
Only plans that were written (exit 0, or 1 with mandatory findings) are cached.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from .asset_digest import comparable

CACHE_DIR_NAME = ".plan-cache"
CACHE_FORMAT = 1
"""Bumped whenever what is cached changes meaning, so old entries are never read."""
KEEP_ENTRIES = 24
PLAN_TIMEOUT_SECONDS = 1800
PLAN_WRITTEN_CODES = (0, 1)
ERROR_LINES_SHOWN = 5
ENVIRONMENT_NOT_PASSED = ("PYTHONPATH", "CICD_PLATFORM_CATALOG")
"""Variables that would make the base run read the working tree's code or catalog instead of its own."""


class BasePlanError(Exception):
    """The base revision could not be planned: the message says which and why, in one line or a few."""


@dataclass(frozen=True)
class BaseRevision:
    ref: str
    commit: str

    @property
    def label(self) -> str:
        short = self.commit[:12]
        return short if self.ref in (self.commit, short) else f"{self.ref} ({short})"


@dataclass(frozen=True)
class BasePlan:
    revision: BaseRevision
    document: dict[str, Any]
    """The base's plan document, assets made comparable (``asset_digest``)."""
    from_cache: bool
    seconds: float


def run_git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``git -C project_dir ARGS``, its output captured; ``BasePlanError`` when git is not installed."""
    git = shutil.which("git")
    if git is None:
        raise BasePlanError("git is not installed: a review plans the base revision from git")
    command = [git, "-C", str(project_dir), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603 - our args


def _git(project_dir: Path, *args: str) -> str:
    done = run_git(project_dir, *args)
    if done.returncode != 0:
        raise BasePlanError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"git {args[0]} failed")
    return done.stdout.strip()


def resolve(project_dir: Path, ref: str) -> BaseRevision:
    """The commit ``ref`` names, or a clear error (an unknown ref, a shallow clone without it)."""
    try:
        commit = _git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except BasePlanError:
        raise BasePlanError(
            f"base '{ref}' is not a commit of this repository (a shallow clone may not have it: fetch it first)"
        ) from None
    return BaseRevision(ref=ref, commit=commit)


@cache
def toolchain_fingerprint() -> str:
    """The interpreter and every installed distribution: a plan made with other packages is another plan."""
    installed = sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in metadata.distributions())
    return hashlib.sha256("\n".join([sys.version, *installed]).encode()).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def cache_key(
    project_dir: Path, revision: BaseRevision, stack: str, catalog: str | None, policy_config: Path | None
) -> str:
    parts = [f"format={CACHE_FORMAT}", f"commit={revision.commit}", f"stack={stack}", toolchain_fingerprint()]
    if catalog:
        if Path(catalog).is_absolute():
            parts.append(f"catalog={catalog}:{_file_digest(Path(catalog))}")
        else:
            try:
                blob = _git(project_dir, "rev-parse", "--verify", "--quiet", f"{revision.commit}:{catalog}")
            except BasePlanError:
                blob = "absent"
            parts.append(f"catalog={catalog}:{blob}")
    if policy_config is not None:
        parts.append(f"policy-config={policy_config}:{_file_digest(policy_config)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def _cache_path(cache_dir: Path, revision: BaseRevision, stack: str, key: str) -> Path:
    return cache_dir / f"{stack}-{revision.commit[:12]}-{key}.json.gz"


def read_cached(path: Path) -> dict[str, Any] | None:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None  # absent, or torn by a crash: plan again


def write_cached(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-", suffix=".json.gz")
    with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8") as stream:
        json.dump(document, stream)
    os.replace(temporary, path)  # atomic: a concurrent review reads the old entry or the new one
    entries = sorted(path.parent.glob("*.json.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[KEEP_ENTRIES:]:
        stale.unlink(missing_ok=True)


def _reason(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    shown = errors or lines[-ERROR_LINES_SHOWN:]
    return "; ".join(shown) if shown else "no output"


class PendingBasePlan:
    """A base plan being made in the background (or already read from the cache)."""

    def __init__(
        self,
        revision: BaseRevision,
        *,
        cached: dict[str, Any] | None = None,
        process: subprocess.Popen[bytes] | None = None,
        workdir: Path | None = None,
        project_dir: Path | None = None,
        cache_file: Path | None = None,
        stack: str = "",
        stderr: IO[bytes] | None = None,
    ) -> None:
        self.revision = revision
        self._cached = cached
        self._process = process
        self._workdir = workdir
        self._project_dir = project_dir
        self._cache_file = cache_file
        self._stack = stack
        self._stderr = stderr
        self._started = time.perf_counter()

    def result(self, timeout: float = PLAN_TIMEOUT_SECONDS) -> BasePlan:
        """The base plan, waiting for it if needed; ``BasePlanError`` when the base could not be planned."""
        if self._cached is not None:
            return BasePlan(self.revision, self._cached, True, time.perf_counter() - self._started)
        assert self._process is not None
        assert self._workdir is not None
        assert self._stderr is not None
        try:
            try:
                code = self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
                raise BasePlanError(f"the base {self.revision.label} was not planned within {timeout:.0f}s") from None
            self._stderr.seek(0)
            stderr = self._stderr.read().decode("utf-8", errors="replace")
            plan_file = self._workdir / "out" / f"plan-{self._stack}.json"
            if code not in PLAN_WRITTEN_CODES or not plan_file.is_file():
                raise BasePlanError(
                    f"the base {self.revision.label} could not be planned (exit {code}): {_reason(stderr)}"
                )
            document = comparable(json.loads(plan_file.read_text(encoding="utf-8")), self._workdir / "tree")
            if self._cache_file is not None:
                write_cached(self._cache_file, document)
            return BasePlan(self.revision, document, False, time.perf_counter() - self._started)
        finally:
            self._cleanup()

    def cancel(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._workdir is not None and self._project_dir is not None:
            run_git(self._project_dir, "worktree", "remove", "--force", str(self._workdir / "tree"))
            shutil.rmtree(self._workdir, ignore_errors=True)
            run_git(self._project_dir, "worktree", "prune")  # in case the removal above could not finish
            self._workdir = None


def start_base_plan(
    project_dir: Path,
    ref: str,
    stack: str,
    catalog: str | None = None,
    policy_config: Path | None = None,
    *,
    use_cache: bool = True,
) -> PendingBasePlan:
    """Resolve ``ref``, then read its plan from the cache or start planning it in a temporary worktree.

    Raises ``BasePlanError`` at once for a ref that names no commit or a worktree git cannot create.
    """
    project_dir = project_dir.resolve()
    revision = resolve(project_dir, ref)
    policy_config = policy_config.resolve() if policy_config is not None else None
    cache_dir = project_dir / CACHE_DIR_NAME
    key = cache_key(project_dir, revision, stack, catalog, policy_config)
    cache_file = _cache_path(cache_dir, revision, stack, key)
    if use_cache and (cached := read_cached(cache_file)) is not None:
        return PendingBasePlan(revision, cached=cached)
    workdir = Path(tempfile.mkdtemp(prefix="plan-base-"))
    try:
        _git(project_dir, "worktree", "add", "--detach", "--quiet", str(workdir / "tree"), revision.commit)
    except BasePlanError as error:
        shutil.rmtree(workdir, ignore_errors=True)
        raise BasePlanError(f"could not check out the base {revision.label}: {error}") from None
    command = [sys.executable, "-m", "offline_plan", "--stack", stack, "--out", str(workdir / "out")]
    if catalog:
        command += ["--catalog", catalog]
    if policy_config is not None:
        command += ["--policy-config", str(policy_config)]
    environment = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT_NOT_PASSED}
    # A file, not a pipe: a chatty plan cannot fill a buffer and stall. Closed by PendingBasePlan._cleanup.
    stderr = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(  # noqa: S603 - our own interpreter running the base's offline plan
        command, cwd=workdir / "tree", env=environment, stdout=subprocess.DEVNULL, stderr=stderr
    )
    return PendingBasePlan(
        revision,
        process=process,
        workdir=workdir,
        project_dir=project_dir,
        cache_file=cache_file if use_cache else None,
        stack=stack,
        stderr=stderr,
    )
