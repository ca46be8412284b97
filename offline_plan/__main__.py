"""``python -m offline_plan --stack dev``: what ``make plan`` runs.

Exit codes: 0 plan written, 1 mandatory policy violation, 2 bad catalog, stack config or policy pack config.
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
    args = parser.parse_args(argv)
    # `make plan | head` should end quietly, like any Unix tool, not with a BrokenPipeError.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # pulumi_aws.s3 warns about its deprecated V2 aliases on import; they are not ours to fix.
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    import pulumi

    from policies import pack_config

    from .report import plan_document, render_summary, write_guardrail_scp, write_plan
    from .runner import run_plan

    try:
        plan = run_plan(
            args.project_dir, args.stack, args.catalog, policy_config=args.policy_config or pack_config.DEFAULT_PATH
        )
    except PlatformInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except pulumi.RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    document = plan_document(plan)
    out_dir = args.out or args.project_dir / "out"
    path = write_plan(document, out_dir)
    print(render_summary(plan, document["summary"], path))
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
    # then leave without tearing down a heap the size of the fleet (lean.py).
    with no_cyclic_gc():
        code = main()
    exit_now(code)
