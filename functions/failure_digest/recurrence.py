""" "Same failure as last time": a fingerprint of what failed, and the service's previous one, kept in the ledger.

Two failures are the same when the same stage and action failed with the same
error lines once everything that changes from run to run is taken out: numbers
(timestamps, durations, line numbers, build numbers, ports), hex ids and UUIDs,
CodeBuild's per-build source directory. What stays (the tool, the file, the
test, the words of the error) is hashed. The fingerprint says nothing to a
reader; the hint says "same as the failure of <execution> in <environment>".

One record per service in the delivery ledger table (``recurrence#<service>``),
holding its latest failure. Failures arrive in any order and more than once:
the record is replaced only by a failure that happened later (a conditional
write on its time), and the digest of a retried event compares with what the
first attempt found (the handler notes it on its claim), never with itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KEEP_DAYS = 90
VOLATILE = (
    re.compile(r"/codebuild/output/src\d+/"),
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE),
    re.compile(r"\b[0-9a-f]{7,64}\b", re.IGNORECASE),
    re.compile(r"\d+(\.\d+)?"),
)


def fingerprint(stage: str, action: str, toolchain: str, lines: Sequence[str]) -> str:
    normalised = [_normalise(line) for line in lines]
    material = "\x1f".join([stage, action, toolchain, *[line for line in normalised if line]])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _normalise(line: str) -> str:
    for pattern in VOLATILE:
        line = pattern.sub("#", line)
    return " ".join(line.split())


@dataclass(frozen=True)
class Failure:
    fingerprint: str
    execution: str
    environment: str
    at: int
    """Epoch seconds of the failure (the event's time), which orders failures, not their arrival."""


class FailureMemory:
    """The latest failure of each service, in the ledger table (``recurrence#<service>``)."""

    def __init__(self, table: str, dynamodb: Any) -> None:
        self._table, self._client = table, dynamodb

    def previous(self, service: str) -> Failure | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": f"recurrence#{service}"}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        try:
            return Failure(
                item["fingerprint"]["S"], item["execution"]["S"], item["environment"]["S"], int(item["at"]["N"])
            )
        except (KeyError, ValueError):
            return None

    def record(self, service: str, failure: Failure) -> bool:
        """Keep ``failure`` as the service's latest unless a later one is kept already; True when kept."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"recurrence#{service}"},
                    "fingerprint": {"S": failure.fingerprint},
                    "execution": {"S": failure.execution},
                    "environment": {"S": failure.environment},
                    "at": {"N": str(failure.at)},
                    "expires_at": {"N": str(failure.at + KEEP_DAYS * 24 * 3600)},
                },
                ConditionExpression="attribute_not_exists(pk) OR #at < :at",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":at": {"N": str(failure.at)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
