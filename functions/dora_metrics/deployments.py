"""What the DORA function accepts as a deployment outcome: the end of a Deploy stage, checked before it is a fact.

Shape, from the CodePipeline user guide ("Monitoring CodePipeline events", stage-level events):
top-level ``account``, ``region``, ``time`` (the state change, seconds, UTC), ``resources`` (the
pipeline's ARN) and ``detail`` with ``pipeline``, ``execution-id``, ``stage``, ``state``,
``start-time`` (when the execution started) and ``pipeline-execution-attempt`` (a JSON number).

An event is a claim, not a fact. EventBridge stamps ``account`` and ``region`` itself and nobody
can put an event whose source starts with ``aws.``, so those are facts; the pipeline's name is
not: a pipeline named ``booking-prod`` in an environment account is someone else's, and its events
can reach this bus. So an outcome is believed only from the tooling account and region, where the
platform's pipelines run, for a pipeline the dependency graph places (a service that deploys to
that environment), with a resource ARN that agrees. Anything else raises ``IgnoredEventError``
with the reason: never recorded, never counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

STAGE_EVENT = "CodePipeline Stage Execution State Change"
SCHEDULED_EVENT = "Scheduled Event"
OUTCOMES = ("SUCCEEDED", "FAILED")
MAX_EXECUTION_ID = 100
MAX_ATTEMPT = 1000


class IgnoredEventError(ValueError):
    """An event the function does not count; the message says why."""


class Placements(Protocol):
    def locate(self, pipeline: str, pattern: str) -> tuple[str, str] | None: ...


@dataclass(frozen=True)
class Origin:
    """Where the platform's pipelines run: the only place their events are believed from."""

    account: str
    region: str

    def check(self, event: dict[str, Any]) -> None:
        account, region = event.get("account"), event.get("region")
        if account != self.account:
            raise IgnoredEventError(f"event from account {str(account)[:20]}, not the tooling account {self.account}")
        if region != self.region:
            raise IgnoredEventError(f"event from region {str(region)[:20]}, not the tooling region {self.region}")


@dataclass(frozen=True)
class StageOutcome:
    """A Deploy stage of one of this platform's pipelines ended, as the event claims it."""

    service: str
    environment: str
    pipeline: str
    execution: str
    attempt: int
    state: str
    at: datetime
    """When the stage ended (the event's ``time``)."""
    started_at: datetime | None
    """When the execution started (``detail.start-time``); absent from some events."""

    @property
    def key(self) -> str:
        """What makes two deliveries the same outcome: the execution, its attempt and the state it ended in."""
        return f"{self.execution}#{self.attempt}#{self.state}"


def timestamp(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise IgnoredEventError(f"{field} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise IgnoredEventError(f"{field} {value[:40]!r} is not a timestamp") from None
    if moment.tzinfo is None:
        raise IgnoredEventError(f"{field} {value[:40]!r} has no time zone")
    return moment.astimezone(UTC)


def is_scheduled_tick(event: Any) -> bool:
    return (
        isinstance(event, dict) and event.get("source") == "aws.events" and event.get("detail-type") == SCHEDULED_EVENT
    )


def read_outcome(
    event: Any, origin: Origin, graph: Placements, pipeline_pattern: str, deploy_stage: str
) -> StageOutcome:
    """The checked outcome, or ``IgnoredEventError`` naming what is wrong with the event."""
    if not isinstance(event, dict):
        raise IgnoredEventError("not an EventBridge event")
    kind = event.get("detail-type")
    if event.get("source") != "aws.codepipeline" or kind != STAGE_EVENT:
        raise IgnoredEventError(f"not a CodePipeline stage event: {str(event.get('source'))[:40]} {str(kind)[:60]}")
    origin.check(event)
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise IgnoredEventError("detail is missing")
    pipeline = detail.get("pipeline")
    if not isinstance(pipeline, str) or not pipeline:
        raise IgnoredEventError("detail.pipeline is missing")
    located = graph.locate(pipeline, pipeline_pattern)
    if located is None:
        raise IgnoredEventError(f"pipeline {pipeline[:100]} is not one of this platform's")
    expected = ["codepipeline", origin.region, origin.account, pipeline]
    for resource in event.get("resources") or []:
        parts = str(resource).split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1].startswith("aws") or parts[2:] != expected:
            raise IgnoredEventError(f"resource {str(resource)[:120]} is not pipeline {pipeline} of the tooling account")
    if detail.get("stage") != deploy_stage:
        raise IgnoredEventError(f"stage {str(detail.get('stage'))[:40]} is not the {deploy_stage} stage")
    state = detail.get("state")
    if state not in OUTCOMES:
        raise IgnoredEventError(f"state {str(state)[:20]!r} is not an outcome ({', '.join(OUTCOMES)})")
    execution = detail.get("execution-id")
    if not isinstance(execution, str) or not execution or len(execution) > MAX_EXECUTION_ID or "#" in execution:
        raise IgnoredEventError("detail.execution-id is missing or malformed")
    attempt = detail.get("pipeline-execution-attempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int | float) or attempt != int(attempt):
        raise IgnoredEventError("detail.pipeline-execution-attempt is not a whole number")
    if not 0 <= attempt <= MAX_ATTEMPT:
        raise IgnoredEventError("detail.pipeline-execution-attempt is out of range")
    started = detail.get("start-time")
    return StageOutcome(
        service=located[0],
        environment=located[1],
        pipeline=pipeline,
        execution=execution,
        attempt=int(attempt),
        state=str(state),
        at=timestamp(event.get("time"), "time"),
        started_at=timestamp(started, "detail.start-time") if started is not None else None,
    )
