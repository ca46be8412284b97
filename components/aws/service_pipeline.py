"""Everything one service needs to go from a push to a running release.

Per service: a pipeline role, a build project (plus, for containers, an image
repository and the platform's image build, or a release project for Lambda
functions), a scan project with its report group, and per environment a deploy
target in that environment's account and a V2 pipeline (Source, Build, Scan,
Approve, Deploy, Verify). Roles are per service so a compromised build of one
service cannot deploy another.

Why containers get a second project: building an image needs a Docker daemon,
which CodeBuild runs only in privileged mode, and the build project runs the
team's own ``buildspec.yml``. The two documented ways to build images without a
privileged project of one's own share build state between builds of different
trust: CodeBuild's Docker server capability keeps one daemon and its images per
project for up to a month, for every branch's builds ("Docker image build server
sample"), and the managed compute of CodePipeline's ``ECRBuildAndPublish`` and
``Commands`` actions "might be reused for another pipeline execution" (Commands
action reference). Either way a feature branch could leave an image that a prod
build's ``FROM`` then uses. So the team's build runs unprivileged, and a
platform-owned project (pinned buildspec, no cache, a role that can push to this
service's repository only) builds the image after the unit tests. A project has
one role, so the project is per service: 4 resources (project, role, policy,
log group) per container service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from .. import iam
from ..azure.environment import AzureFoothold
from ..azure.service_target import AzureServiceTarget, AzureServiceTargetArgs
from ..coordination.gate_rule import DeployGateRule
from ..gcp.environment import GcpFoothold
from ..gcp.service_target import GcpServiceTarget, GcpServiceTargetArgs
from ..github.dispatch_action import dispatch_action
from ..governance.alarms import ServiceAlarms, ServiceAlarmsArgs
from ..governance.scans import ServiceScans, ServiceScansArgs, scan_actions, verify_actions
from ..model import naming
from ..model.catalog import Service
from ..model.platform_inputs import PlatformInputs
from ..model.settings import Environment
from ..model.tags import standard_tags
from ..pipeline.environment_pipeline import EnvironmentPipeline, EnvironmentPipelineArgs
from .codebuild_project import CodeBuildProject, CodeBuildProjectArgs, build_capacity, image_build_capacity
from .deploy_target import AwsDeployTarget, DeployTargetArgs
from .environment_account import AccountFoothold
from .image_repository import ImageRepository

AFTER_AWS_DEPLOY = 2
BUILDSPECS = Path(__file__).parent / "buildspecs"
LAMBDA_RELEASE_BUILDSPEC = (BUILDSPECS / "lambda_release.yml").read_text(encoding="utf-8")
IMAGE_BUILD_BUILDSPEC = (BUILDSPECS / "image_build.yml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ServicePipelineArgs:
    inputs: PlatformInputs
    service: Service
    accounts: Mapping[tuple[str, str], AccountFoothold]
    """Environment accounts by (environment name, account id)."""
    connection_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    deploy_gate: DeployGateRule | None = None
    """The fleet's deploy gate: a ``LambdaInvoke`` entry rule on every Deploy stage."""
    approval_topic_arn: pulumi.Input[str] | None = None
    """Release-news topic the service's approval actions publish to (when any environment asks for approval)."""
    approval_key_arn: pulumi.Input[str] | None = None
    """The topic's key: CodePipeline publishes as the pipeline role, which must encrypt with it."""
    gcp_environments: Mapping[str, GcpFoothold] = field(default_factory=dict)
    """GCP footholds by environment name, where some service deploys to GCP."""
    azure_environments: Mapping[str, AzureFoothold] = field(default_factory=dict)
    """Azure footholds by environment name, where some service deploys to Azure."""
    dispatch_function_name: pulumi.Input[str] | None = None
    """The stack's GitHub dispatch function; required when the service lists ``also_deploy_to``."""
    build_fleet_arn: pulumi.Input[str] | None = None
    """The reserved-capacity fleet of the service's build queue, when that queue is a fleet."""


