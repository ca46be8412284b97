"""Review: bootstrap-least-privilege (mandatory) passes bootstrap roles that can mint an administrator.

The rule asks only that ``iam:CreateRole``/``iam:PutRolePermissionsBoundary`` carry *some* condition on
``iam:PermissionsBoundary``, whatever its operator and value, and never asks it of the other calls that widen
a role (``PutRolePolicy``, ``UpdateAssumeRolePolicy``, ``AttachRolePolicy``), which ``bootstrap/permissions.py``
itself lists as needing the boundary (``BOUNDED_ROLE_ACTIONS``). IAM: a permissions boundary caps a role only
if it is a narrow one (IAM User Guide, "Permissions boundaries for IAM entities"); ``StringLike *`` accepts
``arn:aws:iam::aws:policy/AdministratorAccess`` as the boundary. And the default bootstrap role is itself named
``cicd-platform-bootstrap``, inside ``role/cicd-*``: an unconditioned ``PutRolePolicy`` there lets it write
itself ``*:*``.
"""

from __future__ import annotations

import json

import pytest

from policies.rules.account_boundaries import BOOTSTRAP_LEAST_PRIVILEGE
from policies.rules.base import PolicyResource, config_defaults

CONFIG = config_defaults(BOOTSTRAP_LEAST_PRIVILEGE.config_schema)
PLATFORM_ROLES = "arn:aws:iam::444444444444:role/cicd-*"
BOUNDARY = "arn:aws:iam::444444444444:policy/cicd-platform-boundary"


def bootstrap_with(*statements) -> list[PolicyResource]:
    role = PolicyResource(
        type="aws:iam/role:Role",
        urn="urn:bootstrap-role",
        name="bootstrap",
        props={"name": "cicd-platform-bootstrap"},
    )
    policy = PolicyResource(
        type="aws:iam/rolePolicy:RolePolicy",
        urn="urn:bootstrap-policy",
        name="bootstrap-policy",
        props={
            "role": "cicd-platform-bootstrap",
            "name": "bootstrap",
            "policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        },
    )
    return [role, policy]


def findings(*statements):
    return list(BOOTSTRAP_LEAST_PRIVILEGE.violations(bootstrap_with(*statements), CONFIG))


def test_control_create_role_without_any_boundary_condition_is_reported():
    """The harness works: the case the rule was written for is caught (passes today)."""
    assert findings({"Effect": "Allow", "Action": "iam:CreateRole", "Resource": PLATFORM_ROLES})


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param({"StringLike": {"iam:PermissionsBoundary": "*"}}, id="any-boundary-admin-included"),
        pytest.param({"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY}}, id="anything-but-the-boundary"),
    ],
)
def test_create_role_with_a_boundary_condition_that_admits_any_boundary_is_reported(condition):
    statement = {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": PLATFORM_ROLES, "Condition": condition}
    assert findings(statement), "CreateRole may set AdministratorAccess as the boundary and the rule is quiet"


@pytest.mark.parametrize("action", ["iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy"])
def test_widening_platform_roles_without_the_boundary_is_reported(action):
    """Unconditioned on cicd-*: the bootstrap role (cicd-platform-bootstrap) may write its own policy."""
    assert findings({"Effect": "Allow", "Action": action, "Resource": PLATFORM_ROLES})
