"""The rollback reporter in the tooling account: the function, what it may touch, and what wakes it.

One per stack. It wakes on the events the environment accounts forward to the
stack's deploy-events bus: a service's health alarm entering ALARM, or a
CodeDeploy deployment failing or stopping. (A failed pipeline action is the
failure digest's, ``failure_digest.py``: one message per failure.) The bus admits each environment account only
for those kinds of events, and the reporter's rules there match, per account,
exactly the services the catalog places in it
(``components/model/forwarded_events.py``). It reports each once to Slack and,
for an alarm after a finished deploy, rolls the Deploy stage back
(``functions/rollback_reporter``); at run time it believes an event only from
the account and region where the dependency graph (the coordination
component's SSM parameters, written from the same catalog) says its service
runs.

Slack: the stack's one channel, delivered the way release news is. With a
webhook, the reporter reads the secret named by ``slackWebhookSecretName`` (the
same secret the release-news notifier reads; the operator creates it) and posts
Block Kit itself; with AWS Chatbot there is no webhook, so it publishes the
report's text to the release-news topic as a Chatbot custom notification. Its
act-once claims live in the release-news delivery ledger. The function is a
``PlatformFunction`` (role, policy, encrypted log group, dead letters) with
tracing, reserved concurrency and encrypted settings on top.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.forwarded_events import forwarded_patterns, forwarding_patterns, forwarding_placements
from ..model.platform_inputs import PlatformInputs
from ..model.tags import MANAGED_BY, standard_tags
from .lambda_function import (
    DELIVERY_LEDGER,
    DEPENDENCY_GRAPH,
    SLACK_CLIENT,
    PlatformFunction,
    PlatformFunctionArgs,
    dead_letter_queue,
    invoke_from_rule,
)

RESERVED_CONCURRENCY = 5
"""Alarm storms should not starve the account's Lambda concurrency; the ledger makes retries harmless."""
ROLLBACK_WINDOW_MINUTES = 60
"""An alarm within this long after a Deploy stage finished is blamed on that deploy and rolls it back."""
TIMEOUT_SECONDS = 54
"""The longest invocation its delivery-ledger claim covers whole (``delivery_ledger``'s
``LONGEST_COVERED_INVOCATION_SECONDS``): a claim must end before Lambda's retry a minute after a crash, so a longer
timeout would let a copy of the event act while the first invocation still works. The work fits: a few CodePipeline
calls and one Slack post whose retries ``slack_client`` bounds (five 5 s attempts, at most 20 s of waiting); an
invocation that still times out is retried and finds what it did noted on its claim."""


@dataclass(frozen=True)
class RollbackReporterArgs:
    inputs: PlatformInputs
    ledger_table_name: pulumi.Input[str]
    ledger_table_arn: pulumi.Input[str]
    """The release-news delivery ledger: the reporter's claims share it (keys ``alarm#…``, ``action#…``, …)."""
    topic_arn: pulumi.Input[str]
    topic_key_arn: pulumi.Input[str]
    """The release-news topic and its key: where reports go when the stack uses AWS Chatbot. The key also
    encrypts the delivery ledger, so the reporter uses it through DynamoDB either way."""


def reporter_role_arn(inputs: PlatformInputs) -> str:
    settings = inputs.settings
    return naming.role_arn(settings.region, settings.tooling_account_id, naming.rollback_reporter_name(inputs.stack))


