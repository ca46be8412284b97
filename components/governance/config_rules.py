"""Runtime twins: AWS Config managed rules for the controls the policy pack checks at preview time.

The CrossGuard pack sees only what Pulumi is about to change. A bucket policy
edited in the console, a CodeBuild project created by hand or a key whose
rotation someone switched off after ``pulumi up`` never passes through it. With
the stack setting ``configRules: true`` the platform declares, in the tooling
account, the AWS Config **managed** rules that check the same things at run
time, so that drift made outside Pulumi shows up as NON_COMPLIANT in AWS Config
(and in Security Hub, where the account aggregates Config findings).

Only controls AWS ships as managed rules are twinned, and only for resource
types the platform keeps in the tooling account: CodeDeploy deployment groups
and CloudWatch alarms live in the environment accounts, whose bootstrap role
has no AWS Config permissions, so their rules are not declared here. Each
identifier and parameter name below is taken from AWS Config's managed-rule
list; each rule says in its description which pack rule it twins.

Prerequisite: a configuration recorder (and delivery channel) in the tooling
account and region. Landing zones (Control Tower, the organization's Config
setup) own the recorder; the platform never creates one, and nothing is looked
up at preview, so a preview succeeds either way. ``pulumi up`` fails with
``NoAvailableConfigurationRecorderException`` until a recorder exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..model import naming
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags

LOG_RETENTION_DAYS = 90
"""The shortest retention the platform gives its log groups (CodeBuild and Lambda logs keep 90 days)."""
SECRET_ROTATION_DAYS = 30
"""The platform's rotation bound (POLICIES.md: 30 days, where the anchors say 90)."""
PERIODIC_FREQUENCY = "TwentyFour_Hours"
"""Periodic managed rules run once a day: drift is caught within a day at one evaluation per resource."""


@dataclass(frozen=True)
class RuntimeTwin:
    """One AWS Config managed rule and the policy-pack rule it mirrors."""

    control: str
    """Suffix of the rule name ``cicd-<stack>-<control>``."""
    identifier: str
    """The managed rule's source identifier, as AWS Config lists it."""
    twin_of: str
    """The policy-pack rule that checks the same thing at preview time."""
    resource_types: tuple[str, ...]
    """The resource types AWS says the rule evaluates (its scope, where AWS accepts one)."""
    what: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    periodic: bool = False
    """AWS Config lists the rule's trigger type as Periodic: it takes a maximum execution frequency and no
    scope; change-triggered rules take a scope and refuse a frequency."""

    def scope(self) -> tuple[str, ...] | None:
        """The resource types whose changes trigger an evaluation; ``None`` for a periodic rule.

        AWS Config API Reference, ``Scope``: it "defines which resources trigger an evaluation", which
        only change-triggered rules have; ``PutConfigRule`` refuses a scope on a periodic managed rule
        (AWS Config Developer Guide, "List of AWS Config Managed Rules by Trigger Type").
        """
        return None if self.periodic else self.resource_types

    def rule_name(self, stack: str) -> str:
        return f"cicd-{stack}-{self.control}"

    def description(self) -> str:
        return f"Runtime twin of policy rule '{self.twin_of}': {self.what}."


CODEBUILD = ("AWS::CodeBuild::Project",)
BUCKET = ("AWS::S3::Bucket",)
LOG_GROUP = ("AWS::Logs::LogGroup",)
IAM_POLICY = ("AWS::IAM::Policy",)


INPUT_PARAMETERS_LIMIT = 1024
"""AWS Config API Reference, ``ConfigRule.InputParameters``: a string of at most 1,024 characters."""


def privileged_build_projects(inputs: PlatformInputs) -> list[str]:
    """The projects the platform itself runs privileged: the image build of each container service.

    Derived from the catalog, like the projects themselves, so the twin's exemption follows the
    catalog with no list to keep.
    """
    return sorted(
        naming.image_build_project_name(service.name)
        for service in inputs.catalog.services
        if service.aws.platform == "ECS"
    )


def privileged_exemption(projects: list[str]) -> dict[str, str]:
    """``exemptedProjects`` for the managed rule, when the names fit its parameters; otherwise none.

    The managed rule takes project names only (no patterns) and AWS Config caps a rule's input
    parameters at 1,024 characters: about 45 image builds. Past that the twin exempts nothing, so
    the image builds show NON_COMPLIANT there by design (as the rotation-exempt secrets do), and any
    other privileged project still shows; a larger exemption would make ``pulumi up`` fail instead.
    """
    parameters = {"exemptedProjects": ",".join(projects)} if projects else {}
    return parameters if len(json.dumps(parameters, sort_keys=True)) <= INPUT_PARAMETERS_LIMIT else {}


