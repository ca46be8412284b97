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


def write_own_logs(sid: str, log_group_arn: str) -> Document:
    """A function or build writes its own log group's streams, nothing else of CloudWatch Logs."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:*",
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


DATA_STORE_SERVICES = ("dynamodb", "sqs")
"""The services through which a function uses a data-store key: its table (DynamoDB) and its dead letters (SQS)."""


def via_services(region: str, services: Sequence[str] = DATA_STORE_SERVICES) -> list[str]:
    """``kms:ViaService`` values: the key is used only on a request those services make for the caller."""
    return [f"{service}.{region}.amazonaws.com" for service in services]


def account_encrypts_through_services(root_arn: str, account_id: str, region: str, services: Sequence[str]) -> Document:
    """Whoever deploys in the account may encrypt with the key (a function's settings, its queue), only through
    ``services`` and never decrypt: decrypting stays with the function's role."""
    return {
        "Sid": "AccountEncryptsThroughServices",
        "Effect": "Allow",
        "Principal": {"AWS": root_arn},
        "Action": ["kms:Encrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:ViaService": via_services(region, services), "kms:CallerAccount": account_id}
        },
    }


def roles_use_data_store_key(sid: str, root_arn: str, role_arns: Sequence[str], region: str) -> Document:
    """Key policy: the named roles may use the key, but only through DynamoDB and SQS.

    DynamoDB with a customer-managed key needs Encrypt, Decrypt, ReEncrypt*, GenerateDataKey* and
    DescribeKey for whoever reads or writes the table (DynamoDB developer guide, "Encryption at rest:
    how it works", customer managed key); an SQS producer needs GenerateDataKey and Decrypt, and a
    Lambda function's dead letters are sent as its execution role (Lambda developer guide,
    dead-letter queues). The principal is the account root narrowed by ``aws:PrincipalArn``, so the
    policy stays valid before the roles exist; each role's own policy must grant the same.
    """
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": root_arn},
        "Action": KMS_USE_ACTIONS,
        "Resource": "*",
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": sorted(set(role_arns))},
            "StringEquals": {"kms:ViaService": via_services(region)},
        },
    }


def role_uses_data_store_key(sid: str, key_arn: str, region: str) -> Document:
    """Identity policy: the other half of ``roles_use_data_store_key`` (both must allow)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": KMS_USE_ACTIONS,
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": via_services(region)}},
    }


DEAD_LETTER_SENDERS = ("events.amazonaws.com", "sns.amazonaws.com")


def services_send_dead_letters(sid: str, queue_arns: Sequence[str], senders: Sequence[str]) -> Document:
    """Key policy: AWS services that put undeliverable messages on a queue encrypted with this key.

    An EventBridge target's DLQ and an SNS subscription's redrive queue are written by the service
    itself, which must be allowed GenerateDataKey and Decrypt on the queue's key (SQS developer guide,
    key management: compatibility between AWS services and encrypted queues; without it the service
    drops the message, and EventBridge counts InvocationsFailedToBeSentToDLQ). Scoped to the queues by
    the encryption context SQS sets on every data key request (``aws:sqs:arn``).
    """
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": sorted(senders) if len(senders) > 1 else senders[0]},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sqs:arn": sorted(set(queue_arns))}},
    }


def graph_reading(sid: str, parameter_arns: Sequence[str]) -> Document:
    """Read the graph as ``functions/deploy_ledger/graph.py`` does: the index and the parts it names in batches
    (``GetParameters``), and a part's earlier versions when it was rewritten after the index was read or
    written (``GetParameterHistory``), so a reader never mixes two versions of the graph."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["ssm:GetParameterHistory", "ssm:GetParameters"],
        "Resource": list(parameter_arns),
    }
