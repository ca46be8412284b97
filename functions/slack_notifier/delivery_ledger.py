"""Act once per event, even when the event is delivered twice, without losing it when acting fails.

SNS and EventBridge deliver at least once, and Lambda retries failed async
invocations, so the same message can reach a function more than once. A
function claims the event's id with a conditional write in a small DynamoDB
table before acting:

- a fresh id, or a claim whose lease ran out (its holder crashed), is claimed;
- a completed id, or one another invocation holds right now, is a duplicate;
- when acting fails, the claim is released and the error re-raised, so the
  retry (or the dead-letter queue) still has the event.

Records expire through the table's TTL (``expires_at``). Shared like
``slack_client``: vendored into each function package that needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

PENDING, DONE = "pending", "done"


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

    def claim(self, event_key: str) -> bool:
        """True when this invocation should act on the event; False for a duplicate."""
        now = int(self._clock())
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": event_key},
                    "state": {"S": PENDING},
                    "lease_until": {"N": str(now + self._lease)},
                    "expires_at": {"N": str(now + self._keep)},
                },
                ConditionExpression="attribute_not_exists(pk) OR (#state = :pending AND lease_until < :now)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":pending": {"S": PENDING}, ":now": {"N": str(now)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def complete(self, event_key: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": event_key}},
            UpdateExpression="SET #state = :done",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":done": {"S": DONE}},
        )

    def release(self, event_key: str) -> None:
        """Forget a claim whose action failed, so the retry acts again."""
        self._client.delete_item(TableName=self._table, Key={"pk": {"S": event_key}})
