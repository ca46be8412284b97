import dataclasses
from types import SimpleNamespace

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UnknownValueError, unknown_checking_proxy

from policies.crossguard import policies, resource_policy, stack_policy
from policies.rules import RESOURCE_RULES, STACK_RULES, PolicyResource
from policies.rules.iam_no_admin import RULE as IAM_NO_ADMIN
from policies.rules.kms_rotation import RULE as KMS_ROTATION
from policies.rules.pipeline_artifact_cmk import RULE as PIPELINE_ARTIFACT_CMK
from policies.rules.s3_bucket_hardened import RULE as S3_BUCKET_HARDENED
from policies.rules.s3_kms import RULE as S3_KMS

KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
ROLE = "aws:iam/role:Role"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class Reports:
    """Collects report_violation(message, urn) calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, message, urn=None):
        self.calls.append((message, urn))


def resource_args(resource_type, props, name="it"):
    return SimpleNamespace(
        resource_type=resource_type, props=props, urn=f"urn:pulumi:dev::cicd::{resource_type}::{name}", name=name
    )


def stack_args(*resources):
    return SimpleNamespace(resources=list(resources))


def validate(policy, args):
    reports = Reports()
    assert policy.validate(args, reports) is None
    return reports.calls


# construction


def test_resource_rule_becomes_a_resource_validation_policy():
    policy = resource_policy(KMS_ROTATION)
    assert isinstance(policy, ResourceValidationPolicy)
    assert policy.name == "kms-rotation"
    assert policy.description == KMS_ROTATION.description
    assert policy.enforcement_level is EnforcementLevel.MANDATORY


def test_stack_rule_becomes_a_stack_validation_policy():
    policy = stack_policy(S3_BUCKET_HARDENED, PolicyResource)
    assert isinstance(policy, StackValidationPolicy)
    assert policy.name == "s3-bucket-hardened"
    assert policy.description == S3_BUCKET_HARDENED.description
    assert policy.enforcement_level is EnforcementLevel.MANDATORY


@pytest.mark.parametrize(
    ("level", "expected"), [("mandatory", EnforcementLevel.MANDATORY), ("advisory", EnforcementLevel.ADVISORY)]
)
def test_rule_level_maps_to_the_enforcement_level(level, expected):
    assert resource_policy(dataclasses.replace(KMS_ROTATION, level=level)).enforcement_level is expected
    assert (
        stack_policy(dataclasses.replace(S3_BUCKET_HARDENED, level=level), PolicyResource).enforcement_level is expected
    )


def test_unknown_rule_level_is_refused():
    with pytest.raises(KeyError):
        resource_policy(dataclasses.replace(KMS_ROTATION, level="disabled"))


def test_pack_policies_are_resource_policies_then_stack_policies_in_rule_order():
    built = policies(RESOURCE_RULES, STACK_RULES, PolicyResource)
    assert [policy.name for policy in built] == [rule.name for rule in (*RESOURCE_RULES, *STACK_RULES)]
    assert all(isinstance(policy, ResourceValidationPolicy) for policy in built[: len(RESOURCE_RULES)])
    assert all(isinstance(policy, StackValidationPolicy) for policy in built[len(RESOURCE_RULES) :])
    assert all(policy.enforcement_level is EnforcementLevel.MANDATORY for policy in built)


def test_pack_policy_names_are_unique():
    names = [policy.name for policy in policies(RESOURCE_RULES, STACK_RULES, PolicyResource)]
    assert len(names) == len(set(names))


def test_no_rules_make_no_policies():
    assert policies([], [], PolicyResource) == []


# resource validation


def test_resource_policy_reports_each_violation_without_a_urn():
    calls = validate(resource_policy(KMS_ROTATION), resource_args(KEY, {"enableKeyRotation": False}))
    assert calls == [("KMS key does not rotate: set enable_key_rotation=True", None)]


def test_resource_policy_reports_several_violations_of_one_resource():
    props = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}, {}]}
    calls = validate(resource_policy(S3_KMS), resource_args(ENCRYPTION, props))
    assert [message for message, _ in calls] == [
        "rule 0: default encryption is 'AES256', not SSE-KMS",
        "rule 1: default encryption is None, not SSE-KMS",
    ]


def test_resource_policy_is_quiet_for_a_compliant_resource():
    assert validate(resource_policy(KMS_ROTATION), resource_args(KEY, {"enableKeyRotation": True})) == []


def test_resource_policy_ignores_resource_types_its_rule_does_not_cover():
    assert validate(resource_policy(KMS_ROTATION), resource_args("aws:sns/topic:Topic", {})) == []


def test_resource_policy_accepts_props_as_the_engine_proxies_them():
    props = unknown_checking_proxy({"enableKeyRotation": False, "tags": {"team": "platform"}})
    calls = validate(resource_policy(KMS_ROTATION), resource_args(KEY, props))
    assert calls == [("KMS key does not rotate: set enable_key_rotation=True", None)]


def test_unknown_prop_during_preview_is_left_to_the_sdk():
    # The SDK turns UnknownValueError into an advisory "can't run policy during preview" note.
    props = unknown_checking_proxy({"enableKeyRotation": UNKNOWN_BOOLEAN_VALUE})
    with pytest.raises(UnknownValueError):
        validate(resource_policy(KMS_ROTATION), resource_args(KEY, props))


def test_compliant_encryption_as_the_engine_proxies_it_is_quiet():
    props = unknown_checking_proxy(
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}}]}
    )
    assert validate(resource_policy(S3_KMS), resource_args(ENCRYPTION, props)) == []


def test_compliant_pipeline_as_the_engine_proxies_it_is_quiet():
    store = {"location": "artifacts", "type": "S3", "encryptionKey": {"id": KEY_ARN, "type": "KMS"}}
    props = unknown_checking_proxy({"artifactStores": [store]})
    assert validate(resource_policy(PIPELINE_ARTIFACT_CMK), resource_args(PIPELINE, props)) == []


def test_role_with_admin_managed_policy_as_the_engine_proxies_it_is_reported():
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    props = unknown_checking_proxy({"managedPolicyArns": [arn]})
    assert validate(resource_policy(IAM_NO_ADMIN), resource_args(ROLE, props)) == [(f"role carries {arn}", None)]


def test_role_with_scoped_inline_policy_as_the_engine_proxies_it_is_quiet():
    props = unknown_checking_proxy({"inlinePolicies": [{"name": "none", "policy": '{"Statement": []}'}]})
    assert validate(resource_policy(IAM_NO_ADMIN), resource_args(ROLE, props)) == []


# stack validation


def stack_resource(resource_type, name, **props):
    return resource_args(resource_type, props, name)


def test_stack_policy_reports_the_violation_against_the_bucket_urn():
    bucket = stack_resource(BUCKET, "artifacts", bucket="artifacts")
    calls = validate(stack_policy(S3_BUCKET_HARDENED, PolicyResource), stack_args(bucket))
    assert calls == [("bucket artifacts has no default encryption, public access block, versioning", bucket.urn)]


def test_stack_policy_is_quiet_for_a_hardened_bucket():
    args = stack_args(
        stack_resource(BUCKET, "artifacts", bucket="artifacts"),
        stack_resource(ACCESS_BLOCK, "artifacts-pab", bucket="artifacts"),
        stack_resource(ENCRYPTION, "artifacts-sse", bucket="artifacts"),
        stack_resource(VERSIONING, "artifacts-ver", bucket="artifacts", versioningConfiguration={"status": "Enabled"}),
    )
    assert validate(stack_policy(S3_BUCKET_HARDENED, PolicyResource), args) == []


def test_stack_policy_hands_the_rule_resource_views():
    seen = []

    def check(resources):
        seen.extend(resources)
        return [(None, "stack-wide finding")]

    rule = dataclasses.replace(S3_BUCKET_HARDENED, check=check)
    topic = stack_resource("aws:sns/topic:Topic", "alerts", displayName="alerts")
    calls = validate(stack_policy(rule, PolicyResource), stack_args(topic))
    assert seen == [
        PolicyResource(type=topic.resource_type, urn=topic.urn, name="alerts", props={"displayName": "alerts"})
    ]
    assert calls == [("stack-wide finding", None)]


def test_stack_policy_accepts_props_as_the_engine_proxies_them():
    bucket = resource_args(BUCKET, unknown_checking_proxy({"bucket": "artifacts"}), "artifacts")
    pab = resource_args(ACCESS_BLOCK, unknown_checking_proxy({"bucket": "artifacts"}), "artifacts-pab")
    calls = validate(stack_policy(S3_BUCKET_HARDENED, PolicyResource), stack_args(bucket, pab))
    assert calls == [("bucket artifacts has no default encryption, versioning", bucket.urn)]


def test_stack_policy_with_no_resources_is_quiet():
    assert validate(stack_policy(S3_BUCKET_HARDENED, PolicyResource), stack_args()) == []
