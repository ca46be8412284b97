"""The deployment ledger: one DynamoDB table that says, per service and environment, what is deploying and how it went.

Items (partition ``pk``, sort ``sk``):

- ``<service>#<env>`` / ``STATE``: the current picture the gate reads —
  ``release_state`` (``IN_PROGRESS`` or the last execution's final state),
  ``deploy_state`` (the Deploy stage: ``STARTED``, ``SUCCEEDED``, ``FAILED``,
  ``HELD`` when the gate kept it out), the executions they belong to, and
  ``last_deployed_at``.
- ``<service>#<env>`` / ``EXEC#<execution-id>``: one execution — trigger,
  start and end times, and every event seen, in arrival order.
- ``<service>#<env>`` / ``SEEN#…`` and ``ACTION#…``: idempotency markers
  (expire after ``marker_ttl_days``). A duplicated or replayed event finds its
  marker and starts nothing twice.
- ``HOLDS`` / ``<env>#<service>``: a deploy the gate held back — what it waits
  for, since when, and whether it was restarted, released or aborted.

EventBridge delivers at least once and in no guaranteed order, so ``STATE`` is
only ever moved forward: each update carries an order key (event time, then
the rank of the state) and is a conditional write that loses to newer news.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .aws import Aws
from .retry import error_code

IN_PROGRESS = "IN_PROGRESS"
HELD = "HELD"
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "CANCELED", "SUPERSEDED"})
IN_FLIGHT_STATES = frozenset({"STARTED", "RESUMED", "STOPPING"})
_RANK = {"QUEUED": 0, "STARTED": 1, "RESUMED": 2, "STOPPING": 3}
HOLDS_PARTITION = "HOLDS"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def order_key(time: str, state: str) -> str:
    """Sortable position of an event: its time, then how late in a run the state comes (ties at one second)."""
    return f"{time}#{_RANK.get(state, 9)}"


def partition(service: str, environment: str) -> str:
    return f"{service}#{environment}"


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class Ledger:
    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.table = aws.settings.ledger_table

    # -- idempotency -------------------------------------------------------------------------------------------
    def claim(self, pk: str, sk: str, now: datetime) -> bool:
        """True the first time a marker is written; False when it was already there (a duplicate)."""
        expires = int((now + timedelta(days=self.aws.settings.marker_ttl_days)).timestamp())
        try:
            self.aws.call(
                "dynamodb",
                "put_item",
                TableName=self.table,
                Item=_item({"pk": pk, "sk": sk, "claimed_at": _iso(now), "expires_at": expires}),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, pk: str, sk: str) -> None:
        """Forget a marker, so a retry of an event whose handling failed is not taken for a duplicate."""
        self.aws.call("dynamodb", "delete_item", TableName=self.table, Key=_item({"pk": pk, "sk": sk}))

    # -- executions and state ----------------------------------------------------------------------------------
    def record_event(
        self, service: str, environment: str, execution: str, scope: str, state: str, time: str, trigger: str | None
    ) -> None:
        """Append one event to its execution's record; start and end times are kept from the events themselves."""
        names = {"#events": "events"}
        values: dict[str, Any] = {":event": [f"{time} {scope} {state}"], ":empty": [], ":time": time}
        updates = ["#events = list_append(if_not_exists(#events, :empty), :event)", "updated_at = :time"]
        if trigger:
            updates.append("trigger_type = if_not_exists(trigger_type, :trigger)")
            values[":trigger"] = trigger
        if scope == "PIPELINE" and state == "STARTED":
            updates.append("started_at = :time")
        if scope == "PIPELINE" and state in TERMINAL_STATES:
            updates.append("ended_at = :time, final_state = :state")
            values[":state"] = state
        self.aws.call(
            "dynamodb",
            "update_item",
            TableName=self.table,
            Key=_item({"pk": partition(service, environment), "sk": f"EXEC#{execution}"}),
            UpdateExpression="SET " + ", ".join(updates),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_values(values),
        )

    def advance(
        self, service: str, environment: str, facet: str, execution: str, state: str, order: str, **extra: Any
    ) -> bool:
        """Move ``<facet>_state`` (``release`` or ``deploy``) forward; False when newer news is already recorded.

        A run that starts may replace any older picture. A run that ends may replace
        the picture of its own run, or of a run that already ended earlier — never
        a newer run that is still in flight (a superseded run ends after its
        successor started).
        """
        in_flight = state in IN_FLIGHT_STATES or state == IN_PROGRESS
        stored_state = IN_PROGRESS if facet == "release" and in_flight else state
        values = {":state": stored_state, ":execution": execution, ":order": order}
        names = {"#state": f"{facet}_state", "#execution": f"{facet}_execution", "#order": f"{facet}_order"}
        sets = ["#state = :state", "#execution = :execution", "#order = :order"]
        for index, (key, value) in enumerate(sorted(extra.items())):
            names[f"#x{index}"] = key
            values[f":x{index}"] = value
            sets.append(f"#x{index} = :x{index}")
        if in_flight:
            condition = "attribute_not_exists(#order) OR #order < :order"
        else:
            condition = (
                "attribute_not_exists(#order) OR "
                "(#order < :order AND (#execution = :execution OR NOT #state IN (:in_progress, :started)))"
            )
            values[":in_progress"], values[":started"] = IN_PROGRESS, "STARTED"
        try:
            self.aws.call(
                "dynamodb",
                "update_item",
                TableName=self.table,
                Key=_item({"pk": partition(service, environment), "sk": "STATE"}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_values(values),
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def state(self, service: str, environment: str) -> dict[str, Any]:
        answer = self.aws.call(
            "dynamodb",
            "get_item",
            TableName=self.table,
            Key=_item({"pk": partition(service, environment), "sk": "STATE"}),
            ConsistentRead=True,
        )
        return _plain(answer.get("Item", {}))

    def execution(self, service: str, environment: str, execution: str) -> dict[str, Any]:
        answer = self.aws.call(
            "dynamodb",
            "get_item",
            TableName=self.table,
            Key=_item({"pk": partition(service, environment), "sk": f"EXEC#{execution}"}),
            ConsistentRead=True,
        )
        return _plain(answer.get("Item", {}))

    # -- holds -------------------------------------------------------------------------------------------------
    def hold(self, service: str, environment: str) -> dict[str, Any] | None:
        answer = self.aws.call(
            "dynamodb",
            "get_item",
            TableName=self.table,
            Key=_item({"pk": HOLDS_PARTITION, "sk": f"{environment}#{service}"}),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return _plain(item) if item else None

    def holds(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": _values({":pk": HOLDS_PARTITION}),
            "ConsistentRead": True,
        }
        while True:
            answer = self.aws.call("dynamodb", "query", **kwargs)
            items += [_plain(item) for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                return items
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def put_hold(self, service: str, environment: str, reason: str, execution: str | None, now: datetime) -> None:
        """Record that the gate held a deploy back; a deploy already waiting keeps its original start time.

        The execution is the one the gate knows of (None when the job did not say);
        an older execution id is never carried over, so a late event of that older
        run is not mistaken for this hold.
        """
        current = self.hold(service, environment)
        waiting = current is not None and current.get("status") in (HELD, "RESTARTED")
        held_since = current["held_since"] if waiting and current else _iso(now)
        self.aws.call(
            "dynamodb",
            "put_item",
            TableName=self.table,
            Item=_item(
                {
                    "pk": HOLDS_PARTITION,
                    "sk": f"{environment}#{service}",
                    "service": service,
                    "environment": environment,
                    "status": HELD,
                    "reason": reason,
                    "execution_id": execution,
                    "held_since": held_since,
                    "updated_at": _iso(now),
                }
            ),
        )

    def update_hold(
        self, service: str, environment: str, expected_status: str, status: str | None, now: datetime, **attrs: Any
    ) -> bool:
        """Change a hold only if it is still in ``expected_status`` (so two events never restart it twice)."""
        values: dict[str, Any] = {":expected": expected_status, ":now": _iso(now)}
        names = {"#status": "status"}
        sets = ["updated_at = :now"]
        if status:
            sets.append("#status = :status")
            values[":status"] = status
        for index, (key, value) in enumerate(sorted(attrs.items())):
            names[f"#a{index}"] = key
            values[f":a{index}"] = value
            sets.append(f"#a{index} = :a{index}")
        try:
            self.aws.call(
                "dynamodb",
                "update_item",
                TableName=self.table,
                Key=_item({"pk": HOLDS_PARTITION, "sk": f"{environment}#{service}"}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_values(values),
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(moment: datetime) -> str:
    return _iso(moment)


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
