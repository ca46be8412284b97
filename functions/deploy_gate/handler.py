"""Deploy gate: the ``LambdaInvoke`` entry rule of every Deploy stage, one function for the whole fleet.

The stage may enter only when the environment is not frozen, the service's own
health alarm there is not in ALARM, and no dependency of the service is
mid-deploy, failed its last deploy or has its health alarm in ALARM there; every
alarm is read in the account where its service runs, through that account's
alarm reader role (``deploy_ledger.health``). Otherwise the rule fails with a
message that names the freeze, the alarm and its account, or the dependency and
the reason, and the deploy is recorded as held in the ledger; the coordinator
restarts it when everything it waited for is healthy, or aborts it after the
hold timeout.

The same function is the Deploy stage's last action, the bake
(``deploy_ledger.bake``): a job whose ``UserParameters`` carry ``bakeMinutes``
is a bake job and is answered there, through the documented job protocol with
continuation tokens.

How CodePipeline talks to this function — what the AWS documentation says:

- The ``LambdaInvoke`` rule reference (CodePipeline user guide,
  rule-reference-LambdaInvoke) documents rule type Category ``Rule``, Owner
  ``AWS``, Provider ``LambdaInvoke``, Version ``1`` and two configuration keys:
  ``FunctionName`` (required) and ``UserParameters`` (optional, "provided as
  input for the function in key-value pair format"). It does not document the
  event the function receives nor how the function reports its verdict.
- The only documented protocol for a Lambda function that CodePipeline invokes
  is the job protocol (Lambda developer guide, "Using Lambda with
  CodePipeline"): the event is ``{"CodePipeline.job": {"id": …, "data":
  {"actionConfiguration": {"configuration": {"UserParameters": …}}}}}`` and
  "to complete the job, the function must call the CodePipeline API to signal
  success or failure" (``PutJobSuccessResult`` / ``PutJobFailureResult``).

So the gate speaks both possible protocols. With a job in the event it
reports through the job API (the failure message is what the console shows).
Without one, the only signal left is the invocation itself: a closed gate
raises ``GateClosedError`` (a function error, which fails the rule) and an open gate
returns its verdict. It looks for ``UserParameters`` wherever the event carries
it. It fails closed: an error while deciding is reported as a rule failure,
never swallowed. ``codepipeline:PutJob*Result`` cannot be scoped to a resource
(AWS Service Authorization Reference), so the role grants them on ``*``.

Only a job says which account asks, so only a job of the tooling account, for
the pipeline it names (``deploy_ledger.jobs``), records or releases a hold; an
invocation without a job gets a verdict and changes nothing. A job may be
delivered more than once, so its verdict is claimed in the ledger under the
job id: a later delivery answers the recorded verdict again and decides
nothing, whatever has changed since (an allowed deploy is never recorded as
held afterwards). A job already answered makes ``PutJob*Result`` fail with
``InvalidJobStateException``, and a job CodePipeline no longer knows with
``JobNotFoundException`` (the exceptions the API reference documents for
both calls, with ``ValidationException``): the gate notes them and stops; any
other error fails the invocation, and the unanswered job fails the rule.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from deploy_ledger.aws import Aws
from deploy_ledger.bake import Bake, is_bake_job
from deploy_ledger.health import blockers_for, describe, load_graph
from deploy_ledger.jobs import GateJob, IgnoredJobError, RefusedJobError, read_job
from deploy_ledger.retry import error_code
from deploy_ledger.settings import Settings
from deploy_ledger.store import DONE, HELD, Ledger, partition

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
MAX_MESSAGE = 5000  # FailureDetails.message is at most 5000 characters
ANSWERED_ELSEWHERE = frozenset({"InvalidJobStateException", "JobNotFoundException"})


class GateClosedError(RuntimeError):
    """Raised when no job id says how to answer: the function error itself fails the rule."""


def find_user_parameters(event: Any) -> dict[str, Any]:
    """The rule's ``UserParameters`` JSON, wherever in the event CodePipeline put it."""
    if isinstance(event, dict):
        for key, value in event.items():
            if key == "UserParameters":
                return json.loads(value) if isinstance(value, str) else dict(value)
            found = find_user_parameters(value)
            if found:
                return found
    return {}


