"""``python -m offline_plan --stack dev``: what ``make plan`` runs (``--base REF``: what ``make plan-diff`` runs).

Exit codes: 0 plan written, 1 mandatory policy violation, 2 bad catalog, stack config or policy pack config
(or, with ``--base``, a base revision that could not be planned).
"""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from pathlib import Path

from components.model.errors import PlatformInputError

EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3
"""A sharded plan lost a shard's process (killed, out of memory): no plan written."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="offline_plan", description="Offline plan of one platform stack.")
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use (default: dev)")
    parser.add_argument("--catalog", default=None, help="catalog file to use instead of the stack's catalogPath")
    parser.add_argument("--project-dir", default=".", type=Path, help="directory holding Pulumi.yaml")
    parser.add_argument("--out", default=None, type=Path, help="output directory (default: <project-dir>/out)")
    parser.add_argument(
        "--policy-config",
        default=None,
        type=Path,
        help="policy pack config, as pulumi's --policy-pack-config (default: policies/policy-config.json)",
    )
    parser.add_argument(
        "--jobs", default=None, type=int, help="shard stacks planned at once (default: one per CPU core)"
    )
    parser.add_argument(
        "--base",
        default=None,
        metavar="REF",
        help="git revision to review against: plans it too (temporary worktree, cached in .plan-cache/), "
        "prints what changes instead of the summary and adds it to the report",
    )
    args = parser.parse_args(argv)
    # `make plan | head` should end quietly, like any Unix tool, not with a BrokenPipeError.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # pulumi_aws.s3 warns about its deprecated V2 aliases on import; they are not ours to fix.
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    if args.base is not None:
        from .review import run_review

        return run_review(args)

    import pulumi

    from policies import pack_config

    from .markdown_report import write_report
    from .report import plan_document, render_summary, write_guardrail_scp, write_plan
    from .runner import run_plan
    from .shards import ShardProcessLostError, plan_fleet, render_fleet

    out_dir = args.out or args.project_dir / "out"
    policy_config = args.policy_config or pack_config.DEFAULT_PATH
    try:
        # A sharded core plans its shards in parallel and merges them (offline_plan.shards); None otherwise.
        fleet = plan_fleet(
            args.project_dir,
            args.stack,
            args.catalog,
            policy_config=policy_config,
            out_dir=out_dir,
            jobs=args.jobs,
            progress=sys.stdout,
        )
        plan = (
            fleet.merged if fleet else run_plan(args.project_dir, args.stack, args.catalog, policy_config=policy_config)
        )
    except PlatformInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except pulumi.RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ShardProcessLostError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INCOMPLETE
    document = plan_document(plan)
    path = write_plan(document, out_dir)
    print(render_summary(plan, document["summary"], path))
    if fleet is not None:
        print(render_fleet(fleet, out_dir))
    print(f"report -> {write_report(document, out_dir)}")
    scp_path = write_guardrail_scp(document, out_dir)
    if scp_path is not None:
        print(f"approval guardrail SCP for the organization admin -> {scp_path}")
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if plan.mandatory_violations:
        print(f"error: {len(plan.mandatory_violations)} mandatory policy violation(s)", file=sys.stderr)
        return EXIT_VIOLATIONS
    return 0


if __name__ == "__main__":
    from .lean import exit_now, no_cyclic_gc

    # Writing the plan allocates as much again as planning it: keep the collector off to the end,
    # then leave without tearing down a heap the size of the fleet (lean.py). The exit is inside the
    # block: switching the collector back on first would scan every object of the plan once more.
    with no_cyclic_gc():
        exit_now(main())
