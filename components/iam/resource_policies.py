"""Resource policies: the artifact key, the artifact bucket and the image registries.

Artifacts cross accounts, so these policies name exactly which roles of which
accounts may read them, by ``aws:PrincipalArn`` under each account's root.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import naming
from .documents import (
    ARTIFACT_READ_ACTIONS,
    KMS_READ_ACTIONS,
    KMS_USE_ACTIONS,
    Document,
    document,
    key_administration,
    logs_may_encrypt,
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
    statements: list[Document] = [
        key_administration(root),
        {
            "Sid": "PipelineRolesUseKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": KMS_USE_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": list(tooling_role_arns)}},
        },
        logs_may_encrypt(
            "BuildLogsEncryption",
            region,
            naming.log_group_arn(region, tooling_account_id, "/aws/codebuild/*"),
        ),
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
