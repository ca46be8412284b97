"""Read what a failed build logged, within a fixed budget however long the log is.

A build log can be tens of megabytes (a verbose test run, a dependency tree);
the digest must finish well inside its timeout and memory, so it never pages
through a log. It makes at most ``LogBudget.filter_calls + 1`` calls:

- the first error lines, wherever they are: ``FilterLogEvents`` on the build's
  one stream with a pattern of error words (CloudWatch Logs filter pattern
  syntax: ``?term`` matches events holding any of the terms), a bounded number
  of events per call and a bounded number of calls. CloudWatch scans a slice of
  the log per call and may answer an empty page with a ``nextToken``, which is
  why the calls, not only the events, are bounded;
- the end of the log, where builds print their summaries (pytest's short test
  summary, Maven's ``Failures:``, ``ERROR: failed to solve``): one
  ``GetLogEvents`` from the end (``startFromHead`` false) with a ``limit``.

``GetLogEvents`` answers at most 1 MB or 10,000 events per call (CloudWatch Logs
API reference); everything kept is further held to ``max_bytes`` (a quarter for the
first errors, the rest for the end), each line to ``LINE_LIMIT`` characters (less
the word the limit cuts, which may be part of a secret). An
unreadable log (deleted, no permission) is no lines, not an error: the digest
goes out without them. A refused filter call (throttling, a rejected pattern)
ends the first-error search only: the end of the log is read all the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

ERROR_WORDS = (
    "?ERROR ?Error ?error ?FAILED ?FAIL ?Failed ?failed ?FAILURE ?fatal ?Fatal ?Exception ?Traceback "
    '?"npm ERR!" ?"--- FAIL"'
)
LINE_LIMIT = 2000
"""Characters kept of one log event: a CloudWatch event may hold 256 KB on one line."""
CUT_WORD = re.compile(r"\S+$")


@dataclass(frozen=True)
class LogBudget:
    tail_events: int = 300
    filter_calls: int = 3
    filter_events: int = 50
    max_bytes: int = 256 * 1024


@dataclass(frozen=True)
class LogRead:
    """The lines read (first errors, then the end of the log, in log order), and what reading them cost."""

    lines: tuple[str, ...]
    calls: int
    bytes_read: int


def read_failure_lines(logs: Any, group: str, stream: str, budget: LogBudget = LogBudget()) -> LogRead:
    calls, size = 0, 0
    early: list[tuple[int, str]] = []
    tail: list[tuple[int, str]] = []
    try:  # a refused filter (throttled: FilterLogEvents has the lowest quota of the Logs read APIs) keeps the tail
        token: str | None = None
        # The first errors may use a quarter of the budget; the end of the log, where summaries are, the rest.
        early_bytes = budget.max_bytes // 4
        while calls < budget.filter_calls and len(early) < budget.filter_events and size < early_bytes:
            request: dict[str, Any] = {
                "logGroupName": group,
                "logStreamNames": [stream],
                "filterPattern": ERROR_WORDS,
                "limit": budget.filter_events - len(early),
            }
            if token:
                request["nextToken"] = token
            calls += 1  # a refused call is a call spent too
            page = logs.filter_log_events(**request)
            for event in page.get("events", []):
                size = _take(early, event, size)
            token = page.get("nextToken")
            if not token:
                break
    except ClientError:
        pass  # the first errors read so far still help, and the end of the log is read all the same
    try:
        calls += 1
        answer = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=False, limit=budget.tail_events
        )
        # Newest first, so a spent budget leaves out the oldest of the end, never the last lines.
        for event in reversed(answer.get("events", [])):
            if size >= budget.max_bytes:
                break
            size = _take(tail, event, size)
        tail.reverse()
    except ClientError:
        pass  # what was read so far still helps; an unreadable log is not a reason to withhold the digest
    first_tail = tail[0][0] if tail else None
    # The first errors that the end of the log does not already hold, then the end of the log.
    before = [line for stamp, line in early if first_tail is None or stamp < first_tail]
    return LogRead(tuple(before + [line for _, line in tail]), calls, size)


def _take(into: list[tuple[int, str]], event: dict[str, Any], size: int) -> int:
    message = _clipped(str(event.get("message", ""))).rstrip("\n")
    into.append((int(event.get("timestamp", 0)), message))
    return size + len(message.encode("utf-8"))


def _clipped(message: str) -> str:
    """At most ``LINE_LIMIT`` characters, without the word the limit cuts: lines are redacted after they are read,
    and a secret cut in two no longer has the shape the redaction knows it by."""
    if len(message) <= LINE_LIMIT:
        return message
    return CUT_WORD.sub("", message[:LINE_LIMIT])
