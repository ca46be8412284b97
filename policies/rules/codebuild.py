"""CodeBuild projects: encrypted artifacts, privileged only for the image build, logs, no credentials in sight.

A build runs the repository's own code with the project's role; what the
project leaks (logs, variables, source URLs) or allows (Docker-in-Docker)
decides how much a malicious commit can reach.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from .base import (
    Config,
    PolicyResource,
    Props,
    as_list,
    as_mapping,
    dig,
    is_unknown,
    json_value,
    policy_document,
    resource_rule,
    shown,
    stack_rule,
    statements,
)
from .iam_policy import ROLE, ROLE_POLICY, Grant, grant_covers, grants_by_role
from .pipeline_model import pipelines

PROJECT = "aws:codebuild/project:Project"
AWS_MANAGED_S3_KEY = re.compile(r"(^|:)alias/aws/s3$")
CREDENTIAL_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AWS_SECRET_ACCESS_KEY)", re.I
)
AWS_ACCESS_KEY_VALUE = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
# A value that names where a secret lives (an ARN or a parameter path) is a reference, not the secret.
SECRET_REFERENCE = re.compile(r"^(arn:aws[a-z-]*:(secretsmanager|ssm):|/)")
REFERENCE_NAME = re.compile(r"_(ARN|ID|NAME|PARAMETER|PARAM|PATH)$", re.I)
CREDENTIALS_IN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]+@", re.I)


def _artifact_blocks(props: Props) -> list[tuple[str, object]]:
    blocks: list[tuple[str, object]] = [("artifacts", props.get("artifacts"))]
    blocks += [(f"secondaryArtifacts[{i}]", item) for i, item in enumerate(as_list(props.get("secondaryArtifacts")))]
    return blocks


# codebuild-artifact-encryption


def check_artifact_encryption(_: str, props: Props, __: Config) -> Iterator[str]:
    key = props.get("encryptionKey")
    if not is_unknown(key):
        if not key:
            yield "project has no encryption_key: artifacts use the AWS-managed S3 key, not a customer key"
        elif isinstance(key, str) and AWS_MANAGED_S3_KEY.search(key):
            yield f"project encryption_key is the AWS-managed key {key!r}, not a customer key"
    for where, block in _artifact_blocks(props):
        if dig(block, "encryptionDisabled") is True:
            yield f"{where} has encryption_disabled=True"


CODEBUILD_ARTIFACT_ENCRYPTION = resource_rule(
    name="codebuild-artifact-encryption",
    description="CodeBuild projects encrypt artifacts with a customer-managed KMS key and never disable it.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_artifact_encryption,
    remediation="Set encryption_key to the artifact CMK's ARN and drop encryption_disabled.",
    anchors=("CKV_AWS_78", "CKV_AWS_147"),
)


# codebuild-no-privileged
#
# Privileged mode gives the build container every device of its host; AWS says to set it only for
# projects that build Docker images (CodeBuild API Reference, ProjectEnvironment.privilegedMode; Security
# Hub CodeBuild.5), and Checkov's CKV_AWS_316 refuses it outright. The platform needs it for one kind of
# project, its image build, so the rule allows it by what a project is, never by its name:
# - its buildspec is a pinned image build the pack knows by SHA-256 (inline, so no repository can change
#   it), and nothing hands that spec a variable it does not read (BASH_ENV, DOCKER_HOST, ... would change
#   what it runs);
# - it keeps no Docker state between builds (no local Docker layer cache, no Docker server, no reserved
#   fleet, whose machines outlive their builds), so one branch's build cannot leave an image behind for another's;
# - its role can push images to exactly one repository, named, and carries no managed policy whose grants
#   the pack cannot read;
# - only a pipeline's own role may start or change it (StartBuild and StartBuildBatch take a
#   buildspecOverride, UpdateProject rewrites the buildspec);
# - its input is what the pipeline hands it (source type CODEPIPELINE) and no webhook starts it: with a
#   repository source and a codebuild.Webhook, CodeBuild starts builds itself on pushes and pull requests
#   (CodeBuild User Guide, "GitHub webhook events"), so no principal's StartBuild is there to check;
# - it runs in a build image CodeBuild provides (``aws/codebuild/...``, pulled with CodeBuild's own
#   credentials: CodeBuild User Guide, "Docker images provided by CodeBuild"), since in any other image the
#   build container itself, not only the Dockerfile, is code of someone's choosing with the host's devices.

PINNED_IMAGE_BUILDS: dict[str, frozenset[str]] = {
    "bbec28df67071d5ef183372b924dadcc6d95279f4abd25dbb6962c7dc0492ece": frozenset(
        {"IMAGE_REPOSITORY_URI", "IMAGE_TAG"}
    ),
}
"""SHA-256 of each pinned image buildspec (its UTF-8 text, as the project carries it) → the variables it reads.

