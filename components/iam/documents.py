"""IAM and resource policy documents, as plain data.

Every statement names its actions and its resources; the only ``*`` resources
are for actions AWS cannot scope (``ecr:GetAuthorizationToken``,
``ecs:RegisterTaskDefinition``), and each carries a comment saying so. The
functions take resolved strings so they are easy to test and to read; the
components wrap them in ``Output.all(...).apply``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..model import naming

Document = dict[str, Any]

KMS_KEY_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
KMS_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
KMS_READ_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"]
ARTIFACT_READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
ARTIFACT_WRITE_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
CODEDEPLOY_DEPLOY_ACTIONS = [
    "codedeploy:CreateDeployment",
    "codedeploy:GetApplication",
    "codedeploy:GetApplicationRevision",
    "codedeploy:GetDeployment",
    "codedeploy:GetDeploymentConfig",
    "codedeploy:RegisterApplicationRevision",
]


def document(*statements: Document) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def to_json(doc: Document) -> str:
    return json.dumps(doc, sort_keys=True)


def service_trust(service_principal: str, source_account: str) -> Document:
    """Trust for an AWS service role, scoped to our account against the confused deputy."""
    return document(
        {
            "Sid": "AssumedByService",
            "Effect": "Allow",
            "Principal": {"Service": service_principal},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": source_account}},
        }
    )


def cross_account_trust(trusted_role_arn: str, organization_id: str) -> Document:
    """Trust one role of the tooling account, and only from inside the organization.

    CodePipeline assumes action roles without an ExternalId, so the second
    factor is ``aws:PrincipalOrgID`` rather than ``sts:ExternalId``.
    """
    return document(
        {
            "Sid": "AssumedByPipelineOnly",
            "Effect": "Allow",
            "Principal": {"AWS": trusted_role_arn},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
        }
    )


def _named_readers(
    region: str, readers_by_account: dict[str, list[str]], purpose: str, actions: list[str], resource: str
) -> list[Document]:
    """One statement per account: its root as principal, narrowed to the named roles by ``aws:PrincipalArn``."""
    return [
        {
            "Sid": f"DeployAccount{account_id}{purpose}",
            "Effect": "Allow",
            "Principal": {"AWS": naming.account_root_arn(region, account_id)},
            "Action": actions,
            "Resource": resource,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": readers}},
        }
        for account_id, readers in readers_by_account.items()
        if readers
    ]


def artifact_key_policy(
    region: str,
    tooling_account_id: str,
    tooling_role_arns: Sequence[str],
    readers_by_account: dict[str, list[str]],
) -> Document:
    """Key policy of the artifact key: admins, tooling roles, cross-account readers, logs.

    Cross-account readers are named through ``aws:PrincipalArn`` under their
    account's root principal: the roles may not exist yet when the key is
    created, and KMS rejects a policy that names a missing role.
    """
    root = naming.account_root_arn(region, tooling_account_id)
    partition = naming.partition_of(region)
    statements: list[Document] = [
        {
            "Sid": "KeyAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": KMS_KEY_ADMIN_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "PipelineRolesUseKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": KMS_USE_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": list(tooling_role_arns)}},
        },
        {
            "Sid": "BuildLogsEncryption",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{partition}:logs:{region}:{tooling_account_id}:log-group:/aws/codebuild/*"
                    )
                }
            },
        },
    ]
    statements += _named_readers(region, readers_by_account, "DecryptsArtifacts", KMS_READ_ACTIONS, "*")
    return document(*statements)


def artifact_bucket_policy(region: str, bucket_arn: str, readers_by_account: dict[str, list[str]]) -> Document:
    """TLS only, and read access for the named deploy-side roles of each environment account."""
    statements: list[Document] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    statements += _named_readers(region, readers_by_account, "ReadsArtifacts", ARTIFACT_READ_ACTIONS, f"{bucket_arn}/*")
    return document(*statements)


def pipeline_role_policy(
    bucket_arn: str,
    key_arn: str,
    connection_arn: str,
    project_arns: Sequence[str],
    assumable_role_arns: Sequence[str],
) -> Document:
    """What one service's pipelines do themselves: fetch source, run builds, hand off deploys."""
    statements: list[Document] = [
        {"Sid": "ArtifactObjects", "Effect": "Allow", "Action": ARTIFACT_WRITE_ACTIONS, "Resource": f"{bucket_arn}/*"},
        {
            "Sid": "ArtifactBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketVersioning", "s3:GetBucketLocation"],
            "Resource": bucket_arn,
        },
        {"Sid": "ArtifactKey", "Effect": "Allow", "Action": KMS_USE_ACTIONS, "Resource": key_arn},
        {
            "Sid": "GitHubSource",
            "Effect": "Allow",
            "Action": "codestar-connections:UseConnection",
            "Resource": connection_arn,
        },
        {
            "Sid": "RunBuilds",
            "Effect": "Allow",
            "Action": ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            "Resource": sorted(project_arns),
        },
    ]
    if assumable_role_arns:
        statements.append(
            {
                "Sid": "AssumeDeployRoles",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": sorted(assumable_role_arns),
            }
        )
    return document(*statements)


