"""Hand a pipeline's deploy to a GitHub Actions workflow and wait for its result.

CodePipeline invokes this function (asynchronously) as an ``Invoke``/``Lambda``
action in a service's Deploy stage when the service also deploys to GCP or
Azure. The first invocation dispatches the service's deploy workflow
(``workflow_dispatch`` with inputs ``environment``, ``commit`` and a
``correlation_id``), learns the run's id from GitHub's answer (or, from a
server that does not give it, finds the run by the correlation id in its
``run-name``), and answers with a *continuation token*, which keeps the action
in progress; CodePipeline then invokes the function again with that token, and
each later invocation looks at the run, until it completes and its conclusion
becomes the job's success or failure.

The wait is bounded by the action's ``timeoutMinutes`` (the environment's
``githubRunTimeoutMinutes``), always inside CodePipeline's 24 hours for a Lambda
invoke action: at the deadline the function cancels the run, so a production
run still waiting for its GitHub environment's reviewers cannot be approved
later and deploy after the pipeline failed (``cancellation``).

Every delivery answers its job once: success, failure or a continuation; any
unexpected error becomes a failure, never a silent hang. Duplicate deliveries
never dispatch twice, and a delivery that dies is redone by Lambda's retry
(``claims``). Once the dispatch went out, a failure to record it never fails
the action: the run is followed through the continuation token.

Settings come from environment variables (see ``Settings.from_environment``);
the GitHub credential either from Secrets Manager as ``{"token": "..."}`` (the
personal-token mode) or, in the GitHub App mode, as an installation token for
the job's one repository that the function obtains itself with a JWT signed by
KMS and keeps only in memory (``app_credentials``).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from . import cancellation, claims
from .app_credentials import token_for
from .github_api import GitHub
from .outcomes import (
    TOKEN_VERSION,
    Continue,
    Failed,
    GitHubUnavailable,
    JobFailure,
    NoAnswer,
    Outcome,
    Succeeded,
    conclude,
)
from .request import DeployRequest
from .settings import Dependencies

LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)

# CodePipeline's limits on what a job result may carry.
SUMMARY_LIMIT = 2048
MESSAGE_LIMIT = 5000


def run_job(job: dict[str, Any], deps: Dependencies) -> Outcome:
    """Decide this invocation's answer; raises JobFailure/GitHubUnavailable for the caller to report."""
    request = DeployRequest.from_job(job)
    raw_token = job.get("data", {}).get("continuationToken")
    if not raw_token:
        return _start(job["id"], request, _github(request, deps), deps)
    state = json.loads(raw_token)
    if state.get("v") != TOKEN_VERSION:
        raise JobFailure(f"continuation token of unknown version {state.get('v')!r}")
    state.setdefault("deadline", _deadline(state["dispatched_at"], timeout_seconds(request, deps)))
    try:
        github = _github(request, deps)
    except GitHubUnavailable as error:
        # The run goes on without us: a GitHub that cannot issue a token now is asked again at the next poll.
        unavailable = state.get("unavailable", 0) + 1
        if unavailable <= deps.settings.max_unavailable_polls:
            return Continue({**state, "unavailable": unavailable}, f"GitHub unavailable ({error}); will ask again")
        raise JobFailure(
            f"GitHub issued no token for {unavailable} polls in a row ({error}); if the run of {request.label} "
            f"is still going, cancel it by hand: {state.get('run_url', '')}",
            "SystemUnavailable",
        ) from error
    try:
        if state["phase"] == "find":
            return _find(request, state, github, deps)
        if state["phase"] == "cancel":
            return cancellation.confirm(request, state, github, deps)
        return _poll(request, state, github, deps)
    except GitHubUnavailable as error:
        unavailable = state.get("unavailable", 0) + 1
        if unavailable <= deps.settings.max_unavailable_polls:
            return Continue({**state, "unavailable": unavailable}, f"GitHub unavailable ({error}); will ask again")
        why = f"GitHub was unavailable for {unavailable} polls in a row ({error})"
        if state["phase"] == "cancel":
            raise JobFailure(
                f"{state['cancel']['why']}; the platform asked GitHub to cancel the run but cannot confirm it "
                f"({why}): {cancellation.BY_HAND}: {state.get('run_url', '')}",
                state["cancel"]["type"],
            ) from error
        if state.get("run_id") is None:
            raise JobFailure(
                f"{why}; if the run of {request.label} appears later, cancel it: the pipeline has failed",
                "SystemUnavailable",
            ) from error
        return cancellation.give_up(request, state, why, github, deps, failure_type="SystemUnavailable")


