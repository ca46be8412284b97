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

Every job gets exactly one answer per invocation: success, failure or a
continuation. Any unexpected error becomes a failure, never a silent hang.
Because asynchronous Lambda invocations can be delivered twice, the first
invocation claims the job id in a DynamoDB table with a conditional put
before it dispatches; a duplicate never dispatches again. (CodePipeline's
``AcknowledgeJob`` cannot do this here: it needs the nonce that only
``PollForJobs`` hands to custom-action job workers.)

Settings come from environment variables (see ``Settings.from_environment``);
the GitHub token from Secrets Manager as ``{"token": "..."}``. For a GitHub
App, a separate rotation function keeps a fresh installation token in the same
secret (``{"token": ..., "expires_at": ...}``): this function only reads it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)

COMMIT_PATTERN = re.compile(r"^[0-9a-f]{40}$")
SERVICE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,27}$")
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
WORKFLOW_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,100}\.ya?ml$")
ENVIRONMENT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
CORRELATION_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CLOUDS = ("gcp", "azure")
SUCCESS_CONCLUSION = "success"
TOKEN_VERSION = 1
# CodePipeline's limits on what a job result may carry.
SUMMARY_LIMIT = 2048
MESSAGE_LIMIT = 5000


@dataclass(frozen=True)
class Settings:
    """What the function needs to know about its surroundings, from its environment variables."""

    token_secret_arn: str
    claims_table: str
    api_url: str = "https://api.github.com"
    find_run_max_polls: int = 20
    status_max_polls: int = 480
    poll_wait_seconds: float = 15.0
    http_max_attempts: int = 4
    http_backoff_seconds: float = 1.0
    max_rate_limit_wait_seconds: float = 30.0
    max_unavailable_polls: int = 10
    claim_lease_seconds: int = 300
    http_timeout_seconds: float = 10.0

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            return float(env[name]) if env.get(name) else default

        return cls(
            token_secret_arn=env["GITHUB_TOKEN_SECRET_ARN"],
            claims_table=env["CLAIMS_TABLE"],
            api_url=env.get("GITHUB_API_URL") or cls.api_url,
            find_run_max_polls=int(number("FIND_RUN_MAX_POLLS", cls.find_run_max_polls)),
            status_max_polls=int(number("STATUS_MAX_POLLS", cls.status_max_polls)),
            poll_wait_seconds=number("POLL_WAIT_SECONDS", cls.poll_wait_seconds),
            http_max_attempts=int(number("HTTP_MAX_ATTEMPTS", cls.http_max_attempts)),
            http_backoff_seconds=number("HTTP_BACKOFF_SECONDS", cls.http_backoff_seconds),
            max_rate_limit_wait_seconds=number("MAX_RATE_LIMIT_WAIT_SECONDS", cls.max_rate_limit_wait_seconds),
            max_unavailable_polls=int(number("MAX_UNAVAILABLE_POLLS", cls.max_unavailable_polls)),
            claim_lease_seconds=int(number("CLAIM_LEASE_SECONDS", cls.claim_lease_seconds)),
            http_timeout_seconds=number("HTTP_TIMEOUT_SECONDS", cls.http_timeout_seconds),
        )


# ---------------------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Continue:
    """Keep the action in progress; CodePipeline invokes the function again with ``state``."""

    state: dict[str, Any]
    summary: str


@dataclass(frozen=True)
class Succeeded:
    run_id: int
    run_url: str
    summary: str


@dataclass(frozen=True)
class Failed:
    message: str
    failure_type: str = "JobFailed"
    run_id: int | None = None


@dataclass(frozen=True)
class NoAnswer:
    """A duplicate delivery while the first one is still alive: the first one answers."""

    reason: str


Outcome = Continue | Succeeded | Failed | NoAnswer


class JobFailure(Exception):  # noqa: N818 - it is the job's failure, not an error of this code
    """Ends the job with a failure CodePipeline shows to people."""

    def __init__(self, message: str, failure_type: str = "JobFailed") -> None:
        super().__init__(message)
        self.message = message
        self.failure_type = failure_type


class GitHubUnavailable(Exception):  # noqa: N818 - a state of GitHub, reported as such
    """GitHub kept answering 5xx, timing out or rate limiting past the retry budget."""


# ---------------------------------------------------------------------------------------------- job input


