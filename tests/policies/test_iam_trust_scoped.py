import json

import pytest

from policies.rules.iam import IAM_TRUST_SCOPED as RULE

ROLE = "aws:iam/role:Role"
PARTNER = "arn:aws:iam::210987654321:role/partner-deployer"
TOOLING_ROLE = "arn:aws:iam::123456789012:role/tooling"


def role(*statements):
    return {"assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


def trust(principal, condition=None, effect="Allow", sid=None):
    found = {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}
    if condition is not None:
        found["Condition"] = condition
    if sid is not None:
        found["Sid"] = sid
    return found


def test_rule_is_mandatory_and_about_roles():
    assert RULE.name == "iam-trust-scoped"
    assert RULE.level == "mandatory"
    assert RULE.resource_types == frozenset({ROLE})


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": [PARTNER, "*"]}])
def test_trust_in_any_principal_is_reported(principal):
    assert RULE.violations(ROLE, role(trust(principal))) == ["trust statement 0 lets any AWS principal assume the role"]


def test_trust_in_any_principal_is_reported_even_with_an_org_condition():
    statement = trust("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, sid="Org")
    assert RULE.violations(ROLE, role(statement)) == ["trust statement Org lets any AWS principal assume the role"]


@pytest.mark.parametrize("principal", [{"AWS": PARTNER}, {"AWS": [PARTNER]}])
def test_aws_principal_without_second_factor_is_reported(principal):
    assert RULE.violations(ROLE, role(trust(principal))) == [
        f"trust statement 0 trusts {PARTNER} without sts:ExternalId or aws:PrincipalOrgID"
    ]


def test_message_lists_every_trusted_principal_and_the_sid():
    found = RULE.violations(ROLE, role(trust({"AWS": [PARTNER, TOOLING_ROLE]}, sid="Tooling")))
    assert found == [
        f"trust statement Tooling trusts {PARTNER}, {TOOLING_ROLE} without sts:ExternalId or aws:PrincipalOrgID"
    ]


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceIp": "203.0.113.0/24"}},
        {"StringEquals": {"sts:ExternalIdx": "abc"}},
        {"StringEquals": "sts:ExternalId"},
        {},
        "sts:ExternalId",
    ],
)
def test_aws_principal_with_an_unrelated_or_malformed_condition_is_reported(condition):
    assert RULE.violations(ROLE, role(trust({"AWS": PARTNER}, condition))) != []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"sts:ExternalId": "partner-secret"}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        {"StringEquals": {"sts:externalid": "partner-secret"}},
        {"StringEquals": {"STS:EXTERNALID": "partner-secret"}},
        {"StringEquals": {"aws:principalorgid": "o-abc123"}},
        {"ForAnyValue:StringLike": {"AWS:PrincipalOrgId": "o-*"}},
        {"Bool": {"aws:MultiFactorAuthPresent": "true"}, "StringEquals": {"sts:ExternalId": "partner-secret"}},
    ],
)
def test_aws_principal_with_external_id_or_org_condition_passes(condition):
    assert RULE.violations(ROLE, role(trust({"AWS": PARTNER}, condition))) == []


@pytest.mark.parametrize(
    "principal",
    [
        {"Service": "codebuild.amazonaws.com"},
        {"Service": ["codepipeline.amazonaws.com", "codebuild.amazonaws.com"]},
    ],
)
def test_service_principals_pass(principal):
    assert RULE.violations(ROLE, role(trust(principal))) == []


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": PARTNER}])
def test_deny_statements_are_quiet(principal):
    assert RULE.violations(ROLE, role(trust(principal, effect="Deny"))) == []


def test_only_the_unscoped_statement_is_reported():
    props = role(trust({"Service": "codebuild.amazonaws.com"}), trust({"AWS": PARTNER}))
    assert RULE.violations(ROLE, props) == [
        f"trust statement 1 trusts {PARTNER} without sts:ExternalId or aws:PrincipalOrgID"
    ]


def test_trust_policy_given_as_a_mapping_is_checked():
    props = {"assumeRolePolicy": {"Statement": trust("*")}}
    assert RULE.violations(ROLE, props) == ["trust statement 0 lets any AWS principal assume the role"]


@pytest.mark.parametrize("policy", [None, "", "not json", "[]"])
def test_trust_policy_not_known_or_not_a_document_does_not_crash(policy):
    assert RULE.violations(ROLE, {"assumeRolePolicy": policy}) == []
    assert RULE.violations(ROLE, {}) == []


def test_other_resource_types_are_ignored():
    assert RULE.violations("aws:sns/topic:Topic", role(trust("*"))) == []
    assert RULE.violations("aws:iam/rolePolicy:RolePolicy", role(trust("*"))) == []


@pytest.mark.parametrize("statement_value", [None, 42])
def test_trust_policy_with_malformed_statement_does_not_crash(statement_value):
    assert RULE.violations(ROLE, {"assumeRolePolicy": json.dumps({"Statement": statement_value})}) == []
