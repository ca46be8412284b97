"""The deployment ledger: one DynamoDB table that says, per service and environment, what is deploying and how it went.

Items (partition ``pk``, sort ``sk``):

- ``<service>#<env>`` / ``STATE``: the current picture the gate reads —
  ``release_state`` (``IN_PROGRESS`` or the last execution's final state),
  ``deploy_state`` (the Deploy stage: ``STARTED``, ``SUCCEEDED``, ``FAILED``,
  ``HELD`` when the gate kept it out), the executions they belong to, and
  ``last_deployed_at``.
- ``<service>#<env>`` / ``EXEC#<execution-id>``: one execution — trigger,
  start and end times, when it started (``run_started_at``, from the events'
  ``start-time``), and every event seen, each once.
- ``<service>#<env>`` / ``SEEN#…``, ``PUBLISHED#…``, ``ACTION#…``, ``JOB#…``:
  claims on work (expire after ``marker_ttl_days``). A claim is ``CLAIMED``
  with a lease while an invocation works on it and ``DONE`` once the work is
  done (a gate job's claim keeps its verdict). A duplicated or replayed event
  finds its claim and does nothing twice; an invocation killed mid-work leaves
  a lease that ends before Lambda's retry arrives, so the retry does the work:
  once, never zero times.
- ``HOLDS`` / ``<env>#<service>``: a deploy the gate held back — what it waits
  for, since when, and whether it was restarted, released or aborted. Every
  write of a hold raises its ``revision`` and is conditional on the revision
  it read, so a scheduled tick and an event reviewing one hold at once never
  both act on it.

EventBridge delivers at least once and in no guaranteed order, so ``STATE`` is
only ever moved forward, decided by the events themselves and never by their
arrival: a newer execution (later ``start-time``) replaces an older one's
picture, and within one execution a later event (its ``time``, then the rank
of the state) replaces an earlier one. Each update is a conditional write
that loses to newer news.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .aws import Aws
from .events import PipelineEvent, run_time
from .retry import error_code

IN_PROGRESS = "IN_PROGRESS"
HELD = "HELD"
RESTARTED = "RESTARTED"
RELEASED = "RELEASED"
ABORTED = "ABORTED"
WAITING_STATUSES = (HELD, RESTARTED)
CLAIMED = "CLAIMED"
DONE = "DONE"
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "CANCELED", "SUPERSEDED"})
IN_FLIGHT_STATES = frozenset({"STARTED", "RESUMED", "STOPPING"})
_RANK = {"QUEUED": 0, "STARTED": 1, "RESUMED": 2, "STOPPING": 3}
HOLDS_PARTITION = "HOLDS"
CLOCK_SKEW_SECONDS = 60
HOLD_WRITE_ATTEMPTS = 4
"""Reads and conditional writes of one hold before giving up (each lost race means another writer got in first)."""

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def order_key(time: str, state: str) -> str:
    """Sortable position of an event within its execution: its time, then how late in a run the state comes."""
    return f"{time}#{_RANK.get(state, 9)}"


def run_key(run_started: str, execution: str) -> str:
    """Sortable position of an execution among its pipeline's executions: when it started (ties: its id)."""
    return f"{run_started}#{execution}"


def partition(service: str, environment: str) -> str:
    return f"{service}#{environment}"


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def revision(hold: dict[str, Any] | None) -> int:
    """The revision of a hold as read (0: none yet, or written before holds had revisions)."""
    return int((hold or {}).get("revision", 0))


