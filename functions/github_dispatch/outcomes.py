"""The answers one delivery can give a CodePipeline job, and the failures that lead to one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TOKEN_VERSION = 1
"""Version of the continuation token's JSON; a token of another version fails the job."""
SUCCESS_CONCLUSION = "success"


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


def conclude(label: str, run: dict[str, Any], run_url: str, note: str = "") -> Succeeded | Failed:
    """The answer for a completed run: its conclusion becomes the action's result."""
    run_id, url = int(run["id"]), run.get("html_url") or run_url
    conclusion = run.get("conclusion") or "unknown"
    if conclusion == SUCCESS_CONCLUSION:
        return Succeeded(run_id, url, f"GitHub Actions deployed {label}{note}: {url}")
    return Failed(f"the GitHub Actions run for {label} ended {conclusion}{note}: {url}", run_id=run_id)


class JobFailure(Exception):  # noqa: N818 - it is the job's failure, not an error of this code
    """Ends the job with a failure CodePipeline shows to people."""

    def __init__(self, message: str, failure_type: str = "JobFailed") -> None:
        super().__init__(message)
        self.message = message
        self.failure_type = failure_type


class RunGone(JobFailure):
    """GitHub no longer knows the run (404: deleted): there is nothing left to follow or to cancel."""


class GitHubUnavailable(Exception):  # noqa: N818 - a state of GitHub, reported as such
    """GitHub kept answering 5xx, timing out or rate limiting past the retry budget."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds GitHub asked us to wait before the next request (a rate limit), when it said."""
