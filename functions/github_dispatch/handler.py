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
the action: the run is followed through the continuation token. A dispatch
whose answer was lost is never sent again: the run is looked for by its
correlation id (``github_api``). A job is checked against the pipeline it
claims to come from before anything reaches GitHub (``job_origin``). Once a run
exists, every way the action can fail either cancels it or names it and says to
cancel it by hand; a rate limit keeps the action waiting as long as GitHub asks.

The same function receives the EventBridge events of pipeline executions that
ended (stopped, failed, superseded, cancelled): a run such an execution
dispatched is cancelled even though CodePipeline will not invoke the function
for its job again (``halting``).

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

from . import cancellation, claims, halting
from .app_credentials import github_for
from .github_api import GitHub
from .job_origin import ForeignJob, JobOrigin, confirm_execution, job_origin
from .outcomes import (
    TOKEN_VERSION,
    Continue,
    Failed,
    GitHubUnavailable,
    JobFailure,
    NoAnswer,
    Outcome,
    RunGone,
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
RATE_LIMIT_BACKOFF_CAP_SECONDS = 15 * 60
"""GitHub asks for exponentially longer waits while a secondary rate limit repeats; this caps one wait."""
SECONDARY_RATE_LIMIT_SECONDS = 60


def run_job(job: dict[str, Any], deps: Dependencies) -> Outcome:
    """Decide this invocation's answer; raises JobFailure/GitHubUnavailable for the caller to report."""
    request = DeployRequest.from_job(job)
    try:
        origin = job_origin(job, request, deps.settings)
    except ForeignJob as foreign:
        return NoAnswer(f"not a job of this platform's pipelines: {foreign}")
    raw_token = job.get("data", {}).get("continuationToken")
    if not raw_token:
        return _start(job["id"], request, origin, _github(request, deps), deps)
    state = json.loads(raw_token)
    if state.get("v") != TOKEN_VERSION:
        raise JobFailure(f"continuation token of unknown version {state.get('v')!r}")
    state.setdefault("deadline", _deadline(state["dispatched_at"], timeout_seconds(request, deps)))
    now = deps.clock()
    if now < state.get("not_before", 0) and now < state["deadline"]:
        # GitHub asked for a pause (a rate limit): asking again sooner risks a longer one, or a ban.
        _pause(None, deps)
        until = datetime.fromtimestamp(state["not_before"], UTC).strftime("%H:%M:%S UTC")
        return Continue(state, f"GitHub rate limit: next look at the run of {request.label} after {until}")
    try:
        github = _github(request, deps)
    except GitHubUnavailable as error:
        # The run goes on without us: a GitHub that cannot issue a token now is asked again at the next poll.
        return _unavailable(request, state, error, None, deps)
    except JobFailure as failure:
        raise JobFailure(
            f"{failure.message}; without a GitHub credential the platform cannot follow or cancel the run of "
            f"{request.label}: {_what_to_do(state)}",
            failure.failure_type,
        ) from failure
    try:
        if state["phase"] == "find":
            return _find(request, state, github, deps)
        if state["phase"] == "cancel":
            return cancellation.confirm(request, state, github, deps)
        return _poll(request, state, github, deps)
    except GitHubUnavailable as error:
        return _unavailable(request, state, error, github, deps)
    except RunGone as gone:
        return Failed(f"{gone.message}: {state.get('run_url', '')}", gone.failure_type, state.get("run_id"))
    except JobFailure as failure:
        return _failing_with_a_run(request, state, failure, github, deps)


def _unavailable(
    request: DeployRequest, state: dict[str, Any], error: GitHubUnavailable, github: GitHub | None, deps: Dependencies
) -> Outcome:
    """GitHub did not answer, or asked us to wait: keep waiting a while, then give up on the run (cancelling it)."""
    unavailable = state.get("unavailable", 0) + 1
    if unavailable <= deps.settings.max_unavailable_polls:
        waiting = {**state, "unavailable": unavailable}
        if error.retry_after is not None:
            backoff = min(SECONDARY_RATE_LIMIT_SECONDS * 2 ** (unavailable - 1), RATE_LIMIT_BACKOFF_CAP_SECONDS)
            waiting["not_before"] = int(deps.clock() + max(error.retry_after, backoff))
        return Continue(waiting, f"GitHub unavailable ({error}); will ask again")
    why = f"GitHub was unavailable for {unavailable} polls in a row ({error})"
    if github is None:
        raise JobFailure(
            f"GitHub issued no token for {unavailable} polls in a row ({error}); if the run of {request.label} "
            f"is still going, {_what_to_do(state)}",
            "SystemUnavailable",
        ) from error
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


def _failing_with_a_run(
    request: DeployRequest, state: dict[str, Any], failure: JobFailure, github: GitHub, deps: Dependencies
) -> Outcome:
    """A failure after the dispatch: a run being followed is cancelled first; any other says what to cancel."""
    if state["phase"] == "poll" and state.get("run_id") is not None:
        try:
            return cancellation.give_up(request, state, failure.message, github, deps, failure.failure_type)
        except (GitHubUnavailable, JobFailure) as error:
            reason = error.message if isinstance(error, JobFailure) else str(error)
            failure = JobFailure(f"{failure.message}; cancelling the run failed ({reason})", failure.failure_type)
    if state["phase"] == "cancel":
        return Failed(
            f"{state['cancel']['why']}; the platform asked GitHub to cancel the run but cannot confirm it "
            f"({failure.message}): {_what_to_do(state)}",
            state["cancel"]["type"],
            state.get("run_id"),
        )
    return Failed(f"{failure.message}; {_what_to_do(state)}", failure.failure_type, state.get("run_id"))


def _what_to_do(state: dict[str, Any]) -> str:
    """What a person must do about a run the platform can no longer stop itself."""
    if state.get("run_id") is not None:
        return f"{cancellation.BY_HAND}: {state.get('run_url') or '(run URL unknown)'}"
    return f"if a run named [{state.get('correlation_id', '')}] appears on GitHub, cancel it: the pipeline has failed"


def _github(request: DeployRequest, deps: Dependencies) -> GitHub:
    """A client with this job's credential: the stored token, or an App token for the job's one repository."""
    return github_for(deps, request.repository)


def timeout_seconds(request: DeployRequest, deps: Dependencies) -> int:
    return 60 * (request.timeout_minutes or deps.settings.default_run_timeout_minutes)


def _deadline(dispatched_at: str, timeout: int) -> int:
    return int(datetime.fromisoformat(dispatched_at).timestamp()) + timeout


def _start(job_id: str, request: DeployRequest, origin: JobOrigin, github: GitHub, deps: Dependencies) -> Outcome:
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
        outcome = _dispatch(job_id, owner, request, origin, github, correlation_id, deps)
    except JobFailure as failure:
        outcome = Failed(failure.message, failure.failure_type)
    except Exception as error:  # recorded like any failure, so a redelivery repeats it instead of hanging
        LOGGER.exception("job %s failed unexpectedly while dispatching", job_id)
        outcome = Failed(f"unexpected error in the GitHub dispatch function: {type(error).__name__}: {error}")
    claims.record_answer(job_id, outcome, deps)
    return outcome


def _dispatch(
    job_id: str,
    owner: str,
    request: DeployRequest,
    origin: JobOrigin,
    github: GitHub,
    correlation_id: str,
    deps: Dependencies,
) -> Outcome:
    """Send the one dispatch this job gets; the answer names the run when GitHub does."""
    # Only the delivery that is about to dispatch asks: a redelivery of a job already dispatched must not be
    # told "nothing was sent" because its execution was stopped since (``halting`` cancels that run).
    confirm_execution(origin, request, deps.codepipeline)
    try:
        ref = request.ref or github.default_branch(request.repository)
    except GitHubUnavailable as error:
        raise JobFailure(f"GitHub unavailable ({error}); retry the stage", "SystemUnavailable") from error
    now = deps.clock()
    dispatched_at = datetime.fromtimestamp(now, UTC).isoformat()
    # Before the dispatch goes out: an execution stopped from now on finds this job (``halting``). A run the
    # stop could not find would deploy on after it, so without the record nothing is sent.
    if origin.execution_id is not None and not claims.note_execution(
        origin.execution_id, origin.pipeline, job_id, deps
    ):
        raise JobFailure(
            f"could not record that execution {origin.execution_id} dispatches {request.label} (the claims "
            "table refused the write); nothing was sent to GitHub: retry the stage",
            "SystemUnavailable",
        )
    details = {
        "repository": request.repository,
        "workflow": request.workflow,
        "dispatchedAt": dispatched_at,
        "pipeline": origin.pipeline,
        "executionId": origin.execution_id,
        "actionExecutionId": origin.action_execution_id,
        "stage": origin.stage,
        "action": origin.action,
    }
    if not claims.begin_posting(job_id, owner, deps, {k: v for k, v in details.items() if v}):
        return NoAnswer("another delivery took this job over, or its execution ended, before it was dispatched")
    try:
        run = github.dispatch(request, ref, correlation_id, dispatched_at)
    except GitHubUnavailable as error:
        # Raised only when GitHub provably did not act: every attempt was rate limited or never connected.
        raise JobFailure(
            f"GitHub unavailable while dispatching {request.workflow} ({error}); nothing was started: retry the stage",
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
    if run.unconfirmed:
        state["unconfirmed"] = run.unconfirmed[:300]
        return Continue(
            state,
            f"GitHub's answer to the dispatch of {request.label} was lost ({run.unconfirmed}); looking for the run "
            f"named [{correlation_id}], never dispatching it again",
        )
    shown = f": {run.html_url}" if run.html_url else f" as {correlation_id}"
    return Continue(state, f"dispatched {request.label} on {ref}{shown}")


def _find(request: DeployRequest, state: dict[str, Any], github: GitHub, deps: Dependencies) -> Outcome:
    """A server that did not name the run, or an answer that was lost: find the run by its correlation id."""
    _pause(github, deps)
    run = github.find_run(request.repository, request.workflow, state["correlation_id"], state["dispatched_at"])
    polls = state["polls"] + 1
    if run is None:
        if polls >= deps.settings.find_run_max_polls or deps.clock() >= state["deadline"]:
            correlation_id = state["correlation_id"]
            if state.get("unconfirmed"):
                raise JobFailure(
                    f"GitHub's answer to the dispatch of {request.label} was lost ({state['unconfirmed']}) and no run "
                    f"named [{correlation_id}] appeared in {polls} polls, so the dispatch was not sent again: retry "
                    f"the stage; if a run named [{correlation_id}] appears later, cancel it: the pipeline has failed",
                    "SystemUnavailable",
                )
            raise JobFailure(
                f"the run of {request.workflow} with correlation id {correlation_id} did not appear after "
                f"{polls} polls: does the workflow's run-name carry [{{{{ inputs.correlation_id }}}}]? If it "
                "appears later, cancel it: the pipeline has failed"
            )
        return Continue({**state, "polls": polls, "unavailable": 0}, f"waiting for the run of {request.label}")
    found = {**state, "phase": "poll", "polls": 0, "unavailable": 0, "run_id": run["id"], "run_url": run["html_url"]}
    claims.note_run(state["correlation_id"].removeprefix("cp-"), int(run["id"]), str(run["html_url"]), deps)
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


def _pause(github: GitHub | None, deps: Dependencies) -> None:
    """Space the polls: CodePipeline re-invokes quickly, GitHub's hourly budget is shared by the fleet."""
    if deps.settings.poll_wait_seconds > 0:
        (github.sleep if github is not None else deps.sleep)(deps.settings.poll_wait_seconds)


# ---------------------------------------------------------------------------------------------- answers


def report(job_id: str, outcome: Outcome, codepipeline: Any) -> bool:
    """Send the invocation's one answer; ``False`` when CodePipeline refused it (the job is no longer in progress)."""
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
        LOGGER.info("job %s is no longer in progress; CodePipeline refused this delivery's answer", job_id)
        return False
    return True


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
        outcome = Failed(
            f"unexpected error in the GitHub dispatch function: {type(error).__name__}: {error}{_followed(job)}"
        )
    LOGGER.info("job %s: %s", job_id, type(outcome).__name__)  # never log the event: it carries credentials
    if not report(job_id, outcome, deps.codepipeline) and isinstance(outcome, Continue):
        _after_refusal(job, outcome.state, deps)
    return outcome


def _followed(job: dict[str, Any]) -> str:
    """For a failure nobody planned: the run the job's token follows, and what to do about it, if there is one."""
    try:
        state = json.loads(job["data"]["continuationToken"])
    except (KeyError, TypeError, ValueError):
        return ""
    if not isinstance(state, dict) or not (state.get("run_id") or state.get("correlation_id")):
        return ""
    return f"; {_what_to_do(state)}"


def _after_refusal(job: dict[str, Any], state: dict[str, Any], deps: Dependencies) -> None:
    """A continuation was refused: a duplicate's (harmless), or the execution was stopped under a live run."""
    try:
        request = DeployRequest.from_job(job)
        halting.after_refusal(request, job_origin(job, request, deps.settings), state, deps)
    except Exception:  # the job is answered or abandoned; the EventBridge path still covers an ended execution
        LOGGER.exception("job %s: could not check why its answer was refused", job["id"])


def handler(event: dict[str, Any], context: Any) -> None:
    codepipeline = boto3.client("codepipeline")
    if "CodePipeline.job" not in event:
        # An EventBridge event: an execution of the platform's pipelines ended (``halting``). An error here
        # (a run still running) makes Lambda retry the event, then keep it in the dead-letter queue.
        halting.on_event(event, Dependencies.from_environment(codepipeline))
        return
    try:
        deps = Dependencies.from_environment(codepipeline)
    except Exception as error:  # a broken deployment of this function still answers the job
        LOGGER.exception("cannot start")
        message = f"the GitHub dispatch function is misconfigured: {type(error).__name__}: {error}"
        report(event["CodePipeline.job"]["id"], Failed(message, "ConfigurationError"), codepipeline)
        return
    process(event, deps)
