"""The recorded deployments: one DynamoDB item per Deploy stage that ended, written once, never updated.

Items (partition ``pk``, sort ``sk``):

- ``<service>#<env>`` / ``<ended-at>#<execution>#<attempt>#<state>``: the outcome (``state``
  ``SUCCEEDED`` or ``FAILED``), the execution's ``kind`` (``STANDARD`` or ``ROLLBACK``), when it
  started, whether the Deploy stage's actions ran (``deployed``), the commit and its time, and
  whether the commit is a hotfix or a revert (``remediation``); ``expires_at`` (TTL) after the
  metrics window and the failure window have passed it;
- ``commit#<service>#<env>`` / ``<commit>``: the commit's first successful deployment there (``deployment``,
  the sort key of its outcome, and ``at``), kept far longer (``expires_at``: ``REMEMBER_COMMITS_FOR``
  after it), so a redeploy of a commit that first went out before the window is still no new change.
  It is put if absent or if this deployment is earlier, so it converges on the earliest whatever
  order the outcomes arrive in; it is written before the outcome, so a retry writes both.

The sort key starts with the end time, so a window is one range query; it ends with the
execution, attempt and state, so the same outcome delivered twice is the same item. Items are put
only if absent: EventBridge delivers at least once, and a retry after a crash finds the item and
goes on to publish. The metrics are computed from what the items say, in time order, whatever
order they arrived in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

try:  # imported as a package in tests, as top-level modules in Lambda
    from .deployments import StageOutcome
    from .executions import ExecutionFacts
    from .metrics import STANDARD, SUCCEEDED, DeployFact
except ImportError:  # pragma: no cover - the Lambda runtime path
    from deployments import StageOutcome  # type: ignore[no-redef]
    from executions import ExecutionFacts  # type: ignore[no-redef]
    from metrics import STANDARD, SUCCEEDED, DeployFact  # type: ignore[no-redef]

QUERY_PAGES = 50
REMEMBER_COMMITS_FOR = timedelta(days=400)
"""How long a commit's first deployment is kept: a redeploy of the commit within it is no new change."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def partition(service: str, environment: str) -> str:
    return f"{service}#{environment}"


def sort_key(outcome: StageOutcome) -> str:
    return f"{_iso(outcome.at)}#{outcome.key}"


def commits_partition(service: str, environment: str) -> str:
    return f"commit#{service}#{environment}"


class FactStore:
    def __init__(
        self, dynamodb: Any, table: str, keep_for: timedelta, remember_commits_for: timedelta = REMEMBER_COMMITS_FOR
    ) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.keep_for = keep_for
        self.remember_commits_for = max(remember_commits_for, keep_for)

    def has(self, outcome: StageOutcome) -> bool:
        found = self.dynamodb.get_item(
            TableName=self.table,
            Key={"pk": {"S": partition(outcome.service, outcome.environment)}, "sk": {"S": sort_key(outcome)}},
            ConsistentRead=True,
        )
        return "Item" in found

    def record(self, outcome: StageOutcome, facts: ExecutionFacts) -> bool:
        """Put the outcome once; False when it was already there (a duplicate delivery or a retry).

        A successful deployment of a commit first updates the commit's first deployment there, so a crash
        between the two puts leaves the outcome absent and the retry does both."""
        if outcome.state == SUCCEEDED and facts.kind == STANDARD and facts.commit:
            self._first_deployment(outcome, facts.commit)
        item: dict[str, Any] = {
            "pk": {"S": partition(outcome.service, outcome.environment)},
            "sk": {"S": sort_key(outcome)},
            "execution": {"S": outcome.execution},
            "attempt": {"N": str(outcome.attempt)},
            "state": {"S": outcome.state},
            "at": {"S": _iso(outcome.at)},
            "kind": {"S": facts.kind},
            "deployed": {"BOOL": facts.deployed},
            "remediation": {"BOOL": facts.remediation},
            "expires_at": {"N": str(int((outcome.at + self.keep_for).timestamp()))},
        }
        if outcome.started_at is not None:
            item["started_at"] = {"S": _iso(outcome.started_at)}
        if facts.committed_at is not None:
            item["committed_at"] = {"S": _iso(facts.committed_at)}
        if facts.commit:
            item["commit"] = {"S": facts.commit}
        return self._put(item, "attribute_not_exists(pk)")

    def _first_deployment(self, outcome: StageOutcome, commit: str) -> None:
        """Make ``outcome`` the commit's first deployment there unless an earlier one is recorded."""
        deployment = sort_key(outcome)
        item = {
            "pk": {"S": commits_partition(outcome.service, outcome.environment)},
            "sk": {"S": commit},
            "deployment": {"S": deployment},
            "at": {"S": _iso(outcome.at)},
            "expires_at": {"N": str(int((outcome.at + self.remember_commits_for).timestamp()))},
        }
        self._put(
            item,
            "attribute_not_exists(pk) OR #deployment > :deployment",
            ExpressionAttributeNames={"#deployment": "deployment"},
            ExpressionAttributeValues={":deployment": {"S": deployment}},
        )

    def _put(self, item: dict[str, Any], condition: str, **expression: Any) -> bool:
        """Put ``item`` if ``condition`` holds; False when it did not."""
        try:
            self.dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression=condition, **expression)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def first_deployed(self, service: str, environment: str, commit: str) -> datetime | None:
        """When the commit first went out successfully there, as recorded (None if it is not, or no more)."""
        found = self.dynamodb.get_item(
            TableName=self.table,
            Key={"pk": {"S": commits_partition(service, environment)}, "sk": {"S": commit}},
            ConsistentRead=True,
        )
        return _parse(found.get("Item", {}).get("at", {}).get("S"))

    def since(self, service: str, environment: str, start: datetime) -> list[DeployFact]:
        """Every recorded outcome of the service there that ended at or after ``start``."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk >= :start",
            "ExpressionAttributeValues": {
                ":pk": {"S": partition(service, environment)},
                ":start": {"S": _iso(start)},
            },
        }
        facts: list[DeployFact] = []
        for _ in range(QUERY_PAGES):
            page = self.dynamodb.query(**request)
            facts += [self._fact(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return facts

    @staticmethod
    def _fact(item: dict[str, Any]) -> DeployFact:
        def text(name: str) -> str | None:
            return item[name]["S"] if name in item else None

        return DeployFact(
            execution=item["execution"]["S"],
            attempt=int(item["attempt"]["N"]),
            state=item["state"]["S"],
            at=_parse(text("at")) or datetime.min.replace(tzinfo=UTC),
            started_at=_parse(text("started_at")),
            kind=item["kind"]["S"],
            deployed=item["deployed"]["BOOL"],
            committed_at=_parse(text("committed_at")),
            remediation=item["remediation"]["BOOL"],
            commit=text("commit"),
        )