class DeployGate:
    def __init__(self, aws: Aws, now: datetime | None = None) -> None:
        self.aws = aws
        self.ledger = Ledger(aws)
        self.now = now or datetime.now(UTC)

    def decide(
        self,
        service: str,
        environment: str,
        execution: str | None,
        record: bool = True,
        health_alarm: str | None = None,
    ) -> tuple[bool, str]:
        """The verdict; with ``record``, the hold bookkeeping too (held: recorded, let through: released)."""
        graph = load_graph(self.aws)
        if not graph.deploys_to(service, environment):
            return False, f"deploy gate: {service} does not deploy to {environment} in the dependency graph"
        blockers = blockers_for(self.aws, self.ledger, graph, service, environment, health_alarm)
        if blockers:
            message = describe(blockers, environment)
            if record:
                self.ledger.put_hold(service, environment, message, execution, self.now)
            return False, message
        for status in (HELD, "RESTARTED") if record else ():
            if self.ledger.update_hold(service, environment, status, "RELEASED", self.now, released_by=execution or ""):
                break
        return True, f"{service} may deploy to {environment}: healthy, dependencies healthy, no change freeze"

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        job = event.get("CodePipeline.job")
        if job is None:
            return self._answer_invocation(event)
        try:
            question = read_job(job, self.aws.settings, find_user_parameters)
        except IgnoredJobError as ignored:
            LOGGER.warning(json.dumps({"gate": "ignored", "reason": str(ignored)}))
            return {"allowed": False, "ignored": str(ignored), "message": f"deploy gate ignored the job: {ignored}"}
        except RefusedJobError as refused:
            message = f"deploy gate could not decide: {refused}"
            self._report(str(job["id"]), False, message)
            return {"allowed": False, "message": message}
        return self._answer_job(question)

    def _answer_job(self, job: GateJob) -> dict[str, Any]:
        """Decide a job once, however often it is delivered, and answer it."""
        pk, marker = partition(job.service, job.environment), f"JOB#{job.id}"
        if not self.ledger.claim(pk, marker, self.now):
            earlier = self.ledger.marker(pk, marker) or {}
            if earlier.get("status") != DONE or "allowed" not in earlier:
                # Another delivery is deciding it right now; that one answers.
                return {"allowed": False, "message": f"job {job.id} is being decided", "duplicate": job.id}
            allowed, message = bool(earlier["allowed"]), str(earlier["message"])
            self._report(job.id, allowed, message)
            return {"allowed": allowed, "message": message, "duplicate": job.id}
        try:
            allowed, message = self.decide(job.service, job.environment, job.execution, health_alarm=job.health_alarm)
        except Exception as error:  # fail closed, and tell the pipeline why
            LOGGER.exception("deploy gate could not decide")
            allowed, message = False, f"deploy gate could not decide: {type(error).__name__}: {error}"
        try:
            self.ledger.complete(pk, marker, self.now, allowed=allowed, message=message[:MAX_MESSAGE])
        except ClientError:
            LOGGER.exception("could not record the verdict of job %s; answering it anyway", job.id)
        LOGGER.info(json.dumps({"gate": "allow" if allowed else "hold", "message": message, "job": job.id}))
        self._report(job.id, allowed, message)
        return {"allowed": allowed, "message": message}

    def _answer_invocation(self, event: dict[str, Any]) -> dict[str, Any]:
        """No job: the verdict is the invocation's result, and nothing is recorded (no account says who asks)."""
        try:
            parameters = find_user_parameters(event)
            service, environment = parameters["service"], parameters["environment"]
            allowed, message = self.decide(
                service, environment, None, record=False, health_alarm=parameters.get("healthAlarm")
            )
        except Exception as error:  # fail closed, and tell the pipeline why
            LOGGER.exception("deploy gate could not decide")
            allowed, message = False, f"deploy gate could not decide: {type(error).__name__}: {error}"
        LOGGER.info(json.dumps({"gate": "allow" if allowed else "hold", "message": message, "job": None}))
        if not allowed:
            raise GateClosedError(message)
        return {"allowed": allowed, "message": message}

    def _report(self, job_id: str, allowed: bool, message: str) -> None:
        """Answer the job; a job already answered, or gone, needs no answer from this delivery."""
        try:
            if allowed:
                self.aws.call("codepipeline", "put_job_success_result", jobId=job_id)
            else:
                self.aws.call(
                    "codepipeline",
                    "put_job_failure_result",
                    jobId=job_id,
                    failureDetails={"type": "JobFailed", "message": message[:MAX_MESSAGE]},
                )
        except ClientError as error:
            if error_code(error) not in ANSWERED_ELSEWHERE:
                raise
            LOGGER.warning("job %s not answered again: %s", job_id, error_code(error))


_AWS: Aws | None = None


def handle(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Lambda entry point; settings and clients are built once per container, assumed sessions once per event.

    The job's configuration chooses: a bake job (the Deploy stage's last action) goes to the bake, every
    other event is a gate decision.
    """
    global _AWS
    if _AWS is None:
        _AWS = Aws(Settings.from_environ())
    if is_bake_job(event):
        return Bake(_AWS.for_invocation()).handle(event)
    return DeployGate(_AWS.for_invocation()).handle(event)
