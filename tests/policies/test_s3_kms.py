"""``s3-kms``: customer-key SSE-KMS everywhere, SSE-S3 only on a server access log destination.

S3 delivers server access logs only to a bucket whose default encryption is SSE-S3 (S3 User Guide,
"Enabling Amazon S3 server access logging"; S3 API reference, ``LoggingEnabled``: "can't use SSE-KMS
or DSSE-KMS default encryption"), so whether SSE-S3 is acceptable depends on another resource: a
``BucketLogging`` naming the bucket as its target. Hence a stack rule.
"""

import pytest

from policies.rules.base import UNKNOWN, PolicyResource
from policies.rules.s3 import S3_KMS as RULE
from policies.rules.s3 import check_kms

ENCRYPTION_TYPES = [
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
]
ENCRYPTION = ENCRYPTION_TYPES[0]
LOGGING_TYPES = ["aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"]
BUCKET = "aws:s3/bucket:Bucket"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def encryption(algorithm, key_id=None, bucket="artifacts", resource_type=ENCRYPTION, parent=None):
    default = {"sseAlgorithm": algorithm}
    if key_id is not None:
        default["kmsMasterKeyId"] = key_id
    props = {"bucket": bucket, "rules": [{"applyServerSideEncryptionByDefault": default}]}
    return PolicyResource(resource_type, f"urn:enc:{bucket}:{algorithm}", f"{bucket}-encryption", props, parent)


def props_only(props, resource_type=ENCRYPTION):
    return PolicyResource(resource_type, "urn:enc", "encryption", props)


def logging(source="artifacts", target="access-logs", resource_type=LOGGING_TYPES[0]):
    props = {"bucket": source, "targetBucket": target, "targetPrefix": "artifacts/"}
    return PolicyResource(resource_type, f"urn:logging:{source}", f"{source}-logging", props)


def bucket(name):
    return PolicyResource(BUCKET, f"urn:bucket:{name}", name, {"bucket": name})


def messages(*resources):
    return [message for _, message in RULE.violations(list(resources))]


def test_rule_is_a_mandatory_stack_rule():
    assert RULE.name == "s3-kms"
    assert RULE.level == "mandatory"
    assert RULE.check is check_kms


@pytest.mark.parametrize("resource_type", ENCRYPTION_TYPES)
@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_sse_kms_with_customer_key_passes(resource_type, algorithm):
    assert messages(encryption(algorithm, KEY_ARN, resource_type=resource_type)) == []


@pytest.mark.parametrize("resource_type", ENCRYPTION_TYPES)
def test_sse_s3_on_a_bucket_that_receives_no_access_logs_is_reported(resource_type):
    assert messages(encryption("AES256", resource_type=resource_type), logging()) == [
        "rule 0: default encryption is 'AES256', not SSE-KMS"
    ]


@pytest.mark.parametrize("logging_type", LOGGING_TYPES)
def test_sse_s3_on_a_server_access_log_destination_is_accepted(logging_type):
    log_bucket = encryption("AES256", bucket="access-logs")
    assert messages(log_bucket, logging(target="access-logs", resource_type=logging_type)) == []


def test_the_exception_is_for_the_destination_not_the_bucket_whose_requests_are_logged():
    """The source of the logs stays under the rule: only where S3 writes logs may SSE-S3 be used."""
    assert messages(encryption("AES256", bucket="artifacts"), logging(source="artifacts", target="access-logs")) == [
        "rule 0: default encryption is 'AES256', not SSE-KMS"
    ]


def test_a_log_destination_is_recognised_through_its_bucket_when_the_encryption_names_it_by_an_unknown_id():
    """``bucket=bucket.id`` is not known in a first preview; the parent bucket's name is."""
    logs = bucket("access-logs")
    linked = encryption("AES256", bucket=UNKNOWN, parent=logs.urn)
    assert messages(logs, linked, logging(target="access-logs")) == []
    stray = bucket("reports")
    assert messages(stray, encryption("AES256", bucket=UNKNOWN, parent=stray.urn), logging(target="access-logs")) == [
        "rule 0: default encryption is 'AES256', not SSE-KMS"
    ]


def test_sse_s3_is_not_reported_while_it_cannot_be_told_whether_the_bucket_is_a_log_destination():
    assert messages(encryption("AES256", bucket=UNKNOWN)) == []
    assert messages(encryption("AES256", bucket="access-logs"), logging(target=UNKNOWN)) == []


def test_a_log_destination_still_needs_a_real_algorithm():
    log_bucket = encryption("aws:kms", bucket="access-logs")
    assert messages(log_bucket, logging(target="access-logs")) == [
        "rule 0: SSE-KMS without kms_master_key_id uses the AWS-managed key, not a customer key"
    ]


@pytest.mark.parametrize("key_id", [None, ""])
def test_sse_kms_without_key_id_is_reported_as_aws_managed_key(key_id):
    (found,) = messages(encryption("aws:kms", key_id))
    assert found.startswith("rule 0: SSE-KMS without kms_master_key_id")
    assert "AWS-managed key" in found


@pytest.mark.parametrize("props", [{}, {"rules": None}, {"rules": []}])
def test_configuration_without_rules_is_reported(props):
    assert messages(props_only(props)) == ["bucket encryption configuration has no rule"]


@pytest.mark.parametrize("rule", [{}, None, {"applyServerSideEncryptionByDefault": None}, {"bucketKeyEnabled": True}])
def test_rule_without_default_encryption_is_reported_not_crashing(rule):
    assert messages(props_only({"rules": [rule]})) == ["rule 0: default encryption is None, not SSE-KMS"]


def test_each_noncompliant_rule_is_reported_with_its_index_against_its_resource():
    props = {
        "bucket": "artifacts",
        "rules": [
            {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}},
            {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}},
            {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}},
        ],
    }
    found = RULE.violations([props_only(props)])
    assert [urn for urn, _ in found] == ["urn:enc", "urn:enc"]
    assert found[0][1].startswith("rule 1: default encryption is 'AES256'")
    assert found[1][1].startswith("rule 2: SSE-KMS without kms_master_key_id")


def test_single_rule_given_as_a_mapping_is_checked():
    props = {"bucket": "artifacts", "rules": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}}
    assert messages(props_only(props)) == ["rule 0: default encryption is 'AES256', not SSE-KMS"]


def test_other_resource_types_are_ignored():
    assert messages(PolicyResource("aws:sns/topic:Topic", "urn:t", "t", {})) == []
    assert messages(PolicyResource(BUCKET, "urn:b", "b", encryption("AES256").props)) == []
