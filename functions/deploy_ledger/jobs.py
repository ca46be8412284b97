"""What the deploy gate accepts as a pipeline's question: a CodePipeline job of the tooling account, for its pipeline.

The job event, as the Lambda developer guide documents it ("Using Lambda with
CodePipeline"): ``{"CodePipeline.job": {"id": …, "accountId": …, "data":
{"actionConfiguration": {"configuration": {"FunctionName": …,
"UserParameters": …}}, …}}}``. ``accountId`` is the account of the pipeline
that asks. The API reference's ``JobData`` may also carry ``pipelineContext``
(``pipelineName``, ``pipelineArn``, ``pipelineExecutionId``); the guide's
example does not show it, so the gate uses it when it is there and does
without when it is not.

A job is acted on only when:

- its ``accountId`` is the tooling account. A job of another account is not
  this gate's to answer nor to record: ``IgnoredJobError``;
- its ``pipelineContext``, when present, is the pipeline of the service and
  environment its ``UserParameters`` name, in the tooling account and region.
  A job that claims one pipeline and comes from another is crafted:
  ``IgnoredJobError``;
- its ``UserParameters`` are a JSON object naming the ``service`` and the
  ``environment`` (strings). A job of this account without them cannot be let
  through: ``RefusedJobError``, answered with failure and recorded nowhere.

Without a ``pipelineContext`` the ``UserParameters`` say which pipeline asks:
they are written into each pipeline's rule by the platform, and the platform grants
invoking the gate to its pipeline roles only. Whether that service deploys to
that environment is the gate's first check (``DeployGate.decide``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from .settings import Settings

MAX_NAME = 100


class IgnoredJobError(ValueError):
    """Not a job of this platform's pipelines: neither answered nor recorded; the message says why."""


class RefusedJobError(ValueError):
    """A job of the tooling account the gate cannot let through: answered with failure, recorded nowhere."""


@dataclass(frozen=True)
class GateJob:
    id: str
    service: str
    environment: str
    execution: str | None
    """The execution that asks, when the job says (``pipelineContext.pipelineExecutionId``)."""
    health_alarm: str | None = None
    """The health alarm the rule says the gate checks (``healthAlarm``); the gate refuses a mismatch."""


def _name(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME


def read_job(job: Any, settings: Settings, find_parameters: Callable[[Any], Any]) -> GateJob:
    """The checked job. Where it comes from is checked before anything it says is read."""
    if not isinstance(job, dict) or not isinstance(job.get("id"), str) or not job["id"]:
        raise IgnoredJobError("the job has no id")
    if not settings.account_id or not settings.region:
        raise IgnoredJobError("the gate does not know its tooling account and region")
    account = job.get("accountId")
    if str(account) != settings.account_id:
        raise IgnoredJobError(f"job of account {str(account)[:20]}, not the tooling account {settings.account_id}")
    data = job.get("data")
    context = data.get("pipelineContext") if isinstance(data, dict) else None
    context = context if isinstance(context, dict) else {}
    arn = context.get("pipelineArn")
    arn_parts = str(arn).split(":", 5) if arn is not None else []
    if arn is not None and (
        len(arn_parts) != 6
        or arn_parts[0] != "arn"
        or not arn_parts[1].startswith("aws")
        or arn_parts[2:5] != ["codepipeline", settings.region, settings.account_id]
    ):
        raise IgnoredJobError(f"job of pipeline {str(arn)[:160]}, not a pipeline of the tooling account")
    try:
        parameters = find_parameters(job)
    except (ValueError, TypeError) as error:
        raise RefusedJobError(f"UserParameters are not JSON: {error}") from None
    if not isinstance(parameters, dict):
        raise RefusedJobError("UserParameters are not a JSON object naming the service and the environment")
    service, environment = parameters.get("service"), parameters.get("environment")
    if not (_name(service) and _name(environment)):
        raise RefusedJobError("UserParameters must name the service and the environment")
    pipeline = settings.pipeline_name_pattern.format(service=service, environment=environment)
    for named in (context.get("pipelineName"), arn_parts[5] if arn is not None else None):
        if named is not None and named != pipeline:
            raise IgnoredJobError(f"job of pipeline {str(named)[:MAX_NAME]} asks for {service} in {environment}")
    found = context.get("pipelineExecutionId")
    execution = found if isinstance(found, str) and found else None
    declared = parameters.get("healthAlarm")
    if declared is not None and not _name(declared):
        raise RefusedJobError("UserParameters name no usable healthAlarm")
    return GateJob(id=job["id"], service=service, environment=environment, execution=execution, health_alarm=declared)