A deliberate copy, since the pack never imports the program: the spec is
``components/aws/buildspecs/image_build.yml``, and ``tests/policies/test_pinned_image_build.py`` fails
when the two drift apart."""
IMAGE_PUSH_ACTIONS = ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")
PROJECT_CHANGING_ACTIONS = ("codebuild:StartBuild", "codebuild:StartBuildBatch", "codebuild:UpdateProject")
DOCKER_LAYER_CACHE = "LOCAL_DOCKER_LAYER_CACHE"
WEBHOOK = "aws:codebuild/webhook:Webhook"
CODEBUILD_IMAGE = re.compile(r"^aws/codebuild/[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$")
PIPELINE_SERVICE = "codepipeline.amazonaws.com"
ECR_REPOSITORY_ARN = re.compile(r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/[a-z0-9][a-z0-9._/-]*$")
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
CUSTOMER_POLICY = "aws:iam/policy:Policy"
Findings = Iterator[tuple[str | None, str]]


def pinned_variables(buildspec: object) -> frozenset[str] | None:
    """The variables a pinned image buildspec reads, or ``None`` when the text is not one the pack knows."""
    if not isinstance(buildspec, str):
        return None
    return PINNED_IMAGE_BUILDS.get(hashlib.sha256(buildspec.encode("utf-8")).hexdigest())


def _role_name(value: object) -> str | None:
    """A role's name from a name or an ARN; ``None`` when not known yet."""
    if not isinstance(value, str) or is_unknown(value):
        return None
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _names_project(resource: str, project: str) -> bool:
    """Whether an IAM Resource element covers the CodeBuild project of that name (in any region and account)."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and fnmatchcase("codebuild", parts[2]) and fnmatchcase(f"project/{project}", parts[5])


def _document_unknown(value: Any) -> bool:
    """A policy document, or an Effect/Action/Resource in it, that is not known yet."""
    parsed = json_value(value)
    if is_unknown(parsed) or is_unknown(as_mapping(parsed).get("Statement")):
        return True
    for statement in as_list(as_mapping(parsed).get("Statement")):
        if is_unknown(statement):
            return True
        for key in ("Effect", "Action", "NotAction", "Resource"):
            element = as_mapping(statement).get(key)
            if is_unknown(element) or any(is_unknown(item) for item in as_list(element)):
                return True
    return False


@dataclass
class _RoleView:
    """What the stack declares about one role, beyond its grants (``grants_by_role`` reads those)."""

    declared: bool = False
    trust: Any = None
    unreadable: list[str] = field(default_factory=list)
    """Attached managed policies that are not customer policies of this stack: their grants cannot be read."""
    uncertain: bool = False
    """Some policy of the role is not known yet, so an absent grant proves nothing."""


@dataclass
class _Roles:
    views: dict[str, _RoleView]
    grants: dict[str, list[tuple[str, Grant]]]
    some_unknown: bool
    """A role, role policy or attachment whose role is not known yet: it may belong to any role."""

    def view(self, name: str) -> _RoleView:
        return self.views.get(name, _RoleView())


def _roles(resources: Sequence[PolicyResource]) -> _Roles:
    customer_policies = {str(r.props.get("name")) for r in resources if r.type == CUSTOMER_POLICY}
    views: dict[str, _RoleView] = {}
    some_unknown = False

    def attach(view: _RoleView, arn: Any) -> None:
        if not isinstance(arn, str) or is_unknown(arn):
            view.uncertain = True
        elif arn.rsplit("/", 1)[-1] not in customer_policies:
            view.unreadable.append(arn)

    for resource in resources:
        props = resource.props
        key = {ROLE: "name", ROLE_POLICY: "role", ROLE_POLICY_ATTACHMENT: "role"}.get(resource.type)
        if key is None:
            continue
        name = _role_name(props.get(key))
        if name is None:
            some_unknown = True
            continue
        view = views.setdefault(name, _RoleView())
        if resource.type == ROLE:
            view.declared, view.trust = True, props.get("assumeRolePolicy")
            inline, managed = props.get("inlinePolicies"), props.get("managedPolicyArns")
            view.uncertain |= is_unknown(inline) or is_unknown(managed)
            view.uncertain |= any(_document_unknown(as_mapping(item).get("policy")) for item in as_list(inline))
            for arn in as_list(managed):
                attach(view, arn)
        elif resource.type == ROLE_POLICY:
            view.uncertain |= _document_unknown(props.get("policy"))
        else:
            attach(view, props.get("policyArn"))
    return _Roles(views, grants_by_role(resources), some_unknown)


def _only_pipelines_assume(trust: Any) -> bool | None:
    """True when only the CodePipeline service may assume a role; ``None`` while its trust is not known."""
    document = policy_document(trust)
    if document is None:
        return None if is_unknown(json_value(trust)) else False
    raw = document.get("Statement")
    if is_unknown(raw) or any(
        is_unknown(statement)
        or any(is_unknown(as_mapping(statement).get(key)) for key in ("Effect", "Principal"))
        or any(is_unknown(service) for service in as_list(dig(statement, "Principal", "Service")))
        for statement in as_list(raw)
    ):
        return None
    allowed = [statement for statement in statements(document) if statement.get("Effect") == "Allow"]
    for statement in allowed:
        principal = as_mapping(statement.get("Principal"))
        services = {str(service) for service in as_list(principal.get("Service"))}
        if set(principal) != {"Service"} or services != {PIPELINE_SERVICE}:
            return False
    return bool(allowed)


def _docker_state(name: str, props: Props) -> Iterator[str]:
    if DOCKER_LAYER_CACHE in [str(mode) for mode in as_list(dig(props, "cache", "modes"))]:
        yield f"privileged project {name} keeps a local Docker layer cache between builds"
    server = dig(props, "environment", "dockerServer")
    if server is not None and not is_unknown(server) and server != {}:
        yield f"privileged project {name} builds on a Docker server, which keeps images between builds"
    fleet = dig(props, "environment", "fleet", "fleetArn")
    if fleet is not None and not is_unknown(fleet) and fleet != "":
        # On-demand machines are destroyed after each build; a reserved fleet's are kept (CodeBuild user guide).
        yield f"privileged project {name} builds on a reserved-capacity fleet, whose machines are kept between builds"


def _input_and_image(project: PolicyResource, webhooks: Sequence[PolicyResource]) -> Iterator[str]:
    """Where the pinned spec's input and container come from: the pipeline, and an image CodeBuild provides."""
    props, name = project.props, shown(project.props.get("name"))
    source = dig(props, "source", "type")
    if source is not None and not is_unknown(source) and source != "CODEPIPELINE":
        yield f"privileged project {name} reads a {source} source, not what its pipeline hands it (CODEPIPELINE)"
    for secondary in as_list(props.get("secondarySources")):
        kind = dig(secondary, "type")
        if kind is not None and not is_unknown(kind) and kind != "CODEPIPELINE":
            yield f"privileged project {name} also reads a {kind} secondary source"
    for webhook in webhooks:
        if webhook.props.get("projectName") == props.get("name"):
            yield f"privileged project {name} has a webhook: CodeBuild starts it on repository events, no pipeline"
    image = dig(props, "environment", "image")
    if isinstance(image, str) and not is_unknown(image) and not CODEBUILD_IMAGE.match(image):
        yield f"privileged project {name} runs in the build image {image}, not one CodeBuild provides"
    credentials = dig(props, "environment", "imagePullCredentialsType")
    if credentials is not None and not is_unknown(credentials) and credentials != "CODEBUILD":
        yield f"privileged project {name} pulls its build image with {credentials} credentials, not CodeBuild's"


