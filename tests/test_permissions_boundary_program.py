"""Every role the program creates in an environment account carries the bootstrap's permissions boundary.

The bootstrap role may create a ``cicd-*`` role only with that boundary (``bootstrap/permissions.py``), so a
role declared without it would fail at ``pulumi up``; and a role without it would be the one role in the
account the boundary does not cap. The roles are found from the plan (every ``aws.iam.Role`` whose provider
is an environment provider), not from a list, so a role added later is covered too.
"""

from __future__ import annotations

from bootstrap.coverage import denied_calls, environment_providers
from bootstrap.permissions import bootstrap_policy
from components.model import naming

ROLE = "aws:iam/role:Role"


def environment_roles(plan):
    providers = environment_providers(plan)
    return [(providers[r.provider], r) for r in plan.resources if r.type == ROLE and r.provider in providers]


def test_every_role_in_an_environment_account_carries_that_accounts_boundary(dev_plan, prod_plan):
    for plan in (dev_plan, prod_plan):
        name = plan.inputs.settings.permissions_boundary_name
        roles = environment_roles(plan)
        kinds = {role.inputs["name"].split("-")[1] for _, role in roles}
        assert kinds == {"deploy", "codedeploy", "alarm", "event"}, kinds
        for provider, role in roles:
            expected = naming.permissions_boundary_arn(provider.region, provider.account_id, name)
            assert role.inputs.get("permissionsBoundary") == expected, (plan.stack, role.inputs["name"])


def test_the_pci_accounts_roles_carry_the_pci_accounts_boundary(prod_plan):
    pci = [role for provider, role in environment_roles(prod_plan) if provider.account_id == "455555555555"]
    assert {role.inputs["name"] for role in pci} >= {"cicd-deploy-payments-prod", "cicd-alarm-reader-prod"}
    assert {role.inputs["permissionsBoundary"] for role in pci} == {
        "arn:aws:iam::455555555555:policy/cicd-platform-boundary"
    }


def test_tooling_account_roles_carry_no_environment_boundary(prod_plan):
    tooling = [r for r in prod_plan.resources if r.type == ROLE and r.provider is None]
    assert tooling
    assert not [r.inputs["name"] for r in tooling if r.inputs.get("permissionsBoundary")]


def test_the_bootstrap_role_lets_the_program_create_its_roles_only_because_they_carry_the_boundary(prod_plan):
    assert denied_calls(prod_plan) == []
    # Against a bootstrap rolled out with another boundary name, every role creation is refused.
    problems = denied_calls(prod_plan, bootstrap_policy("another-boundary"))
    assert any(": iam:CreateRole on arn:aws:iam::455555555555:role/cicd-deploy-payments-prod" in p for p in problems)
