"""A run whose pipeline execution ended without it is cancelled, whether CodePipeline asks again or not.

"Stop and abandon" (the approval auditor's answer to an unauthorised prod
approval, or an operator's) abandons the dispatch action and stops the
execution (CodePipeline user guide, "Stop a pipeline execution": "the action
execution is in an Abandoned state while the pipeline execution is in a
Stopped state"). CodePipeline then never invokes the function for that job
again, and refuses an answer still in flight (``InvalidJobStateException``).
The GitHub run would go on and deploy the release to GCP or Azure. Two paths
stop it:

- **in flight**: a delivery whose continuation is refused asks CodePipeline
  (``GetPipelineExecution``; ``ListActionExecutions`` while it is
  ``Stopping``) whether the execution ended or the action was abandoned, and
  if so cancels the run. A refusal alone proves nothing: a duplicate delivery
  repeating an answer is refused too, and then the execution is in progress.
- **between polls**: an EventBridge rule on the tooling account's default bus
  sends this function the platform pipelines' executions that end STOPPED,
  FAILED, SUPERSEDED or CANCELED ("Monitoring CodePipeline events"). The
  function believes such an event only from the tooling account and region
  and for an execution the claims table says dispatched from the pipeline the
  event names, and only once ``GetPipelineExecution`` confirms the execution
  ended (or the job's own action was abandoned): a late or repeated event about
  an execution that was retried since changes nothing. It then cancels every
  run that execution dispatched and that still runs, and keeps a job whose
  dispatch had not gone out yet from ever sending it.

GitHub's cancel is asynchronous ("Cancel a workflow run"; "Force cancel a
workflow run" only for a run that ignores it). The event path asks for the
cancel, looks again after one poll pause, and when a run still runs raises, so
Lambda retries the event a minute and then two minutes later ("How Lambda
handles errors and retries with asynchronous invocation"); a retry that finds
the plain cancel ``force_cancel_after_seconds`` old force-cancels. A run that
survives that ends with the event in the function's dead-letter queue and an
error in its log naming the run to cancel by hand.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from . import claims
from .app_credentials import github_for
from .cancellation import BY_HAND
from .github_api import GitHub
from .job_origin import JobOrigin
from .outcomes import GitHubUnavailable, JobFailure, RunGone
from .request import EXECUTION_PATTERN, DeployRequest
from .settings import Dependencies, Settings

LOGGER = logging.getLogger(__name__)

SOURCE = "aws.codepipeline"
DETAIL_TYPE = "CodePipeline Pipeline Execution State Change"
EVENT_STATES = ("STOPPED", "FAILED", "SUPERSEDED", "CANCELED")
"""The event states of an execution that is over without having succeeded ("Monitoring CodePipeline events")."""
ENDED_STATUSES = frozenset({"Stopped", "Failed", "Superseded", "Cancelled"})
"""The same, as ``GetPipelineExecution`` spells them (API reference, ``PipelineExecution.status``)."""
ABANDONED = "Abandoned"
NOT_FOUND = ("PipelineExecutionNotFoundException", "PipelineNotFoundException")


class UntrustedEvent(Exception):  # noqa: N818 - an event this function does not believe, not an error of this code
    """Not an ended execution of the platform's pipelines: ignored; the message says why (for the log)."""


class RunsStillLive(Exception):  # noqa: N818 - the state of runs on GitHub, reported so Lambda retries
    """Some run of an ended execution has not stopped yet: Lambda's retry of the event looks again."""


@dataclass(frozen=True)
class EndedExecution:
    pipeline: str
    execution_id: str
    state: str


@dataclass(frozen=True)
class ActionRef:
    """Which action execution of the execution dispatched a run, as far as its job said."""

    action_execution_id: str | None = None
    stage: str | None = None
    action: str | None = None


