"""DynamoDB tables and SQS queues: customer-managed keys everywhere, point-in-time recovery for state.

Anchors: CKV_AWS_119 (DynamoDB encrypted with a CMK), CKV_AWS_28 (DynamoDB
point-in-time recovery), CKV_AWS_27 (SQS encrypted), Security Hub DynamoDB.2
(PITR); AWS Config ``dynamodb-table-encrypted-kms`` and ``dynamodb-pitr-enabled``.
The platform's own standard is stricter than "encrypted": every table and queue
uses a customer-managed key (which the platform rotates and whose policy names
who may read), never the AWS-owned key (a table's default), the AWS-managed
``aws/dynamodb``/``aws/sqs`` keys, or SQS-managed encryption (SSE-SQS, a queue's
default). Every table holds state the platform acts on (claims, holds, what was
posted), so each has point-in-time recovery, unless tagged
``point-in-time-recovery-exempt`` with the reason it holds nothing worth restoring.

A stack rule: one claim about every data store of the stack, whichever
component declares it, so a new table or queue anywhere falls under it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from .base import Config, PolicyResource, as_mapping, dig, is_unknown, stack_rule

TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
PITR_EXEMPT_TAG = "point-in-time-recovery-exempt"
AWS_MANAGED_ALIAS = re.compile(r"(^|:)alias/aws/")

Findings = Iterator[tuple[str | None, str]]


def _aws_managed(key: str) -> bool:
    """``alias/aws/sqs``, ``alias/aws/dynamodb`` or their ARNs: keys AWS manages in the account, not the platform."""
    return bool(AWS_MANAGED_ALIAS.search(key))


def _table_key(name: object, props: object) -> Iterator[str]:
    encryption = dig(props, "serverSideEncryption")
    enabled, key = dig(encryption, "enabled"), dig(encryption, "kmsKeyArn")
    if is_unknown(encryption) or is_unknown(enabled) or is_unknown(key):
        return
    if enabled is not True:
        yield f"table {name} is encrypted with the AWS-owned key, not a customer-managed KMS key"
    elif not key:
        yield f"table {name} is encrypted with the AWS-managed key aws/dynamodb, not a customer-managed KMS key"
    elif isinstance(key, str) and _aws_managed(key):
        yield f"table {name} is encrypted with the AWS-managed key {key}, not a customer-managed KMS key"


def _table_recovery(name: object, props: object) -> Iterator[str]:
    enabled = dig(props, "pointInTimeRecovery", "enabled")
    if enabled is True or is_unknown(enabled):
        return
    tags = dig(props, "tags")
    exemption = None if is_unknown(tags) else as_mapping(tags).get(PITR_EXEMPT_TAG)
    if is_unknown(tags) or is_unknown(exemption):
        return
    if isinstance(exemption, str) and exemption.strip():
        return
    if exemption is not None:
        yield f"table {name} has no point-in-time recovery and its {PITR_EXEMPT_TAG} tag gives no reason"
    else:
        yield f"table {name} has no point-in-time recovery"


def _queue_key(name: object, props: object) -> Iterator[str]:
    key = dig(props, "kmsMasterKeyId")
    if is_unknown(key):
        return
    if not key:
        if dig(props, "sqsManagedSseEnabled") is True:
            yield f"queue {name} uses SQS-managed encryption (SSE-SQS), not a customer-managed KMS key"
        else:
            yield f"queue {name} is not encrypted with a customer-managed KMS key (no kms_master_key_id)"
    elif isinstance(key, str) and _aws_managed(key):
        yield f"queue {name} is encrypted with the AWS-managed key {key}, not a customer-managed KMS key"


def check_data_stores(resources: Sequence[PolicyResource], _: Config) -> Findings:
    for resource in resources:
        props = resource.props
        name = props.get("name") if isinstance(props.get("name"), str) else resource.name
        if resource.type == TABLE:
            for message in (*_table_key(name, props), *_table_recovery(name, props)):
                yield resource.urn, message
        elif resource.type == QUEUE:
            for message in _queue_key(name, props):
                yield resource.urn, message


DATA_STORES_ENCRYPTED = stack_rule(
    name="data-stores-encrypted",
    description="Every DynamoDB table and SQS queue uses a customer-managed KMS key; tables holding state have "
    "point-in-time recovery.",
    level="mandatory",
    check=check_data_stores,
    remediation="Set server_side_encryption={enabled: True, kms_key_arn: <CMK>} and point_in_time_recovery="
    "{enabled: True} on tables, kms_master_key_id=<CMK> on queues, with a key policy that lets the table's and "
    f"queue's users (and EventBridge/SNS for a dead-letter queue) use it; or tag a stateless table {PITR_EXEMPT_TAG}"
    "=<why>.",
    anchors=("CKV_AWS_119", "CKV_AWS_28", "CKV_AWS_27", "SH DynamoDB.2"),
)

RULES = (DATA_STORES_ENCRYPTED,)
