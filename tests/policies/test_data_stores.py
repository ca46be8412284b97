"""data-stores-encrypted: every table and queue under a customer-managed key; every stateful table recoverable."""

from __future__ import annotations

import pytest

from policies.rules.data_stores import DATA_STORES_ENCRYPTED
from policies.testing import UNKNOWN, Resource

from .platform_shapes import KEY_ARN, TOOLING, tags
from .rule_cases import fires, quiet, unknown

LEDGER = "cicd-delivery-ledger-prod"
QUEUE = "cicd-release-news-dead-letters-prod"


def table(**props):
    base = {
        "name": LEDGER,
        "billingMode": "PAY_PER_REQUEST",
        "hashKey": "pk",
        "attributes": [{"name": "pk", "type": "S"}],
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
        "pointInTimeRecovery": {"enabled": True},
        "tags": tags("platform", "tooling"),
    }
    return Resource("aws:dynamodb/table:Table", {**base, **props}, "release-news-ledger")


def queue(**props):
    base = {"name": QUEUE, "kmsMasterKeyId": KEY_ARN, "messageRetentionSeconds": 1209600}
    return Resource("aws:sqs/queue:Queue", {**base, **props}, "release-news-dead-letters")


CASES = [
    fires(
        DATA_STORES_ENCRYPTED,
        "the release-news ledger as it was: AWS-owned key, no point-in-time recovery",
        table(serverSideEncryption={"enabled": True}, pointInTimeRecovery=None),
        f"table {LEDGER} is encrypted with the AWS-managed key aws/dynamodb, not a customer-managed KMS key",
        f"table {LEDGER} has no point-in-time recovery",
    ),
    fires(
        DATA_STORES_ENCRYPTED,
        "a table left at DynamoDB's default (AWS-owned key)",
        table(serverSideEncryption=None),
        f"table {LEDGER} is encrypted with the AWS-owned key, not a customer-managed KMS key",
    ),
    fires(
        DATA_STORES_ENCRYPTED,
        "a table under the AWS-managed alias",
        table(serverSideEncryption={"enabled": True, "kmsKeyArn": "alias/aws/dynamodb"}),
        f"table {LEDGER} is encrypted with the AWS-managed key alias/aws/dynamodb, not a customer-managed KMS key",
    ),
    fires(
        DATA_STORES_ENCRYPTED,
        "the dispatch claims as they were: CMK but no point-in-time recovery",
        table(pointInTimeRecovery={"enabled": False}),
        f"table {LEDGER} has no point-in-time recovery",
    ),
    fires(
        DATA_STORES_ENCRYPTED,
        "exempt from recovery without a reason",
        table(pointInTimeRecovery=None, tags={**tags("platform", "tooling"), "point-in-time-recovery-exempt": " "}),
        f"table {LEDGER} has no point-in-time recovery and its point-in-time-recovery-exempt tag gives no reason",
    ),
    fires(
        DATA_STORES_ENCRYPTED,
        "the release-news dead letters as they were: SSE-SQS",
        queue(kmsMasterKeyId=None, sqsManagedSseEnabled=True),
        f"queue {QUEUE} uses SQS-managed encryption (SSE-SQS), not a customer-managed KMS key",
    ),
    fires(
        DATA_STORES_ENCRYPTED,
        "an unencrypted queue",
        queue(kmsMasterKeyId=None),
        f"queue {QUEUE} is not encrypted with a customer-managed KMS key (no kms_master_key_id)",
    ),
    fires(
        DATA_STORES_ENCRYPTED,
        "a queue under the AWS-managed key",
        queue(kmsMasterKeyId=f"arn:aws:kms:eu-west-1:{TOOLING}:alias/aws/sqs"),
        f"queue {QUEUE} is encrypted with the AWS-managed key arn:aws:kms:eu-west-1:{TOOLING}:alias/aws/sqs, "
        "not a customer-managed KMS key",
    ),
    quiet(DATA_STORES_ENCRYPTED, "the coordination ledger: CMK and recovery", [table(), queue()]),
    quiet(
        DATA_STORES_ENCRYPTED,
        "a table that holds nothing worth restoring, exempt with its reason",
        table(pointInTimeRecovery=None, tags={"point-in-time-recovery-exempt": "a cache rebuilt on every start"}),
    ),
    quiet(DATA_STORES_ENCRYPTED, "a queue under a customer key named by its alias", queue(kmsMasterKeyId="alias/cicd")),
    unknown(
        DATA_STORES_ENCRYPTED,
        "the key of a new table and queue is not known during preview",
        [table(serverSideEncryption={"enabled": True, "kmsKeyArn": UNKNOWN}), queue(kmsMasterKeyId=UNKNOWN)],
    ),
    unknown(
        DATA_STORES_ENCRYPTED,
        "recovery is not known yet, but the AWS-owned key already is a finding",
        table(serverSideEncryption={"enabled": False}, pointInTimeRecovery=UNKNOWN),
        f"table {LEDGER} is encrypted with the AWS-owned key, not a customer-managed KMS key",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_data_stores_encrypted(case):
    case.verify()
