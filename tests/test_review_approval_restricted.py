"""Review: approval-restricted (mandatory) only reads policies the stack declares, so an AWS-managed
approver policy attached to any role lets it approve prod without a finding.

``AWSCodePipelineApproverAccess`` grants ``codepipeline:PutApprovalResult`` on ``*`` and
``AWSCodePipeline_FullAccess`` grants ``codepipeline:*`` on ``*`` (AWS Managed Policy Reference). The rule
resolves ``RolePolicyAttachment`` only to ``aws.iam.Policy`` resources of the stack, by name, and drops every
other ARN. It also never reads user or group policies, which may answer approvals just as well.
"""

from __future__ import annotations

import json

import pytest

from policies.rules.base import PolicyResource
from policies.rules.pipeline_access import APPROVAL_RESTRICTED

CONFIG = {"prodEnvironments": ["prod"], "releaseManagerRoles": ["release-manager"]}


def prod_pipeline() -> PolicyResource:
    stages = [
        {
            "name": "Source",
            "actions": [{"name": "Source", "category": "Source", "provider": "CodeStarSourceConnection"}],
        },
        {"name": "Approve", "actions": [{"name": "ReleaseApproval", "category": "Approval", "provider": "Manual"}]},
        {"name": "Deploy", "actions": [{"name": "Deploy", "category": "Deploy", "provider": "CodeDeploy"}]},
    ]
    return PolicyResource(
        type="aws:codepipeline/pipeline:Pipeline",
        urn="urn:pipeline",
        name="auth-prod-pipeline",
        props={"name": "auth-prod", "tags": {"environment": "prod"}, "stages": stages},
    )


@pytest.mark.parametrize(
    "managed_policy",
    [
        "arn:aws:iam::aws:policy/AWSCodePipelineApproverAccess",
        "arn:aws:iam::aws:policy/AWSCodePipeline_FullAccess",
    ],
)
def test_attaching_an_aws_managed_approver_policy_to_a_build_role_is_reported(managed_policy):
    attachment = PolicyResource(
        type="aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        urn="urn:attachment",
        name="build-approves",
        props={"role": "cicd-build-auth", "policyArn": managed_policy},
    )
    found = list(APPROVAL_RESTRICTED.violations([prod_pipeline(), attachment], CONFIG))
    assert found, f"{managed_policy} lets cicd-build-auth approve auth-prod, and the rule says nothing"


def test_a_user_policy_that_answers_prod_approvals_is_reported():
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "codepipeline:PutApprovalResult", "Resource": "*"}],
    }
    user_policy = PolicyResource(
        type="aws:iam/userPolicy:UserPolicy",
        urn="urn:user-policy",
        name="ci-user-approves",
        props={"user": "ci-bot", "name": "approve", "policy": json.dumps(policy)},
    )
    found = list(APPROVAL_RESTRICTED.violations([prod_pipeline(), user_policy], CONFIG))
    assert found, "an IAM user may approve prod and the rule says nothing"


def test_control_an_inline_grant_on_the_same_pipeline_is_reported():
    """The fixture is right: the same grant written inline is caught (this one passes today)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "codepipeline:PutApprovalResult", "Resource": "*"}],
    }
    inline = PolicyResource(
        type="aws:iam/rolePolicy:RolePolicy",
        urn="urn:inline",
        name="build-approves",
        props={"role": "cicd-build-auth", "name": "approve", "policy": json.dumps(policy)},
    )
    assert list(APPROVAL_RESTRICTED.violations([prod_pipeline(), inline], CONFIG))
