"""The bootstrap role as a Pulumi program, for teams that roll out accounts with Pulumi instead of StackSets.

Run it once per environment account, with that account's credentials (one
stack per account). It declares the same permissions boundary, role and policy
as the CloudFormation template, from the same definitions in ``boundary`` and
``permissions``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .boundary import boundary_policy
from .permissions import MANAGED_BY_TAG, bootstrap_policy, render, trust_policy
from .template import POLICY_NAME


@dataclass(frozen=True)
class Bootstrap:
    role: aws.iam.Role
    boundary: aws.iam.Policy


def declare_bootstrap_role(
    tooling_account_id: str,
    organization_id: str,
    role_name: str,
    deployer_role_name: str,
    boundary_policy_name: str,
) -> Bootstrap:
    partition = aws.get_partition().partition
    account_id = aws.get_caller_identity().account_id
    region = aws.get_region().region

    def filled(document: dict) -> str:
        return json.dumps(render(document, partition=partition, account_id=account_id, region=region), sort_keys=True)

    managed_by_key, managed_by = MANAGED_BY_TAG
    boundary = aws.iam.Policy(
        "permissions-boundary",
        name=boundary_policy_name,
        description="Ceiling of every role cicd-platform creates in this account",
        policy=filled(boundary_policy(tooling_account_id)),
        tags={managed_by_key: managed_by},
    )
    role = aws.iam.Role(
        "bootstrap-role",
        name=role_name,
        description="Assumed by the cicd-platform deployer from the tooling account",
        max_session_duration=3600,
        assume_role_policy=filled(trust_policy(tooling_account_id, organization_id, deployer_role_name)),
        tags={managed_by_key: managed_by},
    )
    aws.iam.RolePolicy(
        "bootstrap-policy",
        name=POLICY_NAME,
        role=role.id,
        policy=filled(bootstrap_policy(boundary_policy_name)),
        opts=pulumi.ResourceOptions(parent=role),
    )
    return Bootstrap(role=role, boundary=boundary)