def read_event(event: Any, settings: Settings) -> EndedExecution:
    """The ended execution an event reports, if it is one this function may believe."""
    if not isinstance(event, dict) or event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise UntrustedEvent("not a CodePipeline pipeline execution state change")
    if not settings.tooling_account_id or not settings.tooling_region:
        raise UntrustedEvent("the function does not know its tooling account and region")
    where = (str(event.get("account")), str(event.get("region")))
    if where != (settings.tooling_account_id, settings.tooling_region):
        raise UntrustedEvent(f"event of account {where[0][:20]} in {where[1][:20]}, not where the pipelines run")
    detail = event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    pipeline, execution, state = detail.get("pipeline"), detail.get("execution-id"), detail.get("state")
    if state not in EVENT_STATES:
        raise UntrustedEvent(f"state {str(state)[:20]!r} is not the end of an execution")
    if not isinstance(pipeline, str) or not pipeline or len(pipeline) > 100:
        raise UntrustedEvent("no pipeline name")
    if not isinstance(execution, str) or not EXECUTION_PATTERN.fullmatch(execution):
        raise UntrustedEvent("no pipeline execution id")
    return EndedExecution(pipeline, execution, state)


@dataclass
class ExecutionCheck:
    """What CodePipeline says about one execution now: the fact behind an event or a refused answer."""

    pipeline: str
    execution_id: str
    codepipeline: Any
    _execution: dict[str, Any] | None = None
    _actions: list[dict[str, Any]] | None = field(default=None)

    def status(self) -> str:
        if self._execution is None:
            answer = self.codepipeline.get_pipeline_execution(
                pipelineName=self.pipeline, pipelineExecutionId=self.execution_id
            )
            self._execution = answer.get("pipelineExecution", {})
        return str(self._execution.get("status"))

    def ended_for(self, action: ActionRef) -> str | None:
        """Why a run this execution dispatched must not go on, or ``None`` while the execution still wants it."""
        status = self.status()
        if status in ENDED_STATUSES:
            summary = (self._execution or {}).get("statusSummary")
            return f"pipeline execution {self.execution_id} of {self.pipeline} is {status}" + (
                f" ({summary})" if summary else ""
            )
        if status in ("InProgress", "Stopping") and self._action_status(action) == ABANDONED:
            return f"the action of pipeline execution {self.execution_id} of {self.pipeline} was abandoned"
        return None

    def _action_status(self, action: ActionRef) -> str | None:
        if action.action_execution_id is None and (action.stage is None or action.action is None):
            return None
        if self._actions is None:
            self._actions = []
            request: dict[str, Any] = {
                "pipelineName": self.pipeline,
                "filter": {"pipelineExecutionId": self.execution_id},
            }
            while True:
                page = self.codepipeline.list_action_executions(**request)
                self._actions.extend(page.get("actionExecutionDetails", []))
                if not page.get("nextToken"):
                    break
                request["nextToken"] = page["nextToken"]
        if action.action_execution_id is not None:
            mine = [d for d in self._actions if d.get("actionExecutionId") == action.action_execution_id]
        else:
            mine = [
                d for d in self._actions if (d.get("stageName"), d.get("actionName")) == (action.stage, action.action)
            ]
        if not mine:
            return None
        # Several attempts of one action (a retried stage): the latest is what the job belongs to.
        return str(max(mine, key=lambda d: str(d.get("startTime", ""))).get("status"))


@dataclass(frozen=True)
class Halt:
    """What was done about one run: ``live`` while GitHub has not shown it ``completed`` yet."""

    job_id: str
    repository: str
    run_id: int | None
    url: str
    live: bool
    note: str

    def __str__(self) -> str:
        return f"{self.repository} run {self.run_id or '(not found yet)'}: {self.note}: {self.url}"


