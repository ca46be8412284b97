"""Every table and queue under a customer-managed key can be used by whoever AWS says uses that key.

A customer-managed key is only as good as its policy: a dead letter that
EventBridge cannot encrypt is dropped (``InvocationsFailedToBeSentToDLQ``), and a
function that cannot use its table's key fails every call. What AWS requires:

- an EventBridge target's DLQ and an SNS subscription's redrive queue are written
  by the service itself, which needs ``kms:GenerateDataKey`` and ``kms:Decrypt``
  on the queue's key (SQS developer guide, key management: compatibility between
  AWS services and encrypted queues);
- a Lambda function's DLQ is written as the function's execution role (Lambda
  developer guide, dead-letter queues), through SQS, with the same two actions;
- whoever reads or writes a DynamoDB table encrypted with a customer-managed key
  needs the key through DynamoDB (DynamoDB developer guide, encryption at rest).

For a role, both the key policy and the role's own policy must allow. Each
request is evaluated here with the context AWS gives it (``kms:ViaService``,
``kms:CallerAccount``, the SQS encryption context, ``aws:PrincipalArn``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pytest

from offline_plan.mocks import stable_uuid

TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
KEY = "aws:kms/key:Key"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
SEND_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
TABLE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")


@pytest.fixture(scope="module", params=["dev_plan", "prod_plan"])
def plan(request):
    return request.getfixturevalue(request.param)


@dataclass(frozen=True)
class Caller:
    """Who makes a KMS request through a data store, with the request context AWS sets."""

    principal: Mapping[str, str]
    """``{"Service": …}`` or ``{"AWS": role ARN}``."""
    context: Mapping[str, str]
    what: str


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                return False
            patterns = [str(item) for item in _values(expected)]
            if operator in ("StringEquals", "ArnEquals"):
                matched = actual in patterns
            elif operator in ("StringLike", "ArnLike"):
                matched = any(fnmatchcase(actual, pattern) for pattern in patterns)
            else:
                return False  # an operator this evaluator does not know is not assumed to pass
            if not matched:
                return False
    return True


def _principal_matches(statement: Mapping[str, Any], principal: Mapping[str, str], account: str) -> bool:
    declared = statement.get("Principal")
    if declared is None:  # an identity policy: its role is the caller
        return True
    if "Service" in principal:
        return principal["Service"] in _values(declared.get("Service", []))
    role = principal["AWS"]
    return any(aws in (role, f"arn:aws:iam::{account}:root") for aws in _values(declared.get("AWS", [])))


def allows(document: Mapping[str, Any], caller: Caller, action: str, resource: str, account: str) -> bool:
    """An Allow (and no Deny) in ``document`` for ``caller`` doing ``action`` on ``resource``."""
    verdict = False
    for statement in _values(document["Statement"]):
        if not _principal_matches(statement, caller.principal, account):
            continue
        if not any(fnmatchcase(action.lower(), str(pattern).lower()) for pattern in _values(statement["Action"])):
            continue
        if not any(fnmatchcase(resource, str(pattern)) for pattern in _values(statement.get("Resource", "*"))):
            continue
        if not _condition_holds(statement.get("Condition", {}), caller.context):
            continue
        if statement["Effect"] == "Deny":
            return False
        verdict = True
    return verdict


def resources(plan, resource_type: str) -> list[Any]:
    return [resource for resource in plan.resources if resource.type == resource_type]


def key_named_by(plan, key_arn: str):
    """The key declared in the plan behind an ARN (the mocks derive a key's id from its name)."""
    key_id = key_arn.rsplit("/", 1)[-1]
    (key,) = [key for key in resources(plan, KEY) if stable_uuid(KEY, key.name) == key_id]
    return key


def role_policies(plan, role_arn: str) -> list[dict[str, Any]]:
    name = role_arn.rsplit("/", 1)[-1]
    return [
        json.loads(policy.inputs["policy"]) for policy in resources(plan, ROLE_POLICY) if policy.inputs["role"] == name
    ]


def queue_arn(plan, queue) -> str:
    settings = plan.inputs.settings
    return f"arn:aws:sqs:{settings.region}:{settings.tooling_account_id}:{queue.inputs['name']}"


def table_arn(plan, table) -> str:
    settings = plan.inputs.settings
    return f"arn:aws:dynamodb:{settings.region}:{settings.tooling_account_id}:table/{table.inputs['name']}"


def senders_to(plan, arn: str) -> Iterable[Caller]:
    """Everything the plan declares that puts messages on the queue ``arn`` when delivery fails."""
    settings = plan.inputs.settings
    queue_context = {"kms:EncryptionContext:aws:sqs:arn": arn}
    for target in resources(plan, EVENT_TARGET):
        if (target.inputs.get("deadLetterConfig") or {}).get("arn") == arn:
            yield Caller({"Service": "events.amazonaws.com"}, queue_context, f"EventBridge target {target.name}")
    for subscription in resources(plan, SUBSCRIPTION):
        redrive = json.loads(subscription.inputs.get("redrivePolicy") or "{}")
        if redrive.get("deadLetterTargetArn") == arn:
            yield Caller({"Service": "sns.amazonaws.com"}, queue_context, f"SNS subscription {subscription.name}")
    for function in resources(plan, FUNCTION):
        if (function.inputs.get("deadLetterConfig") or {}).get("targetArn") == arn:
            role = function.inputs["role"]
            context = {
                **queue_context,
                "aws:PrincipalArn": role,
                "kms:ViaService": f"sqs.{settings.region}.amazonaws.com",
                "kms:CallerAccount": settings.tooling_account_id,
            }
            yield Caller({"AWS": role}, context, f"function {function.inputs['name']}")


def table_users(plan, arn: str) -> Iterable[Caller]:
    """Every role whose own policy lets it read or write the table ``arn``."""
    settings = plan.inputs.settings
    for policy in resources(plan, ROLE_POLICY):
        statements = _values(json.loads(policy.inputs["policy"])["Statement"])
        uses_table = any(
            statement["Effect"] == "Allow"
            and any(str(action).startswith("dynamodb:") for action in _values(statement["Action"]))
            and any(fnmatchcase(arn, str(resource)) for resource in _values(statement.get("Resource", [])))
            for statement in statements
        )
        if uses_table:
            role = f"arn:aws:iam::{settings.tooling_account_id}:role/{policy.inputs['role']}"
            context = {
                "aws:PrincipalArn": role,
                "kms:ViaService": f"dynamodb.{settings.region}.amazonaws.com",
                "kms:CallerAccount": settings.tooling_account_id,
            }
            yield Caller({"AWS": role}, context, f"role {policy.inputs['role']}")


def refusals(plan, key_arn: str, callers: Iterable[Caller], actions: Iterable[str]) -> list[str]:
    account = plan.inputs.settings.tooling_account_id
    key_policy = json.loads(key_named_by(plan, key_arn).inputs["policy"])
    refused = []
    for caller in callers:
        for action in actions:
            if not allows(key_policy, caller, action, key_arn, account):
                refused.append(f"{caller.what}: {action} refused by the key policy")
            if "AWS" in caller.principal and not any(
                allows(policy, caller, action, key_arn, account)
                for policy in role_policies(plan, caller.principal["AWS"])
            ):
                refused.append(f"{caller.what}: {action} not granted by its own policy")
    return refused


def test_every_table_and_queue_is_under_a_customer_managed_key(plan):
    for table in resources(plan, TABLE):
        assert (table.inputs.get("serverSideEncryption") or {}).get("kmsKeyArn"), table.name
        assert table.inputs.get("pointInTimeRecovery") == {"enabled": True}, table.name
    for queue in resources(plan, QUEUE):
        assert queue.inputs.get("kmsMasterKeyId", "").startswith("arn:aws:kms:"), queue.name


def test_whatever_dead_letters_into_an_encrypted_queue_may_use_its_key(plan):
    """On today's main EventBridge may not use the coordination key: the coordinator's dead letters are dropped."""
    checked = 0
    for queue in resources(plan, QUEUE):
        if not queue.inputs.get("kmsMasterKeyId"):
            continue  # no customer key to check (the test above fails on it)
        senders = list(senders_to(plan, queue_arn(plan, queue)))
        checked += len(senders)
        assert refusals(plan, queue.inputs["kmsMasterKeyId"], senders, SEND_ACTIONS) == [], queue.name
    assert checked >= 8, "EventBridge targets, the notifier's subscription and every function send dead letters"


def test_whoever_reads_or_writes_an_encrypted_table_may_use_its_key(plan):
    checked = 0
    for table in resources(plan, TABLE):
        key_arn = (table.inputs.get("serverSideEncryption") or {}).get("kmsKeyArn")
        if not key_arn:
            continue  # no customer key to check (the first test fails on it)
        users = list(table_users(plan, table_arn(plan, table)))
        assert users, f"{table.name}: no role uses it?"
        checked += len(users)
        assert refusals(plan, key_arn, users, TABLE_ACTIONS) == [], table.name
    assert checked >= 6, "the gate, the coordinator, the dispatch function, the notifier, the auditor, the reporter"


def test_a_dead_letter_sender_the_key_policy_forgets_is_caught(prod_plan):
    """The evaluator itself: without the EventBridge statement the coordinator's dead letters are refused."""
    (queue,) = [q for q in resources(prod_plan, QUEUE) if q.name == "coordination-coordinator-dlq"]
    key = key_named_by(prod_plan, queue.inputs["kmsMasterKeyId"])
    document = json.loads(key.inputs["policy"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "EventBridgeSendsDeadLetters"]
    senders = [s for s in senders_to(prod_plan, queue_arn(prod_plan, queue)) if "Service" in s.principal]
    account = prod_plan.inputs.settings.tooling_account_id
    assert senders and not any(
        allows(document, sender, "kms:GenerateDataKey", queue.inputs["kmsMasterKeyId"], account) for sender in senders
    )