@dataclass(frozen=True)
class DeployRequest:
    """What one pipeline action asks for, validated: nothing unchecked reaches GitHub."""

    service: str
    repository: str
    workflow: str
    cloud: str
    environment: str
    commit: str
    ref: str | None

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> DeployRequest:
        data = job.get("data", {})
        raw = data.get("actionConfiguration", {}).get("configuration", {}).get("UserParameters") or ""
        try:
            params = json.loads(raw)
        except json.JSONDecodeError as error:
            raise JobFailure(f"UserParameters is not JSON: {error}", "ConfigurationError") from error
        if not isinstance(params, dict):
            raise JobFailure("UserParameters must be a JSON object", "ConfigurationError")
        commit = str(params.get("commit") or "")
        if not COMMIT_PATTERN.fullmatch(commit):
            # Unresolved or absent variable: fall back to the source artifact's revision.
            revisions = [a.get("revision") or "" for a in data.get("inputArtifacts", [])]
            commit = next((r for r in revisions if COMMIT_PATTERN.fullmatch(r)), commit)
        request = cls(
            service=str(params.get("service") or ""),
            repository=str(params.get("repository") or ""),
            workflow=str(params.get("workflow") or ""),
            cloud=str(params.get("cloud") or ""),
            environment=str(params.get("environment") or ""),
            commit=commit,
            ref=str(params["ref"]) if params.get("ref") else None,
        )
        request._validate()
        return request

    def _validate(self) -> None:
        checks = [
            ("service", SERVICE_PATTERN.fullmatch(self.service)),
            ("repository", REPOSITORY_PATTERN.fullmatch(self.repository)),
            ("workflow", WORKFLOW_PATTERN.fullmatch(self.workflow)),
            ("cloud", self.cloud in CLOUDS),
            ("environment", ENVIRONMENT_PATTERN.fullmatch(self.environment)),
            ("commit", COMMIT_PATTERN.fullmatch(self.commit)),
            ("ref", self.ref is None or re.fullmatch(r"[A-Za-z0-9._/-]{1,255}", self.ref)),
        ]
        bad = [name for name, ok in checks if not ok]
        if bad:
            shown = {name: getattr(self, name) for name in bad}
            raise JobFailure(f"invalid UserParameters {', '.join(bad)}: {json.dumps(shown)}", "ConfigurationError")

    @property
    def label(self) -> str:
        return f"{self.service} to {self.cloud} {self.environment} ({self.repository} {self.workflow})"


# ---------------------------------------------------------------------------------------------- GitHub client


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: Any


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

    def dispatch(self, request: DeployRequest, ref: str, correlation_id: str) -> int | None:
        """Start the workflow; returns the run id when GitHub says it (newer API versions do)."""
        body = {
            "ref": ref,
            "inputs": {"environment": request.environment, "commit": request.commit, "correlation_id": correlation_id},
        }
        path = f"/repos/{request.repository}/actions/workflows/{request.workflow}/dispatches"
        response = self._request("POST", path, body)
        if response.status == 404:
            raise JobFailure(
                f"workflow {request.workflow} not found in {request.repository} (or the token cannot see it): "
                "copy it from templates/github/ into .github/workflows/",
                "ConfigurationError",
            )
        if response.status == 422:
            detail = response.body.get("message", "") if isinstance(response.body, dict) else ""
            raise JobFailure(
                f"GitHub rejected the dispatch of {request.workflow} on {ref} (422: {detail}); "
                "does the workflow have a workflow_dispatch trigger with inputs environment, commit, correlation_id?",
                "ConfigurationError",
            )
        self._raise_for_status(response, f"dispatching {request.workflow}")
        if isinstance(response.body, dict) and response.body.get("workflow_run_id"):
            return int(response.body["workflow_run_id"])
        return None

    def find_run(self, request: DeployRequest, correlation_id: str, dispatched_at: str) -> dict[str, Any] | None:
        # A minute of slack for clock skew between Lambda and GitHub.
        since = datetime.fromisoformat(dispatched_at) - timedelta(minutes=1)
        query = urllib.parse.urlencode(
            {"event": "workflow_dispatch", "created": f">={since.strftime('%Y-%m-%dT%H:%M:%SZ')}", "per_page": 100}
        )
        path = f"/repos/{request.repository}/actions/workflows/{request.workflow}/runs?{query}"
        response = self._request("GET", path)
        if response.status == 404:
            raise JobFailure(f"workflow {request.workflow} disappeared from {request.repository}", "ConfigurationError")
        self._raise_for_status(response, "listing workflow runs")
        return next((run for run in response.body.get("workflow_runs", []) if run_matches(run, correlation_id)), None)

    def get_run(self, repository: str, run_id: int) -> dict[str, Any]:
        response = self._request("GET", f"/repos/{repository}/actions/runs/{run_id}")
        if response.status == 404:
            raise JobFailure(f"workflow run {run_id} in {repository} no longer exists (deleted?)")
        self._raise_for_status(response, f"reading workflow run {run_id}")
        return response.body

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
        detail = response.body.get("message", "") if isinstance(response.body, dict) else ""
        raise JobFailure(f"GitHub answered {response.status} while {doing}: {detail}")

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Response:
        """One call, retried for 5xx, network errors and short rate limits; other answers are returned."""
        attempts = max(1, self.settings.http_max_attempts)
        problem = ""
        for attempt in range(attempts):
            try:
                response = self._send(method, path, body)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                problem = f"{method} {path.split('?')[0]}: {error}"
                wait = self.settings.http_backoff_seconds * (2**attempt)
            else:
                rate_limit_wait = self._rate_limit_wait(response)
                if rate_limit_wait is not None:
                    problem = f"rate limited for {rate_limit_wait:.0f}s"
                    if rate_limit_wait > self.settings.max_rate_limit_wait_seconds:
                        raise GitHubUnavailable(problem)
                    wait = rate_limit_wait
                elif response.status >= 500:
                    problem = f"{method} {path.split('?')[0]} answered {response.status}"
                    wait = self.settings.http_backoff_seconds * (2**attempt)
                else:
                    return response
            if attempt + 1 < attempts:
                self.sleep(wait)
        raise GitHubUnavailable(f"{problem} (after {attempts} attempts)")

    def _rate_limit_wait(self, response: Response) -> float | None:
        if response.status not in (403, 429):
            return None
        headers = response.headers
        if headers.get("retry-after"):
            return max(0.0, float(headers["retry-after"]))
        if headers.get("x-ratelimit-remaining") == "0":
            reset = float(headers.get("x-ratelimit-reset") or 0)
            return max(0.0, reset - self.clock())
        if response.status == 429:
            return 60.0
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


