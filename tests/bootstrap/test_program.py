"""The Pulumi bootstrap program declares the same role and policy as the StackSet template."""

from __future__ import annotations

import dataclasses
import json
import runpy
from pathlib import Path

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from bootstrap.boundary import boundary_policy
from bootstrap.permissions import bootstrap_policy, render, trust_policy
from offline_plan.mocks import AwsMocks
from offline_plan.policy_check import evaluate
from offline_plan.recorder import RecordingMonitor

PROGRAM = Path(__file__).resolve().parents[2] / "bootstrap" / "__main__.py"
PROJECT = "cicd-platform-bootstrap"


def run_bootstrap_program(config: dict[str, str]) -> list:
    """Run bootstrap/__main__.py under mocks, with credentials of environment account 444444444444."""
    mocks = AwsMocks(tooling_account_id="444444444444", region="eu-west-1")
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="prod-444444444444", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({f"{PROJECT}:{key}": value for key, value in config.items()})
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__main__")))
    return monitor.recorded


def test_program_declares_the_boundary_and_the_role_with_the_shared_trust_and_policy():
    recorded = run_bootstrap_program({"toolingAccountId": "123456789012", "organizationId": "o-bkw7prodorg01"})
    role = next(r for r in recorded if r.type == "aws:iam/role:Role")
    policy = next(r for r in recorded if r.type == "aws:iam/rolePolicy:RolePolicy")
    boundary = next(r for r in recorded if r.type == "aws:iam/policy:Policy")
    filled = {"partition": "aws", "account_id": "444444444444", "region": "eu-west-1"}
    assert role.inputs["name"] == "cicd-platform-bootstrap"
    assert json.loads(role.inputs["assumeRolePolicy"]) == render(
        trust_policy("123456789012", "o-bkw7prodorg01", "cicd-platform-deployer"), **filled
    )
    assert json.loads(policy.inputs["policy"]) == render(bootstrap_policy(), **filled)
    assert policy.inputs["role"] == "cicd-platform-bootstrap"
    assert boundary.inputs["name"] == "cicd-platform-boundary"
    assert json.loads(boundary.inputs["policy"]) == render(boundary_policy("123456789012"), **filled)


def test_program_honours_a_custom_boundary_name_in_the_boundary_and_the_role_policy():
    recorded = run_bootstrap_program(
        {"toolingAccountId": "123456789012", "organizationId": "o-bkw7prodorg01", "boundaryPolicyName": "team-bound"}
    )
    boundary = next(r for r in recorded if r.type == "aws:iam/policy:Policy")
    policy = next(r for r in recorded if r.type == "aws:iam/rolePolicy:RolePolicy")
    assert boundary.inputs["name"] == "team-bound"
    assert "arn:aws:iam::444444444444:policy/team-bound" in policy.inputs["policy"]
    assert "cicd-platform-boundary" not in policy.inputs["policy"]


def test_program_honours_a_custom_role_and_deployer_name():
    recorded = run_bootstrap_program(
        {
            "toolingAccountId": "123456789012",
            "organizationId": "o-bkw7prodorg01",
            "roleName": "platform-bootstrap",
            "deployerRoleName": "github-deployer",
        }
    )
    role = next(r for r in recorded if r.type == "aws:iam/role:Role")
    assert role.inputs["name"] == "platform-bootstrap"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["ArnLike"]["aws:PrincipalArn"] == (
        "arn:aws:iam::123456789012:role/github-deployer"
    )


def test_the_bootstrap_stack_meets_every_mandatory_rule_of_the_pack():
    """The pack's deliberate copy of the bootstrap's actions (bootstrap-least-privilege's allowedActions) and its
    reading of the boundary (permissions-boundary) stay in step with what the bootstrap really declares."""
    recorded = run_bootstrap_program({"toolingAccountId": "123456789012", "organizationId": "o-bkw7prodorg01"})
    findings = evaluate(recorded)
    assert [(v.policy, v.message) for v in findings if v.level == "mandatory"] == []
    ruled = {v.policy for v in findings}
    assert not ruled & {"bootstrap-least-privilege", "permissions-boundary", "iam-no-privesc"}


def test_the_pack_notices_a_bootstrap_action_its_copy_does_not_know():
    recorded = run_bootstrap_program({"toolingAccountId": "123456789012", "organizationId": "o-bkw7prodorg01"})
    policy = next(r for r in recorded if r.type == "aws:iam/rolePolicy:RolePolicy")
    document = json.loads(policy.inputs["policy"])
    document["Statement"][0]["Action"].append("iam:CreatePolicyVersion")
    grown = [
        dataclasses.replace(r, inputs={**r.inputs, "policy": json.dumps(document)}) if r is policy else r
        for r in recorded
    ]
    messages = [v.message for v in evaluate(grown) if v.policy == "bootstrap-least-privilege"]
    assert messages == [
        "bootstrap role cicd-platform-bootstrap statement ManagePlatformRoles grants iam:CreatePolicyVersion "
        "beyond what the program needs"
    ]
