"""Who may act on a pipeline: only release managers approve prod; build, pipeline and deploy roles stay apart.

A build runs the repository's code; if its role could assume a deploy role,
or approve its own release, a commit could ship itself to production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from fnmatch import fnmatchcase

from .base import (
    PROD_ENVIRONMENTS_SCHEMA,
    Config,
    PolicyResource,
    aws_principals,
    dig,
    is_unknown,
    name_of_role_arn,
    policy_document,
    stack_rule,
    statements,
)
from .iam_policy import ROLE, grant_covers, grant_reaches, grants_by_principal, grants_by_role, resource_matches
from .pipeline_model import pipelines, prod_pipelines

Findings = Iterator[tuple[str | None, str]]
PROJECT = "aws:codebuild/project:Project"


# approval-restricted


def _arn_resource_part(pattern: str) -> str | None:
    """The part of a codepipeline ARN pattern after the account (``pipeline/stage/action``); '*' covers all."""
    if pattern == "*":
        return "*"
    parts = pattern.split(":", 5)
    if len(parts) == 6 and fnmatchcase("codepipeline", parts[2]):
        return parts[5]
    return None


def _names(approval: str) -> Callable[[str], bool]:
    """Whether a Resource pattern names an approval action (``pipeline/stage/action``)."""

    def names(pattern: str) -> bool:
        part = _arn_resource_part(pattern)
        return part is not None and fnmatchcase(approval, part)

    return names


# AWS-managed policies that answer approvals, with the statements of their documents that reach CodePipeline
# (AWS Managed Policy Reference: AWSCodePipelineApproverAccess grants PutApprovalResult on "*",
# AWSCodePipeline_FullAccess and its deprecated AWSCodePipelineFullAccess "codepipeline:*" on "*",
# PowerUserAccess every action but iam:*, organizations:* and account:*, AdministratorAccess "*"). The stack
# only holds their ARNs; the rule reads them as these documents.
_APPROVE_ANY = {"Effect": "Allow", "Action": "codepipeline:PutApprovalResult", "Resource": "*"}
_PIPELINE_ANY = {"Effect": "Allow", "Action": "codepipeline:*", "Resource": "*"}
APPROVER_MANAGED_POLICIES: dict[str, dict] = {
    "AWSCodePipelineApproverAccess": {"Statement": [_APPROVE_ANY]},
    "AWSCodePipeline_FullAccess": {"Statement": [_PIPELINE_ANY]},
    "AWSCodePipelineFullAccess": {"Statement": [_PIPELINE_ANY]},
    "PowerUserAccess": {
        "Statement": [{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"}]
    },
    "AdministratorAccess": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
}


def check_approval_restricted(resources: Sequence[PolicyResource], config: Config) -> Findings:
    approvals = [
        f"{pipeline.name}/{action.stage}/{action.name}"
        for pipeline in prod_pipelines(resources, config)
        for action in pipeline.actions()
        if action.is_approval
    ]
    if not approvals:
        return
    approved = {name_of_role_arn(r) or r for r in config["releaseManagerRoles"]}
    for principal, held in sorted(grants_by_principal(resources, APPROVER_MANAGED_POLICIES).items()):
        if principal.kind == "role" and principal.name in approved:
            continue
        for urn, grant in held:
            if not grant_covers(grant, "codepipeline:PutApprovalResult"):
                continue
            reached = sorted(approval for approval in approvals if grant_reaches(grant, _names(approval)))
            if reached:
                shown = ", ".join(reached[:3]) + (f" and {len(reached) - 3} more" if len(reached) > 3 else "")
                yield urn, f"{principal} may approve prod releases ({shown}) but is not a release manager"


APPROVAL_RESTRICTED = stack_rule(
    name="approval-restricted",
    description="codepipeline:PutApprovalResult on prod approval actions is granted only to release-manager roles "
    "(inline, customer or AWS-managed approver policies, on roles, users and groups).",
    level="mandatory",
    check=check_approval_restricted,
    remediation="Remove PutApprovalResult (and AWS-managed policies that grant it: AWSCodePipelineApproverAccess, "
    "AWSCodePipeline_FullAccess, PowerUserAccess, AdministratorAccess) from the principal, or add the role to "
    "releaseManagerRoles if it is one; IAM users and groups never approve prod.",
    config_schema={
        "prodEnvironments": PROD_ENVIRONMENTS_SCHEMA,
        "releaseManagerRoles": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Role names or ARNs allowed to approve prod releases (the stack's releaseManagers).",
        },
    },
)


# role-separation


def _known_arn(value: object) -> str | None:
    return value if isinstance(value, str) and not is_unknown(value) and value.startswith("arn:") else None


def check_role_separation(resources: Sequence[PolicyResource], _: Config) -> Findings:
    projects = {
        str(r.props.get("name")): _known_arn(r.props.get("serviceRole")) for r in resources if r.type == PROJECT
    }
    by_role = grants_by_role(resources)
    trusts = {str(r.props.get("name")): (r.urn, r.props.get("assumeRolePolicy")) for r in resources if r.type == ROLE}
    for pipeline in pipelines(resources):
        if not pipeline.shape_known():
            continue
        pipeline_role = _known_arn(pipeline.props.get("roleArn"))
        build_roles: set[str] = set()
        deploy_roles: set[str] = set()
        runner_roles: set[str] = set()
        for action in pipeline.actions():
            project_role = projects.get(str(action.configuration("ProjectName")))
            if action.is_deploy:
                for arn in (
                    _known_arn(dig(action.props, "roleArn")),
                    _known_arn(action.environment_variables().get("DEPLOY_ROLE_ARN")),
                ):
                    if arn:
                        deploy_roles.add(arn)
                if project_role:
                    runner_roles.add(project_role)
            elif action.provider == "CodeBuild" and project_role:
                build_roles.add(project_role)
        name = pipeline.name
        if pipeline_role and pipeline_role in build_roles | runner_roles:
            yield pipeline.urn, f"pipeline {name}: the pipeline role {pipeline_role} also runs builds"
        if pipeline_role and pipeline_role in deploy_roles:
            yield pipeline.urn, f"pipeline {name}: the pipeline role {pipeline_role} is also a deploy role"
        for arn in sorted(build_roles & (deploy_roles | runner_roles)):
            yield pipeline.urn, f"pipeline {name}: build role {arn} is also used to deploy"
        for build_arn in sorted(build_roles):
            build_name = name_of_role_arn(build_arn) or build_arn
            for urn, grant in by_role.get(build_name, []):
                if not grant_covers(grant, "sts:AssumeRole"):
                    continue
                for deploy_arn in sorted(deploy_roles):
                    if any(resource_matches(r, deploy_arn) for r in grant.resources):
                        yield (
                            urn,
                            f"build role {build_name} may assume deploy role {deploy_arn} (statement {grant.sid})",
                        )
        for deploy_arn in sorted(deploy_roles):
            urn, trust = trusts.get(name_of_role_arn(deploy_arn) or "", (None, None))
            for statement in statements(policy_document(trust)):
                if statement.get("Effect") == "Allow":
                    for principal in set(aws_principals(statement)) & build_roles:
                        yield urn, f"deploy role {deploy_arn} trusts build role {principal}"


ROLE_SEPARATION = stack_rule(
    name="role-separation",
    description="Pipeline, build and deploy roles are distinct, and build roles cannot assume deploy roles.",
    level="mandatory",
    check=check_role_separation,
    remediation="Give each of pipeline, build and deploy its own role; only the pipeline role (or the "
    "platform's release runner) may assume deploy roles.",
)

RULES = (APPROVAL_RESTRICTED, ROLE_SEPARATION)
