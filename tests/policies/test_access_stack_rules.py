"""Stack rules about releases, access and accounts, scenario by scenario."""

from __future__ import annotations

import pytest

from policies.rules.account_boundaries import ACCOUNT_ISOLATION, BOOTSTRAP_LEAST_PRIVILEGE, PERMISSIONS_BOUNDARY
from policies.rules.federation import KEYLESS_FEDERATION
from policies.rules.pipeline_access import APPROVAL_RESTRICTED, ROLE_SEPARATION
from policies.rules.release_safety import PROD_ROLLBACK
from policies.rules.service_graph import DEPENDENCY_ORDER
from policies.testing import UNKNOWN, Provider, Resource

from .platform_shapes import (
    DEV_ACCOUNT,
    PROD_ACCOUNT,
    TOOLING,
    build_project,
    deploy_role_arn,
    deploy_stage,
    deployment_group,
    governed_stages,
    pipeline,
    role,
    role_policy,
    tags,
)
from .rule_cases import fires, quiet, unknown

TOPIC_ARN = f"arn:aws:sns:eu-west-1:{PROD_ACCOUNT}:booking-prod-alarms"
KEY_ARN = f"arn:aws:kms:eu-west-1:{PROD_ACCOUNT}:key/abcd"
ALARM = Resource(
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    {"name": "booking-prod-5xx", "actionsEnabled": True, "alarmActions": [TOPIC_ARN]},
    "booking-prod-5xx",
)
TOPIC = Resource("aws:sns/topic:Topic", {"name": "booking-prod-alarms", "kmsMasterKeyId": KEY_ARN}, "alarms-topic")
RELEASE_WIRING = [pipeline(), deployment_group(), ALARM, TOPIC]


def core_reference(outputs):
    """A shard's read of its core, as the engine keeps a StackReference: the core's outputs under ``outputs``."""
    name = "organization/cicd-platform/prod"
    return Resource("pulumi:pulumi:StackReference", {"name": name, "outputs": outputs, "secretOutputNames": []}, "core")


def without_rollback_stage():
    return pipeline(stages=[*governed_stages()[:-1], deploy_stage(rollback=False)])


def approve_policy(role_name, resource):
    return role_policy(
        role_name,
        {"Sid": "Approve", "Effect": "Allow", "Action": "codepipeline:PutApprovalResult", "Resource": resource},
    )


