"""Every role that reads service health can read a composite alarm, under CloudWatch's documented rule.

Amazon CloudWatch API Reference, ``DescribeAlarms``: composite alarms are returned only to a caller whose
``cloudwatch:DescribeAlarms`` permission is scoped to ``*``; with any narrower scope the call succeeds and
returns no composite alarm. Every health alarm (``cicd-<service>-<env>-health``) is composite, so a role
that reads one through a narrower grant sees "no such alarm": the provider's read-back after create fails,
and a gate holds every deploy as "health unknown". A role meets the rule when its effective policy has an
Allow of ``cloudwatch:DescribeAlarms`` on exactly ``Resource: "*"``, unconditioned and not denied, in every
policy that bounds it (its own policies and its permissions boundary); tooling-account roles meet it through
the reader role they assume in each account.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest

from bootstrap.api_calls import ApiCall
from bootstrap.boundary import boundary_policy
from bootstrap.coverage import environment_providers, is_allowed
from bootstrap.permissions import bootstrap_policy, render
from components.model import naming
from components.model.coordination_graph import alarm_reader_role_arns

DESCRIBE_ALARMS = "cloudwatch:DescribeAlarms"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture(params=["dev", "prod"])
def plan(request, dev_plan, prod_plan):
    return {"dev": dev_plan, "prod": prod_plan}[request.param]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covers(statement: dict[str, Any], action: str) -> bool:
    return any(fnmatchcase(action.lower(), str(pattern).lower()) for pattern in _list(statement.get("Action", [])))


def reads_composite_alarms(document: dict[str, Any]) -> bool:
    """An unconditioned Allow of DescribeAlarms on exactly ``"*"``, and no Deny of it anywhere."""
    statements = document["Statement"]
    if any(s["Effect"] == "Deny" and (_covers(s, DESCRIBE_ALARMS) or "NotAction" in s) for s in statements):
        return False
    return any(
        s["Effect"] == "Allow"
        and _covers(s, DESCRIBE_ALARMS)
        and _list(s.get("Resource")) == ["*"]
        and not s.get("Condition")
        and "NotResource" not in s
        for s in statements
    )


def test_the_rule_refuses_a_grant_scoped_to_the_platforms_alarms():
    scoped = {"Effect": "Allow", "Action": DESCRIBE_ALARMS, "Resource": "arn:aws:cloudwatch:eu-west-1:1:alarm:cicd-*"}
    everywhere = {"Effect": "Allow", "Action": ["cloudwatch:Describe*"], "Resource": ["*"]}
    assert not reads_composite_alarms({"Statement": [scoped]})
    assert reads_composite_alarms({"Statement": [everywhere]})
    assert not reads_composite_alarms({"Statement": [{**everywhere, "Condition": {"StringEquals": {"x": "y"}}}]})
    assert not reads_composite_alarms({"Statement": [everywhere, {**scoped, "Effect": "Deny"}]})


def _document(value: str | dict[str, Any]) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


def _roles_in(plan, account_id: str) -> dict[str, Any]:
    """Roles the plan creates in one environment account, by name."""
    providers = {urn for urn, p in environment_providers(plan).items() if p.account_id == account_id}
    return {r.inputs["name"]: r for r in plan.resources if r.type == ROLE and r.provider in providers}


def _identity_policies(plan, role_name: str, provider: str | None) -> list[dict[str, Any]]:
    return [
        _document(r.inputs["policy"])
        for r in plan.resources
        if r.type == ROLE_POLICY and r.inputs.get("role") == role_name and r.provider == provider
    ]


def _bounds(plan, role) -> list[dict[str, Any]]:
    """Every policy that bounds what a role may do: its inline policies together, and its permissions boundary."""
    statements = [s for d in _identity_policies(plan, role.inputs["name"], role.provider) for s in d["Statement"]]
    bounds = [{"Statement": statements}]
    boundary = role.inputs.get("permissionsBoundary")
    if boundary:
        provider = environment_providers(plan)[role.provider]
        name = plan.inputs.settings.permissions_boundary_name
        assert boundary == naming.permissions_boundary_arn(provider.region, provider.account_id, name), boundary
        document = boundary_policy(plan.inputs.settings.tooling_account_id)
        bounds.append(
            render(document, partition=provider.partition, account_id=provider.account_id, region=provider.region)
        )
    return bounds


def _admits(trust: dict[str, Any], principal_arn: str, organization_id: str) -> bool:
    """Whether a trust policy lets this role of another account assume it (principal, then conditions)."""
    account_root = f"{principal_arn.split(':role/')[0]}:root"
    for statement in trust["Statement"]:
        principals = _list(statement.get("Principal", {}).get("AWS", []))
        if statement["Effect"] != "Allow" or not ({principal_arn, account_root} & set(principals)):
            continue
        evaluated = {key: value for key, value in statement.items() if key != "Principal"}
        context = {"aws:PrincipalArn": principal_arn, "aws:PrincipalOrgID": organization_id}
        if is_allowed({"Statement": [{**evaluated, "Resource": "*"}]}, ApiCall("sts:AssumeRole", "*", context)):
            return True
    return False


def _reader_of(plan, reader_arn: str):
    account_id, name = reader_arn.split(":")[4], reader_arn.rsplit("/", 1)[1]
    reader = _roles_in(plan, account_id).get(name)
    assert reader is not None, f"{reader_arn} is not created by the plan"
    return reader


def test_the_bootstrap_role_reads_composite_alarms_in_every_environment_account(plan):
    providers = environment_providers(plan)
    assert providers
    for provider in providers.values():
        policy = render(
            bootstrap_policy(), partition=provider.partition, account_id=provider.account_id, region=provider.region
        )
        assert reads_composite_alarms(policy), provider.account_id


def test_every_alarm_reader_reads_composite_alarms(plan):
    accounts = plan.inputs.environment_accounts()
    assert accounts
    for environment, _ in accounts:
        reader = _roles_in(plan, environment.account_id).get(naming.alarm_reader_role_name(environment.name))
        assert reader is not None, (environment.name, environment.account_id)
        bounds = _bounds(plan, reader)
        assert len(bounds) == 2, "the reader's own policy and the bootstrap's permissions boundary"
        for bound in bounds:
            assert reads_composite_alarms(bound), (environment.name, environment.account_id, bound)


def _tooling_readers(plan) -> dict[str, list[str]]:
    """The tooling-account roles that read health alarms, each with the reader roles it goes through.

    The deploy gate and the coordinator read the health of dependencies (the readers of the accounts where
    dependencies run); the rollback reporter quotes the signal alarms of any environment account.
    """
    stack = plan.inputs.stack
    every_reader = sorted(
        {
            naming.role_arn(env.region, env.account_id, naming.alarm_reader_role_name(env.name))
            for env, _ in plan.inputs.environment_accounts()
        }
    )
    readers = {
        naming.coordination_function_name(stack, f): alarm_reader_role_arns(plan.inputs)
        for f in naming.COORDINATION_FUNCTIONS
    }
    readers[naming.rollback_reporter_name(stack)] = every_reader
    return readers


def test_the_gate_coordinator_and_reporter_read_composite_alarms_through_the_reader_they_assume(plan):
    settings = plan.inputs.settings
    readers_by_role = _tooling_readers(plan)
    assert all(readers_by_role.values())
    for role_name, readers in readers_by_role.items():
        role_arn = naming.role_arn(settings.region, settings.tooling_account_id, role_name)
        (policy,) = _identity_policies(plan, role_name, None)
        for reader_arn in readers:
            assert is_allowed(policy, ApiCall("sts:AssumeRole", reader_arn)), (role_name, reader_arn)
            reader = _reader_of(plan, reader_arn)
            assert _admits(_document(reader.inputs["assumeRolePolicy"]), role_arn, settings.organization_id), (
                role_name,
                reader_arn,
            )
            for bound in _bounds(plan, reader):
                assert reads_composite_alarms(bound), (role_name, reader_arn)
