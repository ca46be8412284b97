"""cicd-platform bootstrap: the role the platform assumes in this environment account, and its boundary.

Config (``pulumi config set``): ``toolingAccountId``, ``organizationId`` and
optionally ``roleName``, ``deployerRoleName`` and ``boundaryPolicyName``; see
README, "The real path".
"""

import sys
from pathlib import Path

import pulumi

# Pulumi runs this file from bootstrap/; the shared definition lives in the bootstrap package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bootstrap.permissions import DEFAULT_BOUNDARY_POLICY_NAME, DEFAULT_DEPLOYER_ROLE_NAME, DEFAULT_ROLE_NAME
from bootstrap.program import declare_bootstrap_role

config = pulumi.Config()
bootstrap = declare_bootstrap_role(
    tooling_account_id=config.require("toolingAccountId"),
    organization_id=config.require("organizationId"),
    role_name=config.get("roleName") or DEFAULT_ROLE_NAME,
    deployer_role_name=config.get("deployerRoleName") or DEFAULT_DEPLOYER_ROLE_NAME,
    boundary_policy_name=config.get("boundaryPolicyName") or DEFAULT_BOUNDARY_POLICY_NAME,
)
pulumi.export("bootstrapRoleArn", bootstrap.role.arn)
pulumi.export("permissionsBoundaryArn", bootstrap.boundary.arn)
