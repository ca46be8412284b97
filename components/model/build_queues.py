"""Build queues: whose builds share which CodeBuild capacity, so one team's surge cannot starve another's.

A catalog service names its queue (``build_queue``, default ``standard``); the stack
settings define the queues (``buildQueues``). A queue is one of:

- **on demand** (no keys): CodeBuild's shared on-demand capacity, no limit of its own. The
  implicit ``standard`` queue is this, so a stack without ``buildQueues`` builds as before.
- **on demand with a limit** (``concurrentBuildLimit``): each build project of the queue's
  services sets CodeBuild's ``concurrentBuildLimit``. AWS documents ("Builds in AWS
  CodeBuild") that a project at its limit *refuses* further builds rather than queueing them,
  and that projects without a limit queue once the account's concurrent-build quota is
  reached. So a limit caps what a service can take from the account, and the ``quotas`` rule
  checks that the limits together fit the account's quota, so a limited service always finds
  room.
- **a reserved-capacity fleet** (``fleet``): an ``aws.codebuild.Fleet`` of ``baseCapacity``
  dedicated machines ("Run builds on reserved capacity fleets"); the queue's build projects
  run there. ``overflowBehavior: QUEUE`` (the default) makes a surge wait for the team's own
  machines; ``ON_DEMAND`` spills it onto on-demand capacity (billed separately).

The queue governs each service's *build* project: that is where a team's own buildspec runs
and where surges come from. Scans keep running on on-demand capacity without a per-project
limit, because the Scan stage starts up to six builds of one scan project at once and a
project at its limit refuses builds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

DEFAULT_QUEUE = "standard"
QueueName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"),
    Field(description="A build queue the stack settings define (buildQueues); 'standard' always exists."),
]
FleetComputeType = Literal[
    "BUILD_GENERAL1_SMALL",
    "BUILD_GENERAL1_MEDIUM",
    "BUILD_GENERAL1_LARGE",
    "BUILD_GENERAL1_XLARGE",
    "BUILD_GENERAL1_2XLARGE",
]
FLEET_ENVIRONMENT_TYPE = "LINUX_CONTAINER"
"""The platform's build image is Amazon Linux x86_64 standard 5.0, a Linux container image."""


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, alias_generator=to_camel)


class FleetCapacity(_Settings):
    """A CodeBuild reserved-capacity fleet (``AWS::CodeBuild::Fleet``): machines kept for one queue."""

    base_capacity: int = Field(
        ge=1, description="Machines in the fleet, which is how many of the queue's builds run at once."
    )
    compute_type: FleetComputeType = Field(
        default="BUILD_GENERAL1_SMALL", description="Size of each machine (CodeBuild compute type)."
    )
    overflow_behavior: Literal["QUEUE", "ON_DEMAND"] = Field(
        default="QUEUE",
        description="When every machine is busy: QUEUE waits for one, ON_DEMAND runs the build on on-demand capacity.",
    )


class BuildQueue(_Settings):
    """On demand (optionally with a per-project concurrent-build limit), or a reserved-capacity fleet."""

    concurrent_build_limit: int | None = Field(
        default=None,
        ge=1,
        description="Per build project of the queue: at most this many builds at once "
        "(CodeBuild concurrentBuildLimit).",
    )
    fleet: FleetCapacity | None = Field(default=None, description="Run the queue's builds on a reserved fleet.")

    @model_validator(mode="after")
    def _one_kind(self) -> BuildQueue:
        if self.fleet is not None and self.concurrent_build_limit is not None:
            raise ValueError(
                "a queue is either a fleet or on demand with concurrentBuildLimit, not both (a fleet's capacity "
                "is its limit)"
            )
        return self

    @property
    def kind(self) -> str:
        if self.fleet is not None:
            return "fleet"
        return "on-demand-limited" if self.concurrent_build_limit is not None else "on-demand"


def queues_with_default(defined: dict[str, BuildQueue]) -> dict[str, BuildQueue]:
    """The stack's queues, with ``standard`` (on demand, no limit) unless the stack redefines it."""
    return {DEFAULT_QUEUE: BuildQueue(), **defined}


def queue_summary(queues: dict[str, BuildQueue], members: Iterable[tuple[str, str]]) -> dict[str, dict[str, object]]:
    """queue → its kind, capacity and the services building there (``members``: (service, queue) pairs).

    What the plan summary lists, so a reader sees who shares which capacity; queues nobody uses are left out.
    """
    services: dict[str, list[str]] = {}
    for service, queue in members:
        services.setdefault(queue, []).append(service)
    summary: dict[str, dict[str, object]] = {}
    for name in sorted(services):
        queue = queues[name]
        entry: dict[str, object] = {"kind": queue.kind}
        if queue.concurrent_build_limit is not None:
            entry["concurrentBuildLimit"] = queue.concurrent_build_limit
        if queue.fleet is not None:
            entry["fleet"] = queue.fleet.model_dump(by_alias=True)
        entry["services"] = sorted(services[name])
        summary[name] = entry
    return summary
