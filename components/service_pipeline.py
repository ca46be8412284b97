"""Everything one service needs to go from a push to a running release.

Per service: a pipeline role, a build project (plus an image repository for
containers, or a release project for Lambda functions), and per environment a
deploy target in that environment's account and a V2 pipeline. Roles are per
service so a compromised build of one service cannot deploy another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from . import iam_documents, naming
from .catalog import Service
from .codebuild_project import CodeBuildProject, CodeBuildProjectArgs
from .deploy_target import AwsDeployTarget, DeployTargetArgs
from .environment_account import EnvironmentAccount
from .environment_pipeline import EnvironmentPipeline, EnvironmentPipelineArgs
from .image_repository import ImageRepository
from .platform_inputs import PlatformInputs
from .tags import standard_tags

LAMBDA_RELEASE_BUILDSPEC = (Path(__file__).parent / "buildspecs" / "lambda_release.yml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ServicePipelineArgs:
    inputs: PlatformInputs
    service: Service
    accounts: Mapping[tuple[str, str], EnvironmentAccount]
    """Environment accounts by (environment name, account id)."""
    connection_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]


class ServicePipeline(pulumi.ComponentResource):
    """Build once, deploy per environment, for one catalog service."""

    pipelines: dict[str, EnvironmentPipeline]

    def __init__(self, name: str, args: ServicePipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:service:ServicePipeline", name, None, opts)
        service, inputs = args.service, args.inputs
        settings = inputs.settings
        region, tooling = settings.region, settings.tooling_account_id
        tags = standard_tags(inputs.stack, service=service.name, owner=service.owner)
        environments = inputs.environments_for(service)
        child = pulumi.ResourceOptions(parent=self)
        deploy_role_arns = {env.name: inputs.deploy_role_arn(service, env) for env in environments}
        pipeline_role_arn = naming.role_arn(region, tooling, naming.pipeline_role_name(service.name))
        release_role_arn = naming.role_arn(region, tooling, naming.release_role_name(service.name))
        is_lambda = service.aws.platform == "Lambda"

        image_repository = None
        if service.aws.platform == "ECS":
            image_repository = ImageRepository(
                f"{name}-images",
                stack=inputs.stack,
                service=service.name,
                owner=service.owner,
                region=region,
                pull_account_ids=[env.account_id for env in environments],
                opts=child,
            )
        build_policy_inputs: dict[str, pulumi.Input[str]] = {"bucket_arn": args.bucket_arn, "key_arn": args.key_arn}
        build_variables: dict[str, pulumi.Input[str]] = {"SERVICE_NAME": service.name}
        if image_repository:
            build_policy_inputs["image_repository_arn"] = image_repository.arn
            build_variables["IMAGE_REPOSITORY_URI"] = image_repository.url
        build = CodeBuildProject(
            f"{name}-build",
            CodeBuildProjectArgs(
                project_name=naming.build_project_name(service.name),
                role_name=naming.build_role_name(service.name),
                log_group_name=naming.build_log_group_name(service.name),
                description=f"Builds and unit-tests {service.name} ({service.language})",
                account_id=tooling,
                buildspec="buildspec.yml",
                key_arn=args.key_arn,
                policy_inputs=build_policy_inputs,
                policy_for=lambda resolved: iam_documents.build_role_policy(
                    region,
                    tooling,
                    naming.build_project_name(service.name),
                    resolved["log_group_arn"],
                    resolved["bucket_arn"],
                    resolved["key_arn"],
                    resolved.get("image_repository_arn"),
                ),
                tags=tags,
                timeout_minutes=settings.build_timeout_minutes,
                # Docker builds need the daemon; nothing else gets privileged mode.
                privileged=service.aws.platform == "ECS",
                environment_variables=build_variables,
            ),
            opts=child,
        )
        project_arns: list[pulumi.Input[str]] = [build.arn]

        release = None
        if is_lambda:
            release = CodeBuildProject(
                f"{name}-release",
                CodeBuildProjectArgs(
                    project_name=naming.release_project_name(service.name),
                    role_name=naming.release_role_name(service.name),
                    log_group_name=naming.release_log_group_name(service.name),
                    description=f"Publishes {service.name} and shifts its alias with CodeDeploy",
                    account_id=tooling,
                    buildspec=LAMBDA_RELEASE_BUILDSPEC,
                    key_arn=args.key_arn,
                    policy_inputs={"bucket_arn": args.bucket_arn, "key_arn": args.key_arn},
                    policy_for=lambda resolved: iam_documents.release_role_policy(
                        resolved["log_group_arn"],
                        resolved["bucket_arn"],
                        resolved["key_arn"],
                        list(deploy_role_arns.values()),
                    ),
                    tags=tags,
                    timeout_minutes=60,
                ),
                opts=child,
            )
            project_arns.append(release.arn)

        pipeline_role = aws.iam.Role(
            f"{name}-pipeline-role",
            name=naming.pipeline_role_name(service.name),
            description=f"Runs the pipelines of {service.name}",
            assume_role_policy=iam_documents.to_json(
                iam_documents.service_trust("codepipeline.amazonaws.com", tooling)
            ),
            tags=tags,
            opts=child,
        )
        pipeline_policy = aws.iam.RolePolicy(
            f"{name}-pipeline-policy",
            role=pipeline_role.id,
            policy=pulumi.Output.all(args.bucket_arn, args.key_arn, args.connection_arn, *project_arns).apply(
                lambda values: iam_documents.to_json(
                    iam_documents.pipeline_role_policy(
                        values[0],
                        values[1],
                        values[2],
                        values[3:],
                        [] if is_lambda else list(deploy_role_arns.values()),
                    )
                )
            ),
            opts=pulumi.ResourceOptions(parent=pipeline_role),
        )

        self.pipelines = {}
        for environment in environments:
            target = AwsDeployTarget(
                f"{name}-{environment.name}-target",
                DeployTargetArgs(
                    stack=inputs.stack,
                    service=service,
                    account=args.accounts[(environment.name, environment.account_id)],
                    deploy_role_arn=deploy_role_arns[environment.name],
                    trusted_role_arn=release_role_arn if is_lambda else pipeline_role_arn,
                    organization_id=settings.organization_id,
                    bucket_arn=args.bucket_arn,
                    key_arn=args.key_arn,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[pipeline_role] + ([release] if release else [])),
            )
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
                    target=target,
                    release_project_name=release.name if release else None,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[pipeline_policy]),
            )
        self.register_outputs({env: pipeline.name for env, pipeline in self.pipelines.items()})
