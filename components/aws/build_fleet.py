"""The reserved-capacity fleets of a stack's build queues (``aws.codebuild.Fleet``).

One fleet per queue that is a fleet and that a service of this stack builds on: the
stack that declares those services' build projects owns their fleet (a fleet queue
never spans shards; ``components.model.sharding.check_build_queues``). Arguments per
AWS's fleet reference (``AWS::CodeBuild::Fleet``): ``BaseCapacity`` machines of
``ComputeType`` in a Linux container environment, and ``OverflowBehavior`` ``QUEUE``
(builds wait for a machine) or ``ON_DEMAND`` (they spill onto on-demand capacity).
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
import pulumi_aws as aws

from ..model import naming
from ..model.build_queues import FLEET_ENVIRONMENT_TYPE
from ..model.catalog import Service
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags


def build_fleets(
    inputs: PlatformInputs, services: Iterable[Service], opts: pulumi.ResourceOptions | None = None
) -> dict[str, pulumi.Output[str]]:
    """queue → fleet ARN, for every fleet queue one of ``services`` builds on."""
    queues = inputs.build_queues()
    used = sorted({service.build_queue for service in services if queues[service.build_queue].fleet is not None})
    arns: dict[str, pulumi.Output[str]] = {}
    for queue in used:
        fleet = queues[queue].fleet
        assert fleet is not None
        arns[queue] = aws.codebuild.Fleet(
            f"build-queue-{queue}",
            name=naming.build_fleet_name(inputs.stack, queue),
            base_capacity=fleet.base_capacity,
            compute_type=fleet.compute_type,
            environment_type=FLEET_ENVIRONMENT_TYPE,
            overflow_behavior=fleet.overflow_behavior,
            tags={**standard_tags(inputs.stack), "build-queue": queue},
            opts=opts,
        ).arn
    return arns
