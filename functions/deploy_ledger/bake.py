"""The bake: after a successful deploy, the service's health alarm must stay out of ALARM for ``bakeMinutes``.

The bake is the Deploy stage's last action, a Lambda invoke action (category
``Invoke``, provider ``Lambda``) that runs the deploy gate's function with
``UserParameters`` ``{"service", "environment", "healthAlarm", "bakeMinutes"}``.
It follows what AWS documents for such an action:

- CodePipeline invokes the function asynchronously with a job event
  (``CodePipeline.job``: ``id``, ``data.actionConfiguration.configuration``,
  ``data.continuationToken`` on later invocations) and the function must call
  ``PutJobSuccessResult`` or ``PutJobFailureResult`` (CodePipeline user guide,
  "AWS Lambda invoke action reference" and "Invoke an AWS Lambda function in a
  pipeline"; Lambda developer guide, "Using Lambda with CodePipeline").
- A success *with* a continuation token keeps the action in progress and
  CodePipeline invokes the function again with that token; a success without
  one completes it (API reference, ``PutJobSuccessResult.continuationToken``,
  at most 2,048 characters).
- The action may run 24 hours; the function must reply within 20 minutes each
  time it is invoked, and each "in progress" reply restarts those 20 minutes
  (CodePipeline user guide, "Quotas": Lambda invoke action).

A rollback execution re-runs the stage's actions, the bake among them
(``rollback_execution``): it succeeds at once, since failing it would only stop
the rollback. Otherwise each invocation reads the alarm once, in the account where the service runs
in that environment, through that account's alarm reader role (as the gate does),
and answers at once: ALARM fails the job, which fails the Deploy stage, whose
``on_failure: ROLLBACK`` rolls it back to the last successful execution
("Configure a stage for automatic rollback"); otherwise it continues until
``bakeMinutes`` have passed since the first invocation, then succeeds. How often
CodePipeline re-invokes is its own ("periodically"), so the bake judges by the
clock and never by a count of invocations. Between two invocations the alarm may
go into ALARM and back: the token keeps the state seen and the time the alarm's
state last changed, and a state that changed and came back since the last look
fails the bake too. Health that cannot be read (the reader cannot be assumed, the
alarm does not exist, the graph names no reader) fails the job with a message
naming the alarm, the account and the role: the bake fails closed.

Every delivery is answered once (``job_claims``); nothing escapes without an
answer except the errors a retry can mend (throttling that outlasts the backoff,
a result CodePipeline did not take), which are raised for Lambda to retry after
the claim is released, and end in the function's dead-letter queue after the
retries.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from .aws import Aws
from .health import HealthReading, load_graph, read_health
from .job_claims import JobClaims
from .jobs import IgnoredJobError, RefusedJobError, read_job
from .retry import THROTTLING_CODES, error_code

LOGGER = logging.getLogger(__name__)

TOKEN_VERSION = 1
BAKE_PARAMETER = "bakeMinutes"
MAX_BAKE_MINUTES = 23 * 60
"""Below the Lambda invoke action's 24-hour limit, with an hour for the deploy actions before it."""
JOB_CLOSED = frozenset({"InvalidJobStateException", "JobNotFoundException"})
"""What ``PutJob*Result`` answers for a job that no longer waits for a result (API reference, Errors)."""
SUMMARY_LIMIT = 2048
MESSAGE_LIMIT = 5000
"""CodePipeline's limits on ``executionDetails.summary`` and ``failureDetails.message``."""


class MalformedJobError(ValueError):
    """The job cannot be a bake of this platform: it fails, with the reason, and is never retried."""


