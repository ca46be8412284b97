"""Where each kind of build runs: the team's build follows its queue; the privileged image build never uses a fleet."""

from __future__ import annotations

from components.aws.codebuild_project import build_capacity, image_build_capacity
from components.model.build_queues import BuildQueue, FleetCapacity

FLEET_ARN = "arn:aws:codebuild:eu-west-1:123456789012:fleet/payments:1a2b"


def test_a_fleet_queue_runs_the_team_build_on_its_fleet():
    queue = BuildQueue(fleet=FleetCapacity(base_capacity=3))
    capacity = build_capacity(queue, FLEET_ARN)
    assert (capacity.fleet_arn, capacity.concurrent_build_limit) == (FLEET_ARN, None)


def test_the_image_build_of_a_fleet_queue_runs_on_demand_capped_at_the_fleets_size():
    # A reserved fleet keeps its machines between builds (CodeBuild user guide, "Run builds on reserved capacity
    # fleets"); the privileged image build must start on a machine no other build used.
    capacity = image_build_capacity(BuildQueue(fleet=FleetCapacity(base_capacity=3)))
    assert (capacity.fleet_arn, capacity.concurrent_build_limit) == (None, 3)


def test_the_image_build_of_an_on_demand_queue_keeps_the_queues_limit():
    assert image_build_capacity(BuildQueue(concurrent_build_limit=4)).concurrent_build_limit == 4
    assert image_build_capacity(BuildQueue()).concurrent_build_limit is None
