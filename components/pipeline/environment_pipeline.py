"""One CodePipeline V2 for one service in one environment.

Each environment gets its own pipeline, started only by pushes to that
environment's branch pattern (a V2 git trigger), so a feature branch can
never reach prod and prod's queue is never blocked by dev traffic. The stage
layout is the contract in DESIGN.md: Source → Build → (Approve) → Deploy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..aws.deploy_target import AwsDeployTarget
from ..model import branch_pattern, naming
from ..model.catalog import Service
from ..model.settings import DeployWindow, Environment
from ..model.tags import standard_tags

SOURCE_ACTION = "Source"
SOURCE_ARTIFACT = "source_output"
BUILD_ARTIFACT = "build_output"


@dataclass(frozen=True)
class EnvironmentPipelineArgs:
    stack: str
    service: Service
    environment: Environment
    role_arn: pulumi.Input[str]
    connection_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    build_project_name: pulumi.Input[str]
    target: AwsDeployTarget
    release_project_name: pulumi.Input[str] | None = None


def source_branch(service: Service, environment: Environment) -> str:
    """The branch a manual 'Release change' builds: the pattern itself when it is one branch."""
    return environment.branch if branch_pattern.is_literal(environment.branch) else service.default_branch


def deployment_window_condition(window: DeployWindow) -> dict[str, object]:
    """Entry condition: outside the window the execution fails at Deploy instead of shipping.

    A failed entry can be retried once the window opens; the native rule needs no
    Lambda and no extra permission on the pipeline role.
    """
    return {
        "result": "FAIL",
        "rules": [
            {
                "name": "DeploymentWindow",
                "rule_type_id": {"category": "Rule", "owner": "AWS", "provider": "DeploymentWindow", "version": "1"},
                "configuration": {"Cron": window.cron, "TimeZone": window.timezone},
            }
        ],
    }


def _codebuild_variables(variables: dict[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    return pulumi.Output.all(**variables).apply(
        lambda resolved: json.dumps([{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in sorted(resolved.items())])
    )


class EnvironmentPipeline(pulumi.ComponentResource):
    """A V2 pipeline with a push trigger filtered to the environment's branches."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: EnvironmentPipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:pipeline:EnvironmentPipeline", name, None, opts)
        service, environment = args.service, args.environment
        stages = [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": SOURCE_ACTION,
                        "category": "Source",
                        "owner": "AWS",
                        "provider": "CodeStarSourceConnection",
                        "version": "1",
                        "output_artifacts": [SOURCE_ARTIFACT],
                        "configuration": {
                            "ConnectionArn": args.connection_arn,
                            "FullRepositoryId": service.repository,
                            "BranchName": source_branch(service, environment),
                            "OutputArtifactFormat": "CODE_ZIP",
                        },
                    }
                ],
            },
            {
                "name": "Build",
                "actions": [
                    {
                        "name": "BuildAndUnitTest",
                        "category": "Build",
                        "owner": "AWS",
                        "provider": "CodeBuild",
                        "version": "1",
                        "input_artifacts": [SOURCE_ARTIFACT],
                        "output_artifacts": [BUILD_ARTIFACT],
                        "configuration": {
                            "ProjectName": args.build_project_name,
                            "EnvironmentVariables": _codebuild_variables({"TARGET_ENVIRONMENT": environment.name}),
                        },
                    }
                ],
            },
        ]
        if environment.approval:
            stages.append(
                {
                    "name": "Approve",
                    "actions": [
                        {
                            "name": "ReleaseApproval",
                            "category": "Approval",
                            "owner": "AWS",
                            "provider": "Manual",
                            "version": "1",
                            "configuration": {
                                "CustomData": f"Release {service.name} to {environment.name} ({service.owner})"
                            },
                        }
                    ],
                }
            )
        deploy_stage: dict[str, object] = {"name": "Deploy", "actions": [self._deploy_action(args)]}
        if environment.deploy_window:
            deploy_stage["before_entry"] = {"condition": deployment_window_condition(environment.deploy_window)}
        stages.append(deploy_stage)

        pipeline = aws.codepipeline.Pipeline(
            f"{name}-pipeline",
            name=naming.pipeline_name(service.name, environment.name),
            pipeline_type="V2",
            execution_mode=environment.execution_mode,
            role_arn=args.role_arn,
            artifact_stores=[
                {"location": args.bucket_name, "type": "S3", "encryption_key": {"id": args.key_arn, "type": "KMS"}}
            ],
            triggers=[
                {
                    "provider_type": "CodeStarSourceConnection",
                    "git_configuration": {
                        "source_action_name": SOURCE_ACTION,
                        "pushes": [{"branches": {"includes": [environment.branch]}}],
                    },
                }
            ],
            stages=stages,
            tags=standard_tags(args.stack, service=service.name, owner=service.owner, environment=environment.name),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = pipeline.arn
        self.name = pipeline.name
        self.register_outputs({"arn": pipeline.arn, "name": pipeline.name})

    @staticmethod
    def _deploy_action(args: EnvironmentPipelineArgs) -> dict[str, object]:
        service, environment, target = args.service, args.environment, args.target
        platform = service.aws.platform
        if platform == "Lambda":
            # CodeDeploy shifts Lambda traffic but does not upload code: a platform-owned
            # release project publishes the version, then starts the CodeDeploy deployment.
            return {
                "name": "ReleaseFunction",
                "category": "Build",
                "owner": "AWS",
                "provider": "CodeBuild",
                "version": "1",
                "input_artifacts": [BUILD_ARTIFACT],
                "configuration": {
                    "ProjectName": args.release_project_name,
                    "EnvironmentVariables": _codebuild_variables(
                        {
                            "DEPLOY_ROLE_ARN": target.deploy_role_arn,
                            "TARGET_REGION": environment.region,
                            "FUNCTION_NAME": service.aws.function,
                            "FUNCTION_ALIAS": service.aws.alias,
                            "CODEDEPLOY_APPLICATION": target.application_name,
                            "CODEDEPLOY_GROUP": target.deployment_group_name,
                        }
                    ),
                },
            }
        common = {
            "category": "Deploy",
            "owner": "AWS",
            "version": "1",
            "input_artifacts": [BUILD_ARTIFACT],
            "region": environment.region,
            "role_arn": target.deploy_role_arn,
        }
        if platform == "ECS":
            return {
                **common,
                "name": "BlueGreenDeploy",
                "provider": "CodeDeployToECS",
                "configuration": {
                    "ApplicationName": target.application_name,
                    "DeploymentGroupName": target.deployment_group_name,
                    "TaskDefinitionTemplateArtifact": BUILD_ARTIFACT,
                    "TaskDefinitionTemplatePath": "taskdef.json",
                    "AppSpecTemplateArtifact": BUILD_ARTIFACT,
                    "AppSpecTemplatePath": "appspec.yaml",
                    "Image1ArtifactName": BUILD_ARTIFACT,
                    "Image1ContainerName": "IMAGE1_NAME",
                },
            }
        return {
            **common,
            "name": "InPlaceDeploy",
            "provider": "CodeDeploy",
            "configuration": {
                "ApplicationName": target.application_name,
                "DeploymentGroupName": target.deployment_group_name,
            },
        }
