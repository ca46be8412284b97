"""Where one service lands in one environment: CodeDeploy objects and the deploy role.

Everything here lives in the environment account and is created through that
account's provider. The deploy role is the only identity that can change the
service there, it trusts exactly one role of the tooling account (the
pipeline role, or the Lambda release role), and only from inside the
organization.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.catalog import EcsTarget, LambdaTarget, ServerTarget, Service
from ..model.tags import standard_tags
from .environment_account import AccountFoothold

# Production shifts traffic gradually; other environments favour fast feedback.
DEPLOYMENT_CONFIGS = {
    ("ECS", True): "CodeDeployDefault.ECSCanary10Percent5Minutes",
    ("ECS", False): "CodeDeployDefault.ECSAllAtOnce",
    ("Lambda", True): "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    ("Lambda", False): "CodeDeployDefault.LambdaAllAtOnce",
    ("Server", True): "CodeDeployDefault.OneAtATime",
    ("Server", False): "CodeDeployDefault.HalfAtATime",
}


@dataclass(frozen=True)
class DeployTargetArgs:
    stack: str
    service: Service
    account: AccountFoothold
    deploy_role_arn: str
    trusted_role_arn: str
    organization_id: str
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    artifact_prefix: str
    """The S3 key prefix of this service's pipeline in this environment; the only artifacts its roles read."""
    alarm_names: Sequence[str] = ()
    """The service's signal alarms in this environment: any of them in ALARM stops and rolls back a deployment."""
    alarms: Sequence[pulumi.Resource] = ()
    """The alarm resources behind ``alarm_names``: CodeDeploy refuses a group naming an alarm that does not exist."""


ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]


