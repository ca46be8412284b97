"""How the pack reads who invokes each Lambda function of the stack, and how: synchronously or asynchronously.

A dead-letter queue serves only asynchronous invocation: Lambda queues the
event, retries it, and sends what still fails to the queue (Lambda developer
guide, "Invoking a Lambda function asynchronously" and its dead-letter queue
section). A synchronous caller gets the error back and owns the retry; an event
source mapping's poller has an on-failure destination of its own. So whether a
function needs one depends on its callers, which a resource rule cannot see.

The pack sees resources only, so it reads the invocations the stack *declares*
(policies/README.md, "Who invokes a function"):

- **asynchronous**: an EventBridge target (``EventTarget.arn``), an SNS
  subscription with protocol ``lambda``, an S3 bucket notification, a
  CodePipeline ``Invoke``/``Lambda`` action ("CodePipeline invokes your
  function asynchronously", Lambda developer guide, "Using AWS Lambda with AWS
  CodePipeline"), and a ``lambda.Permission`` for a service principal that
  Lambda's service list documents as invoking asynchronously;
- **synchronous**: a CodePipeline ``LambdaInvoke`` stage-condition rule (the
  rule's outcome is the invocation's own; a queued retry could not change it),
  a permission for a service documented as invoking synchronously (API Gateway,
  Elastic Load Balancing, …), and an event source mapping (Lambda's poller
  invokes synchronously);
- **unknown**: a permission for any other principal (an account or a role may
  invoke either way; IAM cannot restrict ``InvocationType``). An IAM policy
  granting ``lambda:InvokeFunction`` is a permission, not an invocation, and is
  not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

from .base import PolicyResource, as_list, dig, is_unknown
from .pipeline_model import PIPELINE

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"

# Lambda developer guide, "Invoking Lambda with events from other AWS services": the services that push
# events asynchronously, and those that wait for the function's answer.
ASYNCHRONOUS_SERVICES = frozenset(
    {"events", "sns", "s3", "logs", "ses", "iot", "iotevents", "codecommit", "config", "cloudformation"}
)
SYNCHRONOUS_SERVICES = frozenset(
    {"apigateway", "elasticloadbalancing", "cognito-idp", "lex", "alexa-appkit", "alexa-connectedhome", "cloudfront"}
)


class Invocation(Enum):
    ASYNCHRONOUS = "asynchronously"
    SYNCHRONOUS = "synchronously"
    UNKNOWN = "in a way the stack does not say"


@dataclass(frozen=True)
class Invoker:
    """One declared way a function is invoked: how, and by what (for messages)."""

    invocation: Invocation
    by: str


@dataclass
class Invokers:
    """Every declared invoker of every function, by function name."""

    by_function: dict[str, list[Invoker]] = field(default_factory=dict)
    unresolved: bool = False
    """Some invocation's target is not known yet (preview): it may be any function."""

    def of(self, function_name: str) -> list[Invoker]:
        return self.by_function.get(function_name, [])


def function_name_of(reference: object) -> str | None:
    """The function a reference names: a name, ``name:qualifier``, or a full or partial function ARN."""
    if not isinstance(reference, str) or is_unknown(reference) or not reference:
        return None
    if ":function:" in reference:
        return reference.split(":function:", 1)[1].split(":", 1)[0] or None
    if reference.startswith("arn:"):
        return None  # an ARN of something else (a topic, a queue, a bus)
    return reference.split(":", 1)[0]


UNRESOLVED: tuple[object, None] = (None, None)
"""An invocation whose target or kind is not known yet (preview)."""


def _permission(props: object) -> tuple[object, Invoker | None]:
    principal = dig(props, "principal")
    if not isinstance(principal, str) or is_unknown(principal):
        return UNRESOLVED
    service = principal.removesuffix(".amazonaws.com") if principal.endswith(".amazonaws.com") else None
    if service in ASYNCHRONOUS_SERVICES:
        invocation = Invocation.ASYNCHRONOUS
    elif service in SYNCHRONOUS_SERVICES:
        invocation = Invocation.SYNCHRONOUS
    else:
        invocation = Invocation.UNKNOWN
    return dig(props, "function"), Invoker(invocation, f"a permission for {principal}")


def _known_items(value: object) -> list[object] | None:
    """The items of a list prop, or ``None`` if the list or any item is not known yet."""
    if is_unknown(value):
        return None
    items = as_list(value)
    return None if any(is_unknown(item) for item in items) else items


