"""One environment's foothold in its AWS account: a provider and the CodeDeploy service role.

The program runs with tooling-account credentials. Everything in an
environment account is created through an ``aws.Provider`` that assumes the
account's bootstrap role (created once per account by the landing zone; see
README). ``allowed_account_ids`` makes a misconfigured role fail fast
instead of deploying into the wrong account.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.settings import Environment
from ..model.tags import standard_tags

CODEDEPLOY_MANAGED_POLICIES = {
    "ECS": "arn:{partition}:iam::aws:policy/AWSCodeDeployRoleForECS",
    "Lambda": "arn:{partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda",
    "Server": "arn:{partition}:iam::aws:policy/service-role/AWSCodeDeployRole",
}


class EnvironmentAccount(pulumi.ComponentResource):
    """Provider into an environment account, plus the role CodeDeploy itself runs as there."""

    provider: aws.Provider
    codedeploy_role_arn: pulumi.Output[str]
    codedeploy_role_attachments: list[aws.iam.RolePolicyAttachment]
    """Deployment groups wait for these: Server groups install Auto Scaling lifecycle hooks through the role."""

    def __init__(
        self,
        name: str,
        stack: str,
        environment: Environment,
        bootstrap_role_name: str,
        platforms: frozenset[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cicd:accounts:EnvironmentAccount", name, None, opts)
        self.environment = environment
        self.provider = aws.Provider(
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
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_account = pulumi.ResourceOptions(parent=self, provider=self.provider)
        role = aws.iam.Role(
            f"{name}-codedeploy-role",
            name=naming.codedeploy_service_role_name(environment.name),
            description=f"CodeDeploy service role for the {environment.name} environment",
            assume_role_policy=iam.to_json(iam.service_trust("codedeploy.amazonaws.com", environment.account_id)),
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
        self.register_outputs({"codedeployRoleArn": role.arn})
