"""Hand a pipeline's deploy to a GitHub Actions workflow and wait for its result.

CodePipeline invokes this function (asynchronously) as an ``Invoke``/``Lambda``
action in a service's Deploy stage when the service also deploys to GCP or
Azure. The first invocation dispatches the service's deploy workflow
(``workflow_dispatch`` with inputs ``environment``, ``commit`` and a
``correlation_id``) and answers with a *continuation token*, which keeps the
action in progress; CodePipeline then invokes the function again with that
token, and each later invocation finds the run (its ``run-name`` carries the
correlation id) or looks at its status, until the run completes and its
conclusion becomes the job's success or failure.

Every delivery answers its job once: success, failure or a continuation; any
unexpected error becomes a failure, never a silent hang. Duplicate deliveries
never dispatch twice (``claims``).

Settings come from environment variables (see ``Settings.from_environment``);
the GitHub token from Secrets Manager as ``{"token": "..."}``. For a GitHub
App, a separate rotation function keeps a fresh installation token in the same
secret (``{"token": ..., "expires_at": ...}``): this function only reads it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from . import claims
from .github_api import GitHub, read_token
from .outcomes import TOKEN_VERSION, Continue, Failed, GitHubUnavailable, JobFailure, Outcome, Succeeded
from .request import DeployRequest
from .settings import Dependencies, Settings

LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)

SUCCESS_CONCLUSION = "success"
# CodePipeline's limits on what a job result may carry.
SUMMARY_LIMIT = 2048
MESSAGE_LIMIT = 5000


def run_job(job: dict[str, Any], deps: Dependencies) -> Outcome:
    """Decide this invocation's answer; raises JobFailure/GitHubUnavailable for the caller to report."""
    request = DeployRequest.from_job(job)
    raw_token = job.get("data", {}).get("continuationToken")
    github = GitHub(deps.settings.api_url, read_token(deps), deps.settings, deps.sleep, deps.clock)
    if not raw_token:
        return _start(job["id"], request, github, deps)
    state = json.loads(raw_token)
    if state.get("v") != TOKEN_VERSION:
        raise JobFailure(f"continuation token of unknown version {state.get('v')!r}")
    try:
        if state["phase"] == "find":
            return _find(request, state, github, deps.settings)
        return _poll(request, state, github, deps.settings)
    except GitHubUnavailable as error:
        unavailable = state.get("unavailable", 0) + 1
        if unavailable > deps.settings.max_unavailable_polls:
            raise JobFailure(
                f"GitHub unavailable for {unavailable} polls in a row ({error}); the workflow run may still finish: "
                f"{state.get('run_url') or 'see the repository Actions tab'}",
                "SystemUnavailable",
            ) from error
        return Continue({**state, "unavailable": unavailable}, f"GitHub unavailable ({error}); will ask again")


def _start(job_id: str, request: DeployRequest, github: GitHub, deps: Dependencies) -> Outcome:
    correlation_id = f"cp-{job_id}"
    claim = claims.claim(job_id, correlation_id, deps)
    if claim is not None:
        return claims.duplicate(claim, deps)
    try:
        outcome: Outcome = _dispatch(request, github, correlation_id, deps)
    except JobFailure as failure:
        outcome = Failed(failure.message, failure.failure_type)
    except Exception as error:  # recorded like any failure, so a redelivery repeats it instead of hanging
        LOGGER.exception("job %s failed unexpectedly while dispatching", job_id)
        outcome = Failed(f"unexpected error in the GitHub dispatch function: {type(error).__name__}: {error}")
    claims.record_answer(job_id, outcome, deps)
    return outcome


def _dispatch(request: DeployRequest, github: GitHub, correlation_id: str, deps: Dependencies) -> Continue:
    try:
        ref = request.ref or github.default_branch(request.repository)
        dispatched_at = datetime.fromtimestamp(deps.clock(), UTC).isoformat()
        run_id = github.dispatch(request, ref, correlation_id)
    except GitHubUnavailable as error:
        raise JobFailure(
            f"GitHub unavailable while dispatching {request.workflow} ({error}); retry the stage", "SystemUnavailable"
        ) from error
    state: dict[str, Any] = {
        "v": TOKEN_VERSION,
        "phase": "poll" if run_id else "find",
        "correlation_id": correlation_id,
        "dispatched_at": dispatched_at,
        "polls": 0,
    }
    if run_id:
        state["run_id"] = run_id
    return Continue(state, f"dispatched {request.label} on {ref} as {correlation_id}")


def _find(request: DeployRequest, state: dict[str, Any], github: GitHub, settings: Settings) -> Outcome:
    _pause(github, settings)
    run = github.find_run(request, state["correlation_id"], state["dispatched_at"])
    polls = state["polls"] + 1
    if run is None:
        if polls >= settings.find_run_max_polls:
            raise JobFailure(
                f"the run of {request.workflow} with correlation id {state['correlation_id']} did not appear after "
                f"{polls} polls: does the workflow's run-name carry [{{{{ inputs.correlation_id }}}}]?"
            )
        return Continue({**state, "polls": polls, "unavailable": 0}, f"waiting for the run of {request.label}")
    found = {**state, "phase": "poll", "polls": 0, "unavailable": 0, "run_id": run["id"], "run_url": run["html_url"]}
    return _judge(request, run, found, settings)


def _poll(request: DeployRequest, state: dict[str, Any], github: GitHub, settings: Settings) -> Outcome:
    _pause(github, settings)
    run = github.get_run(request.repository, int(state["run_id"]))
    return _judge(request, run, {**state, "polls": state["polls"] + 1, "unavailable": 0}, settings)


def _judge(request: DeployRequest, run: dict[str, Any], state: dict[str, Any], settings: Settings) -> Outcome:
    run_id, url = int(run["id"]), run.get("html_url") or state.get("run_url", "")
    state = {**state, "run_url": url}
    if run.get("status") == "completed":
        conclusion = run.get("conclusion") or "unknown"
        if conclusion == SUCCESS_CONCLUSION:
            return Succeeded(run_id, url, f"GitHub Actions deployed {request.label}: {url}")
        return Failed(f"the GitHub Actions run for {request.label} ended {conclusion}: {url}", run_id=run_id)
    if state["polls"] >= settings.status_max_polls:
        raise JobFailure(
            f"the GitHub Actions run for {request.label} is still {run.get('status')} after {state['polls']} polls; "
            f"it was not cancelled: {url}"
        )
    waiting = " (waiting for a reviewer of the GitHub environment)" if run.get("status") == "waiting" else ""
    return Continue(state, f"GitHub Actions run {run.get('status')}{waiting}: {url}")


def _pause(github: GitHub, settings: Settings) -> None:
    """Space the polls: CodePipeline re-invokes quickly, GitHub's hourly budget is shared by the fleet."""
    if settings.poll_wait_seconds > 0:
        github.sleep(settings.poll_wait_seconds)


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
