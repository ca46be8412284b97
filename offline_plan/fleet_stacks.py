"""``python -m offline_plan.fleet_stacks prod``: the Pulumi stacks of a platform stack, as JSON for CI matrices.

The deploy workflow runs a core first and then its shards as a matrix; the drift workflow
previews every stack. Both ask this module rather than repeating the shard list: it reads the
same settings the program does, validated the same way (a bad stack file fails the job with
the program's located error, exit code 2).

- ``prod``: the shard stacks of ``prod`` (``["prod-commerce", …]``; ``[]`` when it is whole);
- ``--all dev prod``: every stack with its core, ``[{"stack": "prod-commerce", "core": "prod"}, …]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from components.model.errors import PlatformInputError
from components.model.sharding import shard_stack_name

EXIT_BAD_INPUT = 2


def shard_stacks(project_dir: Path, stack: str) -> list[str]:
    """The shard stacks of ``stack`` in the order its settings list them (none for a whole stack)."""
    from .shards import stack_inputs

    inputs = stack_inputs(project_dir, stack, None)
    if inputs.stack_role.kind == "shard":
        raise PlatformInputError(f"Pulumi.{stack}.yaml", f"is a shard of {inputs.stack_role.core}, not a core")
    return [shard_stack_name(stack, shard.name) for shard in inputs.settings.shards]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="offline_plan.fleet_stacks", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="+", help="platform stacks (whole or core), e.g. dev prod")
    parser.add_argument("--all", action="store_true", help="every stack with its core, cores first")
    parser.add_argument("--project-dir", default=".", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.all:
            listed: list[object] = []
            for stack in args.stacks:
                listed.append({"stack": stack, "core": stack})
                listed += [{"stack": shard, "core": stack} for shard in shard_stacks(args.project_dir, stack)]
        else:
            listed = [shard for stack in args.stacks for shard in shard_stacks(args.project_dir, stack)]
    except PlatformInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(listed, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