class RollbackReporter(pulumi.ComponentResource):
    """Function (with role, policy, logs) + key + dead letters + the bus and the rules that wake it."""

    bus_arn: str
    bus: aws.cloudwatch.EventBus
    function_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RollbackReporterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:RollbackReporter", name, None, opts)
        inputs, settings = args.inputs, args.inputs.settings
        region, account_id, stack = settings.region, settings.tooling_account_id, inputs.stack
        partition = naming.partition_of(region)
        child = pulumi.ResourceOptions(parent=self)
        tags = standard_tags(stack)
        function_name = naming.rollback_reporter_name(stack)
        role_arn = naming.role_arn(region, account_id, function_name)
        placements = forwarding_placements(inputs)
        forwarded_by_account: dict[str, list[dict[str, object]]] = {}
        for placement in placements:
            for kind in forwarding_patterns(placement).values():
                forwarded_by_account.setdefault(placement.environment.account_id, []).extend(kind)
        environments = [env.name for env in settings.environments]
        alarm_readers = [
            naming.role_arn(env.region, env.account_id, naming.alarm_reader_role_name(env.name))
            for env, _ in inputs.environment_accounts()
        ]

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the rollback reporter's settings, dead letters and logs ({stack})",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=iam.to_json(iam.reporter_key_policy(region, account_id, role_arn)),
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/{function_name}", target_key_id=key.key_id, opts=child)
        dead_letters = dead_letter_queue(
            f"{name}-dlq", f"{function_name}-dlq", key.arn, tags, child, data_key_reuse_seconds=300
        )
        uses_chatbot = settings.slack_workspace_id is not None
        # One Slack channel per stack, one way to reach it: the release-news webhook secret, or the topic Chatbot reads.
        delivery: dict[str, pulumi.Input[str]] = (
            {"TOPIC_ARN": args.topic_arn} if uses_chatbot else {"WEBHOOK_SECRET_ID": settings.slack_webhook_secret_name}
        )
        webhook_secret = (
            None if uses_chatbot else iam.secret_arn_pattern(region, account_id, settings.slack_webhook_secret_name)
        )
        graph_parameter = naming.graph_parameter_name(stack)
        graph_parameter_arns = [
            f"arn:{partition}:ssm:{region}:{account_id}:parameter{name}"
            for name in (graph_parameter, naming.graph_parts_pattern(graph_parameter))
        ]
        function = PlatformFunction(
            name,
            PlatformFunctionArgs(
                stack=stack,
                region=region,
                account_id=account_id,
                purpose="rollback-reporter",
                function_name=function_name,
                folder="rollback_reporter",
                description="Slack report + stage rollback on failed deploys and health alarms",
                key_arn=key.arn,
                dead_letter_queue_arn=dead_letters.arn,
                policy_inputs={
                    "ledger_arn": args.ledger_table_arn,
                    "key_arn": key.arn,
                    "queue_arn": dead_letters.arn,
                    "topic_arn": args.topic_arn,
                    "topic_key_arn": args.topic_key_arn,
                },
                policy_for=lambda resolved: iam.reporter_role_policy(
                    region,
                    account_id,
                    log_group_arn=resolved["log_group_arn"],
                    table_arn=resolved["ledger_arn"],
                    key_arn=resolved["key_arn"],
                    dead_letter_arn=resolved["queue_arn"],
                    environments=environments,
                    managed_by=MANAGED_BY,
                    alarm_reader_role_arns=alarm_readers,
                    webhook_secret_arn=webhook_secret,
                    topic=(resolved["topic_arn"], resolved["topic_key_arn"]) if uses_chatbot else None,
                    placements_parameter_arns=graph_parameter_arns,
                    ledger_key_arn=resolved["topic_key_arn"],
                ),
                environment={
                    **delivery,
                    "LEDGER_TABLE": args.ledger_table_name,
                    "SLACK_CHANNEL": settings.slack_channel,
                    "ROLLBACK_WINDOW_MINUTES": str(ROLLBACK_WINDOW_MINUTES),
                    "ALARM_READER_ROLE_PREFIX": naming.alarm_reader_role_name(""),
                    # Where events may come from: the graph that says where each service runs (the coordination
                    # component writes it from the same catalog).
                    "GRAPH_PARAMETER": graph_parameter,
                },
                vendored=[SLACK_CLIENT, DELIVERY_LEDGER, DEPENDENCY_GRAPH],
                tags=tags,
                timeout_seconds=TIMEOUT_SECONDS,
                architecture="arm64",
                tracing=True,
                reserved_concurrency=RESERVED_CONCURRENCY,
                encrypt_environment=True,
                log_format="JSON",
                adopted_from=self,
            ),
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=3600,
            opts=child,
        )

        bus_name = naming.deploy_events_bus_name(stack)
        self.bus_arn = f"arn:{partition}:events:{region}:{account_id}:event-bus/{bus_name}"
        self.bus = aws.cloudwatch.EventBus(f"{name}-bus", name=bus_name, tags=tags, opts=child)
        aws.cloudwatch.EventBusPolicy(
            f"{name}-bus-policy",
            event_bus_name=self.bus.name,
            policy=iam.to_json(
                iam.deploy_events_bus_policy(region, self.bus_arn, settings.organization_id, forwarded_by_account)
            ),
            opts=pulumi.ResourceOptions(parent=self.bus),
        )
        rules: dict[str, tuple[pulumi.Input[str] | None, dict[str, object]]] = {}
        # Per account exactly what its forwarding rules send; a large fleet's further rules are numbered.
        for index, pattern in enumerate(forwarded_patterns(placements)):
            rules["forwarded" if index == 0 else f"forwarded-{index + 1}"] = (self.bus.name, pattern)
        for purpose, (bus, pattern) in rules.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{purpose}",
                name=f"{function_name}-{purpose}",
                event_bus_name=bus,
                description=f"Wake the rollback reporter: {purpose.replace('-', ' ')}",
                event_pattern=json.dumps(pattern, sort_keys=True),
                tags=tags,
                opts=child,
            )
            invoke_from_rule(
                f"{name}-{purpose}",
                rule,
                function,
                source_account=account_id,
                event_bus_name=bus,
                retry_policy={"maximum_retry_attempts": 10, "maximum_event_age_in_seconds": 3600},
            )
        self.function_arn = function.arn
        self.register_outputs({"functionArn": function.arn, "busArn": self.bus_arn})
