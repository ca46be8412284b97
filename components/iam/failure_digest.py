"""The failure digest's role: read why an action failed, remember it, tell Slack; optionally ask one model.

Everything it reads is named by pattern, never per service, so the policy does
not grow with the catalog: pipelines ``*-<env>`` (and only those tagged
``managed-by`` this platform), the CodeBuild projects the pipelines run
(``*-build`` — the image build ``*-image-build`` included —, ``*-lambda-release``,
``*-scan``), their log groups (``/aws/codebuild/<project>``), and their report
groups (``<project>-<report>`` for the teams' test reports, ``*-security-findings``
for the scans). CodeDeploy is read in the environment accounts through their
reader roles, never from here. Bedrock, when the stack enables it, is one
foundation model in the tooling region: the Converse API "requires permission
for the ``bedrock:InvokeModel`` action" (Amazon Bedrock API Reference, Converse).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import naming
from .documents import PUBLISH_KEY_ACTIONS, Document, document, graph_reading, role_uses_data_store_key, write_own_logs

PROJECT_PATTERNS = ("*-build", "*-lambda-release", "*-scan")
"""``naming.build_project_name``, ``image_build_project_name`` (``*-image-build`` ends in ``-build``),
``release_project_name`` and ``scan_project_name``, with the service wildcarded."""
REPORT_GROUP_PATTERNS = ("*-build-*", "*-security-findings")
"""CodeBuild names a report group a buildspec creates ``<project>-<report>``; the scans write to their own."""


def foundation_model_arn(region: str, model_id: str) -> str:
    return f"arn:{naming.partition_of(region)}:bedrock:{region}::foundation-model/{model_id}"


def failure_digest_policy(
    region: str,
    account_id: str,
    *,
    log_group_arn: str,
    ledger_table_arn: str,
    ledger_key_arn: str,
    dead_letter_arn: str,
    environments: Sequence[str],
    managed_by: str,
    stack: str,
    graph_parameter_arns: Sequence[str],
    reader_role_arns: Sequence[str],
    webhook_secret_arn: str | None = None,
    bot_token_secret_arn: str | None = None,
    topic: tuple[str, str] | None = None,
    model_id: str | None = None,
) -> Document:
    """``webhook_secret_arn``, ``bot_token_secret_arn`` and ``topic`` are the stack's way to Slack (one of them);
    ``model_id`` the Bedrock model when the summary is on."""
    partition = naming.partition_of(region)
    pipelines = [naming.pipeline_arn(region, account_id, naming.pipeline_name("*", env)) for env in environments]
    projects = f"arn:{partition}:codebuild:{region}:{account_id}:project"
    reports = f"arn:{partition}:codebuild:{region}:{account_id}:report-group"
    build_logs = [naming.log_group_arn(region, account_id, f"/aws/codebuild/{pattern}") for pattern in PROJECT_PATTERNS]
    statements: list[Document] = [
        write_own_logs("OwnLogs", log_group_arn),
        {
            # Claims (UpdateItem), the release-news thread of an execution (GetItem) and each service's latest
            # failure (GetItem, a conditional PutItem).
            "Sid": "DeliveryLedger",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": ledger_table_arn,
        },
        role_uses_data_store_key("LedgerAndDeadLetterKey", ledger_key_arn, region),
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_arn},
        {
            "Sid": "ReadPlatformPipelines",
            "Effect": "Allow",
            "Action": [
                "codepipeline:GetPipelineExecution",
                "codepipeline:ListActionExecutions",
                "codepipeline:ListTagsForResource",
            ],
            "Resource": pipelines,
            # This stack's pipelines only (a shard's carry its core's name): another stack's digest in the same
            # tooling account must not read these executions, their commits and approval comments.
            "Condition": {
                "StringEquals": {"aws:ResourceTag/managed-by": managed_by, "aws:ResourceTag/platform-stack": stack}
            },
        },
        {
            "Sid": "ReadFailedBuilds",
            "Effect": "Allow",
            "Action": "codebuild:BatchGetBuilds",
            "Resource": [f"{projects}/{pattern}" for pattern in PROJECT_PATTERNS],
        },
        {
            "Sid": "ReadFailedTests",
            "Effect": "Allow",
            "Action": "codebuild:DescribeTestCases",
            "Resource": [f"{reports}/{pattern}" for pattern in REPORT_GROUP_PATTERNS],
        },
        {
            # FilterLogEvents is authorized on the log group, GetLogEvents on the stream (Service Authorization
            # Reference, Amazon CloudWatch Logs); CloudWatch Logs also names a group ``…:log-group:<name>:*``.
            "Sid": "ReadBuildLogs",
            "Effect": "Allow",
            "Action": ["logs:FilterLogEvents", "logs:GetLogEvents"],
            "Resource": [*build_logs, *[f"{group}:*" for group in build_logs]],
        },
        # The graph is an index and its parts (``deploy_ledger.graph.read_graph``), read as the reporter reads it.
        graph_reading("ReadPlacements", graph_parameter_arns),
    ]
    if reader_role_arns:
        statements.append(
            {
                "Sid": "ReadDeploymentsThroughReaders",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": sorted(set(reader_role_arns)),
            }
        )
    for sid, secret in (("WebhookSecret", webhook_secret_arn), ("BotTokenSecret", bot_token_secret_arn)):
        if secret is not None:
            statements.append(
                {"Sid": sid, "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret}
            )
    if topic is not None:
        topic_arn, topic_key_arn = topic
        statements += [
            {"Sid": "PublishToReleaseNews", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
            {"Sid": "ReleaseNewsKey", "Effect": "Allow", "Action": PUBLISH_KEY_ACTIONS, "Resource": topic_key_arn},
        ]
    if model_id is not None:
        statements.append(
            {
                "Sid": "SummariseWithOneModel",
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": foundation_model_arn(region, model_id),
            }
        )
    return document(*statements)
