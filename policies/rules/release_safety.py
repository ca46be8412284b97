"""prod-rollback: a bad prod release undoes itself, and someone hears about it.

Across resources: the alarms prod deployment groups watch are declared in the
stack and notify an encrypted SNS topic; prod deploy stages roll back when
they fail. (A group's own rollback settings are ``codedeploy-auto-rollback``.) An alarm or topic that is
named but declared elsewhere (another stack) is reported, because this stack
cannot show that it exists, unless this stack reads it from that stack: a topic whose
ARN a ``StackReference`` of this stack returns is declared there, and that stack's own
policy run judges its encryption (``sns-hardening``). That is how a shard's alarms
notify the topic its core owns (README: Scaling to a large fleet); the engine hands
a ``StackReference`` read to stack policies as a resource whose ``outputs`` are the
referenced stack's outputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .base import (
    PROD_ENVIRONMENTS_SCHEMA,
    Config,
    PolicyResource,
    as_list,
    dig,
    is_prod,
    is_unknown,
    present,
    stack_rule,
)
from .codedeploy import DEPLOYMENT_GROUP
from .pipeline_model import prod_pipelines

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TOPIC = "aws:sns/topic:Topic"


UNNAMED = "(name not known yet)"


def _name(resource: PolicyResource) -> str:
    name = resource.props.get("name", resource.props.get("alarmName"))
    return UNNAMED if is_unknown(name) else str(name)


STACK_REFERENCE = "pulumi:pulumi:StackReference"
UNKNOWN_READ = "\0unknown"
"""Stands for a read value not known yet, which may be any ARN."""


def _strings(value: object) -> Iterator[str]:
    """Every string leaf; an unknown leaf yields ``UNKNOWN_READ`` (it may be any string)."""
    if is_unknown(value):
        yield UNKNOWN_READ
    elif isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _read_from_other_stacks(resources: Sequence[PolicyResource]) -> frozenset[str]:
    """Every string the stack's ``StackReference`` reads return: what other stacks declare and this one uses."""
    return frozenset(s for r in resources if r.type == STACK_REFERENCE for s in _strings(r.props.get("outputs")))


def _group_findings(
    group: PolicyResource,
    alarms: dict[str, PolicyResource],
    topics: dict[str, PolicyResource],
    elsewhere: frozenset[str] = frozenset(),
) -> Iterator[str]:
    """The wiring beyond the group itself (its rollback settings are codedeploy-auto-rollback's concern)."""
    name = dig(group.props, "deploymentGroupName")
    watched = dig(group.props, "alarmConfiguration", "alarms")
    if is_unknown(watched):
        return
    for alarm_name in as_list(watched):
        if is_unknown(alarm_name):
            continue
        alarm = alarms.get(str(alarm_name))
        if alarm is None and UNNAMED in alarms:
            continue  # an alarm whose name is not known yet may be this one
        if alarm is None:
            yield f"prod deployment group {name} watches alarm {alarm_name}, which this stack does not declare"
            continue
        actions = alarm.props.get("alarmActions")
        if is_unknown(actions) or any(is_unknown(a) for a in as_list(actions)):
            continue
        if UNNAMED in topics:
            continue  # a topic whose name is not known yet may be the one
        topic_arns = [str(a) for a in as_list(actions) if ":sns:" in str(a)]
        encrypted = [
            arn
            for arn in topic_arns
            if (topic := topics.get(arn.rsplit(":", 1)[-1])) is not None and present(topic.props.get("kmsMasterKeyId"))
        ]
        judged_elsewhere = [
            arn
            for arn in topic_arns
            if arn.rsplit(":", 1)[-1] not in topics and (arn in elsewhere or UNKNOWN_READ in elsewhere)
        ]
        if not encrypted and not judged_elsewhere:
            yield f"alarm {alarm_name} of prod deployment group {name} notifies no encrypted SNS topic of this stack"


def check_prod_rollback(resources: Sequence[PolicyResource], config: Config) -> Iterator[tuple[str | None, str]]:
    alarms = {_name(r): r for r in resources if r.type in (METRIC_ALARM, COMPOSITE_ALARM)}
    topics = {_name(r): r for r in resources if r.type == TOPIC}
    elsewhere = _read_from_other_stacks(resources)
    for group in resources:
        if group.type == DEPLOYMENT_GROUP and is_prod(group.props, config):
            for message in _group_findings(group, alarms, topics, elsewhere):
                yield group.urn, message
    for pipeline in prod_pipelines(resources, config):
        if not pipeline.shape_known():
            continue
        for _, stage in pipeline.deploy_stages():
            result = dig(stage, "onFailure", "result")
            if not is_unknown(result) and result != "ROLLBACK":
                yield (
                    pipeline.urn,
                    (
                        f"prod deploy stage {pipeline.name}/{dig(stage, 'name')} does not roll back on failure "
                        f"(on_failure result is {result or 'not set'})"
                    ),
                )


PROD_ROLLBACK = stack_rule(
    name="prod-rollback",
    description="Prod deploys roll back: deploy stages roll back on failure, and the alarms prod deployment "
    "groups watch exist in the stack and notify an encrypted topic.",
    level="mandatory",
    check=check_prod_rollback,
    remediation="Give prod deployment groups both rollback events and the service's health alarms (declared "
    "in this stack, alarm_actions to a KMS-encrypted topic), and prod deploy stages on_failure ROLLBACK.",
    anchors=("Cfg codedeploy-auto-rollback-monitor-enabled",),
    config_schema={"prodEnvironments": PROD_ENVIRONMENTS_SCHEMA},
)

RULES = (PROD_ROLLBACK,)
