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
they are written into each pipeline's rule by the platform, and only the
platform's pipeline roles may invoke the gate. Whether that service deploys to
that environment is the gate's first check (``DeployGate.decide``).
"""

from __future__ import annotations

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


def _name(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME


def read_job(job: Any, parameters: Any, settings: Settings) -> GateJob:
    """The checked job; ``parameters`` are its ``UserParameters`` as found in it (parsed JSON, or text)."""
    if not isinstance(job, dict) or not isinstance(job.get("id"), str) or not job["id"]:
        raise IgnoredJobError("the job has no id")
    if not settings.account_id or not settings.region:
        raise IgnoredJobError("the gate does not know its tooling account and region")
    account = job.get("accountId")
    if str(account) != settings.account_id:
        raise IgnoredJobError(f"job of account {str(account)[:20]}, not the tooling account {settings.account_id}")
    if not isinstance(parameters, dict):
        raise RefusedJobError("UserParameters are not a JSON object naming the service and the environment")
    service, environment = parameters.get("service"), parameters.get("environment")
    if not (_name(service) and _name(environment)):
        raise RefusedJobError("UserParameters must name the service and the environment")
    data = job.get("data")
    context = data.get("pipelineContext") if isinstance(data, dict) else None
    execution: str | None = None
    if isinstance(context, dict):
        pipeline = settings.pipeline_name_pattern.format(service=service, environment=environment)
        name, arn = context.get("pipelineName"), context.get("pipelineArn")
        if name is not None and name != pipeline:
            raise IgnoredJobError(f"job of pipeline {str(name)[:MAX_NAME]} asks for {service} in {environment}")
        if arn is not None:
            parts = str(arn).split(":", 5)
            expected = ["codepipeline", settings.region, settings.account_id, pipeline]
            if len(parts) != 6 or parts[0] != "arn" or not parts[1].startswith("aws") or parts[2:] != expected:
                raise IgnoredJobError(f"job of pipeline {str(arn)[:160]}, not {pipeline} of the tooling account")
        found = context.get("pipelineExecutionId")
        execution = found if isinstance(found, str) and found else None
    return GateJob(id=job["id"], service=service, environment=environment, execution=execution)