def _github(request: DeployRequest, deps: Dependencies) -> GitHub:
    """A client with this job's credential: the stored token, or an App token for the job's one repository."""
    return GitHub(deps.settings.api_url, token_for(deps, request.repository), deps.settings, deps.sleep, deps.clock)


def timeout_seconds(request: DeployRequest, deps: Dependencies) -> int:
    return 60 * (request.timeout_minutes or deps.settings.default_run_timeout_minutes)


def _deadline(dispatched_at: str, timeout: int) -> int:
    return int(datetime.fromisoformat(dispatched_at).timestamp()) + timeout


def _start(job_id: str, request: DeployRequest, github: GitHub, deps: Dependencies) -> Outcome:
    correlation_id = f"cp-{job_id}"
    owner = uuid.uuid4().hex  # this delivery; Lambda's retries of one event share their request id
    existing = claims.claim(job_id, correlation_id, owner, deps)
    if existing is not None:
        decision = claims.duplicate(existing, timeout_seconds(request, deps), deps)
        if not isinstance(decision, claims.TakeOver):
            return decision
        if not claims.take_over(job_id, decision.claim, owner, deps):
            return NoAnswer("another delivery took over this job first")
        LOGGER.info("job %s: took over from a delivery that stopped before dispatching", job_id)
    try:
        outcome = _dispatch(job_id, owner, request, github, correlation_id, deps)
    except JobFailure as failure:
        outcome = Failed(failure.message, failure.failure_type)
    except Exception as error:  # recorded like any failure, so a redelivery repeats it instead of hanging
        LOGGER.exception("job %s failed unexpectedly while dispatching", job_id)
        outcome = Failed(f"unexpected error in the GitHub dispatch function: {type(error).__name__}: {error}")
    claims.record_answer(job_id, outcome, deps)
    return outcome


def _dispatch(
    job_id: str, owner: str, request: DeployRequest, github: GitHub, correlation_id: str, deps: Dependencies
) -> Outcome:
    """Send the one dispatch this job gets; the answer names the run when GitHub does."""
    try:
        ref = request.ref or github.default_branch(request.repository)
    except GitHubUnavailable as error:
        raise JobFailure(f"GitHub unavailable ({error}); retry the stage", "SystemUnavailable") from error
    if not claims.begin_posting(job_id, owner, deps):
        return NoAnswer("another delivery took this job over before it was dispatched")
    now = deps.clock()
    dispatched_at = datetime.fromtimestamp(now, UTC).isoformat()
    try:
        run = github.dispatch(request, ref, correlation_id, dispatched_at)
    except GitHubUnavailable as error:
        raise JobFailure(
            f"GitHub unavailable while dispatching {request.workflow} ({error}); retry the stage, and cancel a run "
            f"named [{correlation_id}] if one started anyway",
            "SystemUnavailable",
        ) from error
    state: dict[str, Any] = {
        "v": TOKEN_VERSION,
        "phase": "poll" if run.run_id else "find",
        "correlation_id": correlation_id,
        "dispatched_at": dispatched_at,
        "deadline": int(now) + timeout_seconds(request, deps),
        "polls": 0,
    }
    if run.run_id:
        state.update(run_id=run.run_id, run_url=run.html_url or "")
    shown = f": {run.html_url}" if run.html_url else f" as {correlation_id}"
    return Continue(state, f"dispatched {request.label} on {ref}{shown}")


def _find(request: DeployRequest, state: dict[str, Any], github: GitHub, deps: Dependencies) -> Outcome:
    """For servers that do not name the run in the dispatch answer: find it by its correlation id."""
    _pause(github, deps)
    run = github.find_run(request, state["correlation_id"], state["dispatched_at"])
    polls = state["polls"] + 1
    if run is None:
        if polls >= deps.settings.find_run_max_polls or deps.clock() >= state["deadline"]:
            raise JobFailure(
                f"the run of {request.workflow} with correlation id {state['correlation_id']} did not appear after "
                f"{polls} polls: does the workflow's run-name carry [{{{{ inputs.correlation_id }}}}]? If it "
                "appears later, cancel it: the pipeline has failed"
            )
        return Continue({**state, "polls": polls, "unavailable": 0}, f"waiting for the run of {request.label}")
    found = {**state, "phase": "poll", "polls": 0, "unavailable": 0, "run_id": run["id"], "run_url": run["html_url"]}
    return _judge(request, run, found, github, deps)


