"""Policies of the deploy roles, which live in the environment accounts.

A deploy role may change exactly one service in one environment. The only
``*`` resource is ``ecs:RegisterTaskDefinition``, which AWS cannot scope.
"""

from __future__ import annotations

from collections.abc import Sequence

from .documents import ARTIFACT_READ_ACTIONS, CODEDEPLOY_DEPLOY_ACTIONS, KMS_READ_ACTIONS, Document, document


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