def run_matches(run: dict[str, Any], correlation_id: str) -> bool:
    """A run is ours when its run name carries the bracketed correlation id (the templates' ``run-name``)."""
    marker = f"[{correlation_id}]"
    return marker in (run.get("display_title") or "") or marker in (run.get("name") or "")


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in (headers or {}).items()}


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return {"message": raw[:200].decode(errors="replace")}


# ---------------------------------------------------------------------------------------------- the job


@dataclass
class Dependencies:
    """The clients one invocation uses; tests hand in stubbed or moto-backed ones."""

    settings: Settings
    codepipeline: Any
    secrets: Any
    dynamodb: Any
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    @classmethod
    def from_environment(cls, codepipeline: Any) -> Dependencies:
        return cls(
            settings=Settings.from_environment(),
            codepipeline=codepipeline,
            secrets=boto3.client("secretsmanager"),
            dynamodb=boto3.client("dynamodb"),
        )


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
    claim = _claim(job_id, correlation_id, deps)
    if claim is not None:
        return _duplicate(claim, deps)
    ref = request.ref or github.default_branch(request.repository)
    dispatched_at = datetime.fromtimestamp(deps.clock(), UTC).isoformat()
    try:
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
    outcome = Continue(state, f"dispatched {request.label} on {ref} as {correlation_id}")
    _record_dispatch(job_id, outcome, deps)
    return outcome


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


# ---------------------------------------------------------------------------------------------- idempotency


def _claim(job_id: str, correlation_id: str, deps: Dependencies) -> dict[str, Any] | None:
    """Claim the job for this invocation; returns the existing claim when another delivery got there first."""
    now = int(deps.clock())
    try:
        deps.dynamodb.put_item(
            TableName=deps.settings.claims_table,
            Item={
                "jobId": {"S": job_id},
                "state": {"S": "dispatching"},
                "correlationId": {"S": correlation_id},
                "claimedAt": {"N": str(now)},
                "expiresAt": {"N": str(now + 7 * 24 * 3600)},
            },
            ConditionExpression="attribute_not_exists(jobId)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        item = deps.dynamodb.get_item(
            TableName=deps.settings.claims_table, Key={"jobId": {"S": job_id}}, ConsistentRead=True
        )
        return item.get("Item") or {}
    return None


def _record_dispatch(job_id: str, outcome: Continue, deps: Dependencies) -> None:
    deps.dynamodb.update_item(
        TableName=deps.settings.claims_table,
        Key={"jobId": {"S": job_id}},
        UpdateExpression="SET #state = :dispatched, #token = :token, summary = :summary",
        ExpressionAttributeNames={"#state": "state", "#token": "token"},
        ExpressionAttributeValues={
            ":dispatched": {"S": "dispatched"},
            ":token": {"S": json.dumps(outcome.state)},
            ":summary": {"S": outcome.summary},
        },
    )


def _duplicate(claim: dict[str, Any], deps: Dependencies) -> Outcome:
    """A second delivery of a job: never dispatch again, answer only where the first one cannot."""
    if claim.get("state", {}).get("S") == "dispatched":
        # The first delivery dispatched; repeating its answer is harmless (CodePipeline refuses a second one).
        return Continue(json.loads(claim["token"]["S"]), claim["summary"]["S"])
    claimed_at = int(claim.get("claimedAt", {}).get("N", "0"))
    if deps.clock() - claimed_at < deps.settings.claim_lease_seconds:
        return NoAnswer("another delivery of this job is dispatching it")
    # The first delivery died between claiming and recording: look for a run it may have started.
    state = {
        "v": TOKEN_VERSION,
        "phase": "find",
        "correlation_id": claim["correlationId"]["S"],
        "dispatched_at": datetime.fromtimestamp(claimed_at, UTC).isoformat(),
        "polls": 0,
    }
    return Continue(state, "an earlier delivery stopped after claiming this job; looking for its run")


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
