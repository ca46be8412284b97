"""Resource policies: the artifact key, the artifact bucket, its access log bucket and the image registries.

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


def access_log_bucket_policy(log_bucket_arn: str, prefix: str, source_bucket_arn: str, source_account: str) -> Document:
    """TLS only, and S3's log delivery may write the source bucket's logs under ``prefix``, for that bucket only.

    A bucket with ``BucketOwnerEnforced`` ownership takes no ACL grants, so S3 server access logging is
    granted by bucket policy to the ``logging.s3.amazonaws.com`` principal, narrowed by ``aws:SourceArn``
    (the source bucket) and ``aws:SourceAccount`` against a confused deputy (S3 User Guide, "Permissions
    for log delivery").
    """
    return document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [log_bucket_arn, f"{log_bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "ServerAccessLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{log_bucket_arn}/{prefix}*",
            "Condition": {
                "ArnLike": {"aws:SourceArn": source_bucket_arn},
                "StringEquals": {"aws:SourceAccount": source_account},
            },
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