def _poll(request: DeployRequest, state: dict[str, Any], github: GitHub, deps: Dependencies) -> Outcome:
    _pause(github, deps)
    run = github.get_run(request.repository, int(state["run_id"]))
    return _judge(request, run, {**state, "polls": state["polls"] + 1, "unavailable": 0}, github, deps)


def _judge(
    request: DeployRequest, run: dict[str, Any], state: dict[str, Any], github: GitHub, deps: Dependencies
) -> Outcome:
    state = {**state, "run_url": run.get("html_url") or state.get("run_url", "")}
    if run.get("status") == "completed":
        return conclude(request.label, run, state["run_url"])
    status = str(run.get("status"))
    doing = "waiting for a reviewer of the GitHub environment" if status == "waiting" else status
    if deps.clock() >= state["deadline"]:
        minutes = (state["deadline"] - int(datetime.fromisoformat(state["dispatched_at"]).timestamp())) // 60
        why = f"the GitHub Actions run for {request.label} was still {doing} after {_duration(minutes)}"
        return cancellation.give_up(request, state, why, github, deps)
    gives_up = datetime.fromtimestamp(state["deadline"], UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = f"GitHub Actions run {doing}; cancelled if not done by {gives_up}: {state['run_url']}"
    return Continue(state, summary)


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


def _pause(github: GitHub, deps: Dependencies) -> None:
    """Space the polls: CodePipeline re-invokes quickly, GitHub's hourly budget is shared by the fleet."""
    if deps.settings.poll_wait_seconds > 0:
        github.sleep(deps.settings.poll_wait_seconds)


# ---------------------------------------------------------------------------------------------- answers


def report(job_id: str, outcome: Outcome, codepipeline: Any) -> None:
    """Send the invocation's one answer; a job that already has its answer is left as it is."""
    try:
        if isinstance(outcome, Continue):
            codepipeline.put_job_success_result(
                jobId=job_id,
                continuationToken=json.dumps(outcome.state, separators=(",", ":")),
                executionDetails=_details(outcome.summary, outcome.state.get("run_id"), percent=None),
            )
        elif isinstance(outcome, Succeeded):
            codepipeline.put_job_success_result(
                jobId=job_id,
                executionDetails=_details(outcome.summary, outcome.run_id, percent=100),
                outputVariables={"GitHubRunId": str(outcome.run_id), "GitHubRunUrl": outcome.run_url},
            )
        elif isinstance(outcome, Failed):
            details = {"type": outcome.failure_type, "message": outcome.message[:MESSAGE_LIMIT]}
            if outcome.run_id is not None:
                details["externalExecutionId"] = str(outcome.run_id)
            codepipeline.put_job_failure_result(jobId=job_id, failureDetails=details)
        else:
            LOGGER.info("job %s: no answer from this delivery: %s", job_id, outcome.reason)
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvalidJobStateException":
            raise
        LOGGER.info("job %s already has its result; this delivery's answer was not needed", job_id)


def _details(summary: str, run_id: Any, percent: int | None) -> dict[str, Any]:
    details: dict[str, Any] = {"summary": summary[:SUMMARY_LIMIT]}
    if run_id is not None:
        details["externalExecutionId"] = str(run_id)
    if percent is not None:
        details["percentComplete"] = percent
    return details


def process(event: dict[str, Any], deps: Dependencies) -> Outcome:
    """Work out the answer for one delivery and send it; nothing escapes without an answer."""
    job = event["CodePipeline.job"]
    job_id = job["id"]
    try:
        outcome = run_job(job, deps)
    except JobFailure as failure:
        outcome = Failed(failure.message, failure.failure_type)
    except GitHubUnavailable as error:
        outcome = Failed(f"GitHub unavailable: {error}", "SystemUnavailable")
    except Exception as error:  # every other surprise still ends the job, with a message a person can act on
        LOGGER.exception("job %s failed unexpectedly", job_id)
        outcome = Failed(f"unexpected error in the GitHub dispatch function: {type(error).__name__}: {error}")
    LOGGER.info("job %s: %s", job_id, type(outcome).__name__)  # never log the event: it carries credentials
    report(job_id, outcome, deps.codepipeline)
    return outcome


def handler(event: dict[str, Any], context: Any) -> None:
    codepipeline = boto3.client("codepipeline")
    try:
        deps = Dependencies.from_environment(codepipeline)
    except Exception as error:  # a broken deployment of this function still answers the job
        LOGGER.exception("cannot start")
        message = f"the GitHub dispatch function is misconfigured: {type(error).__name__}: {error}"
        report(event["CodePipeline.job"]["id"], Failed(message, "ConfigurationError"), codepipeline)
        return
    process(event, deps)
