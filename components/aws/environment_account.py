"""One environment's foothold in its AWS account: a provider, the CodeDeploy service role and alarm plumbing.

The program runs with tooling-account credentials. Everything in an
environment account is created through an ``aws.Provider`` that assumes the
account's bootstrap role (created once per account by the landing zone; see
README). ``allowed_account_ids`` makes a misconfigured role fail fast
instead of deploying into the wrong account.

Every role created here carries the permissions boundary the bootstrap created in
the account (``permissions_boundary_arn``): the bootstrap role may create a role
only with it (``bootstrap/permissions.py``).

Shared by every service deployed there: the encrypted topic the platform's
alarms notify, the read-only role the rollback reporter and the coordination
functions (deploy gate and its bake, coordinator) read alarms through (and the
failure digest a failed deployment's lifecycle events), and the
forwarding of the health alarms and failed deployments of the ``services`` placed
in this account to the tooling account's deploy-events bus (where the rollback
reporter listens).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pulumi
import pulumi_aws as aws

from .. import iam
from ..governance.alarm_topic import AlarmTopic
from ..governance.event_forwarding import EventForwarding
from ..model import naming
from ..model.settings import Environment
from ..model.tags import standard_tags

CODEDEPLOY_MANAGED_POLICIES = {
    "ECS": "arn:{partition}:iam::aws:policy/AWSCodeDeployRoleForECS",
    "Lambda": "arn:{partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda",
    "Server": "arn:{partition}:iam::aws:policy/service-role/AWSCodeDeployRole",
}


class AccountFoothold(Protocol):
    """What a service's deploy target and pipeline need of an environment account.

    ``EnvironmentAccount`` (whole and core stacks) creates these pieces; a shard stack reads
    them from its core (``components.shards``) and brings only its own provider.
    """

    environment: Environment
    provider: aws.Provider
    codedeploy_role_arn: pulumi.Input[str]
    codedeploy_role_attachments: Sequence[pulumi.Resource]
    alarm_topic_arn: pulumi.Input[str]
    alarm_reader_role_arn: str
    alarm_reader: pulumi.Resource | None
    permissions_boundary_arn: str


def environment_provider(
    name: str, stack: str, environment: Environment, bootstrap_role_name: str, opts: pulumi.ResourceOptions
) -> aws.Provider:
    """The provider into an environment account: assumes its bootstrap role, refuses any other account."""
    return aws.Provider(
        f"{name}-provider",
        region=environment.region,
        allowed_account_ids=[environment.account_id],
        # Typed args, not dict literals: provider config is JSON-encoded on the wire and
        # only the typed classes translate keys to the names the provider expects.
        assume_roles=[
            aws.ProviderAssumeRoleArgs(
                role_arn=naming.role_arn(environment.region, environment.account_id, bootstrap_role_name),
                session_name=f"cicd-platform-{stack}"[:64],
            )
        ],
        default_tags=aws.ProviderDefaultTagsArgs(tags=standard_tags(stack, environment=environment.name)),
        opts=opts,
    )


class EnvironmentAccount(pulumi.ComponentResource):
    """Provider into an environment account, plus the role CodeDeploy itself runs as there."""

    provider: aws.Provider
    codedeploy_role_arn: pulumi.Output[str]
    codedeploy_role_attachments: list[aws.iam.RolePolicyAttachment]
    """Deployment groups wait for these: Server groups install Auto Scaling lifecycle hooks through the role."""
    alarm_topic_arn: pulumi.Output[str]
    alarm_reader_role_arn: str
    alarm_reader: aws.iam.Role
    permissions_boundary_arn: str
    """The bootstrap's permissions boundary in this account: every role created here carries it."""

    def __init__(
        self,
        name: str,
        stack: str,
        environment: Environment,
        bootstrap_role_name: str,
        platforms: frozenset[str],
        tooling_account_id: str,
        organization_id: str,
        deploy_events_bus_arn: str,
        permissions_boundary_name: str,
        opts: pulumi.ResourceOptions | None = None,
        *,
        services: Sequence[str],
    ) -> None:
        super().__init__("cicd:accounts:EnvironmentAccount", name, None, opts)
        self.environment = environment
        self.permissions_boundary_arn = naming.permissions_boundary_arn(
            environment.region, environment.account_id, permissions_boundary_name
        )
        self.provider = environment_provider(
            name, stack, environment, bootstrap_role_name, pulumi.ResourceOptions(parent=self)
        )
        in_account = pulumi.ResourceOptions(parent=self, provider=self.provider)
        role = aws.iam.Role(
            f"{name}-codedeploy-role",
            name=naming.codedeploy_service_role_name(environment.name),
            description=f"CodeDeploy service role for the {environment.name} environment",
            assume_role_policy=iam.to_json(iam.service_trust("codedeploy.amazonaws.com", environment.account_id)),
            permissions_boundary=self.permissions_boundary_arn,
            tags=standard_tags(stack, environment=environment.name),
            opts=in_account,
        )
        partition = naming.partition_of(environment.region)
        self.codedeploy_role_attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-codedeploy-{platform.lower()}",
                role=role.name,
                policy_arn=CODEDEPLOY_MANAGED_POLICIES[platform].format(partition=partition),
                opts=pulumi.ResourceOptions(parent=role, provider=self.provider),
            )
            for platform in sorted(platforms)
        ]
        self.codedeploy_role_arn = role.arn

        topic = AlarmTopic(
            f"{name}-alarms", stack, environment, self.provider, opts=pulumi.ResourceOptions(parent=self)
        )
        self.alarm_topic_arn = topic.topic_arn
        region, account_id = environment.region, environment.account_id
        self.alarm_reader_role_arn = naming.role_arn(
            region, account_id, naming.alarm_reader_role_name(environment.name)
        )
        self.alarm_reader = aws.iam.Role(
            f"{name}-alarm-reader",
            name=naming.alarm_reader_role_name(environment.name),
            description=f"The deploy gate, its bake and the rollback reporter read the {environment.name} alarms; "
            "the failure digest reads failed deployments",
            assume_role_policy=iam.to_json(
                iam.alarm_reader_trust(
                    region,
                    tooling_account_id,
                    organization_id,
                    naming.role_arn(region, tooling_account_id, naming.rollback_reporter_name(stack)),
                    [
                        naming.role_arn(region, tooling_account_id, naming.coordination_function_name(stack, function))
                        for function in naming.COORDINATION_FUNCTIONS
                    ],
                    failure_digest_role_arn=naming.role_arn(
                        region, tooling_account_id, naming.failure_digest_name(stack)
                    ),
                )
            ),
            max_session_duration=3600,
            permissions_boundary=self.permissions_boundary_arn,
            tags=standard_tags(stack, environment=environment.name),
            opts=in_account,
        )
        aws.iam.RolePolicy(
            f"{name}-alarm-reader-policy",
            role=self.alarm_reader.id,
            policy=iam.to_json(
                iam.alarm_reader_policy(naming.partition_of(region), region, account_id, environment.name)
            ),
            opts=pulumi.ResourceOptions(parent=self.alarm_reader, provider=self.provider),
        )
        EventForwarding(
            f"{name}-forwarding",
            stack,
            environment,
            self.provider,
            deploy_events_bus_arn,
            permissions_boundary_arn=self.permissions_boundary_arn,
            opts=pulumi.ResourceOptions(parent=self),
            services=services,
        )
        self.register_outputs(
            {
                "codedeployRoleArn": role.arn,
                "alarmTopicArn": topic.topic_arn,
                "alarmReaderRoleArn": self.alarm_reader.arn,
            }
        )
