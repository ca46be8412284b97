"""Whether an alarm should roll a pipeline's Deploy stage back, and to which execution.

Only an alarm that fires *after* a deploy finished is this function's to act
on: while the Deploy stage runs, CodeDeploy stops the deployment on the same
alarms, or the stage's bake action fails it, and the stage rolls back; after a failed deploy,
the stage's ``on_failure`` rollback already ran. And only a recent deploy is
blamed: an alarm hours later is more likely traffic or a dependency, where
rolling back would hide the real cause. Nor is a deploy blamed for an alarm
that went off before it finished: EventBridge delivers in any order and Lambda
retries late, so an alarm about the previous version can arrive after the next
deploy; the alarm's own state timestamp, not its arrival, decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEPLOY_STAGE = "Deploy"


@dataclass(frozen=True)
class Decision:
    rollback: bool
    reason: str
    current_execution: str | None = None
    target_execution: str | None = None


def decide(
    state: dict[str, Any],
    executions: list[dict[str, Any]],
    now: datetime,
    window: timedelta,
    alarm_at: datetime | None = None,
) -> Decision:
    """From ``get_pipeline_state`` and ``list_pipeline_executions`` (newest first), decide what to do.

    ``alarm_at`` is when the alarm entered ALARM (its state timestamp).
    """
    stage = next((s for s in state.get("stageStates", []) if s.get("stageName") == DEPLOY_STAGE), None)
    latest = (stage or {}).get("latestExecution") or {}
    status, current = latest.get("status"), latest.get("pipelineExecutionId")
    if not current:
        return Decision(False, "the Deploy stage has never run: nothing to roll back")
    if any(e.get("executionType") == "ROLLBACK" and e.get("status") == "InProgress" for e in executions):
        return Decision(False, "a rollback is already under way", current)
    if status == "InProgress":
        return Decision(
            False,
            "a deploy is in progress: CodeDeploy stops it on this alarm or the bake fails it, and the stage rolls back",
            current,
        )
    if status != "Succeeded":
        return Decision(False, f"the last deploy ended {status}; the stage's on-failure rollback handles it", current)
    finished = _finished_at(stage or {})
    if alarm_at is not None and finished is not None and alarm_at < finished:
        return Decision(
            False,
            f"the alarm went off at {_clock(alarm_at)}, before the current deploy finished at {_clock(finished)}: "
            "it is about an earlier version",
            current,
        )
    if finished is not None and now - finished > window:
        minutes = int((now - finished).total_seconds() // 60)
        return Decision(
            False, f"the last deploy finished {minutes} min ago, outside the {_minutes(window)} min window", current
        )
    target = _last_success_before(current, executions)
    if target is None:
        return Decision(False, "no earlier successful execution to roll back to; roll forward with a fix", current)
    return Decision(True, "the alarm fired shortly after a successful deploy", current, target)


def _finished_at(stage: dict[str, Any]) -> datetime | None:
    changes = [
        action["latestExecution"]["lastStatusChange"]
        for action in stage.get("actionStates", [])
        if isinstance((action.get("latestExecution") or {}).get("lastStatusChange"), datetime)
    ]
    return max(changes) if changes else None


def _last_success_before(current: str, executions: list[dict[str, Any]]) -> str | None:
    seen_current = False
    for execution in executions:
        if execution.get("pipelineExecutionId") == current:
            seen_current = True
            continue
        if (
            seen_current
            and execution.get("status") == "Succeeded"
            and execution.get("executionType", "STANDARD") == "STANDARD"
        ):
            return execution["pipelineExecutionId"]
    return None


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC")


def _minutes(window: timedelta) -> int:
    return int(window.total_seconds() // 60)


REFUSALS = {
    "UnableToRollbackStageException": (
        "CodePipeline rolls a stage back only to an execution started in the pipeline's current structure version "
        '(CodePipeline user guide, "Considerations for rollbacks"): a change to the pipeline since that execution '
        "(a pulumi up that changed its stages or actions) makes it an impossible target; it also refuses while the "
        'stage is still running. Redeploy the last good commit ("Release change" on it) or roll forward with a fix'
    ),
}
"""What a person should know about a refusal, by error code (API reference, ``RollbackStage`` errors)."""


def refusal_explanation(code: str) -> str:
    """Why CodePipeline refused a rollback and what to do instead; empty for codes with nothing to add."""
    return REFUSALS.get(code, "")