def _codebuild_actions(resources: Sequence[PolicyResource]) -> dict[Any, list[tuple[Any, Any]]]:
    """Project name → the (pipeline, action) pairs that run it: read once per stack, not once per project."""
    by_project: dict[Any, list[tuple[Any, Any]]] = {}
    for pipeline in pipelines(resources):
        for action in pipeline.actions():
            if action.provider == "CodeBuild":
                project = action.configuration("ProjectName")
                if isinstance(project, str):
                    by_project.setdefault(project, []).append((pipeline, action))
    return by_project


def _unread_variables(project: PolicyResource, reads: frozenset[str], runs: Sequence[tuple[Any, Any]]) -> Findings:
    name = shown(project.props.get("name"))
    for variable in as_list(dig(project.props, "environment", "environmentVariables")):
        variable_name = dig(variable, "name")
        if isinstance(variable_name, str) and not is_unknown(variable_name) and variable_name not in reads:
            yield (
                project.urn,
                f"privileged project {name} sets {variable_name}, which its pinned buildspec does not read",
            )
    for pipeline, action in runs:
        for variable_name in sorted(set(action.environment_variables()) - reads):
            yield (
                pipeline.urn,
                (
                    f"pipeline {pipeline.name}: {action.stage}/{action.name} passes {variable_name} to privileged "
                    f"project {name}, which its pinned buildspec does not read"
                ),
            )


