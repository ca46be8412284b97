"""Policies of the roles in the tooling account: pipeline, build and Lambda release roles.

Every statement names its actions and its resources; the only ``*`` resource is
``ecr:GetAuthorizationToken``, which AWS cannot scope.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import naming
from .documents import (
    ARTIFACT_READ_ACTIONS,
    ARTIFACT_WRITE_ACTIONS,
    KMS_READ_ACTIONS,
    KMS_USE_ACTIONS,
    Document,
    document,
)


def pipeline_role_policy(
    bucket_arn: str,
    key_arn: str,
    connection_arn: str,
    project_arns: Sequence[str],
    assumable_role_arns: Sequence[str],
    invokable_function_arns: Sequence[str] = (),
) -> Document:
    """What one service's pipelines do themselves: fetch source, run builds, hand off deploys.

    ``invokable_function_arns``: Lambda functions the pipeline runs as Invoke actions (the GitHub
    dispatch function for services that also deploy to GCP or Azure), named one by one.
    """
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
    if invokable_function_arns:
        statements.append(
            {
                "Sid": "InvokeDeployFunctions",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": sorted(invokable_function_arns),
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
