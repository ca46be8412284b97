"""Policies of the coordination pieces: the coordinator's and the gate's roles, and the coordination key.

Each role names the actions its function calls (``functions/coordinator``,
``functions/deploy_gate``, ``functions/deploy_ledger``) on the exact resources.
``Resource: "*"`` appears only where AWS cannot scope the action (Service
Authorization Reference): ``codepipeline:PutJob*Result`` and X-Ray's
``PutTraceSegments``/``PutTelemetryRecords``. Health alarms are not read in
the tooling account: both functions assume the alarm reader roles of the
environment accounts where services run, and only those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..model import naming
from ..model.tags import MANAGED_BY
from .documents import (
    KMS_USE_ACTIONS,
    Document,
    document,
    graph_reading,
    key_administration,
    logs_may_encrypt,
    services_send_dead_letters,
    write_own_logs,
)

LEDGER_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:Query"]
LEDGER_WRITE_ACTIONS = ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
TRACING_ACTIONS = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]


@dataclass(frozen=True)
class CoordinationScope:
    """The resources both functions touch, as ARNs."""

    region: str
    account_id: str
    stack: str
    table_arn: str
    key_arn: str
    environments: Sequence[str]
    alarm_reader_role_arns: Sequence[str] = ()
    """The readers of the accounts whose health alarms the gate checks (every account a service runs in)."""

    @property
    def partition(self) -> str:
        return naming.partition_of(self.region)

    def parameter_arn(self, name: str) -> str:
        return f"arn:{self.partition}:ssm:{self.region}:{self.account_id}:parameter{name}"

    def read_parameters(self) -> list[str]:
        """The freeze switches, one per environment (``GetParameter``)."""
        names = [naming.freeze_parameter_name(self.stack, environment) for environment in self.environments]
        return [self.parameter_arn(name) for name in names]

    def graph_parameters(self) -> list[str]:
        """The dependency graph: its index and its parts (``naming.graph_part_parameter_name``)."""
        index = naming.graph_parameter_name(self.stack)
        return [self.parameter_arn(index), self.parameter_arn(naming.graph_parts_pattern(index))]


def _common(scope: CoordinationScope, log_group_arn: str, ledger_actions: list[str]) -> list[Document]:
    statements: list[Document] = [
        write_own_logs("Logs", log_group_arn),
        {"Sid": "Ledger", "Effect": "Allow", "Action": sorted(ledger_actions), "Resource": scope.table_arn},
        {"Sid": "CoordinationKey", "Effect": "Allow", "Action": KMS_USE_ACTIONS, "Resource": scope.key_arn},
        {"Sid": "FreezeSwitches", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": scope.read_parameters()},
        graph_reading("DependencyGraph", scope.graph_parameters()),
        # X-Ray cannot scope trace uploads to a resource.
        {"Sid": "Tracing", "Effect": "Allow", "Action": TRACING_ACTIONS, "Resource": "*"},
    ]
    if scope.alarm_reader_role_arns:
        # Health alarms live in the services' accounts; their readers may DescribeAlarms there, nothing else.
        statements.append(
            {
                "Sid": "ReadDependencyAlarmsThroughReaders",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": sorted(set(scope.alarm_reader_role_arns)),
            }
        )
    return statements


def deploy_gate_role_policy(scope: CoordinationScope, log_group_arn: str, dead_letter_queue_arn: str) -> Document:
    """The gate reads the ledger, the graph, freezes and alarms, records holds and bake claims, answers the
    pipeline's jobs, reads whether a bake runs in a rollback execution, and keeps the bake deliveries Lambda
    gave up on in its dead-letter queue."""
    statements = _common(scope, log_group_arn, [*LEDGER_READ_ACTIONS, "dynamodb:PutItem", "dynamodb:UpdateItem"])
    statements += [
        # Job results cannot be scoped to a pipeline (Service Authorization Reference: no resource type).
        {
            "Sid": "AnswerPipelineJobs",
            "Effect": "Allow",
            "Action": ["codepipeline:PutJobFailureResult", "codepipeline:PutJobSuccessResult"],
            "Resource": "*",
        },
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_queue_arn},
        # The bake asks whether it runs in a rollback execution; only of this stack's pipelines (by their tags).
        _platform_pipelines(
            scope,
            "ReadPlatformPipelineExecutions",
            ["codepipeline:GetPipelineState", "codepipeline:ListPipelineExecutions"],
        ),
    ]
    return document(*statements)


def _platform_pipelines(scope: CoordinationScope, sid: str, actions: list[str]) -> Document:
    """``actions`` on this stack's pipelines, named by their tags: their ARNs would overflow an inline policy."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": f"arn:{scope.partition}:codepipeline:{scope.region}:{scope.account_id}:*",
        "Condition": {
            "StringEquals": {"aws:ResourceTag/managed-by": MANAGED_BY, "aws:ResourceTag/platform-stack": scope.stack}
        },
    }


