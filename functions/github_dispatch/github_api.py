"""The GitHub REST calls the dispatch needs, the token they use, and bounded retries for 5xx and rate limits.

What the calls rest on (GitHub's REST reference):
- "Create a workflow dispatch event" with ``return_run_details: true`` answers
  200 with ``workflow_run_id``, ``run_url`` (API) and ``html_url`` (GitHub
  changelog 2026-02-19, "Workflow dispatch API now returns run IDs"); without
  it, and on servers that predate it (the GitHub Enterprise Server reference
  documents only the 204 answer), the answer is 204 and the run is found by
  the correlation id in its run name. A server that refuses the unknown key
  (422 naming it) is asked once more without it.
- The dispatch is not idempotent, and it is never sent twice once GitHub may
  have received it: after an answer that proves nothing (a 5xx, a timeout
  while GitHub was still working, a connection dropped mid-request) the run may
  exist, and may show up in "List workflow runs for a workflow" only a moment
  later. So the function looks for it once at once, and otherwise leaves the
  dispatch *unconfirmed*: the action goes on looking for the run by its
  correlation id (``handler._find``) and fails, naming the run to cancel should
  it appear, if it never does. Only a request that provably never reached
  GitHub (connection refused, the name did not resolve) is sent again.
- Rate limits ("Rate limits for the REST API"): a primary limit is a 403 or 429
  with ``x-ratelimit-remaining: 0`` (wait until ``x-ratelimit-reset``); a
  secondary limit is a 403 or 429 "with an error message that indicates that
  you exceeded a secondary rate limit", which may carry ``retry-after`` and,
  without it or a spent primary limit, asks for "at least one minute" and
  exponentially longer waits when it repeats. A 403 that is neither is a
  permission problem. A wait longer than a delivery may sleep is handed back as
  ``GitHubUnavailable.retry_after`` so the next delivery keeps it.
- "Cancel a workflow run" and "Force cancel a workflow run" answer 202
  Accepted or 409 Conflict. Force-cancel also stops jobs that an ``always()``
  condition would keep running, and GitHub says to use it only when a run does
  not respond to the plain cancel.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from .outcomes import GitHubUnavailable, JobFailure, RunGone
from .request import DeployRequest
from .settings import Dependencies, Settings

SECONDARY_RATE_LIMIT_WAIT_SECONDS = 60.0
"""GitHub: without ``retry-after`` or a spent primary limit, "wait for at least one minute before retrying"."""


def read_token(deps: Dependencies) -> str:
    try:
        value = deps.secrets.get_secret_value(SecretId=deps.settings.token_secret_arn)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        raise JobFailure(f"cannot read the GitHub token secret ({code})", "PermissionError") from error
    try:
        document = json.loads(value.get("SecretString") or "")
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict) or not document.get("token"):
        raise JobFailure(
            'the GitHub token secret holds no {"token": "..."}: an operator must put it (see README)',
            "ConfigurationError",
        )
    expires_at = document.get("expires_at")
    if expires_at and datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp() <= deps.clock():
        raise JobFailure(
            f"the GitHub installation token in the secret expired at {expires_at}: is the rotation function running?",
            "PermissionError",
        )
    return str(document["token"])


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class DispatchedRun:
    """What GitHub said about the run a dispatch started; ``run_id`` is ``None`` when it did not say."""

    run_id: int | None = None
    html_url: str | None = None
    unconfirmed: str | None = None
    """Why GitHub's answer proves nothing (a 502, a timeout): the run may or may not exist, so look, never resend."""


class _Unanswered(Exception):  # noqa: N818 - a request whose effect is unknown, not an error of this code
    """A non-idempotent request got no answer that proves whether GitHub acted on it."""


