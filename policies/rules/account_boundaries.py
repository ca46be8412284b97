"""Account boundaries: prod's account is prod's alone, nothing deploys into the tooling account,
and the bootstrap role in each environment account grants no more than the program needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase

from .base import (
    PROD_ENVIRONMENTS_SCHEMA,
    Config,
    PolicyResource,
    account_of_arn,
    as_list,
    stack_rule,
)
from .iam import ADMIN_POLICY_NAMES
from .iam_policy import Grant, action_covers, condition_keys, grants_by_role
from .pipeline_model import Pipeline, pipelines

Findings = Iterator[tuple[str | None, str]]


# account-isolation


def _deploy_accounts(pipeline: Pipeline) -> set[str]:
    accounts: set[str] = set()
    for action in pipeline.actions():
        if not action.is_deploy:
            continue
        for arn in (action.props.get("roleArn"), action.environment_variables().get("DEPLOY_ROLE_ARN")):
            account = account_of_arn(arn)
            if account:
                accounts.add(account)
    return accounts


def check_account_isolation(resources: Sequence[PolicyResource], config: Config) -> Findings:
    prod = set(config["prodEnvironments"])
    by_environment: dict[str, set[str]] = {}
    tooling: set[str] = set()
    first_urn: dict[tuple[str, str], str | None] = {}
    for pipeline in pipelines(resources):
        environment = pipeline.environment
        if not isinstance(environment, str):
            continue
        account = account_of_arn(pipeline.props.get("roleArn"))
        if account:
            tooling.add(account)
        for deployed in _deploy_accounts(pipeline):
            by_environment.setdefault(environment, set()).add(deployed)
            first_urn.setdefault((environment, deployed), pipeline.urn)
    prod_accounts = {a for env, accounts in by_environment.items() if env in prod for a in accounts}
    for environment, accounts in sorted(by_environment.items()):
        for account in sorted(accounts & tooling):
            yield (
                first_urn[(environment, account)],
                f"environment {environment} deploys into the tooling account {account}",
            )
        if environment in prod:
            continue
        for account in sorted(accounts & prod_accounts):
            yield (
                first_urn[(environment, account)],
                (
                    f"environment {environment} deploys "
                    f"into prod's account {account}: prod's account must be prod's alone"
                ),
            )


ACCOUNT_ISOLATION = stack_rule(
    name="account-isolation",
    description="The prod account is used by no other environment; no environment deploys into the tooling account.",
    level="mandatory",
    check=check_account_isolation,
    remediation="Give each environment its own account id in the stack settings (and in catalog accounts overrides).",
    config_schema={"prodEnvironments": PROD_ENVIRONMENTS_SCHEMA},
)


# bootstrap-least-privilege

# What the platform's program does in an environment account (bootstrap/permissions.py is the source).
BOOTSTRAP_ACTIONS = [
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:ListRoleTags",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:PassRole",
    "codedeploy:*",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
    "cloudwatch:ListTagsForResource",
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:TagResource",
    "sns:UntagResource",
    "sns:ListTagsForResource",
    "kms:CreateKey",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:ListResourceTags",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
    "kms:ScheduleKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:ListAliases",
    "elasticloadbalancing:Describe*",
    "autoscaling:Describe*",
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "lambda:GetFunction",
    "lambda:GetAlias",
    "sts:GetCallerIdentity",
]


def _writes_iam(grant: Grant) -> bool:
    """IAM actions other than reads (Get*/List*): what could create or widen a role."""
    return any(
        a.lower().startswith("iam:") and not a.lower().startswith(("iam:get", "iam:list")) for a in grant.actions
    )


def _tag_scoped(grant: Grant) -> bool:
    """Limited to resources carrying a tag the platform sets (``aws:ResourceTag/...``)."""
    return any(key.startswith("aws:resourcetag/") for key in condition_keys(grant.condition))


def check_bootstrap(resources: Sequence[PolicyResource], config: Config) -> Findings:
    names = set(config["bootstrapRoleNames"])
    for resource in resources:
        if resource.type == "aws:iam/role:Role" and resource.props.get("name") in names:
            for arn in as_list(resource.props.get("managedPolicyArns")):
                if isinstance(arn, str) and arn.rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES:
                    yield resource.urn, f"bootstrap role {resource.props['name']} carries {arn}"
        if resource.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" and resource.props.get("role") in names:
            arn = resource.props.get("policyArn")
            if isinstance(arn, str) and arn.rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES:
                yield resource.urn, f"bootstrap role {resource.props['role']} carries {arn}"
    allowed = list(config["allowedActions"])
    for role, role_grants in sorted(grants_by_role(resources).items()):
        if role not in names:
            continue
        for urn, grant in role_grants:
            if grant.not_action:
                yield urn, f"bootstrap role {role} statement {grant.sid} uses NotAction"
                continue
            extra = [a for a in grant.actions if not any(action_covers(pattern, a) for pattern in allowed)]
            if extra:
                yield (
                    urn,
                    f"bootstrap role {role} statement "
                    f"{grant.sid} grants {', '.join(extra)} beyond what the program needs",
                )
            if _writes_iam(grant) and not _tag_scoped(grant):
                wide = [r for r in grant.resources if not any(fnmatchcase(r, p) for p in config["iamResourcePatterns"])]
                if wide:
                    yield (
                        urn,
                        f"bootstrap role {role} statement {grant.sid} changes IAM on {', '.join(wide)} "
                        "(not cicd-* roles, and no aws:ResourceTag condition)",
                    )


BOOTSTRAP_LEAST_PRIVILEGE = stack_rule(
    name="bootstrap-least-privilege",
    description="The bootstrap role in an environment account grants no more than the program needs there "
    "(its actions, and IAM writes only on cicd-* roles or tag-scoped).",
    level="mandatory",
    check=check_bootstrap,
    remediation="Limit the bootstrap role to the actions the program calls (allowedActions), IAM writes to "
    "role/cicd-* (or roles carrying the platform's tag), and no admin policies.",
    config_schema={
        "bootstrapRoleNames": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["cicd-platform-bootstrap"],
            "description": "Names of the bootstrap role (the stack's bootstrapRoleName).",
        },
        "allowedActions": {
            "type": "array",
            "items": {"type": "string"},
            "default": BOOTSTRAP_ACTIONS,
            "description": "Action patterns the bootstrap role may hold.",
        },
        "iamResourcePatterns": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["arn:aws*:iam::*:role/cicd-*"],
            "description": "Resources the bootstrap role's IAM actions may name.",
        },
    },
)

RULES = (ACCOUNT_ISOLATION, BOOTSTRAP_LEAST_PRIVILEGE)