def _pipeline_invocations(resource: PolicyResource) -> Iterator[tuple[object, Invoker | None]]:
    name = dig(resource.props, "name")
    stages = _known_items(dig(resource.props, "stages"))
    if stages is None:
        yield UNRESOLVED
        return
    for stage in stages:
        stage_name = dig(stage, "name")
        actions = _known_items(dig(stage, "actions"))
        if actions is None:
            yield UNRESOLVED
            actions = []
        for action in actions:
            kind = (dig(action, "category"), dig(action, "provider"))
            if any(is_unknown(part) for part in kind):
                yield UNRESOLVED
            elif kind == ("Invoke", "Lambda"):
                yield (
                    dig(action, "configuration", "FunctionName"),
                    Invoker(Invocation.ASYNCHRONOUS, f"the Lambda action of pipeline {name} stage {stage_name}"),
                )
        for condition in ("beforeEntry", "onSuccess", "onFailure"):
            rules = _known_items(dig(stage, condition, "condition", "rules"))
            if rules is None:
                yield UNRESOLVED
                continue
            for rule in rules:
                provider = dig(rule, "ruleTypeId", "provider")
                if is_unknown(provider):
                    yield UNRESOLVED
                elif provider == "LambdaInvoke":
                    yield (
                        dig(rule, "configuration", "FunctionName"),
                        Invoker(Invocation.SYNCHRONOUS, f"the LambdaInvoke rule of pipeline {name} stage {stage_name}"),
                    )


def _invocations(resource: PolicyResource) -> Iterator[tuple[object, Invoker | None]]:
    props = resource.props
    if resource.type == EVENT_TARGET:
        yield dig(props, "arn"), Invoker(Invocation.ASYNCHRONOUS, f"EventBridge target {resource.name}")
    elif resource.type == TOPIC_SUBSCRIPTION:
        protocol = dig(props, "protocol")
        if is_unknown(protocol):
            yield UNRESOLVED
        elif protocol == "lambda":
            yield dig(props, "endpoint"), Invoker(Invocation.ASYNCHRONOUS, f"SNS subscription {resource.name}")
    elif resource.type == BUCKET_NOTIFICATION:
        notifications = _known_items(dig(props, "lambdaFunctions"))
        if notifications is None:
            yield UNRESOLVED
            notifications = []
        for notification in notifications:
            yield (
                dig(notification, "lambdaFunctionArn"),
                Invoker(Invocation.ASYNCHRONOUS, f"S3 notification {resource.name}"),
            )
    elif resource.type == EVENT_SOURCE_MAPPING:
        yield dig(props, "functionName"), Invoker(Invocation.SYNCHRONOUS, f"event source mapping {resource.name}")
    elif resource.type == PERMISSION:
        yield _permission(props)
    elif resource.type == PIPELINE:
        yield from _pipeline_invocations(resource)


def invokers(resources: Sequence[PolicyResource]) -> Invokers:
    """Who invokes which function, as far as the stack declares it."""
    found = Invokers()
    for resource in resources:
        for reference, invoker in _invocations(resource):
            if invoker is None or is_unknown(reference):
                found.unresolved = True
                continue
            name = function_name_of(reference)
            if name is not None:
                found.by_function.setdefault(name, []).append(invoker)
    return found


def may_be_invoked_asynchronously(declared: Iterable[Invoker], unresolved: bool) -> tuple[bool, list[str]]:
    """Whether a DLQ can matter for a function, and why (the asynchronous or undeclared invokers).

    A function nothing declared invokes may still be invoked with ``InvocationType=Event`` by anyone
    allowed to, so it counts as asynchronous; unless some invocation is not known yet, which may be
    this function's only, synchronous one.
    """
    declared = list(declared)
    reasons = [
        invoker.by if invoker.invocation is Invocation.ASYNCHRONOUS else f"{invoker.by} (it may invoke asynchronously)"
        for invoker in declared
        if invoker.invocation is not Invocation.SYNCHRONOUS
    ]
    if reasons:
        return True, reasons
    if not declared and not unresolved:
        return True, ["any caller: no invocation of it is declared in the stack"]
    return False, []


def has_failure_destination(resources: Sequence[PolicyResource], function_name: str) -> bool:
    """An async-invoke config that sends failed events somewhere (the alternative Lambda recommends to a DLQ).

    One whose function is not known yet may be this function's: it counts.
    """
    for resource in resources:
        if resource.type != EVENT_INVOKE_CONFIG:
            continue
        target = dig(resource.props, "functionName")
        destination = dig(resource.props, "destinationConfig", "onFailure", "destination")
        if (is_unknown(target) or function_name_of(target) == function_name) and (
            is_unknown(destination) or bool(destination)
        ):
            return True
    return False
