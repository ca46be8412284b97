"""Review: permissions-boundary (mandatory) recognises an environment account only by a provider that assumes a
role, so a role created there through a provider with other credentials needs no boundary.

The rule's claim is "every role the platform creates in an environment account carries the bootstrap's
permissions boundary". An explicit AWS provider pinned to another account (``allowedAccountIds``) but
authenticated by a profile or static keys (pulumi-aws provider configuration, ``profile`` / ``accessKey``) is
still that account; the rule skips it and a boundary-less role there passes. The tooling account is known to the
pack (it is the account of every pipeline role), so "an account that is not the tooling account" is decidable.
"""

from __future__ import annotations

import json

from policies.rules.account_boundaries import PERMISSIONS_BOUNDARY
from policies.rules.base import PolicyResource, config_defaults

CONFIG = config_defaults(PERMISSIONS_BOUNDARY.config_schema)
PROVIDER_URN = "urn:pulumi:prod::cicd-platform::pulumi:providers:aws::pci-provider"


def role_through(provider_props) -> list[PolicyResource]:
    provider = PolicyResource(type="pulumi:providers:aws", urn=PROVIDER_URN, name="pci-provider", props=provider_props)
    role = PolicyResource(
        type="aws:iam/role:Role",
        urn="urn:role",
        name="deploy-role",
        props={"name": "cicd-deploy-payments-prod"},
        provider=PROVIDER_URN,
    )
    return [provider, role]


def test_control_a_role_through_an_assume_role_provider_without_boundary_is_reported():
    props = {
        "allowedAccountIds": json.dumps(["455555555555"]),
        "assumeRoles": json.dumps([{"roleArn": "arn:aws:iam::455555555555:role/cicd-platform-bootstrap"}]),
    }
    assert list(PERMISSIONS_BOUNDARY.violations(role_through(props), CONFIG))


def test_a_role_through_a_profile_provider_pinned_to_an_environment_account_is_reported():
    props = {"allowedAccountIds": json.dumps(["455555555555"]), "profile": "pci-admin"}
    assert list(PERMISSIONS_BOUNDARY.violations(role_through(props), CONFIG)), "no boundary, no finding"
