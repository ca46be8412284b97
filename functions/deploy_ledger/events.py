"""What the coordinator accepts as a pipeline event or a scheduled tick: a claim is checked before it is a fact.

Shape, from the CodePipeline user guide ("Monitoring CodePipeline events",
pipeline-level and stage-level events): top-level ``account``, ``region``,
``time`` (seconds, UTC), ``resources`` (the pipeline's ARN) and ``detail``
with ``pipeline``, ``execution-id``, ``state``, ``stage`` (stage events),
``start-time`` (when the execution started, in milliseconds; absent from
some events, e.g. a stage RESUMED after a retry), ``pipeline-execution-attempt``
and ``version`` (JSON numbers, ``1.0``) and, on pipeline events,
``execution-trigger``. A scheduled tick is the EventBridge "Scheduled Event"
of this stack's rule.

An event is acted on only when it comes from the tooling account and region
(a pipeline of the same name in an environment account is someone else's,
and its events can reach the default bus), names a pipeline this platform
owns in the dependency graph, and is well formed. Anything else raises
``IgnoredEventError`` with the reason; it never starts, holds or releases anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .graph import Graph
from .settings import Settings

PIPELINE_EVENT = "CodePipeline Pipeline Execution State Change"
STAGE_EVENT = "CodePipeline Stage Execution State Change"
SCHEDULED_EVENT = "Scheduled Event"
PIPELINE_STATES = frozenset(
    {"CANCELED", "FAILED", "QUEUED", "RESUMED", "STARTED", "STOPPED", "STOPPING", "SUCCEEDED", "SUPERSEDED"}
)
STAGE_STATES = frozenset({"CANCELED", "FAILED", "RESUMED", "STARTED", "STOPPED", "STOPPING", "SUCCEEDED"})
MAX_EXECUTION_ID = 100
MAX_ATTEMPT = 1000


class IgnoredEventError(ValueError):
    """An event the coordinator does not act on; the message says why."""


@dataclass(frozen=True)
class PipelineEvent:
    """A pipeline or stage state change of one of this platform's pipelines, checked."""

    service: str
    environment: str
    pipeline: str
    execution: str
    state: str
    stage: str | None
    """The stage of a stage event; None for a pipeline event."""
    time: str
    """When the state changed (the event's ``time``), ``YYYY-MM-DDTHH:MM:SSZ``."""
    run_started: str | None
    """When the execution started (``detail.start-time``), ``YYYY-MM-DDTHH:MM:SS.mmmZ``; None when not given."""
    attempt: int
    trigger: str | None

    @property
    def scope(self) -> str:
        return f"STAGE#{self.stage}" if self.stage else "PIPELINE"


def _timestamp(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise IgnoredEventError(f"{field} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise IgnoredEventError(f"{field} {value[:40]!r} is not a timestamp") from None
    if moment.tzinfo is None:
        raise IgnoredEventError(f"{field} {value[:40]!r} has no time zone")
    return moment.astimezone(UTC)


def event_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_time(moment: datetime) -> str:
    """Millisecond precision, fixed width, so that two start times compare as text."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def check_origin(event: dict[str, Any], settings: Settings) -> None:
    """Raise ``IgnoredEventError`` unless the event was emitted in the tooling account and region."""
    if not settings.account_id or not settings.region:
        raise IgnoredEventError("the function does not know its tooling account and region")
    account, region = event.get("account"), event.get("region")
    if str(account) != settings.account_id:
        raise IgnoredEventError(
            f"event from account {str(account)[:20]}, not the tooling account {settings.account_id}"
        )
    if region != settings.region:
        raise IgnoredEventError(f"event from region {str(region)[:20]}, not the tooling region {settings.region}")


def read_scheduled_tick(event: dict[str, Any], settings: Settings) -> None:
    """Raise ``IgnoredEventError`` unless this is a scheduled tick of this account and region."""
    if event.get("source") != "aws.events" or event.get("detail-type") != SCHEDULED_EVENT:
        raise IgnoredEventError(f"not a pipeline event nor a scheduled tick: {str(event.get('detail-type'))[:60]}")
    check_origin(event, settings)


def read_pipeline_event(event: dict[str, Any], settings: Settings, graph: Graph) -> PipelineEvent:
    """The checked pipeline event, or ``IgnoredEventError`` naming what is wrong with it."""
    kind = event.get("detail-type")
    if event.get("source") != "aws.codepipeline" or kind not in (PIPELINE_EVENT, STAGE_EVENT):
        raise IgnoredEventError(f"not a CodePipeline execution event: {str(kind)[:60]}")
    check_origin(event, settings)
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise IgnoredEventError("detail is missing")
    pipeline = detail.get("pipeline")
    if not isinstance(pipeline, str) or not pipeline:
        raise IgnoredEventError("detail.pipeline is missing")
    located = graph.locate(pipeline, settings.pipeline_name_pattern)
    if located is None:
        raise IgnoredEventError(f"pipeline {pipeline[:100]} is not one of this platform's")
    expected = ["codepipeline", settings.region, settings.account_id, pipeline]
    for resource in event.get("resources") or []:
        parts = str(resource).split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1].startswith("aws") or parts[2:] != expected:
            raise IgnoredEventError(f"resource {str(resource)[:120]} is not pipeline {pipeline} of the tooling account")
    execution = detail.get("execution-id")
    if not isinstance(execution, str) or not execution or len(execution) > MAX_EXECUTION_ID:
        raise IgnoredEventError("detail.execution-id is missing")
    stage = detail.get("stage") if kind == STAGE_EVENT else None
    if kind == STAGE_EVENT and (not isinstance(stage, str) or not stage):
        raise IgnoredEventError("detail.stage is missing from a stage event")
    state = detail.get("state")
    if state not in (STAGE_STATES if stage else PIPELINE_STATES):
        raise IgnoredEventError(f"detail.state {str(state)[:20]!r} is not a {'stage' if stage else 'pipeline'} state")
    attempt = detail.get("pipeline-execution-attempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int | float) or attempt != int(attempt):
        raise IgnoredEventError("detail.pipeline-execution-attempt is not a whole number")
    if not 0 <= attempt <= MAX_ATTEMPT:
        raise IgnoredEventError("detail.pipeline-execution-attempt is out of range")
    started = detail.get("start-time")
    trigger_detail = detail.get("execution-trigger")
    trigger = trigger_detail.get("trigger-type") if isinstance(trigger_detail, dict) else None
    return PipelineEvent(
        service=located[0],
        environment=located[1],
        pipeline=pipeline,
        execution=execution,
        state=str(state),
        stage=stage,
        time=event_time(_timestamp(event.get("time"), "time")),
        run_started=run_time(_timestamp(started, "detail.start-time")) if started is not None else None,
        attempt=int(attempt),
        trigger=str(trigger)[:40] if trigger else None,
    )