def _push_scope(name: str, role: str, roles: _Roles) -> Iterator[str]:
    view = roles.view(role)
    if not view.declared:
        if not roles.some_unknown:
            yield f"privileged project {name} runs as role {role}, which this stack does not declare"
        return
    for arn in view.unreadable:
        yield f"privileged project {name}: role {role} carries managed policy {arn}, whose grants cannot be read"
    repositories: set[str] = set()
    wide: list[str] = []
    for _, grant in roles.grants.get(role, []):
        if any(grant_covers(grant, action) for action in IMAGE_PUSH_ACTIONS):
            for resource in grant.resources:
                if ECR_REPOSITORY_ARN.match(resource) and not any(mark in resource for mark in "*?"):
                    repositories.add(resource)
                else:
                    wide.append(resource)
    for resource in dict.fromkeys(wide):
        yield f"privileged project {name}: role {role} may push images to {resource!r}, not one named repository"
    if len(repositories) > 1:
        names = ", ".join(sorted(repository.rsplit("/", 1)[-1] for repository in repositories))
        yield f"privileged project {name}: role {role} may push images to {len(repositories)} repositories ({names})"
    elif not repositories and not wide and not view.uncertain and not roles.some_unknown:
        yield f"privileged project {name}: role {role} can push to no image repository, so it is no image build"


@dataclass(frozen=True)
class _ProjectChanger:
    """A grant of a role no pipeline assumes to start or rewrite CodeBuild projects (found once per stack)."""

    role: str
    urn: str | None
    action: str
    resources: tuple[str, ...]


def _project_changers(roles: _Roles) -> list[_ProjectChanger]:
    """Every grant of a project-changing action to a role other than a pipeline's, in role order.

    Found once, then matched against each privileged project: a pass over every role's grants per
    project made the rule quadratic in the fleet (docs/BENCHMARKS.md, profile of the 200-service plan).
    """
    changers: list[_ProjectChanger] = []
    for role, role_grants in sorted(roles.grants.items()):
        view = roles.view(role)
        if not view.declared or _only_pipelines_assume(view.trust) is not False:
            continue
        for urn, grant in role_grants:
            for action in PROJECT_CHANGING_ACTIONS:
                if grant_covers(grant, action):
                    changers.append(_ProjectChanger(role, urn, action, tuple(grant.resources)))
    return changers


def _who_may_change(project: PolicyResource, changers: Sequence[_ProjectChanger]) -> Findings:
    """Roles other than a pipeline's that may start the project (with another buildspec) or rewrite it."""
    name = project.props.get("name")
    if not isinstance(name, str) or is_unknown(name):
        return
    for changer in changers:
        if any(_names_project(r, name) for r in changer.resources):
            yield (
                changer.urn,
                (
                    f"role {changer.role} may {changer.action.split(':', 1)[1]} privileged project {name} but is no "
                    "pipeline's role: it could run another buildspec there"
                ),
            )


def check_no_privileged(resources: Sequence[PolicyResource], _: Config) -> Findings:
    privileged = [r for r in resources if r.type == PROJECT and dig(r.props, "environment", "privilegedMode") is True]
    if not privileged:
        return
    roles = _roles(resources)
    # Read once for all privileged projects: per project, these passes over the stack made the rule quadratic.
    changers = _project_changers(roles)
    runs_of = _codebuild_actions(resources)
    webhooks = [r for r in resources if r.type == WEBHOOK]
    for project in privileged:
        props, name = project.props, shown(project.props.get("name"))
        buildspec = dig(props, "source", "buildspec")
        if is_unknown(buildspec):
            continue
        reads = pinned_variables(buildspec)
        if reads is None:
            yield project.urn, f"project {name} runs in privileged mode, but its buildspec is not a pinned image build"
            continue
        yield from ((project.urn, message) for message in _docker_state(name, props))
        yield from ((project.urn, message) for message in _input_and_image(project, webhooks))
        project_name = props.get("name")
        yield from _unread_variables(
            project, reads, runs_of.get(project_name, []) if isinstance(project_name, str) else []
        )
        role = _role_name(props.get("serviceRole"))
        if role is not None:
            yield from ((project.urn, message) for message in _push_scope(name, role, roles))
        yield from _who_may_change(project, changers)


