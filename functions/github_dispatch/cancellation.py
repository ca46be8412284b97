"""Giving up on a run: cancel it, confirm GitHub stopped it, escalate once, and say plainly what happened.

When the action gives up (its deadline passed, or GitHub stayed unreachable),
the pipeline fails and AWS rolls back. A run left behind would go on: a
production run waiting for its GitHub environment's reviewers stays
approvable for 30 days (GitHub: "Reviewing deployments") and would deploy to
GCP or Azure after AWS was rolled back. So the function cancels it.

GitHub's REST reference: "Cancel a workflow run" answers 202 Accepted or 409
Conflict; "Force cancel a workflow run" also stops jobs kept alive by an
``always()`` condition and is meant only for a run that does not respond to
the plain cancel. Cancelling is asynchronous, so the action stays in progress
(phase ``cancel``) until the run shows ``completed``: first after a plain
cancel, then, if it has not stopped within ``cancel_confirm_seconds``, after a
force-cancel. Only then does the action fail, saying the run was cancelled;
if GitHub refuses or never confirms, the failure says so and what to do by
hand. The two confirmation windows fit in the reserve the stack settings keep
before CodePipeline's 24 hours (``components/model/github_run_timeout.py``).
"""

from __future__ import annotations

from typing import Any

from .github_api import GitHub
from .outcomes import Continue, Failed, GitHubUnavailable, JobFailure, Outcome, conclude
from .request import DeployRequest
from .settings import Dependencies

BY_HAND = (
    "cancel it by hand on GitHub (and reject its deployment if it waits for a reviewer): the pipeline has "
    "failed, so this run must not deploy"
)


def give_up(
    request: DeployRequest,
    state: dict[str, Any],
    why: str,
    github: GitHub,
    deps: Dependencies,
    failure_type: str = "JobFailed",
) -> Outcome:
    """Stop waiting: ask GitHub to cancel the run, and wait for it to confirm."""
    url = state.get("run_url") or "(run URL unknown)"
    run_id = int(state["run_id"])
    try:
        accepted = github.cancel_run(request.repository, run_id)
    except (GitHubUnavailable, JobFailure) as error:
        return Failed(f"{why}; cancelling the run failed ({_reason(error)}): {BY_HAND}: {url}", failure_type, run_id)
    if not accepted:
        return _refused(request, state, why, github, deps, failure_type, forced=False)
    return _cancelling(state, why, failure_type, forced=False, deps=deps)


def confirm(request: DeployRequest, state: dict[str, Any], github: GitHub, deps: Dependencies) -> Outcome:
    """A cancel was asked for: has the run stopped? If not in time, force-cancel once, then give up on it."""
    cancel = state["cancel"]
    why, failure_type, forced = cancel["why"], cancel["type"], cancel["forced"]
    if deps.settings.poll_wait_seconds > 0:
        github.sleep(deps.settings.poll_wait_seconds)
    run = github.get_run(request.repository, int(state["run_id"]))
    url = run.get("html_url") or state.get("run_url", "")
    if run.get("status") == "completed":
        return _ended(request, run, {**state, "run_url": url}, why, failure_type)
    if deps.clock() - cancel["asked_at"] < deps.settings.cancel_confirm_seconds:
        verb = "force-cancel" if forced else "cancel"
        return Continue(state, f"{why}; waiting for GitHub to {verb} the run (still {run.get('status')}): {url}")
    if forced:
        minutes = int(deps.settings.cancel_confirm_seconds // 60)
        return Failed(
            f"{why}; GitHub accepted a cancel and a force-cancel, but the run is still {run.get('status')} "
            f"{minutes} min later: {BY_HAND}: {url}",
            failure_type,
            int(state["run_id"]),
        )
    try:
        accepted = github.cancel_run(request.repository, int(state["run_id"]), force=True)
    except (GitHubUnavailable, JobFailure) as error:
        return Failed(
            f"{why}; the run did not stop after a cancel and the force-cancel failed ({_reason(error)}): "
            f"{BY_HAND}: {url}",
            failure_type,
            int(state["run_id"]),
        )
    if not accepted:
        return _refused(request, state, why, github, deps, failure_type, forced=True)
    return _cancelling(state, why, failure_type, forced=True, deps=deps)


def _cancelling(state: dict[str, Any], why: str, failure_type: str, forced: bool, deps: Dependencies) -> Continue:
    cancel = {"why": why, "type": failure_type, "forced": forced, "asked_at": int(deps.clock())}
    verb = "force-cancel" if forced else "cancel"
    return Continue(
        {**state, "phase": "cancel", "cancel": cancel},
        f"{why}; asked GitHub to {verb} the run: {state.get('run_url', '')}",
    )


def _refused(
    request: DeployRequest,
    state: dict[str, Any],
    why: str,
    github: GitHub,
    deps: Dependencies,
    failure_type: str,
    forced: bool,
) -> Outcome:
    """409 Conflict: the run may have just completed (then its conclusion stands), or GitHub will not cancel it."""
    run = github.get_run(request.repository, int(state["run_id"]))
    url = run.get("html_url") or state.get("run_url", "")
    if run.get("status") == "completed":
        return _ended(request, run, {**state, "run_url": url}, why, failure_type)
    if not forced:
        try:
            accepted = github.cancel_run(request.repository, int(state["run_id"]), force=True)
        except (GitHubUnavailable, JobFailure) as error:
            return Failed(
                f"{why}; GitHub refused to cancel the run (409 Conflict) and the force-cancel failed "
                f"({_reason(error)}): {BY_HAND}: {url}",
                failure_type,
                int(state["run_id"]),
            )
        if accepted:
            return _cancelling({**state, "run_url": url}, why, failure_type, forced=True, deps=deps)
    return Failed(
        f"{why}; GitHub refused to cancel the run (409 Conflict, for the cancel and the force-cancel) although it "
        f"is still {run.get('status')}: {BY_HAND}: {url}",
        failure_type,
        int(state["run_id"]),
    )


def _ended(request: DeployRequest, run: dict[str, Any], state: dict[str, Any], why: str, failure_type: str) -> Outcome:
    if run.get("conclusion") == "cancelled":
        return Failed(
            f"{why}; the platform cancelled the run, so it cannot deploy later: {state['run_url']}",
            failure_type,
            int(run["id"]),
        )
    # It finished on its own before the cancel took: what it did is what happened, and the answer says so.
    note = f" (it finished as the platform was cancelling it: {why})"
    return conclude(request.label, run, state["run_url"], note=note)


def _reason(error: Exception) -> str:
    return error.message if isinstance(error, JobFailure) else str(error)
