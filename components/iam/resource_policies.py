"""Resource policies: the artifact key, the artifact bucket, its access log bucket and the image registries.

Artifacts cross accounts, so these policies say which roles of which accounts may read them. They
are shared by the whole fleet, so they name roles by pattern and tag, never one ARN per role: a list
grows with every service and passes AWS's hard limits (a key policy holds 32 KB, a bucket policy 20 KB)
at about 60 services. Each statement's principal is an account root narrowed by ``aws:PrincipalArn``
(``ArnLike``) or ``aws:PrincipalTag``: KMS and S3 both evaluate these global condition keys, and a key
policy cannot name a principal by wildcard.

A root principal delegates to the account's IAM: the statement is a fence, and the roles' own
policies grant. Per-prefix isolation between services lives in those identity policies, which the
platform writes (each role reads or writes only its service's prefixes). The fence by pattern admits
no principal the fence by list kept out in practice: the roles it adds are ones an account's own
administrators could create or widen anyway (an instance role is theirs, and its policy is theirs to
change).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model import naming
from ..model.tags import INSTANCE_ROLE_OPT_IN_TAG
from .documents import (
    ARTIFACT_READ_ACTIONS,
    KMS_READ_ACTIONS,
    KMS_USE_ACTIONS,
    Document,
    document,
    key_administration,
    logs_may_encrypt,
)


def _readers(
    region: str, reader_accounts: Mapping[str, bool], purpose: str, actions: list[str], resource: str
) -> list[Document]:
    """Per environment account: its deploy roles by name pattern, and its opted-in instance roles by tag."""
    statements: list[Document] = []
    for account_id, with_instance_roles in reader_accounts.items():
        root = naming.account_root_arn(region, account_id)
        statements.append(
            {
                "Sid": f"DeployAccount{account_id}{purpose}",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": actions,
                "Resource": resource,
                "Condition": {"ArnLike": {"aws:PrincipalArn": naming.deploy_roles_pattern(region, account_id)}},
            }
        )
        if with_instance_roles:
            key, value = INSTANCE_ROLE_OPT_IN_TAG
            statements.append(
                {
                    "Sid": f"InstanceRoles{account_id}{purpose}",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": actions,
                    "Resource": resource,
                    # Roles only (an IAM user could carry the tag too), and only those the account's owner opted in.
                    "Condition": {
                        "ArnLike": {"aws:PrincipalArn": naming.role_arn(region, account_id, "*")},
                        "StringEquals": {f"aws:PrincipalTag/{key}": value},
                    },
                }
            )
    return statements


def artifact_key_policy(
    region: str,
    tooling_account_id: str,
    tooling_roles_pattern: str,
    reader_accounts: Mapping[str, bool],
) -> Document:
    """Key policy of the artifact key: admins, the stack's per-service tooling roles, cross-account readers, logs.

    ``tooling_roles_pattern`` is ``naming.tooling_roles_pattern`` (the IAM path of the pipeline, build,
    image build, release and scan roles); ``reader_accounts`` maps each environment account to whether
    Server instance roles read there (``PlatformInputs.artifact_reader_accounts``).
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
            "Condition": {"ArnLike": {"aws:PrincipalArn": tooling_roles_pattern}},
        },
        logs_may_encrypt(
            "BuildLogsEncryption",
            region,
            naming.log_group_arn(region, tooling_account_id, "/aws/codebuild/*"),
        ),
    ]
    statements += _readers(region, reader_accounts, "DecryptsArtifacts", KMS_READ_ACTIONS, "*")
    return document(*statements)


def artifact_bucket_policy(region: str, bucket_arn: str, reader_accounts: Mapping[str, bool]) -> Document:
    """TLS only, and read access for the deploy-side roles of each environment account."""
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
    statements += _readers(region, reader_accounts, "ReadsArtifacts", ARTIFACT_READ_ACTIONS, f"{bucket_arn}/*")
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
