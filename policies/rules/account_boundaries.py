"""Account boundaries: prod's account is prod's alone, nothing deploys into the tooling account,
the bootstrap role in each environment account grants no more than the program needs, and every
role the platform creates in an environment account carries the bootstrap's permissions boundary.

Anchors: none (our own ground). The permissions boundary follows the IAM User Guide's
"Permissions boundaries for IAM entities": a role's effective permissions are what both its
policies and its boundary allow, so a boundary without IAM or STS actions keeps whoever can create
``cicd-*`` roles (the bootstrap role) from minting an administrator.
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
    as_mapping,
    is_unknown,
    json_value,
    policy_document,
    shown,
    stack_rule,
    statement_id,
    statements,
)
from .iam import ADMIN_POLICY_NAMES, BOUNDARY_POLICY_SCHEMA
from .iam_policy import Grant, action_covers, condition_keys, covered_actions, grants, grants_by_role
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
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:PutRolePermissionsBoundary",
    "iam:PassRole",
    "codedeploy:*",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:PutCompositeAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
    "cloudwatch:ListTagsForResource",
    "events:PutRule",
    "events:DescribeRule",
    "events:DeleteRule",
    "events:TagResource",
    "events:UntagResource",
    "events:ListTagsForResource",
    "events:PutTargets",
    "events:ListTargetsByRule",
    "events:RemoveTargets",
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


ROLE_CREATION = ("iam:CreateRole", "iam:PutRolePermissionsBoundary")


def _creates_roles_without_boundary(grant: Grant) -> list[str]:
    """Role creation (or boundary replacement) not tied to a boundary by the iam:PermissionsBoundary condition."""
    if "iam:permissionsboundary" in condition_keys(grant.condition):
        return []
    return covered_actions(grant, ROLE_CREATION)


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
            unbounded = _creates_roles_without_boundary(grant)
            if unbounded and grant.resources:
                yield (
                    urn,
                    f"bootstrap role {role} statement {grant.sid} allows {', '.join(unbounded)} without an "
                    "iam:PermissionsBoundary condition: it could create a role without the platform's boundary",
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
    "(its actions, IAM writes only on cicd-* roles or tag-scoped, and roles created only with a boundary).",
    level="mandatory",
    check=check_bootstrap,
    remediation="Limit the bootstrap role to the actions the program calls (allowedActions), IAM writes to "
    "role/cicd-* (or roles carrying the platform's tag), iam:CreateRole and iam:PutRolePermissionsBoundary to "
    "the platform's boundary (condition iam:PermissionsBoundary), and no admin policies.",
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

# permissions-boundary

PROVIDER = "pulumi:providers:aws"
ROLE = "aws:iam/role:Role"
MANAGED_POLICY = "aws:iam/policy:Policy"
# What a role under the boundary must never be able to do: change IAM (other than hand a role to a service,
# with iam:PassedToService) or take on another role.
FORBIDDEN_PROBES = ("iam:PutRolePolicy", "iam:CreateRole", "sts:AssumeRole")


def _forbidden_in_boundary(action: str) -> bool:
    lowered = action.lower()
    if lowered == "iam:passrole":
        return False
    return lowered.startswith(("iam:", "sts:")) or any(action_covers(action, probe) for probe in FORBIDDEN_PROBES)


def _environment_accounts(resources: Sequence[PolicyResource]) -> dict[str, str | None]:
    """Explicit AWS providers that assume a role (the program's way into an environment account), by URN,
    to the one account they allow (``None`` while not known)."""
    accounts: dict[str, str | None] = {}
    for resource in resources:
        if resource.type != PROVIDER:
            continue
        assume = json_value(resource.props.get("assumeRoles"))
        if is_unknown(assume) or not as_list(assume):
            continue
        allowed = json_value(resource.props.get("allowedAccountIds"))
        known = [a for a in as_list(allowed) if isinstance(a, str) and not is_unknown(a)]
        accounts[resource.urn] = known[0] if len(known) == 1 and not is_unknown(allowed) else None
    return accounts


def _boundary_problem(boundary: object, account: str | None, names: Sequence[str]) -> str | None:
    """Why a role's boundary is not the bootstrap's, or ``None`` when it is (or cannot be judged yet)."""
    if is_unknown(boundary):
        return None
    if not isinstance(boundary, str) or not boundary:
        return "carries no permissions boundary"
    policy = boundary.rsplit(":policy/", 1)
    if len(policy) != 2 or policy[1] not in names:
        return f"carries the boundary {boundary}, not the bootstrap's ({', '.join(names)})"
    owner = account_of_arn(boundary)
    if account is not None and owner != account:
        return f"carries the boundary {boundary} of account {owner}, not its own account's"
    return None


def _loose_boundary_grants(policy: PolicyResource) -> Findings:
    document = policy_document(policy.props.get("policy"))
    unknown_conditions = {
        statement_id(statement, index)
        for index, statement in enumerate(statements(document))
        if is_unknown(statement.get("Condition"))
        or any(is_unknown(block) for block in as_mapping(statement.get("Condition")).values())
    }
    for grant in grants(document):
        if grant.not_action:
            yield policy.urn, f"boundary {policy.props.get('name')} statement {grant.sid} uses NotAction"
            continue
        forbidden = [action for action in grant.actions if _forbidden_in_boundary(action)]
        if forbidden:
            yield (
                policy.urn,
                f"boundary {policy.props.get('name')} statement {grant.sid} allows {', '.join(forbidden)}: "
                "a role under it could change IAM or act as another role",
            )
        unconditioned = grant.sid not in unknown_conditions and "iam:passedtoservice" not in condition_keys(
            grant.condition
        )
        if covered_actions(grant, ["iam:PassRole"]) and unconditioned:
            yield (
                policy.urn,
                f"boundary {policy.props.get('name')} statement {grant.sid} lets a role pass roles to any service "
                "(no iam:PassedToService condition)",
            )


def check_permissions_boundary(resources: Sequence[PolicyResource], config: Config) -> Findings:
    names = [str(name) for name in config["boundaryPolicyNames"]]
    accounts = _environment_accounts(resources)
    for resource in resources:
        if resource.type == ROLE and resource.provider in accounts:
            account = accounts[resource.provider]
            problem = _boundary_problem(resource.props.get("permissionsBoundary"), account, names)
            if problem:
                where = f"environment account {account}" if account else "an environment account"
                yield resource.urn, f"role {shown(resource.props.get('name'))} in {where} {problem}"
        if resource.type == MANAGED_POLICY and resource.props.get("name") in names:
            yield from _loose_boundary_grants(resource)


PERMISSIONS_BOUNDARY = stack_rule(
    name="permissions-boundary",
    description="Every role the platform creates in an environment account carries the bootstrap's permissions "
    "boundary, and that boundary allows no IAM change (but passing a role to a named service) and no STS.",
    level="mandatory",
    check=check_permissions_boundary,
    remediation="Give every aws.iam.Role created through an environment account's provider "
    "permissions_boundary=the bootstrap's boundary in that account (EnvironmentAccount.permissions_boundary_arn; "
    "name: the stack's permissionsBoundaryName); keep IAM and STS actions out of the boundary policy.",
    config_schema=BOUNDARY_POLICY_SCHEMA,
)

RULES = (ACCOUNT_ISOLATION, BOOTSTRAP_LEAST_PRIVILEGE, PERMISSIONS_BOUNDARY)
