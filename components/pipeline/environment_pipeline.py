"""One CodePipeline V2 for one service in one environment.

Each environment gets its own pipeline, started only by pushes to that
environment's branch pattern (a V2 git trigger), so a feature branch can
never reach prod and prod's queue is never blocked by dev traffic. The stages
are built in ``stages.py``; features (scans, approvals, gates, rollback,
coordination, other clouds) contribute actions and rules through the fields of
``EnvironmentPipelineArgs`` and never edit the stage layout itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..aws.deploy_target import AwsDeployTarget
from ..model import naming
from ..model.catalog import Service
from ..model.settings import Environment
from ..model.tags import standard_tags
from . import stages
from .conditions import Rule, deployment_window_rule
from .stages import BUILD_ARTIFACT, IMAGE_ARTIFACT, SOURCE_ACTION, Action


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
    image_build_project_name: pulumi.Input[str] | None = None
    """The platform's image build (container services): runs after the unit tests, feeds the ECS deploy."""
    release_project_name: pulumi.Input[str] | None = None
    scan_actions: Sequence[Action] = ()
    """Security scans, run in parallel in a Scan stage between Build and any deploy."""
    approval_notification_arn: pulumi.Input[str] | None = None
    """SNS topic the manual approval publishes to (where the environment asks for approval)."""
    deploy_entry_rules: Sequence[Rule] = ()
    """Gates checked on entry to Deploy (the deploy gate); the deployment window is held one stage earlier."""
    deploy_success_rules: Sequence[Rule] = ()
    """Rules checked after a successful Deploy stage; a failing one rolls the stage back. The platform's bake is
    an action at the end of the stage instead (``coordination.gate_rule``), so it sets none."""
    rollback_on_failure: bool = False
    """A failed deploy stage rolls back to the last successful execution's artifacts."""
    extra_deploy_actions: Sequence[Action] = ()
    """More actions after the AWS deploy: other clouds through GitHub Actions, then the bake."""
    verify_actions: Sequence[Action] = ()
    """Checks against the deployed service (DAST, integration tests) in a Verify stage."""


class EnvironmentPipeline(pulumi.ComponentResource):
    """A V2 pipeline with a push trigger filtered to the environment's branches."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: EnvironmentPipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:pipeline:EnvironmentPipeline", name, None, opts)
        service, environment = args.service, args.environment
        before_deploy = [
            stage
            for stage in (
                stages.source_stage(service, environment, args.connection_arn),
                stages.build_stage(service, environment, args.build_project_name, args.image_build_project_name),
                stages.scan_stage(args.scan_actions),
                stages.approval_stage(service, environment, args.approval_notification_arn),
            )
            if stage is not None
        ]
        if environment.deploy_window:
            stages.hold_for_window(before_deploy[-1], deployment_window_rule(environment.deploy_window))
        layout = [
            *before_deploy,
            stages.deploy_stage(
                [self._deploy_action(args), *args.extra_deploy_actions],
                entry_rules=args.deploy_entry_rules,
                success_rules=args.deploy_success_rules,
                rollback_on_failure=args.rollback_on_failure,
            ),
            stages.verify_stage(args.verify_actions),
        ]
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
            stages=[stage for stage in layout if stage is not None],
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
                    "EnvironmentVariables": stages.codebuild_variables(
                        {
                            "DEPLOY_ROLE_ARN": target.deploy_role_arn,
                            "TARGET_REGION": environment.region,
                            "FUNCTION_NAME": service.aws.function,
                            "FUNCTION_ALIAS": service.aws.alias,
                            "CODEDEPLOY_APPLICATION": target.application_name,
                            "CODEDEPLOY_GROUP": target.deployment_group_name,
                            "RELEASE_PREFIX": naming.lambda_release_prefix(service.name, environment.name),
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
                # The task definition and AppSpec come from the team's build, the image from the platform's.
                "input_artifacts": [BUILD_ARTIFACT, IMAGE_ARTIFACT],
                "name": "BlueGreenDeploy",
                "provider": "CodeDeployToECS",
                "configuration": {
                    "ApplicationName": target.application_name,
                    "DeploymentGroupName": target.deployment_group_name,
                    "TaskDefinitionTemplateArtifact": BUILD_ARTIFACT,
                    "TaskDefinitionTemplatePath": "taskdef.json",
                    "AppSpecTemplateArtifact": BUILD_ARTIFACT,
                    "AppSpecTemplatePath": "appspec.yaml",
                    "Image1ArtifactName": IMAGE_ARTIFACT,
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
