"""``python -m preflight --stack prod``: what ``make preflight`` runs, before the first ``pulumi up``.

Exit codes: 0 every environment account is ready, 1 problems found (one line
each), 2 bad catalog or stack config, or credentials that are not the stack's
tooling account.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from components.model.errors import PlatformInputError
from components.model.platform_inputs import PlatformInputs, load_platform_inputs
from components.model.settings import CONFIG_KEY
from components.model.yaml_source import load_yaml_file
from offline_plan.stack_config import read_stack_config

from .checks import assume_with, check_config_recorder, run_preflight

EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2


def load_inputs(project_dir: Path, stack: str) -> PlatformInputs:
    """The same validated model the program builds from, read from ``Pulumi.<stack>.yaml``."""
    project = str(load_yaml_file(project_dir / "Pulumi.yaml", "Pulumi.yaml")["name"])
    raw = read_stack_config(project_dir, stack, project).values.get(f"{project}:{CONFIG_KEY}")
    return load_platform_inputs(json.loads(raw) if raw is not None else None, stack, project_dir)


def main(argv: list[str] | None = None, session: boto3.Session | None = None) -> int:
    parser = argparse.ArgumentParser(prog="preflight", description="Check a stack's environment accounts.")
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use (default: dev)")
    parser.add_argument("--project-dir", default=".", type=Path, help="directory holding Pulumi.yaml")
    args = parser.parse_args(argv)
    try:
        inputs = load_inputs(args.project_dir, args.stack)
    except PlatformInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    base = session or boto3.Session(region_name=inputs.settings.region)
    tooling = inputs.settings.tooling_account_id
    try:
        caller = base.client("sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as error:
        print(f"error: no usable AWS credentials for tooling account {tooling}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if caller != tooling:
        print(
            f"error: the AWS credentials are for account {caller}, but stack {args.stack} manages tooling account "
            f"{tooling}; the preflight must assume the bootstrap roles as the program will",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    problems = run_preflight(inputs, assume_with(base)) + check_config_recorder(inputs, base)
    for problem in problems:
        print(problem)
    accounts = len(inputs.environment_accounts())
    if problems:
        print(f"preflight: {len(problems)} problem(s) in {accounts} environment account(s)", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"preflight: {accounts} environment account(s) ready for pulumi up --stack {args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
