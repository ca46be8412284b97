"""Documents shared by the whole fleet name principals by pattern, and the patterns stay inside the platform's own.

A list of one ARN per service outgrows AWS's hard limits at about 60 services (KMS key policy 32,768 bytes,
S3 bucket policy 20 KB, 10,240 characters of inline policy per IAM role: "IAM and AWS STS quotas"). These
tests hold the patterns that replace the lists to what they may match: the stack's own IAM path in the
tooling account, ``cicd-deploy-*`` roles and opted-in *roles* in an environment account, this stack's
tagged prod pipelines, and a size that does not depend on the fleet.
"""

from __future__ import annotations

import json

import bootstrap.permissions
from components import iam
from components.model import naming, tags

REGION, TOOLING, PROD = "eu-west-1", "123456789012", "444444444444"


def size(document) -> int:
    return len(iam.to_json(document).encode())


def by_sid(document) -> dict:
    return {statement["Sid"]: statement for statement in document["Statement"]}


def test_the_instance_role_opt_in_tag_is_the_one_the_bootstrap_role_requires():
    assert tags.INSTANCE_ROLE_OPT_IN_TAG == bootstrap.permissions.INSTANCE_ROLE_OPT_IN_TAG


def test_tooling_roles_live_under_the_stacks_own_path_and_the_key_admits_only_that_path():
    pattern = naming.tooling_roles_pattern(REGION, TOOLING, "Prod")
    assert pattern == f"arn:aws:iam::{TOOLING}:role/cicd/prod/*"
    assert naming.tooling_role_arn(REGION, TOOLING, "prod", "cicd-pipeline-booking") == (
        f"arn:aws:iam::{TOOLING}:role/cicd/prod/cicd-pipeline-booking"
    )
    policy = by_sid(iam.artifact_key_policy(REGION, TOOLING, pattern, {PROD: False}))
    users = [s for s in policy.values() if s["Principal"] == {"AWS": f"arn:aws:iam::{TOOLING}:root"}]
    conditions = [s["Condition"] for s in users if "Condition" in s and "ArnLike" in s["Condition"]]
    assert {"ArnLike": {"aws:PrincipalArn": pattern}} in conditions
    assert not any(s.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn") == "*" for s in users)


def test_environment_accounts_read_through_deploy_roles_by_name_and_instance_roles_only_when_opted_in():
    policy = by_sid(iam.artifact_bucket_policy(REGION, "arn:aws:s3:::artifacts", {PROD: True, "455555555555": False}))
    deploy = policy[f"DeployAccount{PROD}ReadsArtifacts"]
    assert deploy["Principal"] == {"AWS": f"arn:aws:iam::{PROD}:root"}
    assert deploy["Condition"] == {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{PROD}:role/cicd-deploy-*"}}
    instance = policy[f"InstanceRoles{PROD}ReadsArtifacts"]
    assert instance["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{PROD}:role/*"},  # roles, never users
        "StringEquals": {"aws:PrincipalTag/cicd-platform-managed-policy": "true"},
    }
    assert "InstanceRoles455555555555ReadsArtifacts" not in policy, "no Server service there, no instance roles"


def test_the_shared_documents_do_not_grow_with_the_fleet():
    def release_managers(environments):
        return iam.release_manager_approval_policy(REGION, TOOLING, "prod", environments)

    assert size(release_managers(["prod"])) < 1024
    key = iam.artifact_key_policy(REGION, TOOLING, naming.tooling_roles_pattern(REGION, TOOLING, "prod"), {PROD: True})
    assert size(key) < 4096


def test_release_managers_answer_prod_approvals_only_and_read_only_this_stacks_tagged_prod_pipelines():
    policy = by_sid(iam.release_manager_approval_policy(REGION, TOOLING, "prod", ["prod"]))
    assert policy["AnswerProdApprovals"]["Action"] == "codepipeline:PutApprovalResult"
    assert policy["AnswerProdApprovals"]["Resource"] == [
        f"arn:aws:codepipeline:{REGION}:{TOOLING}:*-prod/Approve/ReleaseApproval"
    ]
    read = policy["ReadProdPipelineState"]
    assert read["Action"] == "codepipeline:GetPipelineState"
    assert read["Resource"] == [f"arn:aws:codepipeline:{REGION}:{TOOLING}:*-prod"]
    assert read["Condition"] == {
        "StringEquals": {"aws:ResourceTag/managed-by": "cicd-platform", "aws:ResourceTag/platform-stack": "prod"}
    }
    assert json.dumps(policy).count("PutApprovalResult") == 1
