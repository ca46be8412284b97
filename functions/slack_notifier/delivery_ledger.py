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

An attempt may leave ``notes`` on its claim before it fails (the rollback
reporter records the rollback it started); the next claim returns them, so a
retry after a Slack outage reports that rollback instead of starting a second
one. Records expire through the table's TTL (``expires_at``). Shared like
``slack_client``: vendored into each function package that needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PENDING, DONE, RELEASED = "pending", "done", "released"


@dataclass(frozen=True)
class Claim:
    """This invocation holds the event; ``notes`` is what an earlier, failed attempt recorded (usually empty)."""

    notes: Mapping[str, str] = field(default_factory=dict)


class DeliveryLedger:
    def __init__(
        self,
        table_name: str,
        dynamodb_client: Any,
        *,
        lease_seconds: int = 300,
        keep_seconds: int = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table, self._client = table_name, dynamodb_client
        self._lease, self._keep, self._clock = lease_seconds, keep_seconds, clock

    def claim(self, event_key: str) -> Claim | None:
        """A ``Claim`` when this invocation should act on the event; ``None`` for a duplicate."""
        now = int(self._clock())
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
                    ":lease": {"N": str(now + self._lease)},
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

    def _set_state(self, event_key: str, state: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": event_key}},
            UpdateExpression="SET #state = :state",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":state": {"S": state}},
        )
