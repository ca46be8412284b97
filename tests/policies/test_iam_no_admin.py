import json

import pytest

from policies.rules.iam import IAM_NO_ADMIN as RULE

ROLE = "aws:iam/role:Role"
POLICY_TYPES = [
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
]
ROLE_POLICY = POLICY_TYPES[0]
ATTACHMENT_TYPES = [
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
]
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


ADMIN = allow("*", "*")
SCOPED = allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::artifacts/*")


def test_rule_is_mandatory_and_covers_policies_attachments_and_roles():
    assert RULE.name == "iam-no-admin"
    assert RULE.level == "mandatory"
    assert RULE.resource_types == frozenset([ROLE, *POLICY_TYPES, *ATTACHMENT_TYPES])


# policy documents


@pytest.mark.parametrize("resource_type", POLICY_TYPES)
def test_policy_allowing_every_action_on_every_resource_is_reported(resource_type):
    found = RULE.violations(resource_type, {"policy": document(ADMIN)})
    assert found == ["statement 0 allows every action on every resource"]


@pytest.mark.parametrize(
    ("action", "resource"),
    [("*", "*"), ("*:*", "*"), (["s3:GetObject", "*"], "*"), ("*", ["arn:aws:s3:::artifacts", "*"])],
)
def test_wildcard_action_and_resource_in_any_spelling_is_reported(action, resource):
    assert RULE.violations(ROLE_POLICY, {"policy": document(allow(action, resource))}) != []


def test_admin_statement_is_named_by_its_sid_and_only_it_is_reported():
    props = {"policy": document(SCOPED, allow("*", "*", Sid="BreakGlass"))}
    assert RULE.violations(ROLE_POLICY, props) == ["statement BreakGlass allows every action on every resource"]


def test_single_statement_object_is_checked():
    props = {"policy": json.dumps({"Statement": ADMIN})}
    assert RULE.violations(ROLE_POLICY, props) == ["statement 0 allows every action on every resource"]


def test_policy_given_as_a_mapping_is_checked():
    assert RULE.violations(ROLE_POLICY, {"policy": {"Statement": [ADMIN]}}) != []


@pytest.mark.parametrize(
    "statement",
    [
        SCOPED,
        allow("s3:*", "*"),
        allow("iam:*", "*"),
        allow("*", "arn:aws:s3:::artifacts/*"),
        allow("*", "arn:aws:*:*:*"),
    ],
)
def test_scoped_statements_pass(statement):
    assert RULE.violations(ROLE_POLICY, {"policy": document(statement)}) == []


def test_deny_everything_is_quiet():
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    assert RULE.violations(ROLE_POLICY, {"policy": document(deny)}) == []


@pytest.mark.parametrize("policy", [None, "", "not json", "[]", "null", json.dumps({"Statement": "oops"})])
def test_policy_not_known_or_not_a_document_does_not_crash(policy):
    assert RULE.violations(ROLE_POLICY, {"policy": policy}) == []


# managed policy attachments


@pytest.mark.parametrize("resource_type", ATTACHMENT_TYPES)
@pytest.mark.parametrize("name", ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"])
def test_attaching_an_administrator_policy_is_reported(resource_type, name):
    arn = f"arn:aws:iam::aws:policy/{name}"
    assert RULE.violations(resource_type, {"role": "deployer", "policyArn": arn}) == [f"attaches {arn}"]


def test_attaching_an_administrator_policy_in_another_partition_is_reported():
    arn = "arn:aws-us-gov:iam::aws:policy/AdministratorAccess"
    assert RULE.violations(ATTACHMENT_TYPES[0], {"policyArn": arn}) == [f"attaches {arn}"]


@pytest.mark.parametrize(
    "policy_arn",
    [
        READ_ONLY_ARN,
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        "arn:aws:iam::123456789012:policy/AdministratorAccessForBilling",
        "AdministratorAccess",
        None,
    ],
)
def test_attaching_a_scoped_or_unknown_policy_passes(policy_arn):
    assert RULE.violations(ATTACHMENT_TYPES[0], {"role": "deployer", "policyArn": policy_arn}) == []


# roles


def test_role_carrying_administrator_managed_policy_is_reported():
    props = {"managedPolicyArns": [READ_ONLY_ARN, ADMIN_ARN]}
    assert RULE.violations(ROLE, props) == [f"role carries {ADMIN_ARN}"]


def test_role_with_admin_inline_policy_is_reported():
    props = {
        "inlinePolicies": [{"name": "scoped", "policy": document(SCOPED)}, {"name": "all", "policy": document(ADMIN)}]
    }
    assert RULE.violations(ROLE, props) == ["statement 0 allows every action on every resource"]


def test_role_with_scoped_managed_and_inline_policies_passes():
    props = {
        "managedPolicyArns": [READ_ONLY_ARN],
        "inlinePolicies": [{"name": "scoped", "policy": document(SCOPED)}],
    }
    assert RULE.violations(ROLE, props) == []


@pytest.mark.parametrize(
    "props",
    [
        {},
        {"managedPolicyArns": None, "inlinePolicies": None},
        {"managedPolicyArns": [None], "inlinePolicies": [None]},
        {"inlinePolicies": [{"name": "pending", "policy": None}]},
        {"inlinePolicies": [{"name": "pending"}]},
    ],
)
def test_role_with_policies_not_known_yet_does_not_crash(props):
    assert RULE.violations(ROLE, props) == []


def test_role_trust_policy_is_not_an_admin_grant():
    trust = document({"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": {"Service": "ec2.amazonaws.com"}})
    assert RULE.violations(ROLE, {"assumeRolePolicy": trust}) == []


def test_other_resource_types_are_ignored():
    assert RULE.violations("aws:sns/topic:Topic", {"policy": document(ADMIN)}) == []
    assert RULE.violations("aws:s3/bucketPolicy:BucketPolicy", {"policy": document(ADMIN)}) == []


@pytest.mark.parametrize("statement_value", [None, 42])
def test_policy_with_malformed_statement_does_not_crash(statement_value):
    assert RULE.violations(ROLE_POLICY, {"policy": json.dumps({"Statement": statement_value})}) == []