@dataclass(frozen=True)
class BakeRequest:
    service: str
    environment: str
    minutes: int
    health_alarm: str | None

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> BakeRequest:
        raw = _configuration(job).get("UserParameters")
        try:
            parameters = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError as error:
            raise MalformedJobError(f"UserParameters is not JSON: {error}") from error
        if not isinstance(parameters, dict):
            raise MalformedJobError("UserParameters is not a JSON object")
        service, environment = parameters.get("service"), parameters.get("environment")
        minutes, alarm = parameters.get(BAKE_PARAMETER), parameters.get("healthAlarm")
        if not (isinstance(service, str) and service and isinstance(environment, str) and environment):
            raise MalformedJobError("UserParameters must name the service and the environment")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_BAKE_MINUTES:
            raise MalformedJobError(f"{BAKE_PARAMETER} must be a whole number from 1 to {MAX_BAKE_MINUTES}")
        if alarm is not None and not isinstance(alarm, str):
            raise MalformedJobError("healthAlarm must be an alarm name")
        return cls(service, environment, minutes, alarm)

    @property
    def label(self) -> str:
        return f"{self.service} in {self.environment}"


@dataclass(frozen=True)
class Progress:
    """What the continuation token carries from one invocation to the next."""

    alarm: str
    started_at: datetime
    seen_state: str
    seen_change: datetime | None
    checks: int

    def token(self) -> str:
        return json.dumps(
            {
                "v": TOKEN_VERSION,
                "alarm": self.alarm,
                "startedAt": self.started_at.isoformat(),
                "seen": self.seen_state,
                "seenChange": self.seen_change.isoformat() if self.seen_change else None,
                "checks": self.checks,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_token(cls, text: str, alarm: str) -> Progress:
        try:
            state = json.loads(text)
            if state["v"] != TOKEN_VERSION or state["alarm"] != alarm:
                raise MalformedJobError(f"continuation token of another bake (version {state['v']}, {state['alarm']})")
            change = state.get("seenChange")
            return cls(
                alarm=alarm,
                started_at=_aware(datetime.fromisoformat(state["startedAt"])),
                seen_state=str(state["seen"]),
                seen_change=_aware(datetime.fromisoformat(change)) if change else None,
                checks=int(state["checks"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            if isinstance(error, MalformedJobError):
                raise
            raise MalformedJobError(f"continuation token is not a bake's: {type(error).__name__}: {error}") from error


@dataclass(frozen=True)
class Answer:
    outcome: Literal["continue", "succeed", "fail"]
    text: str
    """The summary (continue, succeed) or failure message (fail) CodePipeline shows."""
    progress: Progress | None = None
    percent: int | None = None
    failure_type: str = "JobFailed"


@dataclass
class Bake:
    aws: Aws
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Answer one delivery of a bake job, at most once per job, whatever else delivers it."""
        job = event.get("CodePipeline.job") or {}
        job_id = job.get("id")
        if not isinstance(job_id, str) or not job_id:
            # No job id: nothing can be answered. Raised, so the event ends in the dead-letter queue.
            raise MalformedJobError("a bake event without a CodePipeline job id")
        try:
            read_job(job, self.aws.settings, _user_parameters)
        except IgnoredJobError as ignored:
            # Not a job of this account's pipelines (a crafted invocation): no answer, no claim, no alarm read.
            LOGGER.warning(json.dumps({"bake": "ignored", "job": job_id[:100], "reason": str(ignored)}))
            return {"job": job_id, "answer": None, "ignored": str(ignored)}
        except RefusedJobError:
            pass  # our account's job with unusable parameters: ``judge`` answers it with the reason
        token = (job.get("data") or {}).get("continuationToken")
        claims = JobClaims(self.aws, self.now)
        try:
            claim = claims.claim(job_id, token)
        except ClientError as error:
            if error_code(error) in THROTTLING_CODES:
                raise  # Lambda's retry claims it again
            # Without a claim the job is still answered: a second answer to it would be refused, never lost.
            answer = Answer("fail", f"bake failed closed: cannot claim job {job_id}: {error_code(error)}: {error}")
            self._send(job_id, answer)
            return {"job": job_id, "answer": answer.outcome, "text": answer.text}
        if claim != "claimed":
            LOGGER.info(json.dumps({"bake": "no answer", "job": job_id, "claim": claim}))
            return {"job": job_id, "answer": None, "claim": claim}
        try:
            answer = self.judge(job, token)
            self._send(job_id, answer)
        except Exception:
            claims.release(job_id, token)  # a retry can mend this: let Lambda's retry answer
            raise
        claims.answered(job_id, token, f"{answer.outcome}: {answer.text}")
        LOGGER.info(json.dumps({"bake": answer.outcome, "job": job_id, "text": answer.text[:500]}))
        return {"job": job_id, "answer": answer.outcome, "text": answer.text}

    def judge(self, job: dict[str, Any], token: str | None) -> Answer:
        """This invocation's answer; only errors a retry can mend escape."""
        try:
            request = BakeRequest.from_job(job)
            rollback = None if token else rollback_execution(self.aws, job, request)
            if rollback:
                return Answer(
                    "succeed",
                    f"rollback execution {rollback} of {request.label}: not baked, it restores the last successful "
                    "release (there is nothing earlier to roll back to); the health alarm is left to CodeDeploy, the "
                    "rollback reporter and the next deploy's gate",
                    percent=100,
                )
            health = read_health(self.aws, load_graph(self.aws), request.service, request.environment)
            progress = Progress.from_token(token, health.alarm) if token else None
            return self._verdict(request, health, progress)
        except MalformedJobError as error:
            return Answer("fail", f"bake: malformed job: {error}", failure_type="ConfigurationError")
        except ClientError as error:
            if error_code(error) in THROTTLING_CODES:
                raise
            return Answer("fail", f"bake failed closed: {error_code(error) or 'error'}: {error}")
        except Exception as error:  # a pipeline job always gets its answer, with a message a person can act on
            LOGGER.exception("bake could not judge")
            return Answer("fail", f"bake failed closed: unexpected error: {type(error).__name__}: {error}")

    def _verdict(self, request: BakeRequest, health: HealthReading, progress: Progress | None) -> Answer:
        if request.health_alarm is not None and request.health_alarm != health.alarm:
            return Answer(
                "fail",
                f"bake of {request.label}: the action names alarm {request.health_alarm}, but the service's health "
                f"alarm is {health.alarm}; fix the pipeline",
                failure_type="ConfigurationError",
            )
        if health.unknown:
            return Answer("fail", f"bake of {request.label} failed closed: {health.unknown}")
        account = health.reader.account_id if health.reader else "unknown"
        started = progress.started_at if progress else self.now
        elapsed = _minutes(self.now - started)
        if health.state == "ALARM":
            return Answer(
                "fail",
                f"health alarm {health.alarm} in account {account} is in ALARM {elapsed} min into the "
                f"{request.minutes}-min bake of {request.label} ({health.state_reason or 'no reason given'}); "
                "the Deploy stage fails and rolls back to the last successful execution",
            )
        if progress and progress.seen_state == health.state and _changed_since(health, progress):
            return Answer(
                "fail",
                f"health alarm {health.alarm} in account {account} left {health.state} and came back between two "
                f"checks of the bake of {request.label} (last change {health.changed_at:%Y-%m-%dT%H:%M:%SZ}): it may "
                "have been in ALARM; the Deploy stage fails and rolls back to the last successful execution",
            )
        checks = (progress.checks if progress else 0) + 1
        if self.now - started >= timedelta(minutes=request.minutes):
            return Answer(
                "succeed",
                f"health alarm {health.alarm} in account {account} stayed out of ALARM for the {request.minutes}-min "
                f"bake of {request.label} ({checks} checks)",
                percent=100,
            )
        following = Progress(health.alarm, started, str(health.state), health.changed_at, checks)
        remaining = request.minutes - elapsed
        return Answer(
            "continue",
            f"baking {request.label}: health alarm {health.alarm} in account {account} is {health.state}; "
            f"{remaining} of {request.minutes} min to go",
            progress=following,
            percent=min(99, int(100 * (self.now - started) / timedelta(minutes=request.minutes))),
        )

    def _send(self, job_id: str, answer: Answer) -> None:
        """Give the job its one answer; a job CodePipeline already closed is left as it is."""
        try:
            if answer.outcome == "fail":
                self.aws.call(
                    "codepipeline",
                    "put_job_failure_result",
                    jobId=job_id,
                    failureDetails={"type": answer.failure_type, "message": answer.text[:MESSAGE_LIMIT]},
                )
                return
            details: dict[str, Any] = {"summary": answer.text[:SUMMARY_LIMIT]}
            if answer.percent is not None:
                details["percentComplete"] = answer.percent
            extra = {"continuationToken": answer.progress.token()} if answer.progress else {}
            self.aws.call("codepipeline", "put_job_success_result", jobId=job_id, executionDetails=details, **extra)
        except ClientError as error:
            if error_code(error) not in JOB_CLOSED:
                raise
            # The job is no longer waiting for an answer (answered, timed out, stopped): nothing to add.
            LOGGER.info(json.dumps({"bake": "job already closed", "job": job_id}))


def rollback_execution(aws: Aws, job: dict[str, Any], request: BakeRequest) -> str | None:
    """The rollback execution this bake job runs in, or None for a standard execution.

    A stage rolled back on failure re-runs in a new execution of type
    ``ROLLBACK`` with the last successful execution's artifacts ("Configuring
    stage rollback"), its last action included. That bake must not fail the
    rollback because the alarm that caused it is still in ALARM. The job's
    ``pipelineContext`` (API reference, ``JobData``) names the execution when
    CodePipeline sends it; otherwise the Deploy stage's latest execution is the
    one running this job. ``ListPipelineExecutions`` gives its type. What cannot
    be read is taken as a standard execution: the bake then watches as usual.
    """
    pipeline = aws.settings.pipeline_name_pattern.format(service=request.service, environment=request.environment)
    context = (job.get("data") or {}).get("pipelineContext") or {}
    execution = context.get("pipelineExecutionId") if context.get("pipelineName", pipeline) == pipeline else None
    try:
        if not execution:
            state = aws.call("codepipeline", "get_pipeline_state", name=pipeline)
            stage = next(
                (s for s in state.get("stageStates", []) if s.get("stageName") == aws.settings.deploy_stage), {}
            )
            execution = (stage.get("latestExecution") or {}).get("pipelineExecutionId")
        if not execution:
            return None
        summaries = aws.call("codepipeline", "list_pipeline_executions", pipelineName=pipeline, maxResults=20)[
            "pipelineExecutionSummaries"
        ]
    except ClientError as error:
        if error_code(error) in THROTTLING_CODES:
            raise
        LOGGER.warning(json.dumps({"bake": "execution type unknown", "pipeline": pipeline, "error": error_code(error)}))
        return None
    found = next((summary for summary in summaries if summary.get("pipelineExecutionId") == execution), {})
    return execution if found.get("executionType") == "ROLLBACK" else None


def is_bake_job(event: Any) -> bool:
    """A CodePipeline job whose ``UserParameters`` ask for a bake (the gate's rule never does)."""
    if not isinstance(event, dict) or not isinstance(event.get("CodePipeline.job"), dict):
        return False
    raw = _configuration(event["CodePipeline.job"]).get("UserParameters")
    try:
        parameters = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        return False
    return isinstance(parameters, dict) and BAKE_PARAMETER in parameters


def _user_parameters(job: dict[str, Any]) -> Any:
    raw = _configuration(job).get("UserParameters")
    return json.loads(raw) if isinstance(raw, str) else raw


def _configuration(job: dict[str, Any]) -> dict[str, Any]:
    configuration = ((job.get("data") or {}).get("actionConfiguration") or {}).get("configuration")
    return configuration if isinstance(configuration, dict) else {}


def _changed_since(health: HealthReading, progress: Progress) -> bool:
    """The alarm's state changed after the last look (by CloudWatch's own timestamps, so no clock skew)."""
    if health.changed_at is None or progress.seen_change is None:
        return False
    return health.changed_at > progress.seen_change


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _minutes(span: timedelta) -> int:
    return max(0, int(span.total_seconds() // 60))