def halt_run(
    github: GitHub, repository: str, run_id: int, job_id: str, claim: dict[str, Any], deps: Dependencies
) -> Halt:
    """Ask GitHub to stop the run once (then, if it ignored that for a while, to force-cancel it)."""
    url = claim.get("runUrl", {}).get("S", "")
    try:
        run = github.get_run(repository, run_id)
    except RunGone:
        return Halt(job_id, repository, run_id, url, False, "deleted on GitHub")
    url = run.get("html_url") or url
    if run.get("status") == "completed":
        return Halt(job_id, repository, run_id, url, False, f"had ended {run.get('conclusion')}")
    asked = claim.get("haltAsked", {}).get("S")
    asked_at = int(claim.get("haltAskedAt", {}).get("N", "0"))
    if asked in (None, "before-dispatch"):
        verb: str | None = "cancel"
    elif asked == "cancel" and deps.clock() - asked_at >= deps.settings.force_cancel_after_seconds:
        verb = "force-cancel"
    else:
        verb = None
    if verb is None:
        return Halt(job_id, repository, run_id, url, True, f"GitHub was asked to {asked}; still {run.get('status')}")
    accepted = github.cancel_run(repository, run_id, force=verb == "force-cancel")
    if not accepted:  # 409 Conflict: it may have just ended; if not, escalate at once
        run = github.get_run(repository, run_id)
        if run.get("status") == "completed":
            return Halt(job_id, repository, run_id, url, False, f"had ended {run.get('conclusion')}")
        if verb == "cancel":
            verb, accepted = "force-cancel", github.cancel_run(repository, run_id, force=True)
    claims.note_halt(job_id, verb, deps)
    said = "asked GitHub to" if accepted else "GitHub refused (409) to"
    return Halt(job_id, repository, run_id, url, True, f"{said} {verb} it")


def confirm(github: GitHub, halt: Halt, deps: Dependencies) -> Halt:
    """Look again at a run that was asked to stop."""
    if not halt.live or halt.run_id is None:
        return halt
    run = github.get_run(halt.repository, halt.run_id)
    if run.get("status") == "completed":
        return Halt(
            halt.job_id, halt.repository, halt.run_id, halt.url, False, f"{halt.note}; it ended {run.get('conclusion')}"
        )
    return halt


# ---------------------------------------------------------------------------------------------- in flight


def after_refusal(request: DeployRequest, origin: JobOrigin, state: dict[str, Any], deps: Dependencies) -> Halt | None:
    """CodePipeline refused a continuation: cancel the run if its execution ended or its action was abandoned."""
    if origin.execution_id is None:
        LOGGER.warning("answer refused for a job that names no pipeline execution: cannot tell whether it was stopped")
        return None
    check = ExecutionCheck(origin.pipeline, origin.execution_id, deps.codepipeline)
    try:
        why = check.ended_for(ActionRef(origin.action_execution_id, origin.stage, origin.action))
    except ClientError as error:
        LOGGER.error("answer refused; could not ask CodePipeline about execution %s: %s", origin.execution_id, error)
        return None
    if why is None:
        LOGGER.info(
            "answer refused while execution %s is %s: another delivery answered", origin.execution_id, check.status()
        )
        return None
    correlation = str(state.get("correlation_id", ""))
    job_id = correlation.removeprefix("cp-")
    try:
        github = github_for(deps, request.repository)
        run_id = state.get("run_id")
        if run_id is None:
            run = github.find_run(request.repository, request.workflow, correlation, state["dispatched_at"])
            if run is None:
                LOGGER.error("%s; no run named [%s] shows yet: if one appears, %s", why, correlation, BY_HAND)
                return None
            run_id = run["id"]
        halt = halt_run(github, request.repository, int(run_id), job_id, claims.job_claim(job_id, deps) or {}, deps)
    except (GitHubUnavailable, JobFailure, ClientError) as error:
        LOGGER.error("%s; stopping its run failed (%s): %s: %s", why, error, BY_HAND, state.get("run_url", ""))
        return None
    (LOGGER.warning if halt.live else LOGGER.info)("%s: %s", why, halt)
    return halt


# ---------------------------------------------------------------------------------------------- events


