"""Policies of the DORA metrics function: its role and its key.

The function reads what CodePipeline knows of the executions of this stack's pipelines, by their
names (one ``*-<environment>`` pattern per environment: 96 pipeline ARNs would crowd an inline
policy) and by their tags (so a same-patterned pipeline someone else created stays unreadable);
the dependency graph, and its own table; it publishes to its one CloudWatch namespace.
``cloudwatch:PutMetricData`` has no resource type (Service Authorization Reference), so it is
granted on ``*`` and narrowed by the documented ``cloudwatch:namespace`` condition key.
"""

from __future__ import annotations

from ..model import naming
from ..model.tags import MANAGED_BY
from .documents import (
    KMS_USE_ACTIONS,
    Document,
    account_encrypts_through_services,
    document,
    graph_reading,
    key_administration,
    logs_may_encrypt,
    services_send_dead_letters,
    write_own_logs,
)


def dora_role_policy(
    region: str,
    account_id: str,
    stack: str,
    *,
    log_group_arn: str,
    table_arn: str,
    key_arn: str,
    dead_letter_arn: str,
    namespace: str,
    environments: list[str],
) -> Document:
    """Record deployments, read their executions and the graph, publish the four metrics."""
    partition = naming.partition_of(region)
    graph = f"arn:{partition}:ssm:{region}:{account_id}:parameter{naming.graph_parameter_name(stack)}"
    parts = naming.graph_parts_pattern(naming.graph_parameter_name(stack))
    return document(
        write_own_logs("OwnLogs", log_group_arn),
        {
            "Sid": "RecordedDeployments",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Resource": table_arn,
        },
        # DynamoDB and SQS use the key for the role; Lambda decrypts the function's settings with it as the role.
        {"Sid": "FunctionKey", "Effect": "Allow", "Action": KMS_USE_ACTIONS, "Resource": key_arn},
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_arn},
        # The graph is an index and its parts (``deploy_ledger.graph.read_graph``).
        graph_reading("ReadPlacements", [graph, f"arn:{partition}:ssm:{region}:{account_id}:parameter{parts}"]),
        {
            "Sid": "ReadPlatformPipelineExecutions",
            "Effect": "Allow",
            "Action": ["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"],
            "Resource": [
                f"arn:{partition}:codepipeline:{region}:{account_id}:{naming.pipeline_name('*', environment)}"
                for environment in environments
            ],
            "Condition": {
                "StringEquals": {"aws:ResourceTag/managed-by": MANAGED_BY, "aws:ResourceTag/platform-stack": stack}
            },
        },
        {
            "Sid": "PublishDoraMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        },
    )


def dora_key_policy(region: str, account_id: str, role_arn: str, log_group_arn: str, dead_letter_arn: str) -> Document:
    """The DORA key: its table, dead letters, settings and logs.

    The function's role uses it (its table and dead letters through DynamoDB and SQS, its settings through
    Lambda); whoever deploys may encrypt through DynamoDB, Lambda and SQS only; CloudWatch Logs for the
    function's log group; EventBridge for the dead letters its targets send themselves.
    """
    root = naming.account_root_arn(region, account_id)
    return document(
        key_administration(root),
        {
            "Sid": "FunctionUsesKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": KMS_USE_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arn}},
        },
        account_encrypts_through_services(root, account_id, region, ("dynamodb", "lambda", "sqs")),
        logs_may_encrypt("LogsEncryption", region, log_group_arn, operator="ArnEquals"),
        services_send_dead_letters("EventBridgeSendsDeadLetters", [dead_letter_arn], ["events.amazonaws.com"]),
    )