@dataclass
class GitHub:
    """The three REST calls the dispatch needs, with bounded retries for 5xx and rate limits."""

    api_url: str
    token: str
    settings: Settings
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def default_branch(self, repository: str) -> str:
        response = self._request("GET", f"/repos/{repository}")
        if response.status == 404:
            raise JobFailure(f"repository {repository} not found, or the token cannot see it", "ConfigurationError")
        self._raise_for_status(response, f"reading repository {repository}")
        return str(response.body["default_branch"])

    def dispatch(self, request: DeployRequest, ref: str, correlation_id: str, dispatched_at: str) -> DispatchedRun:
        """Start the workflow once; returns the run when GitHub names it (``return_run_details``)."""
        inputs = {"environment": request.environment, "commit": request.commit, "correlation_id": correlation_id}
        body: dict[str, Any] = {"ref": ref, "inputs": inputs, "return_run_details": True}
        path = f"/repos/{request.repository}/actions/workflows/{request.workflow}/dispatches"
        while True:
            try:
                response = self._request("POST", path, body, idempotent=False)
            except _Unanswered as unanswered:
                # GitHub may have started the run before its answer was lost: never dispatch it twice.
                return self._look_once(request, correlation_id, dispatched_at, str(unanswered))
            refused_details = "return_run_details" in response_message(response)
            if response.status == 422 and "return_run_details" in body and refused_details:
                body = {"ref": ref, "inputs": inputs}  # a server that predates run details refuses the key
                continue
            return self._dispatched(request, ref, response)

    def _look_once(self, request: DeployRequest, correlation_id: str, dispatched_at: str, why: str) -> DispatchedRun:
        """After an answer that proves nothing: the run if it already shows, else an unconfirmed dispatch."""
        try:
            run = self.find_run(request.repository, request.workflow, correlation_id, dispatched_at)
        except (GitHubUnavailable, JobFailure) as error:
            reason = error.message if isinstance(error, JobFailure) else str(error)
            return DispatchedRun(unconfirmed=f"{why}; looking for the run failed too ({reason})")
        if run is not None:
            return DispatchedRun(int(run["id"]), run.get("html_url"))
        return DispatchedRun(unconfirmed=why)

    def _dispatched(self, request: DeployRequest, ref: str, response: Response) -> DispatchedRun:
        if response.status == 404:
            raise JobFailure(
                f"workflow {request.workflow} not found in {request.repository} (or the token cannot see it): "
                "copy it from templates/github/ into .github/workflows/",
                "ConfigurationError",
            )
        if response.status == 422:
            raise JobFailure(
                f"GitHub rejected the dispatch of {request.workflow} on {ref} (422: {response_message(response)}); "
                "does the workflow have a workflow_dispatch trigger with inputs environment, commit, correlation_id?",
                "ConfigurationError",
            )
        self._raise_for_status(response, f"dispatching {request.workflow}")
        body = response.body if isinstance(response.body, dict) else {}
        run_id = body.get("workflow_run_id")
        if isinstance(run_id, int) and not isinstance(run_id, bool) and run_id > 0:
            return DispatchedRun(run_id, body.get("html_url") if isinstance(body.get("html_url"), str) else None)
        return DispatchedRun()

    def find_run(
        self, repository: str, workflow: str, correlation_id: str, dispatched_at: str
    ) -> dict[str, Any] | None:
        """The run whose name carries ``[correlation_id]``, among the workflow's dispatched runs since then."""
        # A minute of slack for clock skew between Lambda and GitHub.
        since = datetime.fromisoformat(dispatched_at) - timedelta(minutes=1)
        query = urllib.parse.urlencode(
            {"event": "workflow_dispatch", "created": f">={since.strftime('%Y-%m-%dT%H:%M:%SZ')}", "per_page": 100}
        )
        path = f"/repos/{repository}/actions/workflows/{workflow}/runs?{query}"
        response = self._request("GET", path)
        if response.status == 404:
            raise JobFailure(f"workflow {workflow} disappeared from {repository}", "ConfigurationError")
        self._raise_for_status(response, "listing workflow runs")
        return next((run for run in response.body.get("workflow_runs", []) if run_matches(run, correlation_id)), None)

    def get_run(self, repository: str, run_id: int) -> dict[str, Any]:
        response = self._request("GET", f"/repos/{repository}/actions/runs/{run_id}")
        if response.status == 404:
            raise RunGone(f"workflow run {run_id} in {repository} no longer exists (deleted?)")
        self._raise_for_status(response, f"reading workflow run {run_id}")
        return response.body

    def cancel_run(self, repository: str, run_id: int, *, force: bool = False) -> bool:
        """Ask GitHub to cancel the run: ``True`` once it accepted (202), ``False`` when it refused (409)."""
        verb = "force-cancel" if force else "cancel"
        response = self._request("POST", f"/repos/{repository}/actions/runs/{run_id}/{verb}")
        if response.status == 409:
            return False
        if response.status == 404:
            raise RunGone(f"workflow run {run_id} in {repository} no longer exists (deleted?)")
        self._raise_for_status(response, f"cancelling workflow run {run_id}")
        return True

    def _raise_for_status(self, response: Response, doing: str) -> None:
        if 200 <= response.status < 300:
            return
        if response.status == 401:
            raise JobFailure(
                f"GitHub rejected the credentials (401) while {doing}: the token in the secret is wrong or expired",
                "PermissionError",
            )
        if response.status == 403:
            raise JobFailure(
                f"GitHub refused {doing} (403): the token needs Actions read/write on the repository",
                "PermissionError",
            )
        raise JobFailure(f"GitHub answered {response.status} while {doing}: {response_message(response)}")

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, idempotent: bool = True
    ) -> Response:
        """One call, retried for 5xx, network errors and short rate limits; other answers are returned.

        A rate-limited request was refused before GitHub acted on it, so it is always retried. A
        non-idempotent one that got a 5xx or no answer raises ``_Unanswered`` instead of being sent again.
        """
        attempts = max(1, self.settings.http_max_attempts)
        problem = ""
        for attempt in range(attempts):
            try:
                response = self._send(method, path, body)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                problem = f"{method} {path.split('?')[0]}: {error}"
                if not idempotent and not _never_sent(error):
                    raise _Unanswered(problem) from error
                wait = self.settings.http_backoff_seconds * (2**attempt)
            else:
                rate_limit_wait = self._rate_limit_wait(response)
                if rate_limit_wait is not None:
                    said = response_message(response)
                    problem = f"rate limited for {rate_limit_wait:.0f}s ({response.status}: {said})"
                    if rate_limit_wait > self.settings.max_rate_limit_wait_seconds:
                        raise GitHubUnavailable(problem, retry_after=rate_limit_wait)
                    wait = rate_limit_wait
                elif response.status >= 500:
                    problem = f"{method} {path.split('?')[0]} answered {response.status}"
                    if not idempotent:
                        raise _Unanswered(problem)
                    wait = self.settings.http_backoff_seconds * (2**attempt)
                else:
                    return response
            if attempt + 1 < attempts:
                self.sleep(wait)
        raise GitHubUnavailable(f"{problem} (after {attempts} attempts)")

    def _rate_limit_wait(self, response: Response) -> float | None:
        """How long GitHub asks us to wait, or ``None`` when the answer is no rate limit (a 403 of permissions)."""
        if response.status not in (403, 429):
            return None
        headers = response.headers
        if headers.get("retry-after"):
            try:
                return max(0.0, float(headers["retry-after"]))
            except ValueError:  # GitHub sends seconds; a proxy may send an HTTP date: wait as for no header
                return SECONDARY_RATE_LIMIT_WAIT_SECONDS
        if headers.get("x-ratelimit-remaining") == "0":
            reset = float(headers.get("x-ratelimit-reset") or 0)
            return max(0.0, reset - self.clock())
        if response.status == 429 or "secondary rate limit" in response_message(response).lower():
            return SECONDARY_RATE_LIMIT_WAIT_SECONDS
        return None

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL is the configured GitHub API base
            self.api_url.rstrip("/") + path,
            data=data,
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "cicd-platform-github-dispatch",
                **({"Content-Type": "application/json"} if data else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.http_timeout_seconds) as answer:  # noqa: S310
                return Response(answer.status, _lower(answer.headers), _json(answer.read()))
        except urllib.error.HTTPError as error:
            return Response(error.code, _lower(error.headers), _json(error.read()))


def _never_sent(error: BaseException) -> bool:
    """A connection that was refused or a name that did not resolve: GitHub cannot have acted on the request."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def run_matches(run: dict[str, Any], correlation_id: str) -> bool:
    """A run is ours when its run name carries the bracketed correlation id (the templates' ``run-name``)."""
    marker = f"[{correlation_id}]"
    return marker in (run.get("display_title") or "") or marker in (run.get("name") or "")


def response_message(response: Response) -> str:
    """What GitHub said in an error body (its ``message``), or nothing."""
    return str(response.body.get("message", "")) if isinstance(response.body, dict) else ""


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in (headers or {}).items()}


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return {"message": raw[:200].decode(errors="replace")}
