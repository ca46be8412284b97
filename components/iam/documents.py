"""The vocabulary every IAM document shares: the document shape, action sets and trust policies.

Documents are plain data so they are easy to test and to read; the components
wrap them in ``Output.all(...).apply``. Whose documents they are decides their
module: ``tooling`` (roles in the tooling account), ``deploy`` (roles in the
environment accounts), ``resource_policies`` (key, bucket and registry policies).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
PUBLISH_KEY_ACTIONS = ["kms:GenerateDataKey*", "kms:Decrypt"]
"""What a publisher to a KMS-encrypted SNS topic needs on the topic's key."""
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


def artifact_objects(bucket_arn: str, prefixes: Sequence[str]) -> list[str]:
    """Object ARNs under the given artifact key prefixes: a role sees its own service's artifacts only."""
    return [f"{bucket_arn}/{prefix}/*" for prefix in sorted(set(prefixes))]


def key_administration(root_arn: str) -> Document:
    """The account administers its own key: without it, AWS's lockout check refuses the key policy."""
    return {
        "Sid": "KeyAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": root_arn},
        "Action": KMS_KEY_ADMIN_ACTIONS,
        "Resource": "*",
    }


def logs_may_encrypt(sid: str, region: str, log_group_arn: str, operator: str = "ArnLike") -> Document:
    """CloudWatch Logs may use the key, but only for the log groups named (by the encryption context)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {operator: {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
    }