CODEBUILD_NO_PRIVILEGED = stack_rule(
    name="codebuild-no-privileged",
    description="CodeBuild projects run unprivileged, but for the platform's pinned image build, whose role "
    "pushes to exactly one repository, which only its pipeline starts and feeds, in a build image CodeBuild provides.",
    level="mandatory",
    check=check_no_privileged,
    remediation="Set environment.privileged_mode=False. Container images are built by the platform's image build "
    "(components/aws/buildspecs/image_build.yml, inline in the project): its role pushes to one named ECR "
    "repository, it keeps no Docker cache, only the service's pipeline role may start it (source CODEPIPELINE, no "
    "webhook), and it runs in a CodeBuild-provided image (aws/codebuild/...).",
    anchors=("CKV_AWS_316", "SH CodeBuild.5"),
)


# codebuild-logging


def check_logging(_: str, props: Props, __: Config) -> Iterator[str]:
    logs = props.get("logsConfig")
    if is_unknown(logs):
        return
    cloudwatch = dig(logs, "cloudwatchLogs", "status")
    s3 = dig(logs, "s3Logs", "status")
    if is_unknown(cloudwatch) or is_unknown(s3):
        return
    # CodeBuild sends logs to CloudWatch unless told otherwise.
    if cloudwatch == "DISABLED" and s3 != "ENABLED":
        yield "both CloudWatch and S3 build logs are disabled"
    if s3 == "ENABLED" and dig(logs, "s3Logs", "encryptionDisabled") is True:
        yield "S3 build logs are written unencrypted (s3_logs.encryption_disabled=True)"


CODEBUILD_LOGGING = resource_rule(
    name="codebuild-logging",
    description="CodeBuild projects keep build logs (CloudWatch or S3), and S3 logs are encrypted.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_logging,
    remediation="Enable logs_config.cloudwatch_logs (with a retained, encrypted log group) or s3_logs "
    "without encryption_disabled.",
    anchors=("CKV_AWS_314", "CKV_AWS_311", "SH CodeBuild.3", "SH CodeBuild.4"),
)


# codebuild-no-plaintext-creds


def check_no_plaintext_creds(_: str, props: Props, __: Config) -> Iterator[str]:
    for variable in as_list(dig(props, "environment", "environmentVariables")):
        variable = as_mapping(variable)
        name, value, kind = variable.get("name"), variable.get("value"), variable.get("type", "PLAINTEXT")
        if is_unknown(kind) or kind not in (None, "PLAINTEXT"):
            continue
        if isinstance(value, str) and AWS_ACCESS_KEY_VALUE.search(value):
            yield f"environment variable {name} holds an AWS access key id in plain text"
        elif (
            isinstance(name, str)
            and CREDENTIAL_NAME.search(name)
            and isinstance(value, str)
            and not is_unknown(value)
            and not SECRET_REFERENCE.match(value)
            and not REFERENCE_NAME.search(name)
        ):
            yield f"environment variable {name} looks like a credential but is PLAINTEXT (use SECRETS_MANAGER)"


CODEBUILD_NO_PLAINTEXT_CREDS = resource_rule(
    name="codebuild-no-plaintext-creds",
    description="CodeBuild environment variables never carry credentials as PLAINTEXT.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_no_plaintext_creds,
    remediation="Store the value in Secrets Manager or Parameter Store and reference it with type "
    "SECRETS_MANAGER or PARAMETER_STORE.",
    anchors=("SH CodeBuild.2", "Cfg codebuild-project-envvar-awscred-check"),
)


# codebuild-source-no-creds


def check_source_no_creds(_: str, props: Props, __: Config) -> Iterator[str]:
    sources = [("source", props.get("source"))]
    sources += [(f"secondarySources[{i}]", s) for i, s in enumerate(as_list(props.get("secondarySources")))]
    for where, source in sources:
        location = dig(source, "location")
        if isinstance(location, str) and not is_unknown(location) and CREDENTIALS_IN_URL.match(location):
            host = location.split("@", 1)[1].split("/", 1)[0]
            yield f"{where} location embeds credentials before '@{host}' (user:password or token in the URL)"


CODEBUILD_SOURCE_NO_CREDS = resource_rule(
    name="codebuild-source-no-creds",
    description="CodeBuild source URLs carry no user name, password or token.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_source_no_creds,
    remediation="Use a CodeConnections/CodeStar connection or CodeBuild source credentials, never a URL "
    "with credentials.",
    anchors=("SH CodeBuild.1",),
)

RULES = (
    CODEBUILD_ARTIFACT_ENCRYPTION,
    CODEBUILD_LOGGING,
    CODEBUILD_NO_PLAINTEXT_CREDS,
    CODEBUILD_SOURCE_NO_CREDS,
)
STACK_RULES = (CODEBUILD_NO_PRIVILEGED,)
