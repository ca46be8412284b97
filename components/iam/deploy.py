"""Policies of the deploy roles and instance roles, which live in the environment accounts.

A deploy role may change exactly one service in one environment and read only
that pipeline's artifacts. The only ``*`` resource is
``ecs:RegisterTaskDefinition``, which AWS cannot scope.
"""

from __future__ import annotations

from collections.abc import Sequence

from .documents import (
    ARTIFACT_READ_ACTIONS,
    CODEDEPLOY_DEPLOY_ACTIONS,
    KMS_READ_ACTIONS,
    Document,
    artifact_objects,
    document,
)


def ecs_deploy_policy(
    codedeploy_arns: Sequence[str],
    passed_role_arns: Sequence[str],
    bucket_arn: str,
    key_arn: str,
    artifact_prefix: str,
    task_definition_arn_pattern: str,
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
            # A taskdef.json with tags needs TagResource, and only as part of registering it.
            "Sid": "TagNewTaskDefinitions",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": task_definition_arn_pattern,
            "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        },
        {
            "Sid": "PassTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": list(passed_role_arns),
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": ARTIFACT_READ_ACTIONS,
            "Resource": artifact_objects(bucket_arn, [artifact_prefix]),
        },
        {"Sid": "DecryptArtifacts", "Effect": "Allow", "Action": KMS_READ_ACTIONS, "Resource": key_arn},
    )


def server_deploy_policy(
    codedeploy_arns: Sequence[str], bucket_arn: str, key_arn: str, artifact_prefix: str
) -> Document:
    """CodeDeploy to EC2, run in the environment account."""
    return document(
        {
            "Sid": "StartDeployment",
            "Effect": "Allow",
            "Action": CODEDEPLOY_DEPLOY_ACTIONS,
            "Resource": list(codedeploy_arns),
        },
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": ARTIFACT_READ_ACTIONS,
            "Resource": artifact_objects(bucket_arn, [artifact_prefix]),
        },
        {"Sid": "DecryptArtifacts", "Effect": "Allow", "Action": KMS_READ_ACTIONS, "Resource": key_arn},
    )


def lambda_deploy_policy(
    function_arn: str, codedeploy_arns: Sequence[str], bucket_arn: str, key_arn: str, release_prefix: str
) -> Document:
    """Publish a version of one function from its staged ``function.zip`` and let CodeDeploy shift its alias.

    Lambda fetches the code with the caller's permissions, so the deploy role reads the release prefix.
    """
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
        {
            "Sid": "ReadStagedRelease",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": artifact_objects(bucket_arn, [release_prefix]),
        },
        {"Sid": "DecryptStagedRelease", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn},
    )


def instance_artifact_read_policy(bucket_arn: str, key_arn: str, artifact_prefix: str) -> Document:
    """What a Server's instance role needs to fetch revisions: the CodeDeploy agent downloads them itself.

    Cross-account, the bucket and key policies alone are not enough; the
    identity policy in the instance's own account must allow the read too.
    """
    return document(
        {
            "Sid": "ReadRevisions",
            "Effect": "Allow",
            "Action": ARTIFACT_READ_ACTIONS,
            "Resource": artifact_objects(bucket_arn, [artifact_prefix]),
        },
        {"Sid": "DecryptRevisions", "Effect": "Allow", "Action": KMS_READ_ACTIONS, "Resource": key_arn},
    )
