import pytest

from policies.rules.codepipeline import PIPELINE_ARTIFACT_CMK as RULE

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def store(location="artifacts", key=None):
    found = {"location": location, "type": "S3"}
    if key is not None:
        found["encryptionKey"] = key
    return found


CMK = {"id": KEY_ARN, "type": "KMS"}


def test_rule_is_mandatory():
    assert RULE.name == "pipeline-artifact-cmk"
    assert RULE.level == "mandatory"
    assert RULE.resource_types == frozenset({PIPELINE})


def test_artifact_store_encrypted_with_customer_key_passes():
    assert RULE.violations(PIPELINE, {"artifactStores": [store(key=CMK)]}) == []


def test_every_cross_region_artifact_store_with_a_key_passes():
    stores = [
        store("artifacts-eu", CMK) | {"region": "eu-west-1"},
        store("artifacts-us", CMK) | {"region": "us-east-1"},
    ]
    assert RULE.violations(PIPELINE, {"artifactStores": stores}) == []


@pytest.mark.parametrize("props", [{}, {"artifactStores": None}, {"artifactStores": []}])
def test_pipeline_without_artifact_store_is_reported(props):
    assert RULE.violations(PIPELINE, props) == ["pipeline has no artifact store"]


def test_artifact_store_without_encryption_key_is_reported():
    assert RULE.violations(PIPELINE, {"artifactStores": [store("artifacts")]}) == [
        "artifact store artifacts has no customer-managed KMS key"
    ]


@pytest.mark.parametrize(
    "key",
    [{"id": KEY_ARN}, {"id": KEY_ARN, "type": "AES256"}, {"type": "KMS"}, {"id": "", "type": "KMS"}, {}],
)
def test_artifact_store_with_incomplete_encryption_key_is_reported(key):
    found = RULE.violations(PIPELINE, {"artifactStores": [store("artifacts", key)]})
    assert found == ["artifact store artifacts has no customer-managed KMS key"]


def test_only_the_unencrypted_store_is_reported():
    stores = [store("artifacts-eu", CMK), store("artifacts-us")]
    assert RULE.violations(PIPELINE, {"artifactStores": stores}) == [
        "artifact store artifacts-us has no customer-managed KMS key"
    ]


def test_store_without_location_is_named_by_its_index():
    stores = [store("artifacts-eu", CMK), {"type": "S3"}]
    assert RULE.violations(PIPELINE, {"artifactStores": stores}) == [
        "artifact store #1 has no customer-managed KMS key"
    ]


def test_store_that_is_not_known_yet_does_not_crash():
    assert RULE.violations(PIPELINE, {"artifactStores": [None]}) == [
        "artifact store #0 has no customer-managed KMS key"
    ]


def test_single_store_given_as_a_mapping_is_checked():
    assert RULE.violations(PIPELINE, {"artifactStores": store(key=CMK)}) == []
    assert RULE.violations(PIPELINE, {"artifactStores": store("solo")}) == [
        "artifact store solo has no customer-managed KMS key"
    ]


def test_other_resource_types_are_ignored():
    assert RULE.violations("aws:sns/topic:Topic", {}) == []
    assert RULE.violations("aws:codebuild/project:Project", {}) == []
