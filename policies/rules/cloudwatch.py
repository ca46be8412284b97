"""CloudWatch: log groups kept long enough and encrypted; alarms that actually notify someone."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Config, Props, as_list, is_unknown, number, resource_rule

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"


def check_retention(_: str, props: Props, config: Config) -> Iterator[str]:
    days = props.get("retentionInDays")
    if is_unknown(days):
        return
    name = props.get("name")
    if not days:
        yield f"log group {name} has no retention: logs are kept (and billed) forever"
    elif isinstance(days, (int, float)) and days < config["minimumDays"]:
        minimum = number(config["minimumDays"])
        yield f"log group {name} keeps logs {number(days)} days, fewer than the required {minimum}"


LOG_RETENTION = resource_rule(
    name="log-retention",
    description="Log groups set a retention of at least the configured minimum number of days.",
    level="mandatory",
    resource_types={LOG_GROUP},
    check=check_retention,
    remediation="Set retention_in_days to a CloudWatch-supported value ≥ minimumDays (e.g. 90).",
    anchors=("CKV_AWS_66", "CKV_AWS_338"),
    config_schema={
        "minimumDays": {
            "type": "integer",
            "minimum": 1,
            "default": 30,
            "description": "Shortest acceptable retention_in_days.",
        }
    },
)


def check_log_encryption(_: str, props: Props, __: Config) -> Iterator[str]:
    key = props.get("kmsKeyId")
    if not key and not is_unknown(key):
        yield f"log group {props.get('name')} is not encrypted with a KMS key (kms_key_id)"


LOG_ENCRYPTION = resource_rule(
    name="log-encryption",
    description="Log groups are encrypted with a customer-managed KMS key.",
    level="advisory",
    resource_types={LOG_GROUP},
    check=check_log_encryption,
    remediation="Set kms_key_id to a CMK whose key policy lets logs.<region>.amazonaws.com use it.",
    anchors=("CKV_AWS_158",),
)


def check_alarm_actions(_: str, props: Props, __: Config) -> Iterator[str]:
    name = props.get("name") or props.get("alarmName")
    enabled = props.get("actionsEnabled")
    if enabled is False:
        yield f"alarm {name} has actions_enabled=False"
    actions = props.get("alarmActions")
    if not is_unknown(actions) and not any(is_unknown(a) or a for a in as_list(actions)):
        yield f"alarm {name} has no alarm action: nobody is told when it fires"


ALARM_ACTIONS = resource_rule(
    name="alarm-actions",
    description="Metric and composite alarms have actions enabled and at least one alarm action.",
    level="mandatory",
    resource_types={METRIC_ALARM, COMPOSITE_ALARM},
    check=check_alarm_actions,
    remediation="Set alarm_actions to an (encrypted) SNS topic and leave actions_enabled on.",
    anchors=("CKV_AWS_319",),
)

RULES = (LOG_RETENTION, LOG_ENCRYPTION, ALARM_ACTIONS)
