"""The rollback reporter in the tooling account: the function, what it may touch, and what wakes it.

One per stack. It wakes on (a) any failed action of the platform's pipelines
(default bus, ``aws.codepipeline``) and (b) the events the environment
accounts forward to the stack's deploy-events bus: a service's health alarm
entering ALARM, or a CodeDeploy deployment failing or stopping. It reports
each once to Slack and, for an alarm after a finished deploy, rolls the Deploy
stage back (``functions/rollback_reporter``).

The Slack webhook URL is a secret the operators set once after the first
``pulumi up`` (README, "What happens on an alarm"); the program only creates
the empty, KMS-encrypted secret, so the URL never sits in stack config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.platform_inputs import PlatformInputs
from ..model.tags import MANAGED_BY, standard_tags

FUNCTION_SOURCE = "functions/rollback_reporter"
"""Relative to the project directory, where Pulumi runs the program (and the plan stays machine-independent)."""
RUNTIME = "python3.12"
RESERVED_CONCURRENCY = 5
"""Alarm storms should not starve the account's Lambda concurrency; the ledger makes retries harmless."""
LOG_RETENTION_DAYS = 90
LEDGER_TTL_DAYS = 7
ROLLBACK_WINDOW_MINUTES = 60
"""An alarm within this long after a Deploy stage finished is blamed on that deploy and rolls it back."""
XRAY_WRITE_POLICY = "arn:{partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"


@dataclass(frozen=True)
class RollbackReporterArgs:
    inputs: PlatformInputs


def failed_action_pattern(environments: list[str]) -> dict[str, object]:
    """Failed actions of pipelines named ``<service>-<env>``; the function ignores pipelines it may not read."""
    return {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {
            "state": ["FAILED"],
            "pipeline": [{"wildcard": naming.pipeline_name("*", env)} for env in environments],
        },
    }


def forwarded_pattern(account_ids: list[str]) -> dict[str, object]:
    return {"source": ["aws.cloudwatch", "aws.codedeploy"], "account": sorted(set(account_ids))}


class RollbackReporter(pulumi.ComponentResource):
    """Function + role + key + webhook secret + dedupe ledger + dead letters + the two rules that wake it."""

    bus_arn: str
    bus: aws.cloudwatch.EventBus
    function_arn: pulumi.Output[str]
    webhook_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RollbackReporterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:RollbackReporter", name, None, opts)
        inputs, settings = args.inputs, args.inputs.settings
        region, account_id, stack = settings.region, settings.tooling_account_id, inputs.stack
        partition = naming.partition_of(region)
        child = pulumi.ResourceOptions(parent=self)
        tags = standard_tags(stack)
        function_name = naming.rollback_reporter_name(stack)
        role_arn = naming.role_arn(region, account_id, function_name)
        env_accounts = sorted({env.account_id for env, _ in inputs.environment_accounts()})
        environments = [env.name for env in settings.environments]
        alarm_readers = [
            naming.role_arn(env.region, env.account_id, naming.alarm_reader_role_name(env.name))
            for env, _ in inputs.environment_accounts()
        ]

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the rollback reporter's webhook, ledger, dead letters and logs ({stack})",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=iam.to_json(iam.reporter_key_policy(region, account_id, role_arn)),
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/{function_name}", target_key_id=key.key_id, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-webhook",
            name=f"{function_name}/slack-webhook",
            description=f"Slack incoming-webhook URL for {settings.slack_channel}; set by operators (README)",
            kms_key_id=key.arn,
            recovery_window_in_days=7,
            # A webhook URL cannot be rotated by a Lambda: Slack issues it. Operators replace it by hand.
            tags={**tags, "rotation-exempt": "Slack issues webhook URLs; operators replace them in Slack"},
            opts=child,
        )
        ledger = aws.dynamodb.Table(
            f"{name}-ledger",
            name=f"{function_name}-ledger",
            billing_mode="PAY_PER_REQUEST",
            hash_key="event_key",
            attributes=[{"name": "event_key", "type": "S"}],
            ttl={"attribute_name": "expires_at", "enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
            point_in_time_recovery={"enabled": False},
            tags=tags,
            opts=child,
        )
        dead_letters = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{function_name}-dlq",
            kms_master_key_id=key.arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=14 * 24 * 3600,
            tags=tags,
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=key.arn,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=function_name,
            description="Reports failed deploys and alarms to Slack and rolls back the Deploy stage",
            assume_role_policy=iam.to_json(iam.service_trust("lambda.amazonaws.com", account_id)),
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(log_group.arn, secret.arn, ledger.arn, key.arn, dead_letters.arn).apply(
                lambda arns: iam.to_json(
                    iam.reporter_role_policy(
                        region,
                        account_id,
                        log_group_arn=arns[0],
                        secret_arn=arns[1],
                        table_arn=arns[2],
                        key_arn=arns[3],
                        dead_letter_arn=arns[4],
                        environments=environments,
                        managed_by=MANAGED_BY,
                        alarm_reader_role_arns=alarm_readers,
                    )
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        tracing = aws.iam.RolePolicyAttachment(
            f"{name}-tracing",
            role=role.name,
            policy_arn=XRAY_WRITE_POLICY.format(partition=partition),
            opts=pulumi.ResourceOptions(parent=role),
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description="Slack report + stage rollback on failed deploys and health alarms",
            runtime=RUNTIME,
            architectures=["arm64"],
            handler="handler.handler",
            code=pulumi.FileArchive(FUNCTION_SOURCE),
            role=role.arn,
            timeout=120,
            memory_size=256,
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            tracing_config={"mode": "Active"},
            dead_letter_config={"target_arn": dead_letters.arn},
            kms_key_arn=key.arn,
            logging_config={"log_format": "JSON", "log_group": log_group.name},
            environment={
                "variables": {
                    "WEBHOOK_SECRET_ARN": secret.arn,
                    "LEDGER_TABLE": ledger.name,
                    "LEDGER_TTL_DAYS": str(LEDGER_TTL_DAYS),
                    "SLACK_CHANNEL": settings.slack_channel,
                    "ROLLBACK_WINDOW_MINUTES": str(ROLLBACK_WINDOW_MINUTES),
                    "ALARM_READER_ROLE_PREFIX": naming.alarm_reader_role_name(""),
                }
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, tracing, log_group]),
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
                iam.deploy_events_bus_policy(region, self.bus_arn, settings.organization_id, env_accounts)
            ),
            opts=pulumi.ResourceOptions(parent=self.bus),
        )
        rules = {
            "failed-actions": (
                None,
                failed_action_pattern(environments),
            ),
            "forwarded": (self.bus.name, forwarded_pattern(env_accounts)),
        }
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
            aws.lambda_.Permission(
                f"{name}-{purpose}-invoke",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                source_account=account_id,
                opts=pulumi.ResourceOptions(parent=rule),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{purpose}-target",
                rule=rule.name,
                event_bus_name=bus,
                arn=function.arn,
                retry_policy={"maximum_retry_attempts": 10, "maximum_event_age_in_seconds": 3600},
                opts=pulumi.ResourceOptions(parent=rule),
            )
        self.function_arn = function.arn
        self.webhook_secret_arn = secret.arn
        self.register_outputs({"functionArn": function.arn, "webhookSecretArn": secret.arn, "busArn": self.bus_arn})
