"""Once-only handling of events: a DynamoDB item per event, claimed with a conditional write.

EventBridge delivers at least once, Lambda retries failed async invocations,
and one alarm transition can arrive twice. Each event has a content key (the
alarm and its transition time, the deployment and its state, the execution and
its failed action). Claiming it is a conditional update that succeeds only
when nobody has finished it, nobody is working on it right now (a lease), or
the last attempt failed. What an attempt already did (a rollback it started)
is recorded on the item, so a retry after a Slack outage reports that
rollback instead of starting a second one. Items expire through DynamoDB TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

PENDING, DONE, FAILED = "PENDING", "DONE", "FAILED"


class Ledger:
    def __init__(
        self,
        client: Any,
        table: str,
        *,
        ttl_days: int = 7,
        lease_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.table = table
        self.ttl_seconds = ttl_days * 86400
        self.lease_seconds = lease_seconds
        self.clock = clock

    def claim(self, key: str) -> dict[str, str] | None:
        """Take the event; ``None`` when it is done or being handled. Returns what earlier attempts recorded."""
        now = int(self.clock())
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={"event_key": {"S": key}},
                UpdateExpression="SET #status = :pending, claimed_at = :now, expires_at = :expires",
                ConditionExpression=(
                    "attribute_not_exists(event_key) OR #status = :failed "
                    "OR (#status = :pending AND claimed_at < :stale)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": PENDING},
                    ":failed": {"S": FAILED},
                    ":now": {"N": str(now)},
                    ":stale": {"N": str(now - self.lease_seconds)},
                    ":expires": {"N": str(now + self.ttl_seconds)},
                },
                ReturnValues="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return {name: next(iter(value.values())) for name, value in answer.get("Attributes", {}).items()}

    def record(self, key: str, **fields: str) -> None:
        """Remember what this attempt did (for example the rollback execution it started)."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": {"S": value} for i, value in enumerate(fields.values())}
        self.client.update_item(
            TableName=self.table,
            Key={"event_key": {"S": key}},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def complete(self, key: str) -> None:
        self._set_status(key, DONE)

    def release(self, key: str) -> None:
        """The attempt failed: the next delivery may claim the event again."""
        self._set_status(key, FAILED)

    def _set_status(self, key: str, status: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"event_key": {"S": key}},
            UpdateExpression="SET #status = :status",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": {"S": status}},
        )
