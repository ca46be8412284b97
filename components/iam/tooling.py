"""Policies of the roles in the tooling account: pipeline, build, image build and Lambda release roles.

Every statement names its actions and its resources; the only ``*`` resource is
``ecr:GetAuthorizationToken``, which AWS cannot scope.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import naming
from .documents import (
    ARTIFACT_READ_ACTIONS,
    ARTIFACT_WRITE_ACTIONS,
    KMS_USE_ACTIONS,
    PUBLISH_KEY_ACTIONS,
    Document,
    artifact_objects,
    document,
    write_own_logs,
)
from .github_dispatch import dispatch_invoke_statement


def pipeline_role_policy(
    bucket_arn: str,
    key_arn: str,
    connection_arn: str,
    project_arns: Sequence[str],
    assumable_role_arns: Sequence[str],
    artifact_prefixes: Sequence[str],
    *,
    invoked_function_arns: Sequence[str] = (),
    approval_topic_arn: str | None = None,
    approval_key_arn: str | None = None,
    dispatch_function_arn: str | None = None,
) -> Document:
    """What one service's pipelines do themselves: fetch source, run builds, hand off deploys.

    ``invoked_function_arns``: the functions behind the pipelines' ``LambdaInvoke`` rules
    and bake actions (the deploy gate); CodePipeline invokes them as the pipeline role.
    The pipelines read no alarm themselves: the gate and the bake read health
    alarms through the environment accounts' alarm readers, so the pipeline role
    assumes no role there but the deploy roles.

    Artifact access is limited to the service's own pipeline prefixes, so one
    service's pipeline can never replace another service's artifact. A manual
    approval with a topic is published by CodePipeline as the pipeline role, so
    that role publishes to the (encrypted) release-news topic.
    service's pipeline can never replace another service's artifact. With
    ``dispatch_function_arn`` (services that also deploy to GCP or Azure) the
    pipeline may invoke the GitHub dispatch function and no other.
    """
    statements: list[Document] = [
        {
            "Sid": "ArtifactObjects",
            "Effect": "Allow",
            "Action": ARTIFACT_WRITE_ACTIONS,
            "Resource": artifact_objects(bucket_arn, artifact_prefixes),
        },
        {
            "Sid": "ArtifactBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketVersioning", "s3:GetBucketLocation"],
            "Resource": bucket_arn,
        },
        {"Sid": "ArtifactKey", "Effect": "Allow", "Action": KMS_USE_ACTIONS, "Resource": key_arn},
        {
            # Both names of the service: connections may carry either ARN prefix.
            "Sid": "GitHubSource",
            "Effect": "Allow",
            "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
            "Resource": naming.connection_arns(connection_arn),
        },
        {
            "Sid": "RunBuilds",
            "Effect": "Allow",
            "Action": ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            "Resource": sorted(project_arns),
        },
    ]
    if invoked_function_arns:
        statements.append(
            {
                "Sid": "InvokeEntryRuleFunctions",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": sorted(invoked_function_arns),
            }
        )
    if approval_topic_arn and approval_key_arn:
        statements += [
            {"Sid": "ApprovalRequests", "Effect": "Allow", "Action": "sns:Publish", "Resource": approval_topic_arn},
            {
                "Sid": "ApprovalRequestsKey",
                "Effect": "Allow",
                "Action": PUBLISH_KEY_ACTIONS,
                "Resource": approval_key_arn,
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
    if dispatch_function_arn:
        statements.append(dispatch_invoke_statement(dispatch_function_arn))
    return document(*statements)


def _build_statements(
    log_group_arn: str, bucket_arn: str, key_arn: str, artifact_prefixes: Sequence[str]
) -> list[Document]:
    """What every CodeBuild role of a service needs: its own logs, and its artifacts under its prefixes."""
    return [
        write_own_logs("Logs", log_group_arn),
        {
            "Sid": "ArtifactObjects",
            "Effect": "Allow",
            "Action": ARTIFACT_WRITE_ACTIONS,
            "Resource": artifact_objects(bucket_arn, artifact_prefixes),
        },
        {
            "Sid": "ArtifactKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": key_arn,
        },
    ]


def build_role_policy(
    region: str,
    account_id: str,
    project_name: str,
    log_group_arn: str,
    bucket_arn: str,
    key_arn: str,
    artifact_prefixes: Sequence[str],
) -> Document:
    """A build reads its source, writes its artifact, logs and reports tests; it pushes no image.

    Only under its service's artifact prefixes: a compromised build cannot touch another service's
    artifacts. It runs the team's own buildspec, so container images are pushed by the platform's
    image build (``image_build_role_policy``), never by it.
    """
    partition = naming.partition_of(region)
    return document(
        *_build_statements(log_group_arn, bucket_arn, key_arn, artifact_prefixes),
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
    )


IMAGE_PUSH_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]
"""What ``docker push`` (and ``--pull`` of an image in the same repository) needs on the repository."""


def image_build_role_policy(
    log_group_arn: str,
    bucket_arn: str,
    key_arn: str,
    image_repository_arn: str,
    artifact_prefixes: Sequence[str],
) -> Document:
    """The platform's image build reads the build output, writes ``imageDetail.json`` and pushes to one repository.

    It runs privileged (Docker), so it holds nothing else: no test reports, no other repository, no role
    to assume. The policy pack checks that a privileged project's role can push to exactly one repository.
    """
    return document(
        *_build_statements(log_group_arn, bucket_arn, key_arn, artifact_prefixes),
        # GetAuthorizationToken has no resource type: AWS only accepts "*" here.
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "PushImage", "Effect": "Allow", "Action": IMAGE_PUSH_ACTIONS, "Resource": image_repository_arn},
    )


def release_role_policy(
    log_group_arn: str,
    bucket_arn: str,
    key_arn: str,
    deploy_role_arns: Sequence[str],
    artifact_prefixes: Sequence[str],
    release_prefixes: Sequence[str],
) -> Document:
    """The Lambda release runner reads the build output, stages ``function.zip`` and acts only through deploy roles.

    ``UpdateFunctionCode`` takes the code from S3 (no 50 MB ``--zip-file`` cap), so
    the runner writes it under the service's release prefix for the deploy role to hand over.
    """
    return document(
        write_own_logs("Logs", log_group_arn),
        {
            "Sid": "ArtifactObjects",
            "Effect": "Allow",
            "Action": ARTIFACT_READ_ACTIONS,
            "Resource": artifact_objects(bucket_arn, artifact_prefixes),
        },
        {
            # A PutObject that tags its object (the package's kind, which its lifecycle rule finds) also needs
            # s3:PutObjectTagging (S3 API reference, PutObject: permissions).
            "Sid": "StageReleases",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectTagging"],
            "Resource": artifact_objects(bucket_arn, release_prefixes),
        },
        {
            "Sid": "ArtifactKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
            "Resource": key_arn,
        },
        {
            "Sid": "AssumeDeployRoles",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": sorted(deploy_role_arns),
        },
    )
