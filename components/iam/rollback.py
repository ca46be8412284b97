"""Documents of the rollback machinery: alarm topics, alarm readers, event forwarding, the rollback reporter.

Alarms live in the environment accounts and notify an SNS topic there; their
state changes (and CodeDeploy's deployment results) are forwarded to a bus in
the tooling account, where the rollback reporter reads them. Each document
names its principals, actions and resources; ``Resource: "*"`` appears in key
policies, where it means "this key", and on ``cloudwatch:DescribeAlarms``,
where AWS documents it as the only scope that returns composite alarms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..model import naming
from .documents import (
    PUBLISH_KEY_ACTIONS,
    Document,
    account_encrypts_through_services,
    document,
    graph_reading,
    key_administration,
    logs_may_encrypt,
    role_uses_data_store_key,
    write_own_logs,
)

ALARM_READ_ACTIONS = ["cloudwatch:DescribeAlarms"]
DEPLOYMENT_TARGET_READ_ACTIONS = ["codedeploy:GetDeploymentTarget", "codedeploy:ListDeploymentTargets"]
"""No resource-level permissions (Service Authorization Reference, AWS CodeDeploy): ``*`` is the only scope."""
COMPOSITE_ALARM_READ_SCOPE = "*"
"""Amazon CloudWatch API Reference, DescribeAlarms: to return composite alarms the caller needs
``cloudwatch:DescribeAlarms`` scoped to ``*``; with a narrower scope composite alarms are not returned at all.
Every health alarm the gates, the bake and the reporter read is a composite alarm."""


def alarm_topic_key_policy(region: str, account_id: str) -> Document:
    """The alarm topic's key: CloudWatch must be able to use it, which the AWS-managed aws/sns key never allows."""
    root = naming.account_root_arn(region, account_id)
    return document(
        key_administration(root),
        {
            # An alarm publishing to an encrypted topic encrypts as CloudWatch, not as SNS.
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "AccountPrincipalsThroughSns",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com", "kms:CallerAccount": account_id}
            },
        },
    )


def alarm_topic_policy(region: str, account_id: str, topic_arn: str, environment: str) -> Document:
    """Only CloudWatch alarms of this account, and only the platform's, may publish."""
    return document(
        {
            "Sid": "PlatformAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": naming.alarm_arn(region, account_id, f"cicd-*-{environment}-*")},
            },
        }
    )


def alarm_reader_trust(
    region: str,
    tooling_account_id: str,
    organization_id: str,
    reporter_role_arn: str,
    coordination_role_arns: Sequence[str] = (),
    failure_digest_role_arn: str | None = None,
) -> Document:
    """The reporter assumes the reader to quote alarms; the deploy gate (and its bake) and the coordinator, to
    check a service's and its dependencies' health alarms; the failure digest, to read a failed deployment.

    No pipeline role: pipelines have no ``CloudWatchAlarm`` rule to evaluate
    (AWS documents a rule's ``roleArn`` as the pipeline role, not a role to read
    another account's alarm through), so the
    readers trust exactly four function roles of the tooling account, from
    inside the organization, and the trust does not grow with the catalog.
    """
    readers = [reporter_role_arn, *sorted(coordination_role_arns)]
    if failure_digest_role_arn is not None:
        readers.append(failure_digest_role_arn)
    return document(
        {
            "Sid": "AssumedByPlatformFunctions",
            "Effect": "Allow",
            "Principal": {"AWS": naming.account_root_arn(region, tooling_account_id)},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:PrincipalOrgID": organization_id},
                "ArnEquals": {"aws:PrincipalArn": readers},
            },
        }
    )


def alarm_reader_policy(partition: str, region: str, account_id: str, environment: str) -> Document:
    """Read alarm state and why a platform deployment failed; nothing else, and never a change.

    Alarms: the one read action, on the only scope that returns composite alarms. The reader sees every alarm of
    its account (names, states, reasons), never changes one; the health alarms it exists to read are composite,
    which a reader scoped to ``alarm:cicd-*`` would not see at all.

    Deployments (for the failure digest): ``GetDeployment`` on the platform's deployment groups of this
    environment (``<service>-<env>``, application and group alike), and the two target reads that say which
    lifecycle event failed and why. IAM knows no resource type for ``ListDeploymentTargets`` and
    ``GetDeploymentTarget`` (Service Authorization Reference, AWS CodeDeploy), so they can only be granted on
    ``*``; both need a deployment id, and the digest reads only the one a platform pipeline's action names.
    """
    groups = f"arn:{partition}:codedeploy:{region}:{account_id}:deploymentgroup:*-{environment}/*-{environment}"
    return document(
        {
            "Sid": "ReadAlarmsIncludingComposite",
            "Effect": "Allow",
            "Action": ALARM_READ_ACTIONS,
            "Resource": COMPOSITE_ALARM_READ_SCOPE,
        },
        {"Sid": "ReadPlatformDeployments", "Effect": "Allow", "Action": "codedeploy:GetDeployment", "Resource": groups},
        {
            "Sid": "ReadDeploymentTargets",
            "Effect": "Allow",
            "Action": DEPLOYMENT_TARGET_READ_ACTIONS,
            "Resource": "*",
        },
    )