def assume(role_name, *arns):
    return role_policy(
        role_name, {"Sid": "AssumeDeploy", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": list(arns)}
    )


def deploy_pipeline_into(environment, account):
    stage = deploy_stage(environment=environment)
    stage["actions"][0]["roleArn"] = f"arn:aws:iam::{account}:role/cicd-deploy-booking-{environment}"
    return pipeline(environment=environment, stages=[*governed_stages(environment=environment)[:-1], stage])


def bootstrap(*statements, name="cicd-platform-bootstrap"):
    return role_policy(name, *statements)


BOUNDARY = f"arn:aws:iam::{PROD_ACCOUNT}:policy/cicd-platform-boundary"
BOOTSTRAP_ROLE = f"arn:aws:iam::{PROD_ACCOUNT}:role/cicd-platform-bootstrap"


def environment_provider(account=PROD_ACCOUNT, name="env-prod-provider"):
    """The program's provider into an environment account, with its config as the engine hands it over (JSON)."""
    props = {
        "region": "eu-west-1",
        "allowedAccountIds": UNKNOWN if account is UNKNOWN else f'["{account}"]',
        "assumeRoles": f'[{{"roleArn": "{BOOTSTRAP_ROLE}", "sessionName": "cicd-platform-prod"}}]',
    }
    return Provider(props, name)


def provider_resource(provider):
    return Resource(provider.type, dict(provider.props), provider.name)


def environment_role(name="cicd-deploy-booking-prod", boundary=BOUNDARY, provider=None):
    provider = provider or environment_provider()
    props = {"name": name, "assumeRolePolicy": "{}"}
    if boundary is not None:
        props["permissionsBoundary"] = boundary
    return [provider_resource(provider), Resource("aws:iam/role:Role", props, f"{name}-role", provider=provider)]


def boundary_policy_resource(*statements, name="cicd-platform-boundary"):
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return Resource("aws:iam/policy:Policy", {"name": name, "policy": document}, "permissions-boundary")


def with_dependencies(service, depends, environment="prod"):
    return pipeline(service, environment, tags={**tags(service, environment), "depends-on": depends})


CASES = [
    # prod-rollback
    fires(
        PROD_ROLLBACK,
        "deploy stage without on-failure rollback",
        [without_rollback_stage(), deployment_group(), ALARM, TOPIC],
        "prod deploy stage booking-prod/Deploy does not roll back on failure (on_failure result is not set)",
    ),
    fires(
        PROD_ROLLBACK,
        "watched alarm declared nowhere",
        [pipeline(), deployment_group(), TOPIC],
        "prod deployment group booking-prod watches alarm booking-prod-5xx, which this stack does not declare",
    ),
    fires(
        PROD_ROLLBACK,
        "alarm notifies an unencrypted topic",
        [pipeline(), deployment_group(), ALARM, Resource(TOPIC.type, {"name": "booking-prod-alarms"}, "alarms-topic")],
        "alarm booking-prod-5xx of prod deployment group booking-prod notifies no encrypted SNS topic of this stack",
    ),
    quiet(PROD_ROLLBACK, "the whole wiring", RELEASE_WIRING),
    # A shard stack's alarms notify the topic its core declares; the shard reads the core through a
    # StackReference, which the engine hands to stack policies with the core's outputs.
    quiet(
        PROD_ROLLBACK,
        "a shard's alarm notifies the topic its core declares and exports",
        [pipeline(), deployment_group(), ALARM, core_reference({"environmentAccounts": {"prod": TOPIC_ARN}})],
    ),
    fires(
        PROD_ROLLBACK,
        "a shard's alarm notifies a topic its core does not export",
        [pipeline(), deployment_group(), ALARM, core_reference({"environmentAccounts": {}})],
        "alarm booking-prod-5xx of prod deployment group booking-prod notifies no encrypted SNS topic of this stack",
    ),
    fires(
        PROD_ROLLBACK,
        "a topic of this stack is judged here even when another stack exports its ARN",
        [
            pipeline(),
            deployment_group(),
            ALARM,
            Resource(TOPIC.type, {"name": "booking-prod-alarms"}, "alarms-topic"),
            core_reference({"topic": TOPIC_ARN}),
        ],
        "alarm booking-prod-5xx of prod deployment group booking-prod notifies no encrypted SNS topic of this stack",
    ),
    quiet(
        PROD_ROLLBACK,
        "dev may differ",
        [
            pipeline(
                environment="dev",
                stages=[*governed_stages("booking", "dev")[:-1], deploy_stage(environment="dev", rollback=False)],
            )
        ],
    ),
    unknown(
        PROD_ROLLBACK,
        "alarm actions not known",
        [pipeline(), deployment_group(), Resource(ALARM.type, {**ALARM.props, "alarmActions": UNKNOWN}, "a"), TOPIC],
    ),
    # approval-restricted
    fires(
        APPROVAL_RESTRICTED,
        "the build role may approve prod",
        [pipeline(), approve_policy("cicd-build-booking", f"arn:aws:codepipeline:eu-west-1:{TOOLING}:booking-prod/*")],
        "role cicd-build-booking may approve prod releases "
        "(booking-prod/Approve/ReleaseApproval) but is not a release manager",
    ),
    fires(
        APPROVAL_RESTRICTED,
        "codepipeline:* on *",
        [
            pipeline(),
            role_policy("ops", {"Sid": "Ops", "Effect": "Allow", "Action": "codepipeline:*", "Resource": "*"}),
        ],
        "role ops may approve prod releases (booking-prod/Approve/ReleaseApproval) but is not a release manager",
    ),
    quiet(
        APPROVAL_RESTRICTED,
        "the release manager",
        [pipeline(), approve_policy("release-manager", "*")],
        config={"releaseManagerRoles": [f"arn:aws:iam::{TOOLING}:role/release-manager"]},
    ),
    quiet(
        APPROVAL_RESTRICTED,
        "approval of dev pipelines only",
        [
            pipeline(),
            pipeline(environment="dev"),
            approve_policy("dev-lead", f"arn:aws:codepipeline:eu-west-1:{TOOLING}:booking-dev/*"),
        ],
    ),
    unknown(APPROVAL_RESTRICTED, "granted resource not known", [pipeline(), approve_policy("ops", UNKNOWN)]),
    # role-separation
    fires(
        ROLE_SEPARATION,
        "build role may assume the deploy role",
        [pipeline(), build_project(), assume("cicd-build-booking", deploy_role_arn())],
        f"build role cicd-build-booking may assume deploy role {deploy_role_arn()} (statement AssumeDeploy)",
    ),
    fires(
        ROLE_SEPARATION,
        "build runs with the pipeline role",
        [pipeline(), build_project(role=f"arn:aws:iam::{TOOLING}:role/cicd-pipeline-booking")],
        f"pipeline booking-prod: the pipeline role arn:aws:iam::{TOOLING}:role/cicd-pipeline-booking also runs builds",
    ),
    fires(
        ROLE_SEPARATION,
        "deploy role trusts the build role",
        [
            pipeline(),
            build_project(),
            role(
                "cicd-deploy-booking-prod",
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{TOOLING}:role/cicd-build-booking"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                },
            ),
        ],
        f"deploy role {deploy_role_arn()} trusts build role arn:aws:iam::{TOOLING}:role/cicd-build-booking",
    ),
    quiet(
        ROLE_SEPARATION,
        "pipeline role assumes deploy roles, build role does not",
        [pipeline(), build_project(), assume("cicd-pipeline-booking", deploy_role_arn())],
    ),
    unknown(
        ROLE_SEPARATION,
        "build role not known yet",
        [pipeline(), build_project(role=UNKNOWN), assume("cicd-build-booking", deploy_role_arn())],
    ),
    # account-isolation
    fires(
        ACCOUNT_ISOLATION,
        "dev deploys into prod's account",
        [pipeline(), deploy_pipeline_into("dev", PROD_ACCOUNT)],
        f"environment dev deploys into prod's account {PROD_ACCOUNT}: prod's account must be prod's alone",
    ),
    fires(
        ACCOUNT_ISOLATION,
        "deploy into the tooling account",
        [deploy_pipeline_into("qa", TOOLING)],
        f"environment qa deploys into the tooling account {TOOLING}",
    ),
    quiet(ACCOUNT_ISOLATION, "one account per environment", [pipeline(), deploy_pipeline_into("dev", DEV_ACCOUNT)]),
    unknown(ACCOUNT_ISOLATION, "deploy role ARN not known", [pipeline(), deploy_pipeline_into("dev", UNKNOWN)]),
    # bootstrap-least-privilege
    fires(
        BOOTSTRAP_LEAST_PRIVILEGE,
        "bootstrap may manage any role",
        [bootstrap({"Sid": "Roles", "Effect": "Allow", "Action": ["iam:CreateRole"], "Resource": "*"})],
        "bootstrap role cicd-platform-bootstrap statement Roles allows iam:CreateRole without an "
        "iam:PermissionsBoundary condition: it could create a role without the platform's boundary",
        "bootstrap role cicd-platform-bootstrap statement Roles changes IAM on * "
        "(not cicd-* roles, and no aws:ResourceTag condition)",
    ),
    fires(
        BOOTSTRAP_LEAST_PRIVILEGE,
        "bootstrap may touch S3",
        [
            bootstrap(
                {
                    "Sid": "Extra",
                    "Effect": "Allow",
                    "Action": ["s3:DeleteBucket", "codedeploy:CreateApplication"],
                    "Resource": "*",
                }
            )
        ],
        "bootstrap role cicd-platform-bootstrap statement Extra grants s3:DeleteBucket beyond what the program needs",
    ),
    fires(
        BOOTSTRAP_LEAST_PRIVILEGE,
        "bootstrap may create cicd-* roles without the boundary",
        [
            bootstrap(
                {
                    "Sid": "Roles",
                    "Effect": "Allow",
                    "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
                    "Resource": f"arn:aws:iam::{PROD_ACCOUNT}:role/cicd-*",
                }
            )
        ],
        "bootstrap role cicd-platform-bootstrap statement Roles allows iam:CreateRole, iam:PutRolePermissionsBoundary "
        "without an iam:PermissionsBoundary condition: it could create a role without the platform's boundary",
    ),
    quiet(
        BOOTSTRAP_LEAST_PRIVILEGE,
        "cicd-* roles (only with the boundary) and CodeDeploy",
        [
            bootstrap(
                {
                    "Sid": "Roles",
                    "Effect": "Allow",
                    "Action": ["iam:CreateRole", "iam:PutRolePolicy"],
                    "Resource": f"arn:aws:iam::{PROD_ACCOUNT}:role/cicd-*",
                    "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}},
                },
                {"Sid": "Deploy", "Effect": "Allow", "Action": "codedeploy:*", "Resource": "*"},
            )
        ],
    ),
    quiet(
        BOOTSTRAP_LEAST_PRIVILEGE,
        "the bootstrap template's reads and tag-scoped writes on any role",
        [
            bootstrap(
                {
                    "Sid": "ReadRoles",
                    "Effect": "Allow",
                    "Action": "iam:GetRole",
                    "Resource": f"arn:aws:iam::{PROD_ACCOUNT}:role/*",
                },
                {
                    "Sid": "ManageOptedInInstanceRolePolicies",
                    "Effect": "Allow",
                    "Action": ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
                    "Resource": f"arn:aws:iam::{PROD_ACCOUNT}:role/*",
                    "Condition": {"StringEquals": {"aws:ResourceTag/cicd-platform-managed-policy": "true"}},
                },
                {
                    "Sid": "ReadWhatAwsCannotScope",
                    "Effect": "Allow",
                    "Action": ["elasticloadbalancing:DescribeListeners", "sts:GetCallerIdentity"],
                    "Resource": "*",
                },
            )
        ],
    ),
    quiet(
        BOOTSTRAP_LEAST_PRIVILEGE,
        "no bootstrap role in the stack",
        [assume("cicd-pipeline-booking", deploy_role_arn())],
    ),
    unknown(
        BOOTSTRAP_LEAST_PRIVILEGE,
        "resource not known",
        [bootstrap({"Sid": "Roles", "Effect": "Allow", "Action": "iam:CreateRole", "Resource": UNKNOWN})],
    ),
    # permissions-boundary
    fires(
        PERMISSIONS_BOUNDARY,
        "a deploy role in an environment account without a boundary",
        environment_role(boundary=None),
        f"role cicd-deploy-booking-prod in environment account {PROD_ACCOUNT} carries no permissions boundary",
    ),
    fires(
        PERMISSIONS_BOUNDARY,
        "a role bounded by an AWS managed policy",
        environment_role(boundary="arn:aws:iam::aws:policy/AdministratorAccess"),
        f"role cicd-deploy-booking-prod in environment account {PROD_ACCOUNT} carries the boundary "
        "arn:aws:iam::aws:policy/AdministratorAccess, not the bootstrap's (cicd-platform-boundary)",
    ),
    fires(
        PERMISSIONS_BOUNDARY,
        "a role bounded by another account's boundary",
        environment_role(boundary=f"arn:aws:iam::{DEV_ACCOUNT}:policy/cicd-platform-boundary"),
        f"role cicd-deploy-booking-prod in environment account {PROD_ACCOUNT} carries the boundary "
        f"arn:aws:iam::{DEV_ACCOUNT}:policy/cicd-platform-boundary of account {DEV_ACCOUNT}, not its own account's",
    ),
    fires(
        PERMISSIONS_BOUNDARY,
        "a boundary that lets a role change IAM or assume roles",
        boundary_policy_resource(
            {"Sid": "Deploy", "Effect": "Allow", "Action": ["codedeploy:CreateDeployment"], "Resource": "*"},
            {"Sid": "Escape", "Effect": "Allow", "Action": ["iam:PutRolePolicy", "sts:AssumeRole"], "Resource": "*"},
            {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        ),
        "boundary cicd-platform-boundary statement Escape allows iam:PutRolePolicy, sts:AssumeRole: a role under it "
        "could change IAM or act as another role",
        "boundary cicd-platform-boundary statement Everything allows *: a role under it could change IAM or act as "
        "another role",
        "boundary cicd-platform-boundary statement Everything lets a role pass roles to any service "
        "(no iam:PassedToService condition)",
        "boundary cicd-platform-boundary statement Pass lets a role pass roles to any service "
        "(no iam:PassedToService condition)",
    ),
    quiet(PERMISSIONS_BOUNDARY, "a deploy role carrying the bootstrap's boundary", environment_role()),
    quiet(
        PERMISSIONS_BOUNDARY,
        "a configured boundary name",
        environment_role(boundary=f"arn:aws:iam::{PROD_ACCOUNT}:policy/team-boundary"),
        config={"boundaryPolicyNames": ["team-boundary"]},
    ),
    quiet(
        PERMISSIONS_BOUNDARY,
        "tooling-account roles need none",
        [role("cicd-pipeline-booking", {"Statement": []}), Resource("aws:iam/role:Role", {"name": "x"}, "x")],
    ),
    quiet(
        PERMISSIONS_BOUNDARY,
        "a boundary that passes task roles to ECS and deploys",
        boundary_policy_resource(
            {"Sid": "Deploy", "Effect": "Allow", "Action": ["codedeploy:CreateDeployment"], "Resource": "*"},
            {
                "Sid": "PassTaskRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:aws:iam::{PROD_ACCOUNT}:role/*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
        ),
    ),
    unknown(PERMISSIONS_BOUNDARY, "boundary not known yet", environment_role(boundary=UNKNOWN)),
    unknown(
        PERMISSIONS_BOUNDARY,
        "the provider's account not known yet: a missing boundary is still missing",
        environment_role(boundary=None, provider=environment_provider(account=UNKNOWN)),
        "role cicd-deploy-booking-prod in an environment account carries no permissions boundary",
    ),
    # keyless-federation
    fires(
        KEYLESS_FEDERATION,
        "an IAM access key",
        [Resource("aws:iam/accessKey:AccessKey", {"user": "ci"}, "ci-key")],
        "ci-key is a long-lived IAM access key: CI must authenticate through OIDC federation",
    ),
    fires(
        KEYLESS_FEDERATION,
        "an Azure client secret",
        [Resource("azuread:index/applicationPassword:ApplicationPassword", {"applicationId": "x"}, "ci-secret")],
        "ci-secret is a long-lived Azure AD application client secret: CI must authenticate through OIDC federation",
    ),
    quiet(KEYLESS_FEDERATION, "roles only", [role("cicd-github", {"Statement": []})]),
    unknown(
        KEYLESS_FEDERATION,
        "a key for a user not known yet is still a key",
        [Resource("gcp:serviceaccount/key:Key", {"serviceAccountId": UNKNOWN}, "sa-key")],
        "sa-key is a long-lived GCP service account key: CI must authenticate through OIDC federation",
    ),
    # dependency-order
    fires(
        DEPENDENCY_ORDER,
        "cycle",
        [
            with_dependencies("booking", "payments"),
            with_dependencies("payments", "ledger"),
            with_dependencies("ledger", "booking"),
        ],
        "dependency cycle in prod: booking -> payments -> ledger -> booking",
    ),
    fires(
        DEPENDENCY_ORDER,
        "missing dependency",
        [with_dependencies("booking", "payments, auth"), with_dependencies("auth", "")],
        "booking in prod depends on payments, which has no pipeline in prod",
    ),
    quiet(
        DEPENDENCY_ORDER,
        "acyclic",
        [with_dependencies("booking", "auth payments"), with_dependencies("auth", ""), pipeline("payments")],
    ),
    unknown(DEPENDENCY_ORDER, "tag not known", [with_dependencies("booking", UNKNOWN)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_access_stack_rule(case):
    case.verify()
