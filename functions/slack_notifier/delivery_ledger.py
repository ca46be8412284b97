"""Act once per event, even when the event is delivered twice, without losing it when acting fails.

SNS and EventBridge deliver at least once, and Lambda retries failed async
invocations, so the same message can reach a function more than once. A
function claims the event's id with a conditional write in a small DynamoDB
table before acting:

- a fresh id, a released one, or a claim whose lease ran out (its holder
  crashed), is claimed;
- a completed id, or one another invocation holds right now, is a duplicate;
- when acting fails, the claim is released and the error re-raised, so the
  retry (or the dead-letter queue) still has the event.

A claim's lease lasts as long as the invocation that holds it, and never as
long as a minute (``invocation_lease``): an invocation that dies — killed at
its timeout, or out of memory seconds after it claimed — cannot release its
claim, and Lambda's retry of it, a minute after it died, must find the claim
expired, or the retry would answer "duplicate" and the event would be lost —
not even dead-lettered. A function whose timeout is at most
``LONGEST_COVERED_INVOCATION_SECONDS`` has both: its claim holds for the
whole invocation and ends before the retry.

An attempt may leave ``notes`` on its claim before it fails (the rollback
reporter records the rollback it started); the next claim returns them, so a
retry after a Slack outage reports that rollback instead of starting a second
one. Records expire through the table's TTL (``expires_at``). Shared like
``slack_client``: vendored into each function package that needs it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PENDING, DONE, RELEASED = "pending", "done", "released"
FIRST_RETRY_DELAY_SECONDS = 60
"""Lambda developer guide, "How Lambda handles errors and retries with asynchronous invocation": after a function
error — a timeout included — Lambda waits one minute before the first retry (two before the second)."""
CLOCK_SKEW_SECONDS = 2
"""Slack for the clocks of two Lambda hosts; far below the one-minute wait, so a lease still ends before the retry."""
WHOLE_SECONDS_ROUNDING = 2
"""The ledger stores whole seconds: a lease end is rounded up and "now" down, each by up to a second."""
LONGEST_LEASE_SECONDS = FIRST_RETRY_DELAY_SECONDS - CLOCK_SKEW_SECONDS - WHOLE_SECONDS_ROUNDING
"""No claim outlives this: the holder may die the moment after it claimed, and its retry, a minute later, read on
a clock up to ``CLOCK_SKEW_SECONDS`` behind and rounded down, must still find the lease over."""
LONGEST_COVERED_INVOCATION_SECONDS = LONGEST_LEASE_SECONDS - CLOCK_SKEW_SECONDS
"""A function timeout up to this keeps the whole invocation inside its claim (a copy that arrives while it works
is a duplicate); with a longer one, a copy arriving after ``LONGEST_LEASE_SECONDS`` may be acted on again."""
LEASE_WITHOUT_DEADLINE_SECONDS = FIRST_RETRY_DELAY_SECONDS - 10
"""When nothing says how long the holder may run (no Lambda context): end before a retry could come."""


@dataclass(frozen=True)
class Claim:
    """This invocation holds the event; ``notes`` is what an earlier, failed attempt recorded (usually empty)."""

    notes: Mapping[str, str] = field(default_factory=dict)


def invocation_lease(context: Any) -> Callable[[], float]:
    """How long a claim made now may hold the event: until this invocation's own timeout (plus clock skew), and
    at most ``LONGEST_LEASE_SECONDS``.

    ``context`` is the Lambda context; its ``get_remaining_time_in_millis()`` is
    the time left before Lambda ends the invocation. A copy of the event that
    arrives while the invocation may still be working is a duplicate. Lambda's
    retry comes a minute after the invocation failed — at its timeout, or
    earlier when the process died without releasing (out of memory, or the
    release itself failing; an exception in the work releases) — so the lease
    never lasts a minute: the retry always finds it over and does the work.
    Without a context (a local run), the lease ends before a retry could come.
    """
    remaining_millis = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining_millis):
        return lambda: LEASE_WITHOUT_DEADLINE_SECONDS
    return lambda: min(max(0, remaining_millis()) / 1000 + CLOCK_SKEW_SECONDS, LONGEST_LEASE_SECONDS)


def news_thread_key(pipeline: str, execution: str) -> str:
    """Where release news keeps the Slack message an execution's later messages (its failure digest) reply to."""
    return f"news-thread#{pipeline}#{execution}"


class DeliveryLedger:
    def __init__(
        self,
        table_name: str,
        dynamodb_client: Any,
        *,
        lease_seconds: float | Callable[[], float] = LEASE_WITHOUT_DEADLINE_SECONDS,
        keep_seconds: int = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``lease_seconds``: a number, or (from ``invocation_lease``) what is left of the invocation at each claim."""
        self._table, self._client = table_name, dynamodb_client
        self._lease = lease_seconds if callable(lease_seconds) else lambda: float(lease_seconds)
        self._keep, self._clock = keep_seconds, clock

    def claim(self, event_key: str) -> Claim | None:
        """A ``Claim`` when this invocation should act on the event; ``None`` for a duplicate."""
        moment = self._clock()
        now, lease_until = int(moment), math.ceil(moment + self._lease())
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": event_key}},
                UpdateExpression="SET #state = :pending, lease_until = :lease, expires_at = :expires",
                ConditionExpression=(
                    "attribute_not_exists(pk) OR #state = :released OR (#state = :pending AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":pending": {"S": PENDING},
                    ":released": {"S": RELEASED},
                    ":now": {"N": str(now)},
                    ":lease": {"N": str(lease_until)},
                    ":expires": {"N": str(now + self._keep)},
                },
                ReturnValues="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        notes = answer.get("Attributes", {}).get("notes", {}).get("M", {})
        return Claim({name: value["S"] for name, value in notes.items()})

    def note(self, event_key: str, **notes: str) -> None:
        """Record what this attempt did (replacing earlier notes), before anything that may still fail."""
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": event_key}},
            UpdateExpression="SET notes = :notes",
            ExpressionAttributeValues={":notes": {"M": {name: {"S": value} for name, value in notes.items()}}},
        )

    def complete(self, event_key: str) -> None:
        self._set_state(event_key, DONE)

    def release(self, event_key: str) -> None:
        """Give up a claim whose action failed, so the retry acts again (and finds the notes)."""
        self._set_state(event_key, RELEASED)

    def remember(self, key: str, **facts: str) -> bool:
        """Keep ``facts`` under ``key`` unless something is kept there already; True when these were kept.

        For facts another function looks up later, where the first writer wins: the
        release-news message an execution's later messages thread under. Kept as
        long as a claim, through the same TTL.
        """
        now = int(self._clock())
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET facts = :facts, expires_at = :expires",
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeValues={
                    ":facts": {"M": {name: {"S": value} for name, value in facts.items()}},
                    ":expires": {"N": str(now + self._keep)},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def recall(self, key: str) -> dict[str, str]:
        """What ``remember`` kept under ``key``; empty when nothing was (or it expired and TTL has not swept it yet)."""
        item = self._client.get_item(TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        if not item or int(item.get("expires_at", {}).get("N", "0")) < int(self._clock()):
            return {}
        return {name: value["S"] for name, value in item.get("facts", {}).get("M", {}).items() if "S" in value}

    def _set_state(self, event_key: str, state: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": event_key}},
            UpdateExpression="SET #state = :state",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":state": {"S": state}},
        )
