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
from .iam_policy import (
    ALLOW,
    Grant,
    Reach,
    Statement,
    action_covers,
    condition_keys,
    covered_actions,
    granted,
    grants,
    only_negations_of,
    positive_values,
    statements_by_role,
    tag_narrowed,
    tag_scoped,
)
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
    prod |= {p.environment for p in pipelines(resources) if p.is_prod(config) and isinstance(p.environment, str)}
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


# What can create a platform role or widen one (a deliberate copy of bootstrap/permissions.py's BOUNDED_ROLE_ACTIONS,
# plus AttachRolePolicy, which the bootstrap allows only with the boundary too; tests/bootstrap/test_permissions.py
# keeps them in step).
# IAM puts iam:PermissionsBoundary in the request context of each (Service Authorization Reference, IAM): for
# CreateRole and PutRolePermissionsBoundary the boundary requested, for the others the boundary the role carries.
BOUNDED_ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:PutRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
)
BOUNDARY_KEY = "iam:permissionsboundary"


def _platform_roles(config: Config) -> list[Reach]:
    """The roles the bootstrap may create: one unnamed role under each ``iamResourcePatterns`` entry, and the
    bootstrap role itself (``cicd-platform-bootstrap`` is inside ``role/cicd-*``)."""
    reaches = [Reach("iam", f"role/{name}") for name in config["bootstrapRoleNames"]]
    for pattern in config["iamResourcePatterns"]:
        parts = str(pattern).split(":", 5)
        if len(parts) == 6 and parts[5].startswith("role/"):
            reaches.append(Reach("iam", parts[5].replace("*", "#")))
    return list(dict.fromkeys(reaches))


def _is_boundary_arn(value: str, names: set[str]) -> bool:
    """An exact customer-policy ARN of one of the boundary policies (no wildcard: ``*`` would admit any)."""
    parts = value.split(":", 5)
    return (
        len(parts) == 6
        and not set(value) & set("*?")
        and parts[2] == "iam"
        and parts[4].isdigit()
        and parts[5].startswith("policy/")
        and parts[5].rsplit("/", 1)[-1] in names
    )


def _boundary_required(names: set[str]) -> object:
    """A ``narrowed`` for ``granted``: the statement holds only for the platform's boundary.

    An Allow needs a positive operator (StringEquals) on iam:PermissionsBoundary whose every value is the
    boundary's ARN; a Deny needs only negated operators on it (deny unless the boundary), the equivalent AWS's
    own examples use ("Permissions boundaries for IAM entities"). ``StringLike "*"`` or ``StringNotEquals`` on
    an Allow admit any boundary, AdministratorAccess included.
    """

    def narrowed(statement: Statement) -> bool:
        if statement.effect == ALLOW:
            pairs = positive_values(statement.condition, lambda key: key == BOUNDARY_KEY)
        else:
            pairs = only_negations_of(statement.condition, lambda key: key == BOUNDARY_KEY) or []
        return bool(pairs) and all(_is_boundary_arn(value, names) for _, value in pairs)

    return narrowed