class AwsDeployTarget(pulumi.ComponentResource):
    """CodeDeploy application + deployment group + cross-account deploy role."""

    application_name: pulumi.Output[str]
    deployment_group_name: pulumi.Output[str]
    deploy_role_arn: str
    deployment_config_name: str

    def __init__(self, name: str, args: DeployTargetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:deploy:AwsDeployTarget", name, None, opts)
        service, environment = args.service, args.account.environment
        target = service.aws
        in_account = pulumi.ResourceOptions(parent=self, provider=args.account.provider)
        invoke = pulumi.InvokeOptions(parent=self, provider=args.account.provider)
        tags = standard_tags(args.stack, service=service.name, owner=service.owner, environment=environment.name)
        region, account_id = environment.region, environment.account_id
        self.deployment_config_name = DEPLOYMENT_CONFIGS[(target.platform, environment.production)]

        application = aws.codedeploy.Application(
            f"{name}-application",
            name=naming.codedeploy_application_name(service.name, environment.name),
            compute_platform=target.platform,
            tags=tags,
            opts=in_account,
        )
        group_args: dict[str, object] = {}
        if isinstance(target, EcsTarget):
            load_balancer = aws.lb.get_load_balancer_output(name=target.load_balancer, opts=invoke)
            listener = aws.lb.get_listener_output(
                load_balancer_arn=load_balancer.arn, port=target.listener_port, opts=invoke
            )
            group_args = {
                "deployment_style": {"deployment_option": "WITH_TRAFFIC_CONTROL", "deployment_type": "BLUE_GREEN"},
                "blue_green_deployment_config": {
                    "deployment_ready_option": {"action_on_timeout": "CONTINUE_DEPLOYMENT"},
                    "terminate_blue_instances_on_deployment_success": {
                        "action": "TERMINATE",
                        "termination_wait_time_in_minutes": 15 if environment.production else 1,
                    },
                },
                "ecs_service": {"cluster_name": target.cluster, "service_name": target.service},
                "load_balancer_info": {
                    "target_group_pair_info": {
                        "prod_traffic_route": {"listener_arns": [listener.arn]},
                        "target_groups": [{"name": target.target_groups[0]}, {"name": target.target_groups[1]}],
                    }
                },
            }
        elif isinstance(target, LambdaTarget):
            group_args = {
                "deployment_style": {"deployment_option": "WITH_TRAFFIC_CONTROL", "deployment_type": "BLUE_GREEN"}
            }
        elif isinstance(target, ServerTarget):
            group_args = {
                "deployment_style": {"deployment_option": "WITHOUT_TRAFFIC_CONTROL", "deployment_type": "IN_PLACE"},
                "autoscaling_groups": list(target.autoscaling_groups),
                "outdated_instances_strategy": "UPDATE",
            }
        group = aws.codedeploy.DeploymentGroup(
            f"{name}-group",
            app_name=application.name,
            deployment_group_name=naming.deployment_group_name(service.name, environment.name),
            service_role_arn=args.account.codedeploy_role_arn,
            deployment_config_name=self.deployment_config_name,
            # CodeDeploy polls these alarms during the deployment (its managed service-role policies include
            # cloudwatch:DescribeAlarms) and stops, then rolls back, when one is in ALARM.
            auto_rollback_configuration={
                "enabled": True,
                "events": ROLLBACK_EVENTS if args.alarm_names else ROLLBACK_EVENTS[:1],
            },
            alarm_configuration=(
                {"enabled": True, "alarms": list(args.alarm_names), "ignore_poll_alarm_failure": False}
                if args.alarm_names
                else None
            ),
            tags=tags,
            # CodeDeploy validates (and for Server groups, uses) its service role while creating the group.
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.account.provider,
                depends_on=[*args.account.codedeploy_role_attachments, *args.alarms],
            ),
            **group_args,
        )

        codedeploy_arns = naming.codedeploy_arns(
            region,
            account_id,
            naming.codedeploy_application_name(service.name, environment.name),
            naming.deployment_group_name(service.name, environment.name),
            self.deployment_config_name,
        )
        role = aws.iam.Role(
            f"{name}-deploy-role",
            name=naming.deploy_role_name(service.name, environment.name),
            description=f"Deploys {service.name} to {environment.name}; assumed from the tooling account only",
            assume_role_policy=iam.to_json(iam.cross_account_trust(args.trusted_role_arn, args.organization_id)),
            max_session_duration=3600,
            permissions_boundary=args.account.permissions_boundary_arn,
            tags=tags,
            opts=in_account,
        )
        aws.iam.RolePolicy(
            f"{name}-deploy-policy",
            role=role.id,
            policy=pulumi.Output.all(args.bucket_arn, args.key_arn).apply(
                lambda arns: iam.to_json(
                    self._deploy_policy(target, service.name, environment.name, codedeploy_arns, *arns, args)
                )
            ),
            opts=pulumi.ResourceOptions(parent=role, provider=args.account.provider),
        )
        if isinstance(target, ServerTarget):
            # The CodeDeploy agent fetches revisions with the instance role; across accounts the
            # bucket and key policies are not enough without this identity policy.
            aws.iam.RolePolicy(
                f"{name}-instance-artifacts",
                name=f"cicd-artifacts-{service.name}-{environment.name}",
                role=target.instance_role,
                policy=pulumi.Output.all(args.bucket_arn, args.key_arn).apply(
                    lambda arns: iam.to_json(iam.instance_artifact_read_policy(arns[0], arns[1], args.artifact_prefix))
                ),
                opts=in_account,
            )
        self.application_name = application.name
        self.deployment_group_name = group.deployment_group_name
        self.deploy_role_arn = args.deploy_role_arn
        self.register_outputs(
            {
                "applicationName": application.name,
                "deploymentGroupName": group.deployment_group_name,
                "deployRoleArn": role.arn,
            }
        )

    @staticmethod
    def _deploy_policy(
        target: EcsTarget | LambdaTarget | ServerTarget,
        service: str,
        environment: str,
        codedeploy_arns: list[str],
        bucket_arn: str,
        key_arn: str,
        args: DeployTargetArgs,
    ) -> iam.Document:
        region, account_id = args.account.environment.region, args.account.environment.account_id
        partition = naming.partition_of(region)
        if isinstance(target, EcsTarget):
            passed = [naming.role_arn(region, account_id, role) for role in target.passed_roles]
            task_definitions = f"arn:{partition}:ecs:{region}:{account_id}:task-definition/*"
            return iam.ecs_deploy_policy(
                codedeploy_arns, passed, bucket_arn, key_arn, args.artifact_prefix, task_definitions
            )
        if isinstance(target, LambdaTarget):
            function_arn = f"arn:{partition}:lambda:{region}:{account_id}:function:{target.function}"
            return iam.lambda_deploy_policy(
                function_arn, codedeploy_arns, bucket_arn, key_arn, naming.lambda_release_prefix(service, environment)
            )
        return iam.server_deploy_policy(codedeploy_arns, bucket_arn, key_arn, args.artifact_prefix)
