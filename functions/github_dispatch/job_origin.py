"""Where a job says it comes from, checked before anything it asks for reaches GitHub.

A job is a claim (DESIGN.md, "Trust boundaries"). The Lambda event of a
pipeline's invoke action (Lambda developer guide, "Using Lambda with
CodePipeline") carries the job's ``id``, its ``accountId`` and its ``data``;
the API reference's ``JobData`` adds ``pipelineContext`` (``pipelineName``,
``pipelineArn``, ``pipelineExecutionId``, ``stage.name``, ``action.name`` and
``action.actionExecutionId``), which the guide's example does not show, so it
is checked when present and not required. The deploy gate reads its jobs the
same way (``functions/deploy_ledger/jobs.py``); this package is deployed on its
own, so the rules are restated here, not imported.

- A job of another account than the tooling account is not this function's to
  answer (its answer would go to a job CodePipeline does not know here): no
  answer, nothing sent (``ForeignJob``).
- A job whose ``pipelineContext`` names another pipeline than the
  ``<service>-<environment>`` its ``UserParameters`` ask to deploy (a staging
  pipeline asking for a prod deploy past prod's approvals), or a pipeline ARN of
  another account or region, or an execution other than the one its
  ``UserParameters`` carry, is refused with a failure: nothing reaches GitHub.
- A function that does not know its tooling account refuses every job.
- Before the first dispatch, the execution the job names is looked up in the
  pipeline its ``UserParameters`` deploy for (``GetPipelineExecution``): an
  execution of another pipeline is not found there (a staging pipeline whose
  action asks for a prod deploy carries a staging execution id, since
  CodePipeline resolves ``#{codepipeline.PipelineExecutionId}`` itself), and an
  execution that is no longer ``InProgress`` has no use for a deploy. This holds
  without ``pipelineContext``, which the Lambda event may lack. A job that names
  no execution (an action declared before the platform passed it) is let
  through on the checks above alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .outcomes import JobFailure
from .request import EXECUTION_PATTERN, DeployRequest
from .settings import Settings

MAX_SHOWN = 160


class ForeignJob(Exception):  # noqa: N818 - a job that is not ours, not an error of this code
    """A job of another account: not answered, nothing sent; the message says why (for the log)."""


@dataclass(frozen=True)
class JobOrigin:
    """The pipeline, execution and action a checked job comes from."""

    pipeline: str
    execution_id: str | None
    """``None`` when neither ``UserParameters`` nor ``pipelineContext`` say (an action declared long ago)."""
    stage: str | None = None
    action: str | None = None
    action_execution_id: str | None = None


def job_origin(job: dict[str, Any], request: DeployRequest, settings: Settings) -> JobOrigin:
    """The job's origin, once it is shown to be a job of the pipeline its ``UserParameters`` deploy for."""
    if not settings.tooling_account_id or not settings.tooling_region:
        raise JobFailure(
            "the GitHub dispatch function does not know its tooling account and region (TOOLING_ACCOUNT_ID, "
            "TOOLING_REGION): redeploy the platform",
            "ConfigurationError",
        )
    account = str(job.get("accountId"))
    if account != settings.tooling_account_id:
        raise ForeignJob(f"job of account {account[:20]}, not the tooling account {settings.tooling_account_id}")
    data = job.get("data")
    context = data.get("pipelineContext") if isinstance(data, dict) else None
    context = context if isinstance(context, dict) else {}
    expected = request.pipeline
    named = context.get("pipelineName")
    if named is not None and named != expected:
        raise _refused(f"it comes from pipeline {str(named)[:MAX_SHOWN]}", request)
    arn = context.get("pipelineArn")
    if arn is not None:
        parts = str(arn).split(":", 5)
        wanted = ["codepipeline", settings.tooling_region, settings.tooling_account_id, expected]
        if len(parts) != 6 or parts[0] != "arn" or not parts[1].startswith("aws") or parts[2:] != wanted:
            raise _refused(f"it comes from pipeline {str(arn)[:MAX_SHOWN]}", request)
    execution = _text(context.get("pipelineExecutionId"))
    if execution is not None and not EXECUTION_PATTERN.fullmatch(execution):
        raise _refused(f"its pipeline execution id {execution[:MAX_SHOWN]!r} is not one", request)
    if execution and request.pipeline_execution_id and execution != request.pipeline_execution_id:
        raise _refused(
            f"its context names execution {execution} and its UserParameters {request.pipeline_execution_id}", request
        )
    stage, action = context.get("stage"), context.get("action")
    return JobOrigin(
        pipeline=expected,
        execution_id=request.pipeline_execution_id or execution,
        stage=_text(stage.get("name")) if isinstance(stage, dict) else None,
        action=_text(action.get("name")) if isinstance(action, dict) else None,
        action_execution_id=_text(action.get("actionExecutionId")) if isinstance(action, dict) else None,
    )


def _refused(why: str, request: DeployRequest) -> JobFailure:
    return JobFailure(
        f"refused to deploy {request.label}: {why}, not {request.pipeline} of the tooling account and region; "
        "nothing was sent to GitHub",
        "ConfigurationError",
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def confirm_execution(origin: JobOrigin, request: DeployRequest, codepipeline: Any) -> None:
    """Refuse a job whose execution is not a running execution of the pipeline it claims (nothing sent yet)."""
    if origin.execution_id is None:
        return
    try:
        answer = codepipeline.get_pipeline_execution(
            pipelineName=origin.pipeline, pipelineExecutionId=origin.execution_id
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("PipelineExecutionNotFoundException", "PipelineNotFoundException"):
            raise _refused(f"its execution {origin.execution_id} is not one of that pipeline", request) from error
        raise JobFailure(
            f"could not confirm that execution {origin.execution_id} of {origin.pipeline} asked for this deploy "
            f"({code or error}); nothing was sent to GitHub: retry the stage",
            "SystemUnavailable",
        ) from error
    execution = answer.get("pipelineExecution") or {}
    status = execution.get("status")
    if execution.get("pipelineName", origin.pipeline) != origin.pipeline or status != "InProgress":
        raise JobFailure(
            f"execution {origin.execution_id} of {origin.pipeline} is {status}, not in progress: "
            f"nothing was sent to GitHub for {request.label}",
            "JobFailed",
        )
