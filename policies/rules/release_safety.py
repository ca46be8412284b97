"""prod-rollback: a bad prod release undoes itself, and someone hears about it.

Across resources: the alarms prod deployment groups watch are declared in the
stack and notify an encrypted SNS topic; prod deploy stages roll back when
they fail. (A group's own rollback settings are ``codedeploy-auto-rollback``.) An alarm or topic that is
named but declared elsewhere (another stack) is reported, because this stack
cannot show that it exists.
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


def _group_findings(
    group: PolicyResource, alarms: dict[str, PolicyResource], topics: dict[str, PolicyResource]
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
        topic_names = [str(a).rsplit(":", 1)[-1] for a in as_list(actions) if ":sns:" in str(a)]
        encrypted = [t for t in topic_names if t in topics and present(topics[t].props.get("kmsMasterKeyId"))]
        if not encrypted:
            yield f"alarm {alarm_name} of prod deployment group {name} notifies no encrypted SNS topic of this stack"


def check_prod_rollback(resources: Sequence[PolicyResource], config: Config) -> Iterator[tuple[str | None, str]]:
    alarms = {_name(r): r for r in resources if r.type in (METRIC_ALARM, COMPOSITE_ALARM)}
    topics = {_name(r): r for r in resources if r.type == TOPIC}
    for group in resources:
        if group.type == DEPLOYMENT_GROUP and is_prod(group.props, config):
            for message in _group_findings(group, alarms, topics):
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
