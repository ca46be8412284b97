"""The permissions boundary: derived from the platform's own role policies, enough for them, and nothing more.

A role's effective permissions are what its policies *and* its boundary allow (IAM User Guide, "Permissions
boundaries for IAM entities"). So the boundary must allow every call the platform's roles in an environment
account make (else deploys break) and should allow nothing else (else it bounds nothing).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data

from bootstrap.api_calls import ApiCall
from bootstrap.boundary import ARTIFACT_BUCKETS, CODEDEPLOY_SERVICE_ROLE_POLICIES, boundary_policy
from bootstrap.coverage import environment_providers, is_allowed
from bootstrap.permissions import CODEDEPLOY_MANAGED_POLICY_ARNS, actions_of, render
from components.model import naming

MANAGED_POLICY_SIZE_LIMIT = 6_144
"""IAM quotas: a customer managed policy holds at most 6,144 characters, whitespace not counted."""
ROLE = "aws:iam/role:Role"


@pytest.fixture(params=["dev", "prod"])
def plan(request):
    """The session's shared plan of the stack (no plan of its own). Only that one: asking for both made
    the first worker here wait for dev and prod in turn while another worker could plan the other."""
    return request.getfixturevalue(f"{request.param}_plan")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _normalised(statements: list[dict[str, Any]]) -> set[str]:
    return {
        json.dumps(
            {
                "Action": sorted(_list(s["Action"])),
                "Resource": sorted(_list(s["Resource"])),
                "Condition": s.get("Condition"),
            },
            sort_keys=True,
        )
        for s in statements
    }


def test_the_codedeploy_policies_are_the_ones_the_bootstrap_lets_the_program_attach():
    assert set(CODEDEPLOY_SERVICE_ROLE_POLICIES) == set(CODEDEPLOY_MANAGED_POLICY_ARNS)


@pytest.mark.parametrize("arn", sorted(CODEDEPLOY_SERVICE_ROLE_POLICIES))
def test_the_codedeploy_policies_are_what_aws_publishes(arn):
    """Compared with the copy of the AWS managed policies that moto ships (AWS Managed Policy Reference)."""
    published = json.loads(aws_managed_policies_data)[arn.rsplit("/", 1)[1]]["Document"]["Statement"]
    ours = render({"Statement": CODEDEPLOY_SERVICE_ROLE_POLICIES[arn]}, partition="aws", account_id="1", region="r")
    assert _normalised(ours["Statement"]) == _normalised(published)


def test_the_boundary_fits_a_managed_policy():
    document = render(boundary_policy("123456789012"), partition="aws-us-gov", account_id="444444444444", region="x")
    assert len(json.dumps(document, separators=(",", ":"))) < MANAGED_POLICY_SIZE_LIMIT


def test_the_boundary_allows_no_iam_change_and_no_sts():
    actions = actions_of(boundary_policy("123456789012"))
    assert not [a for a in actions if "*" in a.split(":", 1)[0] or a in ("*", "*:*") or a.endswith(":*")]
    assert [a for a in actions if a.startswith(("iam:", "sts:"))] == ["iam:PassRole"]
    passing = [s for s in boundary_policy("123456789012")["Statement"] if "iam:PassRole" in s["Action"]]
    assert passing
    for statement in passing:
        assert statement["Action"] == ["iam:PassRole"]
        services = [
            _list(value)
            for block in statement["Condition"].values()
            for key, value in block.items()
            if key == "iam:PassedToService"
        ]
        assert services == [["ecs-tasks.amazonaws.com"]]


def test_cross_account_reads_reach_only_the_tooling_account():
    document = render(boundary_policy("123456789012"), partition="aws", account_id="444444444444", region="eu-west-1")
    tooling_key = "arn:aws:kms:eu-west-1:123456789012:key/1234"
    other_key = "arn:aws:kms:eu-west-1:999999999999:key/1234"
    assert is_allowed(document, ApiCall("kms:Decrypt", tooling_key))
    assert not is_allowed(document, ApiCall("kms:Decrypt", other_key))
    assert not is_allowed(document, ApiCall("kms:Decrypt", "arn:aws:kms:eu-west-1:444444444444:key/1234"))
    bus = "arn:aws:events:eu-west-1:123456789012:event-bus/cicd-prod-deploy-events"
    assert is_allowed(document, ApiCall("events:PutEvents", bus))
    assert not is_allowed(document, ApiCall("events:PutEvents", bus.replace("123456789012", "999999999999")))
    assert not is_allowed(document, ApiCall("secretsmanager:GetSecretValue", "*"))
    assert not is_allowed(document, ApiCall("dynamodb:Scan", "*"))


def _context(statement: dict[str, Any]) -> dict[str, str]:
    """The request context a call needs to satisfy a statement's conditions (one value per key)."""
    return {
        key: str(_list(value)[0]) for block in statement.get("Condition", {}).values() for key, value in block.items()
    }


def _role_policies(plan, role) -> list[dict[str, Any]]:
    """Every identity policy the plan gives a role: its inline policies and the AWS policies attached to it."""
    inline = [
        json.loads(r.inputs["policy"])
        for r in plan.resources
        if r.type == "aws:iam/rolePolicy:RolePolicy"
        and r.inputs.get("role") == role.inputs["name"]
        and r.provider == role.provider
    ]
    attached = [
        {
            "Statement": CODEDEPLOY_SERVICE_ROLE_POLICIES[
                r.inputs["policyArn"].replace(":aws:", ":${AWS::Partition}:", 1)
            ]
        }
        for r in plan.resources
        if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
        and r.inputs.get("role") == role.inputs["name"]
        and r.provider == role.provider
    ]
    return inline + attached


def _environment_roles(plan):
    providers = environment_providers(plan)
    return [(providers[r.provider], r) for r in plan.resources if r.type == ROLE and r.provider in providers]


def test_the_boundary_allows_every_statement_of_every_role_the_platform_creates_in_an_environment_account(plan):
    tooling = plan.inputs.settings.tooling_account_id
    roles = _environment_roles(plan)
    assert {role.inputs["name"].rsplit("-", 1)[0] for _, role in roles} >= {
        "cicd-alarm-reader",
        "cicd-codedeploy",
        "cicd-event-forwarder",
    }
    for provider, role in roles:
        boundary = render(
            boundary_policy(tooling),
            partition=provider.partition,
            account_id=provider.account_id,
            region=provider.region,
        )
        policies = _role_policies(plan, role)
        assert policies, role.inputs["name"]
        for document in policies:
            statements = render(document, partition=provider.partition, account_id="*", region="*")["Statement"]
            for statement in statements:
                for action in _list(statement["Action"]):
                    for resource in _list(statement["Resource"]):
                        call = ApiCall(action, resource, _context(statement))
                        assert is_allowed(boundary, call), (role.inputs["name"], call)


def test_the_boundary_holds_no_action_the_platforms_roles_do_not(dev_plan, prod_plan):
    used: set[str] = set()
    for plan in (dev_plan, prod_plan):
        for _, role in _environment_roles(plan):
            used |= {a for document in _role_policies(plan, role) for a in actions_of(document)}
    assert set(actions_of(boundary_policy("123456789012"))) == used


def test_every_artifact_bucket_name_is_covered_by_the_boundarys_pattern(plan):
    settings = plan.inputs.settings
    name = naming.artifact_bucket_name(plan.inputs.stack, settings.tooling_account_id, settings.region)
    assert name.startswith(ARTIFACT_BUCKETS.rstrip("*"))