def coordinator_role_policy(
    scope: CoordinationScope,
    log_group_arn: str,
    topics_pattern: str,
    dead_letter_queue_arn: str,
    test_projects_pattern: str | None,
) -> Document:
    """The coordinator keeps the ledger, announces deploys, and restarts or redeploys this stack's pipelines.

    Every resource that exists once per service is named by pattern, never listed: the deployed topics
    (``naming.deployed_topic_name`` with ``*``: all of them are the platform's, and the coordinator
    announces any service's deploys), the pipelines (by their tags) and the dependents' integration-test
    projects (``test_projects_pattern``, ``*-integration-tests``: the teams own those projects, so no tag
    can be relied on; which dependent is tested is the graph's ``onUpstreamDeploy``). A list would outgrow
    the role's 10,240 characters of inline policy at about 60 services.
    """
    statements = _common(scope, log_group_arn, [*LEDGER_READ_ACTIONS, *LEDGER_WRITE_ACTIONS])
    statements += [
        {"Sid": "AnnounceDeploys", "Effect": "Allow", "Action": "sns:Publish", "Resource": topics_pattern},
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_queue_arn},
        {
            # Held deploys can be any pipeline of the stack (96 for 24 services): named by the stack's tags,
            # because their ARNs would overflow an inline policy (10,240 characters).
            "Sid": "RestartAndRedeployPlatformPipelines",
            "Effect": "Allow",
            # A new execution names the commit it builds, read from an earlier execution (sourceRevisions).
            "Action": [
                "codepipeline:RetryStageExecution",
                "codepipeline:StartPipelineExecution",
                "codepipeline:GetPipelineExecution",
                "codepipeline:ListPipelineExecutions",
            ],
            "Resource": f"arn:{scope.partition}:codepipeline:{scope.region}:{scope.account_id}:*",
            "Condition": {
                "StringEquals": {
                    "aws:ResourceTag/managed-by": MANAGED_BY,
                    "aws:ResourceTag/platform-stack": scope.stack,
                }
            },
        },
        # Before restarting a hold whose earlier restart may have gone through (the invocation died before it
        # recorded it), the coordinator asks what the Deploy stage is doing, so a deploy is never started twice.
        _platform_pipelines(scope, "ReadPlatformPipelineState", ["codepipeline:GetPipelineState"]),
    ]
    if test_projects_pattern:
        statements.append(
            {
                "Sid": "RunDependentIntegrationTests",
                "Effect": "Allow",
                "Action": "codebuild:StartBuild",
                "Resource": test_projects_pattern,
            }
        )
    return document(*statements)


def coordination_key_policy(
    region: str,
    account_id: str,
    stack: str,
    function_role_arns: Sequence[str],
    dead_letter_queue_arn: str | None = None,
) -> Document:
    """The coordination key: the account's admins, the two function roles, CloudWatch Logs for their logs, and
    EventBridge for the coordinator's dead-letter queue (its rules' targets dead-letter there themselves)."""
    root = naming.account_root_arn(region, account_id)
    dead_letters = (
        [services_send_dead_letters("EventBridgeSendsDeadLetters", [dead_letter_queue_arn], ["events.amazonaws.com"])]
        if dead_letter_queue_arn is not None
        else []
    )
    return document(
        key_administration(root),
        {
            # The deployer creates the table and topics; DynamoDB and SNS use the key on the functions' behalf.
            "Sid": "CoordinationFunctionsUseKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": KMS_USE_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": sorted(function_role_arns)}},
        },
        logs_may_encrypt(
            "FunctionLogsEncryption",
            region,
            naming.log_group_arn(region, account_id, f"/aws/lambda/cicd-{stack.lower()}-*"),
        ),
        *dead_letters,
    )