class Ledger:
    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.table = aws.settings.ledger_table

    # -- claims on work ----------------------------------------------------------------------------------------
    def claim(self, pk: str, sk: str, now: datetime) -> bool:
        """True when this invocation may do the work: nobody claimed it, or a claim on it lapsed unfinished.

        ``now`` is when the invocation started: its lease ends ``lease_seconds``
        after that, after the function's timeout and before Lambda's first retry.
        """
        settings = self.aws.settings
        expires = _epoch(now + timedelta(days=settings.marker_ttl_days))
        try:
            self.aws.call(
                "dynamodb",
                "put_item",
                TableName=self.table,
                Item=_item(
                    {
                        "pk": pk,
                        "sk": sk,
                        "status": CLAIMED,
                        "claimed_at": _iso(now),
                        "lease_until": _epoch(now) + settings.lease_seconds,
                        "expires_at": expires,
                    }
                ),
                # A marker without a status was written before claims had leases: it is done.
                ConditionExpression="attribute_not_exists(pk) OR (#status = :claimed AND lease_until < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_values({":claimed": CLAIMED, ":now": _epoch(now)}),
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def complete(self, pk: str, sk: str, now: datetime, **outcome: Any) -> None:
        """Mark claimed work done, keeping ``outcome`` with the claim (e.g. a gate job's verdict)."""
        names = {"#status": "status"}
        values: dict[str, Any] = {":done": DONE, ":now": _iso(now)}
        sets = ["#status = :done", "done_at = :now"]
        for index, (key, value) in enumerate(sorted(outcome.items())):
            names[f"#o{index}"], values[f":o{index}"] = key, value
            sets.append(f"#o{index} = :o{index}")
        self.aws.call(
            "dynamodb",
            "update_item",
            TableName=self.table,
            Key=_item({"pk": pk, "sk": sk}),
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE lease_until",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_values(values),
        )

    def release(self, pk: str, sk: str) -> None:
        """Give up a claim whose work failed, so the retry of the event does it at once; done work stays done."""
        try:
            self.aws.call(
                "dynamodb",
                "delete_item",
                TableName=self.table,
                Key=_item({"pk": pk, "sk": sk}),
                ConditionExpression="#status = :claimed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_values({":claimed": CLAIMED}),
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def marker(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = self.aws.call(
            "dynamodb", "get_item", TableName=self.table, Key=_item({"pk": pk, "sk": sk}), ConsistentRead=True
        )
        item = answer.get("Item")
        return _plain(item) if item else None

    # -- executions and state ----------------------------------------------------------------------------------
    def record_event(self, event: PipelineEvent) -> str | None:
        """Record one event on its execution, once however often it arrives; return when the execution started.

        The start comes from the event's ``start-time`` or, for events without one
        (a stage resumed after a retry), from an earlier event of the execution:
        its ``start-time``, else the time of its STARTED event.
        """
        entry = f"{event.time} {event.scope} {event.state}"
        names = {"#events": "events"}
        values: dict[str, Any] = {":event": [entry], ":entry": entry, ":empty": [], ":time": event.time}
        updates = ["#events = list_append(if_not_exists(#events, :empty), :event)", "updated_at = :time"]
        if event.trigger:
            updates.append("trigger_type = if_not_exists(trigger_type, :trigger)")
            values[":trigger"] = event.trigger
        if event.run_started:
            updates.append("run_started_at = :run")
            values[":run"] = event.run_started
        if event.scope == "PIPELINE" and event.state == "STARTED":
            updates.append("started_at = :time")
        if event.scope == "PIPELINE" and event.state in TERMINAL_STATES:
            updates.append("ended_at = :time, final_state = :state")
            values[":state"] = event.state
        key = _item({"pk": partition(event.service, event.environment), "sk": f"EXEC#{event.execution}"})
        try:
            answer = self.aws.call(
                "dynamodb",
                "update_item",
                TableName=self.table,
                Key=key,
                UpdateExpression="SET " + ", ".join(updates),
                # DynamoDB's contains() on a list tests for an element (Developer Guide, condition expressions).
                ConditionExpression="attribute_not_exists(#events) OR NOT contains(#events, :entry)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_values(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            item = answer.get("Attributes", {})
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            item = error.response.get("Item") or self.aws.call(
                "dynamodb", "get_item", TableName=self.table, Key=key, ConsistentRead=True
            ).get("Item", {})
        recorded = _plain(item)
        if recorded.get("run_started_at"):
            return str(recorded["run_started_at"])
        # No event of the execution gave its start-time: its STARTED event's time is the next best thing.
        return run_time(parse_iso(str(recorded["started_at"]))) if recorded.get("started_at") else None

    def advance(
        self,
        service: str,
        environment: str,
        facet: str,
        execution: str,
        state: str,
        order: str,
        run: str,
        **extra: Any,
    ) -> bool:
        """Move ``<facet>_state`` (``release`` or ``deploy``) forward; False when newer news is already recorded.

        ``run`` (``run_key``) places the execution among its pipeline's
        executions, ``order`` (``order_key``) places the event within its
        execution. The picture of an execution moves forward within it; a newer
        execution replaces an older one's picture whatever has happened to
        either, so an older run's end arriving late never hides a newer run.
        """
        in_flight = state in IN_FLIGHT_STATES or state == IN_PROGRESS
        stored_state = IN_PROGRESS if facet == "release" and in_flight else state
        values = {":state": stored_state, ":execution": execution, ":order": order, ":run": run}
        names = {
            "#state": f"{facet}_state",
            "#execution": f"{facet}_execution",
            "#order": f"{facet}_order",
            "#run": f"{facet}_run",
        }
        sets = ["#state = :state", "#execution = :execution", "#order = :order", "#run = :run"]
        for index, (key, value) in enumerate(sorted(extra.items())):
            names[f"#x{index}"] = key
            values[f":x{index}"] = value
            sets.append(f"#x{index} = :x{index}")
        condition = (
            "attribute_not_exists(#order)"
            " OR (#execution = :execution AND #order < :order)"
            " OR (#execution <> :execution AND attribute_exists(#run) AND #run < :run)"
            # A picture recorded before runs were kept: the event's time decides, as it did then.
            " OR (#execution <> :execution AND attribute_not_exists(#run) AND #order < :order)"
        )
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
        """Record that the gate held a deploy back.

        A hold measures how long *one deploy* has waited. It keeps its
        ``held_since`` only when the gate holds that same deploy again: the
        execution it was recorded for, or the one the coordinator restarted it
        as. A new deploy waits from now, whatever older hold is still marked
        held or restarted (a restarted deploy may never come back to the gate).
        When the gate does not know the execution, the hold starts now and
        remembers the older wait; the coordinator restores that start if the
        stage's FAILED event shows it is the same deploy (``learn_execution``).
        """
        for _ in range(HOLD_WRITE_ATTEMPTS):
            current = self.hold(service, environment)
            item = _held(current, service, environment, reason, execution, now)
            try:
                self.aws.call("dynamodb", "put_item", TableName=self.table, Item=_item(item), **_same_revision(current))
                return
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
        raise RuntimeError(f"the hold of {service} in {environment} kept changing while the gate recorded it")

    def learn_execution(self, service: str, environment: str, execution: str, failed_at: str, now: datetime) -> bool:
        """Note which execution a hold is about, once the stage's FAILED event names it; True when noted.

        Only a stage that failed after the gate held it (``failed_at``, the
        event's time, not before ``held_at`` less a minute of clock skew) can be
        the held one: a late FAILED event of an older deploy names another.
        """
        for _ in range(HOLD_WRITE_ATTEMPTS):
            hold = self.hold(service, environment)
            if hold is None or hold.get("status") not in WAITING_STATUSES or hold.get("execution_id"):
                return False
            held_at = parse_iso(str(hold.get("held_at") or hold["held_since"]))
            if parse_iso(failed_at) < held_at - timedelta(seconds=CLOCK_SKEW_SECONDS):
                return False
            attrs: dict[str, Any] = {"execution_id": execution}
            if execution in hold.get("waiting_executions", []) and hold.get("waiting_since"):
                attrs["held_since"] = hold["waiting_since"]  # the same deploy, held again: it waits since then
            if self.update_hold(
                service,
                environment,
                str(hold["status"]),
                None,
                now,
                expected_revision=revision(hold),
                remove=("waiting_since", "waiting_executions"),
                **attrs,
            ):
                return True
        return False

    def update_hold(
        self,
        service: str,
        environment: str,
        expected_status: str,
        status: str | None,
        now: datetime,
        *,
        expected_revision: int | None = None,
        remove: tuple[str, ...] = (),
        **attrs: Any,
    ) -> bool:
        """Change a hold only if it is still in ``expected_status`` (and, if given, still at ``expected_revision``).

        Every change raises the revision: a writer that read the hold before
        loses the race instead of acting on what it no longer is.
        """
        values: dict[str, Any] = {":expected": expected_status, ":now": _iso(now), ":one": 1, ":zero": 0}
        names = {"#status": "status", "#revision": "revision"}
        sets = ["updated_at = :now", "#revision = if_not_exists(#revision, :zero) + :one"]
        condition = "#status = :expected"
        if expected_revision is not None:
            if expected_revision:
                condition += " AND #revision = :revision"
                values[":revision"] = expected_revision
            else:
                condition += " AND attribute_not_exists(#revision)"
        if status:
            sets.append("#status = :status")
            values[":status"] = status
        for index, (key, value) in enumerate(sorted(attrs.items())):
            if value is None:
                continue
            names[f"#a{index}"] = key
            values[f":a{index}"] = value
            sets.append(f"#a{index} = :a{index}")
        removed = [f"#r{index}" for index in range(len(remove))]
        names.update({f"#r{index}": key for index, key in enumerate(remove)})
        try:
            self.aws.call(
                "dynamodb",
                "update_item",
                TableName=self.table,
                Key=_item({"pk": HOLDS_PARTITION, "sk": f"{environment}#{service}"}),
                UpdateExpression="SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removed) if removed else ""),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_values(values),
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _held(
    current: dict[str, Any] | None, service: str, environment: str, reason: str, execution: str | None, now: datetime
) -> dict[str, Any]:
    """The hold item the gate writes, given the hold it read."""
    waiting = current is not None and current.get("status") in WAITING_STATUSES
    known = sorted({current.get("execution_id"), current.get("restarted_execution")} - {None, ""}) if current else []
    same_deploy = waiting and execution is not None and execution in known
    item: dict[str, Any] = {
        "pk": HOLDS_PARTITION,
        "sk": f"{environment}#{service}",
        "service": service,
        "environment": environment,
        "status": HELD,
        "reason": reason,
        "execution_id": execution,
        "held_since": current["held_since"] if same_deploy and current else _iso(now),
        "held_at": _iso(now),
        "restarts": int(current.get("restarts", 0)) if same_deploy and current else 0,
        "updated_at": _iso(now),
        "revision": revision(current) + 1,
    }
    if waiting and execution is None and known and current:
        item["waiting_since"] = current["held_since"]
        item["waiting_executions"] = known
    return item


def _same_revision(current: dict[str, Any] | None) -> dict[str, Any]:
    """The condition (as ``put_item`` arguments) that the hold is still as it was read."""
    if current is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    names = {"#revision": "revision"}
    if not revision(current):
        return {
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#revision)",
            "ExpressionAttributeNames": names,
        }
    return {
        "ConditionExpression": "#revision = :revision",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": _values({":revision": revision(current)}),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(moment: datetime) -> str:
    return _iso(moment)


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