def build_role_policy(
    region: str,
    account_id: str,
    project_name: str,
    log_group_arn: str,
    bucket_arn: str,
    key_arn: str,
    image_repository_arn: str | None,
) -> Document:
    """A build reads its source, writes its artifact, logs, reports tests and pushes its image."""
    partition = naming.partition_of(region)
    statements: list[Document] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        {"Sid": "ArtifactObjects", "Effect": "Allow", "Action": ARTIFACT_WRITE_ACTIONS, "Resource": f"{bucket_arn}/*"},
        {
            "Sid": "ArtifactKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": key_arn,
        },
        {
            "Sid": "TestReports",
            "Effect": "Allow",
            "Action": [
                "codebuild:BatchPutCodeCoverages",
                "codebuild:BatchPutTestCases",
                "codebuild:CreateReport",
                "codebuild:CreateReportGroup",
                "codebuild:UpdateReport",
            ],
            "Resource": f"arn:{partition}:codebuild:{region}:{account_id}:report-group/{project_name}-*",
        },
    ]
    if image_repository_arn:
        statements += [
            # GetAuthorizationToken has no resource type: AWS only accepts "*" here.
            {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PushImage",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:CompleteLayerUpload",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:InitiateLayerUpload",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                ],
                "Resource": image_repository_arn,
            },
        ]
    return document(*statements)


def release_role_policy(log_group_arn: str, bucket_arn: str, key_arn: str, deploy_role_arns: Sequence[str]) -> Document:
    """The Lambda release runner reads the build output and acts only through deploy roles."""
    return document(
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        {"Sid": "ArtifactObjects", "Effect": "Allow", "Action": ARTIFACT_READ_ACTIONS, "Resource": f"{bucket_arn}/*"},
        {"Sid": "ArtifactKey", "Effect": "Allow", "Action": KMS_READ_ACTIONS, "Resource": key_arn},
        {
            "Sid": "AssumeDeployRoles",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": sorted(deploy_role_arns),
        },
    )


def ecs_deploy_policy(
    codedeploy_arns: Sequence[str],
    passed_role_arns: Sequence[str],
    bucket_arn: str,
    key_arn: str,
) -> Document:
    """CodeDeployToECS, run in the environment account: register the task definition, start the deploy."""
    return document(
        {
            "Sid": "StartDeployment",
            "Effect": "Allow",
            "Action": CODEDEPLOY_DEPLOY_ACTIONS,
            "Resource": list(codedeploy_arns),
        },
        # RegisterTaskDefinition has no resource-level permissions: AWS only accepts "*".
        {"Sid": "RegisterTaskDefinition", "Effect": "Allow", "Action": "ecs:RegisterTaskDefinition", "Resource": "*"},
        {
            "Sid": "PassTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": list(passed_role_arns),
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {"Sid": "ReadArtifacts", "Effect": "Allow", "Action": ARTIFACT_READ_ACTIONS, "Resource": f"{bucket_arn}/*"},
        {"Sid": "DecryptArtifacts", "Effect": "Allow", "Action": KMS_READ_ACTIONS, "Resource": key_arn},
    )


def server_deploy_policy(codedeploy_arns: Sequence[str], bucket_arn: str, key_arn: str) -> Document:
    """CodeDeploy to EC2, run in the environment account."""
    return document(
        {
            "Sid": "StartDeployment",
            "Effect": "Allow",
            "Action": CODEDEPLOY_DEPLOY_ACTIONS,
            "Resource": list(codedeploy_arns),
        },
        {"Sid": "ReadArtifacts", "Effect": "Allow", "Action": ARTIFACT_READ_ACTIONS, "Resource": f"{bucket_arn}/*"},
        {"Sid": "DecryptArtifacts", "Effect": "Allow", "Action": KMS_READ_ACTIONS, "Resource": key_arn},
    )


def lambda_deploy_policy(function_arn: str, codedeploy_arns: Sequence[str]) -> Document:
    """Publish a version of one function and let CodeDeploy shift its alias."""
    return document(
        {
            "Sid": "PublishVersion",
            "Effect": "Allow",
            "Action": [
                "lambda:GetAlias",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:PublishVersion",
                "lambda:UpdateFunctionCode",
            ],
            "Resource": [function_arn, f"{function_arn}:*"],
        },
        {
            "Sid": "StartDeployment",
            "Effect": "Allow",
            "Action": CODEDEPLOY_DEPLOY_ACTIONS,
            "Resource": list(codedeploy_arns),
        },
    )


def image_repository_policy(region: str, pull_account_ids: Sequence[str]) -> Document:
    """Environment accounts pull images; nobody else does."""
    return document(
        {
            "Sid": "EnvironmentAccountsPull",
            "Effect": "Allow",
            "Principal": {
                "AWS": [naming.account_root_arn(region, account) for account in sorted(set(pull_account_ids))]
            },
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    )