def runtime_twins(inputs: PlatformInputs) -> tuple[RuntimeTwin, ...]:
    """Every twin, with the parameters the platform itself lives by."""
    privileged = privileged_build_projects(inputs)
    return (
        RuntimeTwin(
            "codebuild-envvar-awscred",
            "CODEBUILD_PROJECT_ENVVAR_AWSCRED_CHECK",
            "codebuild-no-plaintext-creds",
            CODEBUILD,
            "no AWS access keys in plaintext project environment variables",
        ),
        RuntimeTwin(
            "codebuild-source-url",
            "CODEBUILD_PROJECT_SOURCE_REPO_URL_CHECK",
            "codebuild-source-no-creds",
            CODEBUILD,
            "no sign-in credentials in source repository URLs",
        ),
        RuntimeTwin(
            "codebuild-logging",
            "CODEBUILD_PROJECT_LOGGING_ENABLED",
            "codebuild-logging",
            CODEBUILD,
            "at least one of CloudWatch or S3 logs is on",
        ),
        RuntimeTwin(
            "codebuild-s3-logs-encrypted",
            "CODEBUILD_PROJECT_S3_LOGS_ENCRYPTED",
            "codebuild-logging",
            CODEBUILD,
            "S3 build logs, where configured, are encrypted",
        ),
        RuntimeTwin(
            "codebuild-artifact-encryption",
            "CODEBUILD_PROJECT_ARTIFACT_ENCRYPTION",
            "codebuild-artifact-encryption",
            CODEBUILD,
            "artifact encryption is not disabled",
        ),
        RuntimeTwin(
            "codebuild-no-privileged",
            "CODEBUILD_PROJECT_ENVIRONMENT_PRIVILEGED_CHECK",
            "codebuild-no-privileged",
            CODEBUILD,
            "privileged mode only on the platform's image builds",
            # The projects the platform builds images with, derived from the catalog as they are.
            privileged_exemption(privileged),
        ),
        RuntimeTwin(
            "s3-kms",
            "S3_DEFAULT_ENCRYPTION_KMS",
            "s3-kms",
            ("AWS::S3::Bucket", "AWS::KMS::Key"),
            "buckets are encrypted with a KMS key",
        ),
        RuntimeTwin(
            "s3-versioning", "S3_BUCKET_VERSIONING_ENABLED", "s3-versioning", BUCKET, "bucket versioning is enabled"
        ),
        RuntimeTwin(
            "s3-no-public",
            "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
            "s3-no-public",
            BUCKET,
            "bucket-level public access settings are not public",
        ),
        RuntimeTwin(
            "s3-tls-only",
            "S3_BUCKET_SSL_REQUESTS_ONLY",
            "s3-tls-only",
            BUCKET,
            "bucket policies deny requests without TLS",
        ),
        RuntimeTwin(
            "kms-rotation",
            "CMK_BACKING_KEY_ROTATION_ENABLED",
            "kms-rotation",
            ("AWS::KMS::Key",),
            "customer managed keys rotate automatically",
            periodic=True,
        ),
        RuntimeTwin(
            "iam-no-admin",
            "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS",
            "iam-no-admin",
            IAM_POLICY,
            "no customer managed policy allows * on *",
        ),
        RuntimeTwin(
            "iam-no-full-access",
            "IAM_POLICY_NO_STATEMENTS_WITH_FULL_ACCESS",
            "iam-no-wildcards",
            IAM_POLICY,
            "no customer managed policy allows a whole service (svc:*)",
        ),
        RuntimeTwin(
            "sns-kms", "SNS_ENCRYPTED_KMS", "sns-hardening", ("AWS::SNS::Topic",), "topics are encrypted with KMS"
        ),
        RuntimeTwin(
            "lambda-no-public",
            "LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED",
            "lambda-access",
            ("AWS::Lambda::Function",),
            "function policies grant no public access",
        ),
        RuntimeTwin(
            "log-retention",
            "CW_LOGGROUP_RETENTION_PERIOD_CHECK",
            "log-retention",
            LOG_GROUP,
            f"log groups keep at least {LOG_RETENTION_DAYS} days",
            {"MinRetentionTime": str(LOG_RETENTION_DAYS)},
            periodic=True,
        ),
        RuntimeTwin(
            "log-encryption",
            "CLOUDWATCH_LOG_GROUP_ENCRYPTED",
            "log-retention",
            LOG_GROUP,
            "log groups are encrypted with a KMS key",
            periodic=True,
        ),
        RuntimeTwin(
            "secret-rotation",
            "SECRETSMANAGER_ROTATION_ENABLED_CHECK",
            "secret-rotation",
            ("AWS::SecretsManager::Secret",),
            f"secrets rotate at least every {SECRET_ROTATION_DAYS} days",
            {"maximumAllowedRotationFrequency": str(SECRET_ROTATION_DAYS)},
        ),
    )


@dataclass(frozen=True)
class ConfigRuleTwinsArgs:
    inputs: PlatformInputs


class ConfigRuleTwins(pulumi.ComponentResource):
    """The AWS Config managed rules twinning the policy pack, in the tooling account."""

    rule_names: list[str]

    def __init__(self, name: str, args: ConfigRuleTwinsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:ConfigRuleTwins", name, None, opts)
        stack = args.inputs.stack
        tags = standard_tags(stack)
        self.rule_names = []
        for twin in runtime_twins(args.inputs):
            rule_name = twin.rule_name(stack)
            scope = twin.scope()
            aws.cfg.Rule(
                f"{name}-{twin.control}",
                name=rule_name,
                description=twin.description(),
                source=aws.cfg.RuleSourceArgs(owner="AWS", source_identifier=twin.identifier),
                scope=aws.cfg.RuleScopeArgs(compliance_resource_types=list(scope)) if scope else None,
                input_parameters=json.dumps(dict(twin.parameters), sort_keys=True) if twin.parameters else None,
                maximum_execution_frequency=PERIODIC_FREQUENCY if twin.periodic else None,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.rule_names.append(rule_name)
        self.register_outputs({"ruleNames": self.rule_names})