class ServicePipeline(pulumi.ComponentResource):
    """Per environment, build the commit its branch carries and deploy it, for one catalog service.

    Environments follow different branches (develop, release/*, main), so each
    pipeline builds its own commit; the build project and roles are shared.
    """

    pipelines: dict[str, EnvironmentPipeline]
    cloud_targets: dict[str, dict[str, pulumi.Output[dict[str, str]]]]
    """environment → cloud → the GitHub environment variables its deploy workflow reads."""

    def __init__(self, name: str, args: ServicePipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:service:ServicePipeline", name, None, opts)
        self._name, self._args = name, args
        service, inputs = args.service, args.inputs
        self._tags = standard_tags(inputs.stack, service=service.name, owner=service.owner)
        environments = inputs.environments_for(service)
        deploy_role_arns = {env.name: inputs.deploy_role_arn(service, env) for env in environments}
        self._prefixes = inputs.artifact_prefixes(service)
        is_lambda = service.aws.platform == "Lambda"

        build = self._build_project()
        image_build = self._image_build_project(environments) if service.aws.platform == "ECS" else None
        release = self._release_project(list(deploy_role_arns.values())) if is_lambda else None
        accounts = {env.name: args.accounts[(env.name, env.account_id)] for env in environments}
        scans = ServiceScans(
            f"{name}-security",
            ServiceScansArgs(
                inputs=inputs,
                service=service,
                bucket_name=args.bucket_name,
                bucket_arn=args.bucket_arn,
                key_arn=args.key_arn,
                tags=self._tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        pipeline_role, pipeline_policy = self._pipeline_role(
            [build.arn, scans.project_arn] + [extra.arn for extra in (image_build, release) if extra],
            # Lambda deploys are handed to the release project; its role, not the pipeline's, assumes deploy roles.
            [] if is_lambda else list(deploy_role_arns.values()),
            naming.github_dispatch_function_arn(
                inputs.settings.region, inputs.settings.tooling_account_id, inputs.stack
            )
            if service.also_deploy_to
            else None,
        )
        tooling_role = naming.release_role_name(service.name) if is_lambda else naming.pipeline_role_name(service.name)

        self.pipelines = {}
        self.alarms: dict[str, ServiceAlarms] = {}
        self.cloud_targets = {}
        for environment in environments:
            self.cloud_targets[environment.name] = self._cloud_targets(environment)
            account = accounts[environment.name]
            alarms = self.alarms[environment.name] = ServiceAlarms(
                f"{name}-{environment.name}-alarms",
                ServiceAlarmsArgs(
                    stack=inputs.stack,
                    service=service,
                    environment=environment,
                    provider=account.provider,
                    topic_arn=account.alarm_topic_arn,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            target = AwsDeployTarget(
                f"{name}-{environment.name}-target",
                DeployTargetArgs(
                    stack=inputs.stack,
                    service=service,
                    account=account,
                    deploy_role_arn=deploy_role_arns[environment.name],
                    trusted_role_arn=inputs.tooling_role_arn(tooling_role),
                    organization_id=inputs.settings.organization_id,
                    bucket_arn=args.bucket_arn,
                    key_arn=args.key_arn,
                    artifact_prefix=self._prefixes[environment.name],
                    alarm_names=alarms.signal_alarm_names,
                    alarms=alarms.alarms,
                ),
                # IAM rejects a trust policy whose principal does not exist yet; CodeDeploy one naming a missing alarm.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[release or pipeline_role, alarms]),
            )
            dispatches = self._dispatch_actions(environment)
            self.pipelines[environment.name] = EnvironmentPipeline(
                f"{name}-{environment.name}",
                EnvironmentPipelineArgs(
                    stack=inputs.stack,
                    service=service,
                    environment=environment,
                    role_arn=pipeline_role.arn,
                    connection_arn=args.connection_arn,
                    bucket_name=args.bucket_name,
                    key_arn=args.key_arn,
                    build_project_name=build.name,
                    image_build_project_name=image_build.name if image_build else None,
                    target=target,
                    release_project_name=release.name if release else None,
                    approval_notification_arn=args.approval_topic_arn,
                    scan_actions=scan_actions(service, environment, scans.project_name),
                    verify_actions=verify_actions(service, environment, inputs, scans.project_name),
                    # The gate checks the freeze switch, the service's own health and its dependencies'.
                    deploy_entry_rules=(
                        [args.deploy_gate.for_deploy(service.name, environment.name)] if args.deploy_gate else []
                    ),
                    # Every environment rolls back a failed Deploy stage, a failed bake included: a
                    # half-deployed dev or qa misleads the next tester as much as prod misleads users.
                    rollback_on_failure=True,
                    extra_deploy_actions=[*dispatches, *self._bake(environment, dispatches)],
                ),
                # The gate and the bake read the health alarm from the first run on; CreatePipeline refuses an
                # action role the pipeline role cannot assume yet (InvalidStructureException), so the deploy role
                # and its policy come first.
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[pipeline_policy, alarms, *target.deploy_role_resources]
                ),
            )
        self.register_outputs(
            {
                "pipelines": {env: pipeline.name for env, pipeline in self.pipelines.items()},
                "cloudTargets": self.cloud_targets,
            }
        )

    def _dispatch_actions(self, environment: Environment) -> list[dict[str, object]]:
        """One GitHub dispatch per other cloud, after the AWS deploy: a release that fails on AWS goes no further."""
        service, function_name = self._args.service, self._args.dispatch_function_name
        if not service.also_deploy_to:
            return []
        if function_name is None:
            clouds = ", ".join(service.also_deploy_to)
            raise ValueError(f"{service.name} deploys to {clouds} but has no dispatch function")
        return [
            dispatch_action(function_name, service, environment, cloud, run_order=AFTER_AWS_DEPLOY)
            for cloud in service.also_deploy_to
        ]

    def _cloud_targets(self, environment: Environment) -> dict[str, pulumi.Output[dict[str, str]]]:
        """Identities and registries in GCP/Azure for the clouds this service also deploys to."""
        service, args = self._args.service, self._args
        stack, targets = args.inputs.stack, {}
        child = pulumi.ResourceOptions(parent=self)
        if "gcp" in service.also_deploy_to:
            targets["gcp"] = GcpServiceTarget(
                f"{self._name}-{environment.name}-gcp",
                GcpServiceTargetArgs(stack, service, environment, args.gcp_environments[environment.name]),
                opts=child,
            ).github_variables
        if "azure" in service.also_deploy_to:
            targets["azure"] = AzureServiceTarget(
                f"{self._name}-{environment.name}-azure",
                AzureServiceTargetArgs(stack, service, environment, args.azure_environments[environment.name]),
                opts=child,
            ).github_variables
        return targets

    def _bake(self, environment: Environment, dispatches: list[dict[str, object]]) -> list[dict[str, object]]:
        """Where the environment bakes, the stage's last action watches the health alarm for ``bakeMinutes``.

        A Lambda invoke action of the deploy gate's function, after the AWS deploy
        (run order 1) and any GCP/Azure dispatch: ALARM fails the action, so the
        stage fails and its on-failure ROLLBACK applies.
        """
        gate = self._args.deploy_gate
        if gate is None or not environment.bake_minutes:
            return []
        run_order = AFTER_AWS_DEPLOY + 1 if dispatches else AFTER_AWS_DEPLOY
        return [gate.bake_after(self._args.service.name, environment.name, environment.bake_minutes, run_order)]

    def _build_project(self) -> CodeBuildProject:
        """The service's build + unit-test project: the team's own buildspec, unprivileged, no registry rights."""
        service, inputs, args = self._args.service, self._args.inputs, self._args
        region, tooling = inputs.settings.region, inputs.settings.tooling_account_id
        project_name = naming.build_project_name(service.name)
        return CodeBuildProject(
            f"{self._name}-build",
            CodeBuildProjectArgs(
                project_name=project_name,
                role_name=naming.build_role_name(service.name),
                role_path=naming.tooling_role_path(inputs.stack),
                log_group_name=naming.build_log_group_name(service.name),
                description=f"Builds and unit-tests {service.name} ({service.language})",
                account_id=tooling,
                buildspec="buildspec.yml",
                key_arn=args.key_arn,
                policy_inputs={"bucket_arn": args.bucket_arn, "key_arn": args.key_arn},
                policy_for=lambda resolved: iam.build_role_policy(
                    region,
                    tooling,
                    project_name,
                    resolved["log_group_arn"],
                    resolved["bucket_arn"],
                    resolved["key_arn"],
                    list(self._prefixes.values()),
                ),
                tags=self._tags,
                timeout_minutes=inputs.settings.build_timeout_minutes,
                environment_variables={"SERVICE_NAME": service.name},
                capacity=build_capacity(inputs.build_queue_of(service), args.build_fleet_arn),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _image_build_project(self, environments: tuple[Environment, ...]) -> CodeBuildProject:
        """The container's image repository and the platform's image build, the only privileged project.

        The buildspec is the platform's file, inline in the project (a service repository cannot
        change it), and the role may push to this service's repository and no other.
        """
        service, inputs, args = self._args.service, self._args.inputs, self._args
        images = ImageRepository(
            f"{self._name}-images",
            stack=inputs.stack,
            service=service.name,
            owner=service.owner,
            region=inputs.settings.region,
            pull_account_ids=[env.account_id for env in environments],
            environments=[env.name for env in environments],
            kept_per_environment=inputs.settings.release_images_per_environment,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return CodeBuildProject(
            f"{self._name}-image-build",
            CodeBuildProjectArgs(
                project_name=naming.image_build_project_name(service.name),
                role_name=naming.image_build_role_name(service.name),
                role_path=naming.tooling_role_path(inputs.stack),
                log_group_name=naming.image_build_log_group_name(service.name),
                description=f"Builds and pushes the container image of {service.name} (platform-owned buildspec)",
                account_id=inputs.settings.tooling_account_id,
                buildspec=IMAGE_BUILD_BUILDSPEC,
                key_arn=args.key_arn,
                policy_inputs={"bucket_arn": args.bucket_arn, "key_arn": args.key_arn, "repository_arn": images.arn},
                policy_for=lambda resolved: iam.image_build_role_policy(
                    resolved["log_group_arn"],
                    resolved["bucket_arn"],
                    resolved["key_arn"],
                    resolved["repository_arn"],
                    list(self._prefixes.values()),
                ),
                tags=self._tags,
                timeout_minutes=inputs.settings.build_timeout_minutes,
                # The Docker daemon needs it; the pack allows it only on this pinned, single-repository build.
                privileged=True,
                environment_variables={"IMAGE_REPOSITORY_URI": images.url},
                capacity=image_build_capacity(inputs.build_queue_of(service)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _release_project(self, deploy_role_arns: list[str]) -> CodeBuildProject:
        """The platform-owned Lambda release runner; the only tooling role that may assume deploy roles."""
        service, args = self._args.service, self._args
        return CodeBuildProject(
            f"{self._name}-release",
            CodeBuildProjectArgs(
                project_name=naming.release_project_name(service.name),
                role_name=naming.release_role_name(service.name),
                role_path=naming.tooling_role_path(args.inputs.stack),
                log_group_name=naming.release_log_group_name(service.name),
                description=f"Publishes {service.name} and shifts its alias with CodeDeploy",
                account_id=args.inputs.settings.tooling_account_id,
                buildspec=LAMBDA_RELEASE_BUILDSPEC,
                key_arn=args.key_arn,
                policy_inputs={"bucket_arn": args.bucket_arn, "key_arn": args.key_arn},
                environment_variables={"ARTIFACT_BUCKET": args.bucket_name},
                policy_for=lambda resolved: iam.release_role_policy(
                    resolved["log_group_arn"],
                    resolved["bucket_arn"],
                    resolved["key_arn"],
                    deploy_role_arns,
                    list(self._prefixes.values()),
                    [naming.lambda_release_prefix(service.name, env) for env in self._prefixes],
                ),
                tags=self._tags,
                timeout_minutes=60,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _pipeline_role(
        self,
        project_arns: list[pulumi.Output[str]],
        assumable_role_arns: list[str],
        dispatch_function_arn: str | None,
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role all of this service's pipelines run as."""
        service, args = self._args.service, self._args
        role = aws.iam.Role(
            f"{self._name}-pipeline-role",
            name=naming.pipeline_role_name(service.name),
            path=naming.tooling_role_path(args.inputs.stack),
            description=f"Runs the pipelines of {service.name}",
            assume_role_policy=iam.to_json(
                iam.service_trust("codepipeline.amazonaws.com", args.inputs.settings.tooling_account_id)
            ),
            tags=self._tags,
            # Names are unique in an account whatever the path: replacing the role means deleting it first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-pipeline-policy",
            role=role.id,
            policy=pulumi.Output.all(
                args.bucket_arn,
                args.key_arn,
                args.connection_arn,
                args.approval_topic_arn or "",
                args.approval_key_arn or "",
                *project_arns,
            ).apply(
                lambda values: iam.to_json(
                    iam.pipeline_role_policy(
                        values[0],
                        values[1],
                        values[2],
                        values[5:],
                        assumable_role_arns,
                        list(self._prefixes.values()),
                        invoked_function_arns=[args.deploy_gate.function_arn] if args.deploy_gate else [],
                        approval_topic_arn=values[3] or None,
                        approval_key_arn=values[4] or None,
                        dispatch_function_arn=dispatch_function_arn,
                    )
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        return role, policy
