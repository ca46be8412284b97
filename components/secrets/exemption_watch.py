"""The daily watch over rotation-exempt secrets (``functions/secret_watch``) and the schedule that wakes it.

One per stack, always: the platform may create no exempt secret itself (the recommended configuration
creates none), but an operator's Slack webhook or static scanner token is exempt by nature, and tagging it
``rotation-exempt`` + ``rotation-exempt-max-age-days`` is all it takes to be watched. Alerts go to the
release-news channel the way the stack delivers Slack (webhook or Chatbot topic), once a day per secret,
claimed in the release-news delivery ledger.

AWS Config cannot express this check: its managed rules read no tags (``SECRETSMANAGER_ROTATION_ENABLED_CHECK``
reports every exempt secret NON_COMPLIANT, by design, whatever its age), so the age limit is this watch's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..governance.lambda_function import (
    DELIVERY_LEDGER,
    SLACK_CLIENT,
    PlatformFunction,
    PlatformFunctionArgs,
    invoke_from_rule,
)
from ..model import naming
from ..model.credentials import EXEMPT_TAG
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags

PURPOSE = "secret-watch"
SCHEDULE = "cron(0 7 * * ? *)"
"""Daily, before the working day in Europe: an overdue credential is in the channel when people arrive."""


def watch_role_arn(inputs: PlatformInputs) -> str:
    settings = inputs.settings
    return naming.role_arn(settings.region, settings.tooling_account_id, naming.function_name(PURPOSE, inputs.stack))


@dataclass(frozen=True)
class ExemptionWatchArgs:
    inputs: PlatformInputs
    ledger_table_name: pulumi.Input[str]
    ledger_table_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    """The release-news key: topic, ledger, logs and dead letters."""
    dead_letter_queue_arn: pulumi.Input[str]


class ExemptionWatch(pulumi.ComponentResource):
    """Watch function + its daily EventBridge schedule."""

    def __init__(self, name: str, args: ExemptionWatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:secrets:ExemptionWatch", name, None, opts)
        settings, stack = args.inputs.settings, args.inputs.stack
        region, account = settings.region, settings.tooling_account_id
        partition = naming.partition_of(region)
        uses_chatbot = settings.slack_workspace_id is not None
        rule_name = naming.event_rule_name(PURPOSE, stack)
        rule_arn = naming.event_rule_arn(region, account, rule_name)
        webhook = (
            None if uses_chatbot else naming.secret_arn_pattern(region, account, settings.slack_webhook_secret_name)
        )
        delivery: dict[str, pulumi.Input[str]] = (
            {"TOPIC_ARN": args.topic_arn} if uses_chatbot else {"WEBHOOK_SECRET_ID": settings.slack_webhook_secret_name}
        )
        function = PlatformFunction(
            name,
            PlatformFunctionArgs(
                stack=stack,
                region=region,
                account_id=account,
                purpose=PURPOSE,
                folder="secret_watch",
                description="Alerts release news when a rotation-exempt secret is older than its maximum age",
                key_arn=args.key_arn,
                dead_letter_queue_arn=args.dead_letter_queue_arn,
                policy_inputs={
                    "ledger_arn": args.ledger_table_arn,
                    "key_arn": args.key_arn,
                    "queue_arn": args.dead_letter_queue_arn,
                    "topic_arn": args.topic_arn,
                },
                policy_for=lambda resolved: iam.secret_watch_policy(
                    resolved["log_group_arn"],
                    region=region,
                    account_id=account,
                    partition=partition,
                    exempt_tag=EXEMPT_TAG,
                    ledger_table_arn=resolved["ledger_arn"],
                    key_arn=resolved["key_arn"],
                    dead_letter_queue_arn=resolved["queue_arn"],
                    webhook_secret_arn=webhook,
                    topic_arn=resolved["topic_arn"] if uses_chatbot else None,
                ),
                environment={
                    **delivery,
                    "LEDGER_TABLE": args.ledger_table_name,
                    "TOOLING_ACCOUNT_ID": account,
                    "TOOLING_REGION": region,
                    "SCHEDULE_RULE_ARN": rule_arn,
                },
                vendored=[SLACK_CLIENT, DELIVERY_LEDGER],
                tags=standard_tags(stack),
                architecture="arm64",
                tracing=True,
                reserved_concurrency=1,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-daily",
            name=rule_name,
            description="Once a day: are rotation-exempt secrets older than their maximum age?",
            schedule_expression=SCHEDULE,
            tags=standard_tags(stack),
            opts=pulumi.ResourceOptions(parent=self),
        )
        invoke_from_rule(f"{name}-daily", rule, function, source_account=account)
        self.register_outputs({"functionArn": function.arn, "ruleArn": rule.arn})
