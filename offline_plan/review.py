"""``python -m offline_plan --base REF`` (``make plan-diff``): the working tree reviewed against a base revision.

The base plan starts first, in its own process (``base_plan``), while this one plans the working tree;
then the two plan documents are diffed (``diff``), the review printed in place of the summary, and the
plan file, the report with its "what changes" section and the SCP written as ``make plan`` writes them.

A review is usually run again and again on the same tree (after a push, after reading the report), so
the working tree's plan is cached too, keyed by the content of every file git would commit (tracked or
not ignored), the stack, the overrides and the installed packages: anything that could change the plan
changes the key. With both plans cached a review is a file read and a diff.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from .asset_digest import comparable
from .base_plan import (
    CACHE_DIR_NAME,
    CACHE_FORMAT,
    BasePlanError,
    read_cached,
    run_git,
    start_base_plan,
    toolchain_fingerprint,
    write_cached,
)

EXIT_VIOLATIONS = 1  # the exit codes of __main__
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3


def working_tree_key(project_dir: Path, stack: str, catalog: str | None, policy_config: Path | None) -> str | None:
    """What the working tree's plan depends on, hashed; ``None`` outside git (then nothing is cached)."""
    from .runner import CATALOG_OVERRIDE_VARIABLE

    listed = run_git(project_dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed.returncode != 0:
        return None
    digest = hashlib.sha256(f"format={CACHE_FORMAT}\nstack={stack}\n{toolchain_fingerprint()}\n".encode())
    names = {name for name in listed.stdout.split("\0") if name and not name.startswith(f"{CACHE_DIR_NAME}/")}
    for name in sorted(names):
        path = project_dir / name
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"deleted")
    overrides = {"catalog": catalog, "policy-config": policy_config, "env": os.environ.get(CATALOG_OVERRIDE_VARIABLE)}
    for label, extra in overrides.items():
        if extra:
            path = Path(extra) if Path(extra).is_absolute() else project_dir / extra
            content = path.read_bytes() if path.is_file() else b"absent"
            digest.update(f"{label}={extra}\0".encode() + hashlib.sha256(content).digest())
    return digest.hexdigest()[:20]


class _WorkingTreeInputError(Exception):
    """The working tree's catalog, stack file or pack config is wrong: the message is the located error."""

    exit_code = EXIT_BAD_INPUT


class _WorkingTreeIncompleteError(_WorkingTreeInputError):
    """A shard's process was lost while planning the working tree (``shards.ShardProcessLostError``)."""

    exit_code = EXIT_INCOMPLETE


def _plan_working_tree(args: argparse.Namespace, project_dir: Path) -> tuple[dict[str, Any], list[str], bool]:
    """``(document, warnings, from_cache)``; ``_WorkingTreeInputError`` when the working tree cannot be planned."""
    key = working_tree_key(project_dir, args.stack, args.catalog, args.policy_config)
    cache_file = project_dir / CACHE_DIR_NAME / f"tree-{args.stack}-{key}.json.gz" if key else None
    cached = read_cached(cache_file) if cache_file is not None else None
    if cached is not None:
        return cached["document"], list(cached.get("warnings", [])), True

    import pulumi  # only now: a review read from the cache never pays for importing the program's SDKs

    from components.model.errors import PlatformInputError
    from policies import pack_config

    from .report import plan_document
    from .runner import run_plan
    from .shards import ShardProcessLostError, plan_fleet

    policy_config = args.policy_config or pack_config.DEFAULT_PATH
    out_dir = args.out or args.project_dir / "out"
    try:
        # A sharded core is reviewed as its merged fleet, exactly what `make plan` writes for it.
        fleet = plan_fleet(
            project_dir,
            args.stack,
            args.catalog,
            policy_config=policy_config,
            out_dir=out_dir,
            jobs=getattr(args, "jobs", None),
        )
        plan = fleet.merged if fleet else run_plan(project_dir, args.stack, args.catalog, policy_config=policy_config)
    except (PlatformInputError, pulumi.RunError) as error:
        raise _WorkingTreeInputError(str(error)) from None
    except ShardProcessLostError as error:
        raise _WorkingTreeIncompleteError(str(error)) from None
    document = plan_document(plan)
    if cache_file is not None:
        write_cached(cache_file, {"document": document, "warnings": plan.warnings})
    return document, plan.warnings, False


def run_review(args: argparse.Namespace) -> int:
    """Review mode of ``python -m offline_plan``; the same exit codes as a plan."""
    from .diff import diff_plans, render_review
    from .markdown_report import write_report
    from .report import write_guardrail_scp, write_plan

    started = time.perf_counter()
    project_dir = args.project_dir.resolve()
    out_dir = args.out or args.project_dir / "out"
    try:
        base = start_base_plan(project_dir, args.base, args.stack, args.catalog, args.policy_config)
    except BasePlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        document, warnings, tree_from_cache = _plan_working_tree(args, project_dir)
    except _WorkingTreeInputError as error:
        print(f"error: {error}", file=sys.stderr)
        base.cancel()
        return error.exit_code
    plan_path = write_plan(document, out_dir)
    try:
        base_plan = base.result()
    except BasePlanError as error:
        print(f"error: {error}", file=sys.stderr)
        write_report(document, out_dir)
        return EXIT_BAD_INPUT
    diff = diff_plans(base_plan.document, comparable(document, project_dir), base_label=base.revision.label)
    print("\n".join(render_review(diff)))
    print()
    print(f"plan -> {plan_path}")
    print(f"report -> {write_report(document, out_dir, diff)}")
    scp_path = write_guardrail_scp(document, out_dir)
    if scp_path is not None:
        print(f"approval guardrail SCP for the organization admin -> {scp_path}")
    sources = {True: "cached", False: "planned"}
    print(
        f"reviewed in {time.perf_counter() - started:.1f}s "
        f"(base {sources[base_plan.from_cache]}, working tree {sources[tree_from_cache]})"
    )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    mandatory = [v for v in document["policy"]["violations"] if v.get("level") == "mandatory"]
    if mandatory:
        print(f"error: {len(mandatory)} mandatory policy violation(s)", file=sys.stderr)
        return EXIT_VIOLATIONS
    return 0
