"""DORA metrics of one stack, in the tooling account: what records deployments, and where people see the numbers.

- a KMS key of its own (rotated) for the table, the dead letters, the function's settings and logs;
- the deployments table (DynamoDB, customer-managed key, point-in-time recovery, TTL): one item
  per Deploy stage that ended, and per commit its first deployment (``functions/dora_metrics/store.py``);
- the function (``PlatformFunction``: role, policy, encrypted log group, dead-letter queue; X-Ray,
  reserved concurrency, encrypted settings), woken by two EventBridge rules on the default bus: the
  Deploy stage outcomes (``SUCCEEDED``/``FAILED``) of the stack's pipelines, from the tooling account,
  and an hourly schedule that publishes every service's numbers as the window moves on;
- the CloudWatch dashboard ``cicd-dora-<stack>`` (``dora_dashboard``).

Why pipeline events and not CodeDeploy's: every platform deploy ends in its pipeline's Deploy stage
(the CodeDeploy actions fail when their deployment fails or stops, the Lambda release waits for its
deployment, the GitHub dispatch for its workflow run), a rollback of the stage runs in an execution
of its own, and those events are emitted in the tooling account, where EventBridge stamps the
account itself. CodeDeploy's events come from the environment accounts and would tell the same
outcome twice. The function believes an outcome only from the tooling account and region, for a
pipeline the dependency graph places (the coordination component's SSM parameter).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..governance.lambda_function import (
    DEPENDENCY_GRAPH,
    PlatformFunction,
    PlatformFunctionArgs,
    dead_letter_queue,
    invoke_from_rule,
    ledger_table,
)
from ..model import naming
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags
from .dora_dashboard import NAMESPACE, dashboard_body

WINDOW_DAYS = 30
"""Every metric covers the trailing 30 days: enough deployments for a failure rate to mean something."""
FAILURE_WINDOW_HOURS = 24
"""A rollback, hotfix or revert this long after a deployment (and before the next) marks it failed."""
PUBLISH_SCHEDULE = "rate(1 hour)"
RESERVED_CONCURRENCY = 2
"""Deployments are minutes apart; two keep a release-day burst moving, and the table makes overlap harmless."""
TIMEOUT_SECONDS = 120
EVENT_MAX_AGE_SECONDS = 6 * 3600
DEPLOY_STAGE = "Deploy"
SOURCE_STAGE = "Source"
DEPLOY_OUTCOMES = ("SUCCEEDED", "FAILED")


def deploy_outcome_pattern(environments: list[str], account_id: str) -> dict[str, object]:
    """Deploy stages of pipelines named ``<service>-<env>`` that ended, in the tooling account.

    The function narrows further (the graph must place the pipeline, the region must be the tooling one).
    """
    return {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Stage Execution State Change"],
        "account": [account_id],
        "detail": {
            "stage": [DEPLOY_STAGE],
            "state": list(DEPLOY_OUTCOMES),
            "pipeline": [{"wildcard": naming.pipeline_name("*", env)} for env in environments],
        },
    }


@dataclass(frozen=True)
class DoraMetricsArgs:
    inputs: PlatformInputs


class DoraMetrics(pulumi.ComponentResource):
    """Key, table, dead letters, function, its two rules and the dashboard."""

    function_name: pulumi.Output[str]
    dashboard_name: str

    def __init__(self, name: str, args: DoraMetricsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:metrics:DoraMetrics", name, None, opts)
        inputs, settings = args.inputs, args.inputs.settings
        region, account, stack = settings.region, settings.tooling_account_id, inputs.stack
        partition = naming.partition_of(region)
        tags = standard_tags(stack)
        child = pulumi.ResourceOptions(parent=self)
        function_name = naming.function_name(naming.DORA_PURPOSE, stack)
        role_arn = naming.role_arn(region, account, function_name)
        log_group_arn = naming.log_group_arn(region, account, f"/aws/lambda/{function_name}")
        queue_name = f"{function_name}-dlq"
        queue_arn = f"arn:{partition}:sqs:{region}:{account}:{queue_name}"
        table_name = naming.dora_table_name(stack)
        environments = [environment.name for environment in settings.environments]

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the DORA deployments table, dead letters, settings and logs ({stack})",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=iam.to_json(iam.dora_key_policy(region, account, role_arn, log_group_arn, queue_arn)),
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/{function_name}", target_key_id=key.key_id, opts=child)
        table = ledger_table(f"{name}-deployments", table_name, key.arn, tags, child)
        dead_letters = dead_letter_queue(f"{name}-dlq", queue_name, key.arn, tags, child, data_key_reuse_seconds=300)
        function = PlatformFunction(
            name,
            PlatformFunctionArgs(
                stack=stack,
                region=region,
                account_id=account,
                purpose=naming.DORA_PURPOSE,
                folder="dora_metrics",
                description="Records every deployment once and publishes the DORA metrics per service and environment",
                key_arn=key.arn,
                dead_letter_queue_arn=dead_letters.arn,
                policy_inputs={"table_arn": table.arn, "key_arn": key.arn, "queue_arn": dead_letters.arn},
                policy_for=lambda resolved: iam.dora_role_policy(
                    region,
                    account,
                    stack,
                    log_group_arn=resolved["log_group_arn"],
                    table_arn=resolved["table_arn"],
                    key_arn=resolved["key_arn"],
                    dead_letter_arn=resolved["queue_arn"],
                    namespace=NAMESPACE,
                    environments=environments,
                ),
                environment={
                    "FACTS_TABLE": table_name,
                    "GRAPH_PARAMETER": naming.graph_parameter_name(stack),
                    # Where outcomes may come from: the pipelines' account and region.
                    "TOOLING_ACCOUNT_ID": account,
                    "TOOLING_REGION": region,
                    "PIPELINE_NAME_PATTERN": naming.pipeline_name("{service}", "{environment}"),
                    "DEPLOY_STAGE": DEPLOY_STAGE,
                    "SOURCE_STAGE": SOURCE_STAGE,
                    "WINDOW_DAYS": str(WINDOW_DAYS),
                    "FAILURE_WINDOW_HOURS": str(FAILURE_WINDOW_HOURS),
                },
                vendored=[DEPENDENCY_GRAPH],
                tags=tags,
                timeout_seconds=TIMEOUT_SECONDS,
                architecture="arm64",
                tracing=True,
                reserved_concurrency=RESERVED_CONCURRENCY,
                encrypt_environment=True,
                log_format="JSON",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[table]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=EVENT_MAX_AGE_SECONDS,
            opts=child,
        )
        rules = {
            "deploy-outcomes": aws.cloudwatch.EventRule(
                f"{name}-deploy-outcomes",
                name=naming.event_rule_name("dora-deploy-outcomes", stack),
                description=f"Deploy stages of platform stack {stack}'s pipelines that ended → DORA metrics",
                event_pattern=json.dumps(deploy_outcome_pattern(environments, account), sort_keys=True),
                tags=tags,
                opts=child,
            ),
            "publish": aws.cloudwatch.EventRule(
                f"{name}-publish",
                name=naming.event_rule_name("dora-publish", stack),
                description="Publishes every service's DORA metrics as the window moves on",
                schedule_expression=PUBLISH_SCHEDULE,
                tags=tags,
                opts=child,
            ),
        }
        for purpose, rule in rules.items():
            invoke_from_rule(
                f"{name}-{purpose}",
                rule,
                function,
                source_account=account,
                retry_policy={"maximum_event_age_in_seconds": EVENT_MAX_AGE_SECONDS, "maximum_retry_attempts": 20},
                dead_letter_arn=dead_letters.arn,
            )
        self.dashboard_name = naming.dora_dashboard_name(stack)
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=self.dashboard_name,
            dashboard_body=dashboard_body(
                [service.name for service in inputs.catalog.services],
                environments,
                region,
                function_name,
                WINDOW_DAYS,
                FAILURE_WINDOW_HOURS,
            ),
            opts=child,
        )
        self.function_name = function.name
        self.register_outputs({"functionName": function.name, "dashboardName": self.dashboard_name})
