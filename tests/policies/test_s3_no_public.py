import json

import pytest

from policies.rules.s3 import S3_NO_PUBLIC as RULE

ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
ACCOUNT_ROOT = "arn:aws:iam::123456789012:root"


def all_blocked():
    return {"bucket": "artifacts", **dict.fromkeys(FLAGS, True)}


def bucket_policy(*statements):
    return {"bucket": "artifacts", "policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


def statement(effect="Allow", principal=None, sid=None):
    found = {"Effect": effect, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::artifacts/*"}
    if principal is not None:
        found["Principal"] = principal
    if sid is not None:
        found["Sid"] = sid
    return found


def test_rule_is_mandatory_and_covers_block_policy_and_acl():
    assert RULE.name == "s3-no-public"
    assert RULE.level == "mandatory"
    assert RULE.resource_types == frozenset({ACCESS_BLOCK, BUCKET_POLICY, BUCKET_ACL})


# public access block


def test_public_access_block_with_every_flag_on_passes():
    assert RULE.violations(ACCESS_BLOCK, all_blocked()) == []


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("value", [False, None])
def test_public_access_block_with_one_flag_off_names_that_flag(flag, value):
    props = {**all_blocked(), flag: value}
    assert RULE.violations(ACCESS_BLOCK, props) == [f"public access block leaves {flag} off"]


@pytest.mark.parametrize("flag", FLAGS)
def test_public_access_block_with_one_flag_missing_is_reported(flag):
    props = all_blocked()
    del props[flag]
    assert RULE.violations(ACCESS_BLOCK, props) == [f"public access block leaves {flag} off"]


def test_empty_public_access_block_lists_all_four_flags_in_one_message():
    assert RULE.violations(ACCESS_BLOCK, {"bucket": "artifacts"}) == [
        "public access block leaves blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets off"
    ]


# bucket policy


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}, {"AWS": [ACCOUNT_ROOT, "*"]}])
def test_bucket_policy_allowing_everyone_is_reported(principal):
    found = RULE.violations(BUCKET_POLICY, bucket_policy(statement(principal=principal)))
    assert found == ["statement 0 allows any principal ('*')"]


def test_bucket_policy_violation_names_the_statement_sid():
    found = RULE.violations(BUCKET_POLICY, bucket_policy(statement(principal="*", sid="PublicRead")))
    assert found == ["statement PublicRead allows any principal ('*')"]


def test_only_the_public_statement_of_a_bucket_policy_is_reported_by_index():
    props = bucket_policy(statement(principal={"AWS": ACCOUNT_ROOT}), statement(principal={"AWS": "*"}))
    assert RULE.violations(BUCKET_POLICY, props) == ["statement 1 allows any principal ('*')"]


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_bucket_policy_denying_everyone_is_quiet(principal):
    deny_insecure_transport = {
        **statement(effect="Deny", principal=principal, sid="DenyInsecureTransport"),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert RULE.violations(BUCKET_POLICY, bucket_policy(deny_insecure_transport)) == []


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": ACCOUNT_ROOT},
        {"AWS": [ACCOUNT_ROOT, "arn:aws:iam::123456789012:role/deployer"]},
        {"Service": "codepipeline.amazonaws.com"},
        {"Service": "*"},
    ],
)
def test_bucket_policy_allowing_named_principals_passes(principal):
    assert RULE.violations(BUCKET_POLICY, bucket_policy(statement(principal=principal))) == []


def test_bucket_policy_with_a_single_statement_object_is_checked():
    props = {"policy": json.dumps({"Statement": statement(principal="*")})}
    assert RULE.violations(BUCKET_POLICY, props) == ["statement 0 allows any principal ('*')"]


def test_bucket_policy_given_as_a_mapping_is_checked():
    props = {"policy": {"Statement": [statement(principal={"AWS": "*"})]}}
    assert RULE.violations(BUCKET_POLICY, props) == ["statement 0 allows any principal ('*')"]


@pytest.mark.parametrize("policy", [None, "", "not json", "[]", "42", {}])
def test_bucket_policy_not_known_or_not_a_document_does_not_crash(policy):
    assert RULE.violations(BUCKET_POLICY, {"bucket": "artifacts", "policy": policy}) == []


def test_bucket_policy_without_policy_prop_does_not_crash():
    assert RULE.violations(BUCKET_POLICY, {}) == []


# bucket ACL


@pytest.mark.parametrize("acl", ["public-read", "public-read-write", "authenticated-read"])
def test_public_bucket_acl_is_reported(acl):
    assert RULE.violations(BUCKET_ACL, {"bucket": "artifacts", "acl": acl}) == [f"bucket ACL '{acl}' is public"]


@pytest.mark.parametrize("props", [{"acl": "private"}, {"acl": "log-delivery-write"}, {"acl": None}, {}])
def test_private_or_unset_bucket_acl_passes(props):
    assert RULE.violations(BUCKET_ACL, props) == []


def test_other_resource_types_are_ignored():
    assert RULE.violations("aws:sns/topic:Topic", {"acl": "public-read"}) == []
    assert RULE.violations("aws:sns/topicPolicy:TopicPolicy", bucket_policy(statement(principal="*"))) == []
    assert RULE.violations("aws:s3/bucket:Bucket", {"bucket": "artifacts"}) == []


@pytest.mark.parametrize("statement_value", [None, 42])
def test_bucket_policy_with_malformed_statement_does_not_crash(statement_value):
    assert RULE.violations(BUCKET_POLICY, {"policy": json.dumps({"Statement": statement_value})}) == []