def _unbounded(held: list[Statement], config: Config) -> dict[int, tuple[Statement, list[str]]]:
    """Allow statements (by identity) that let the role create or widen a platform role without the boundary.

    Narrowed either by the boundary, or, for a role that cannot tag platform roles, by a resource tag (the
    bootstrap's opt-in for workload instance roles).
    """
    names = {str(name) for name in config["boundaryPolicyNames"]}
    boundary = _boundary_required(names)
    found: dict[int, tuple[Statement, list[str]]] = {}
    for reach in _platform_roles(config):
        tagged = tag_narrowed(held, reach)
        for action in BOUNDED_ROLE_ACTIONS:
            for statement in granted(held, action, reach, lambda s, t=tagged: boundary(s) or t(s)):
                actions = found.setdefault(id(statement), (statement, []))[1]
                if action not in actions:
                    actions.append(action)
    return found


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
    for role, role_statements in sorted(statements_by_role(resources).items()):
        if role not in names:
            continue
        unbounded = _unbounded([statement for _, statement in role_statements], config)
        for urn, grant in role_statements:
            if grant.effect != ALLOW:
                continue
            if grant.not_action:
                yield urn, f"bootstrap role {role} statement {grant.sid} uses NotAction"
                continue
            if grant.not_resource:
                yield urn, f"bootstrap role {role} statement {grant.sid} uses NotResource"
                continue
            extra = [a for a in grant.actions if not any(action_covers(pattern, a) for pattern in allowed)]
            if extra:
                yield (
                    urn,
                    f"bootstrap role {role} statement "
                    f"{grant.sid} grants {', '.join(extra)} beyond what the program needs",
                )
            if id(grant) in unbounded:
                actions = ", ".join(unbounded[id(grant)][1])
                yield (
                    urn,
                    f"bootstrap role {role} statement {grant.sid} allows {actions} on platform roles without "
                    "requiring the platform's boundary (StringEquals iam:PermissionsBoundary = its ARN, or a Deny "
                    "unless it): it could create or widen a role, itself included, beyond the boundary",
                )
            if _writes_iam(grant) and not tag_scoped(grant):
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
    "(its actions, IAM writes only on cicd-* roles or tag-scoped, and platform roles created or widened only "
    "with the platform's boundary).",
    level="mandatory",
    check=check_bootstrap,
    remediation="Limit the bootstrap role to the actions the program calls (allowedActions), IAM writes to "
    "role/cicd-* (or roles carrying the platform's tag), and every call that creates or widens a cicd-* role "
    "(CreateRole, PutRolePermissionsBoundary, UpdateRole, UpdateAssumeRolePolicy, PutRolePolicy, AttachRolePolicy) "
    "to the platform's boundary: StringEquals iam:PermissionsBoundary = the boundary's ARN, or a Deny of them with "
    "StringNotEquals on it; no admin policies.",
    config_schema={
        **BOUNDARY_POLICY_SCHEMA,
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


def _tooling_accounts(resources: Sequence[PolicyResource]) -> set[str]:
    """The accounts pipelines run in (their roles'): the tooling account, as far as the stack shows it."""
    return {account for account in (account_of_arn(p.props.get("roleArn")) for p in pipelines(resources)) if account}


def _environment_accounts(resources: Sequence[PolicyResource]) -> dict[str, str | None]:
    """Explicit AWS providers into an environment account, by URN, to the one account they allow (``None`` while
    not known, or when they allow several).

    A provider is one when it assumes a role (the program's way in), or when ``allowedAccountIds`` pins it to
    accounts none of which is the tooling account, however it authenticates (a profile, static keys: pulumi-aws
    provider configuration). With no pipeline in the stack the tooling account is not known, and a pinned
    provider is taken for an environment account's.
    """
    tooling = _tooling_accounts(resources)
    accounts: dict[str, str | None] = {}
    for resource in resources:
        if resource.type != PROVIDER:
            continue
        assume = json_value(resource.props.get("assumeRoles"))
        allowed = json_value(resource.props.get("allowedAccountIds"))
        known = [a for a in as_list(allowed) if isinstance(a, str) and not is_unknown(a)]
        pinned = not is_unknown(allowed) and len(known) == len(as_list(allowed))
        if not is_unknown(assume) and as_list(assume):
            accounts[resource.urn] = known[0] if len(known) == 1 and pinned else None
        elif pinned and known and not set(known) & tooling:
            accounts[resource.urn] = known[0] if len(known) == 1 else None
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
    description="Every role the platform creates in an environment account (through a provider that assumes a role, "
    "or one pinned to an account other than the tooling account) carries the bootstrap's permissions boundary, and "
    "that boundary allows no IAM change (but passing a role to a named service) and no STS.",
    level="mandatory",
    check=check_permissions_boundary,
    remediation="Give every aws.iam.Role created through an environment account's provider "
    "permissions_boundary=the bootstrap's boundary in that account (EnvironmentAccount.permissions_boundary_arn; "
    "name: the stack's permissionsBoundaryName); keep IAM and STS actions out of the boundary policy.",
    config_schema=BOUNDARY_POLICY_SCHEMA,
)

RULES = (ACCOUNT_ISOLATION, BOOTSTRAP_LEAST_PRIVILEGE, PERMISSIONS_BOUNDARY)
