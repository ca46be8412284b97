import pytest

from policies.rules.s3 import S3_KMS as RULE

ENCRYPTION_TYPES = [
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
]
ENCRYPTION = ENCRYPTION_TYPES[0]
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def encryption(algorithm, key_id=None):
    default = {"sseAlgorithm": algorithm}
    if key_id is not None:
        default["kmsMasterKeyId"] = key_id
    return {"bucket": "artifacts", "rules": [{"applyServerSideEncryptionByDefault": default}]}


def test_rule_is_mandatory():
    assert RULE.name == "s3-kms"
    assert RULE.level == "mandatory"


@pytest.mark.parametrize("resource_type", ENCRYPTION_TYPES)
@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_sse_kms_with_customer_key_passes(resource_type, algorithm):
    assert RULE.violations(resource_type, encryption(algorithm, KEY_ARN)) == []


@pytest.mark.parametrize("resource_type", ENCRYPTION_TYPES)
def test_sse_s3_default_encryption_is_reported(resource_type):
    assert RULE.violations(resource_type, encryption("AES256")) == [
        "rule 0: default encryption is 'AES256', not SSE-KMS"
    ]


@pytest.mark.parametrize("key_id", [None, ""])
def test_sse_kms_without_key_id_is_reported_as_aws_managed_key(key_id):
    found = RULE.violations(ENCRYPTION, encryption("aws:kms", key_id))
    assert len(found) == 1
    assert found[0].startswith("rule 0: SSE-KMS without kms_master_key_id")
    assert "AWS-managed key" in found[0]


@pytest.mark.parametrize("props", [{}, {"rules": None}, {"rules": []}])
def test_configuration_without_rules_is_reported(props):
    assert RULE.violations(ENCRYPTION, props) == ["bucket encryption configuration has no rule"]


@pytest.mark.parametrize("rule", [{}, None, {"applyServerSideEncryptionByDefault": None}, {"bucketKeyEnabled": True}])
def test_rule_without_default_encryption_is_reported_not_crashing(rule):
    assert RULE.violations(ENCRYPTION, {"rules": [rule]}) == ["rule 0: default encryption is None, not SSE-KMS"]


def test_each_noncompliant_rule_is_reported_with_its_index():
    props = {
        "rules": [
            {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}},
            {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}},
            {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}},
        ]
    }
    found = RULE.violations(ENCRYPTION, props)
    assert len(found) == 2
    assert found[0].startswith("rule 1: default encryption is 'AES256'")
    assert found[1].startswith("rule 2: SSE-KMS without kms_master_key_id")


def test_single_rule_given_as_a_mapping_is_checked():
    props = {"rules": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}}
    assert RULE.violations(ENCRYPTION, props) == ["rule 0: default encryption is 'AES256', not SSE-KMS"]


def test_other_resource_types_are_ignored():
    assert RULE.violations("aws:sns/topic:Topic", {}) == []
    assert RULE.violations("aws:s3/bucket:Bucket", encryption("AES256")) == []