def event_forwarder_policy(bus_arn: str) -> Document:
    """EventBridge in an environment account puts the forwarded events on the tooling bus, and only there."""
    return document(
        {"Sid": "ForwardToToolingBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}
    )


def deploy_events_bus_policy(
    region: str, bus_arn: str, organization_id: str, forwarded_by_account: Mapping[str, Sequence[Mapping[str, Any]]]
) -> Document:
    """Each environment account, inside the organization, may put on the tooling bus only what its rules forward.

    ``forwarded_by_account`` maps each account to the patterns of its forwarding
    rules; the account is admitted for exactly their sources and detail types
    (``events:source`` and ``events:detail-type``, the condition keys EventBridge
    documents for ``PutEvents``: "Example policy: Send events to a custom bus in
    a different account"). Both keys are multivalued (one ``PutEvents`` call may
    carry several entries), hence ``ForAllValues``; and because ``ForAllValues``
    holds when a key is absent, a ``Null`` check requires both keys (IAM User
    Guide, "Single-valued vs. multivalued context keys"). Accounts admitted for
    the same kinds share one statement, so the policy stays far below its 10,240
    character quota.
    """
    grouped: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for account, patterns in sorted(forwarded_by_account.items()):
        sources = tuple(sorted({value for pattern in patterns for value in pattern["source"]}))
        detail_types = tuple(sorted({value for pattern in patterns for value in pattern["detail-type"]}))
        if sources:
            grouped.setdefault((sources, detail_types), []).append(account)
    return document(
        *(
            {
                "Sid": "EnvironmentAccountsForward" if index == 0 else f"EnvironmentAccountsForward{index + 1}",
                "Effect": "Allow",
                "Principal": {"AWS": [naming.account_root_arn(region, account) for account in accounts]},
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {
                    "StringEquals": {"aws:PrincipalOrgID": organization_id},
                    "ForAllValues:StringEquals": {
                        "events:source": list(sources),
                        "events:detail-type": list(detail_types),
                    },
                    "Null": {"events:source": "false", "events:detail-type": "false"},
                },
            }
            for index, ((sources, detail_types), accounts) in enumerate(grouped.items())
        )
    )


def reporter_key_policy(region: str, account_id: str, reporter_role_arn: str) -> Document:
    """The reporter's key: its settings, dead letters and logs; used by the reporter role and logs."""
    root = naming.account_root_arn(region, account_id)
    return document(
        key_administration(root),
        {
            "Sid": "ReporterUsesKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": reporter_role_arn}},
        },
        account_encrypts_through_services(root, account_id, region, ("lambda", "sqs")),
        logs_may_encrypt("LogsEncryption", region, naming.log_group_arn(region, account_id, "/aws/lambda/cicd-*")),
    )


def reporter_role_policy(
    region: str,
    account_id: str,
    *,
    log_group_arn: str,
    table_arn: str,
    key_arn: str,
    dead_letter_arn: str,
    environments: Sequence[str],
    managed_by: str,
    alarm_reader_role_arns: Sequence[str] = (),
    webhook_secret_arn: str | None = None,
    topic: tuple[str, str] | None = None,
    placements_parameter_arns: Sequence[str] = (),
    ledger_key_arn: str | None = None,
) -> Document:
    """What the reporter does: read what happened, tell Slack, roll back the Deploy stage of our pipelines.

    Why a build failed is the failure digest's to read (``failure_digest_policy``): the reporter reads no build
    and no build log.

    Slack is reached one of two ways, as the stack delivers release news: the
    webhook secret (``webhook_secret_arn``, a name pattern: the operator creates
    the secret) or, with AWS Chatbot, the release-news topic and its key (``topic``).

    Pipelines are named by pattern (``<service>-<env>``): an inline policy
    listing 4 ARNs per service would pass IAM's 10 KB limit near 50 services.
    Reads are further narrowed to pipelines tagged ``managed-by`` this platform.
    ``placements_parameter_arns`` are the dependency graph's parameters (its
    index and parts): where each service runs, which decides whether a forwarded
    event is believed.
    """
    pipelines = [naming.pipeline_arn(region, account_id, naming.pipeline_name("*", env)) for env in environments]
    statements: list[Document] = [
        write_own_logs("OwnLogs", log_group_arn),
        # The delivery ledger claims, notes and completes with conditional updates only.
        {"Sid": "DedupeLedger", "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": table_arn},
        {
            "Sid": "ReporterKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": key_arn,
        },
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_arn},
        {
            "Sid": "ReadPipelines",
            "Effect": "Allow",
            "Action": [
                "codepipeline:GetPipelineExecution",
                "codepipeline:GetPipelineState",
                "codepipeline:ListPipelineExecutions",
            ],
            "Resource": pipelines,
            "Condition": {"StringEquals": {"aws:ResourceTag/managed-by": managed_by}},
        },
        {
            # RollbackStage is authorized on the stage ARN (arn:…:codepipeline:region:account:pipeline/stage),
            # and only the Deploy stage is ever rolled back.
            "Sid": "RollBackDeployStage",
            "Effect": "Allow",
            "Action": "codepipeline:RollbackStage",
            "Resource": [f"{arn}/Deploy" for arn in pipelines],
        },
    ]
    if ledger_key_arn is not None:
        # The delivery ledger is encrypted with the release-news key; DynamoDB uses it on the reporter's behalf.
        statements.append(role_uses_data_store_key("LedgerKey", ledger_key_arn, region))
    if webhook_secret_arn is not None:
        statements.append(
            {
                "Sid": "WebhookSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": webhook_secret_arn,
            }
        )
    if topic is not None:
        topic_arn, topic_key_arn = topic
        statements += [
            {"Sid": "ReportToReleaseNews", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
            {"Sid": "ReleaseNewsKey", "Effect": "Allow", "Action": PUBLISH_KEY_ACTIONS, "Resource": topic_key_arn},
        ]
    if placements_parameter_arns:
        statements.append(graph_reading("ReadPlacements", placements_parameter_arns))
    if alarm_reader_role_arns:
        # To quote the signal alarms (their state reason carries the datapoints) in the Slack report.
        statements.append(
            {
                "Sid": "ReadAlarmsThroughReaders",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": sorted(set(alarm_reader_role_arns)),
            }
        )
    return document(*statements)