def on_event(event: Any, deps: Dependencies) -> list[Halt]:
    """An execution ended: cancel what it dispatched and still runs; raise ``RunsStillLive`` for Lambda to retry."""
    try:
        ended = read_event(event, deps.settings)
    except UntrustedEvent as untrusted:
        LOGGER.warning("event ignored: %s", untrusted)
        return []
    recorded = claims.execution_jobs(ended.execution_id, deps)
    if recorded is None:
        LOGGER.info("execution %s of %s dispatched nothing to GitHub", ended.execution_id, ended.pipeline)
        return []
    if recorded.pipeline != ended.pipeline:
        LOGGER.warning(
            "event ignored: execution %s belongs to %s, not %s", ended.execution_id, recorded.pipeline, ended.pipeline
        )
        return []
    check = ExecutionCheck(ended.pipeline, ended.execution_id, deps.codepipeline)
    halts: list[Halt] = []
    for job_id in recorded.job_ids:
        claim = claims.job_claim(job_id, deps)
        if claim is None:
            continue
        try:
            why = check.ended_for(_action_of(claim))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND:
                LOGGER.warning(
                    "event ignored: CodePipeline does not know execution %s of %s", ended.execution_id, ended.pipeline
                )
                return []
            raise
        if why is None:
            LOGGER.info("execution %s is %s again: its runs go on", ended.execution_id, check.status())
            continue
        halts.append(_halt_job(job_id, claim, why, deps))
    pending = [halt for halt in halts if halt.live]
    if pending and deps.settings.poll_wait_seconds > 0:
        deps.sleep(deps.settings.poll_wait_seconds)
    halts = [_confirmed(halt, deps) for halt in halts]
    for halt in halts:
        (LOGGER.error if halt.live else LOGGER.info)("execution %s %s: %s", ended.execution_id, ended.state, halt)
    still = [halt for halt in halts if halt.live]
    if still:
        raise RunsStillLive(
            f"execution {ended.execution_id} of {ended.pipeline} ended {ended.state}; still running: "
            + "; ".join(str(halt) for halt in still)
            + f" (if this persists: {BY_HAND})"
        )
    return halts


def _action_of(claim: dict[str, Any]) -> ActionRef:
    def text(name: str) -> str | None:
        return claim.get(name, {}).get("S") or None

    return ActionRef(text("actionExecutionId"), text("stage"), text("action"))


def _halt_job(job_id: str, claim: dict[str, Any], why: str, deps: Dependencies) -> Halt:
    repository = claim.get("repository", {}).get("S", "")
    correlation = claim.get("correlationId", {}).get("S", f"cp-{job_id}")
    if claim.get("state", {}).get("S") == claims.DISPATCHING and claims.halt_before_dispatch(job_id, deps):
        return Halt(job_id, repository, None, "", False, f"{why}: its dispatch will never be sent")
    claim = claims.job_claim(job_id, deps) or claim  # it may have been posted since it was read
    if not repository:
        return Halt(job_id, "(unknown repository)", None, "", True, f"{why}; the claim names no repository")
    try:
        github = github_for(deps, repository)
        run_id = _run_id(claim)
        if run_id is None:
            workflow, since = claim.get("workflow", {}).get("S", ""), claim.get("dispatchedAt", {}).get("S", "")
            run = github.find_run(repository, workflow, correlation, since) if workflow and since else None
            if run is None:
                return Halt(job_id, repository, None, "", True, f"{why}; no run named [{correlation}] shows yet")
            run_id = int(run["id"])
            claims.note_run(job_id, run_id, str(run.get("html_url", "")), deps)
        return halt_run(github, repository, run_id, job_id, claim, deps)
    except (GitHubUnavailable, JobFailure) as error:
        reason = error.message if isinstance(error, JobFailure) else str(error)
        return Halt(job_id, repository, _run_id(claim), "", True, f"{why}; GitHub failed ({reason})")


def _confirmed(halt: Halt, deps: Dependencies) -> Halt:
    if not halt.live or halt.run_id is None:
        return halt
    try:
        return confirm(github_for(deps, halt.repository), halt, deps)
    except RunGone:
        return Halt(halt.job_id, halt.repository, halt.run_id, halt.url, False, "deleted on GitHub")
    except (GitHubUnavailable, JobFailure):
        return halt


def _run_id(claim: dict[str, Any]) -> int | None:
    """The run a claim knows: noted once found, or in the answer the first delivery kept."""
    if "runId" in claim:
        return int(claim["runId"]["N"])
    answer = claim.get("answer", {}).get("S")
    if answer:
        token = json.loads(answer).get("token", {})
        if isinstance(token, dict) and token.get("run_id") is not None:
            return int(token["run_id"])
    return None
