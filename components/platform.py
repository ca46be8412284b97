"""The whole platform of one stack: shared pieces first, then one ServicePipeline per service.

Services are declared in dependency order so the plan (and ``pulumi up``'s
output) reads the way releases roll out: auth before booking, and so on.
"""

from __future__ import annotations

import pulumi

from .aws.artifact_store import ArtifactStore, ArtifactStoreArgs
from .aws.environment_account import EnvironmentAccount
from .aws.github_connection import GitHubConnection
from .aws.service_pipeline import ServicePipeline, ServicePipelineArgs
from .azure.environment import AzureEnvironment, AzureEnvironmentArgs
from .gcp.environment import GcpEnvironment, GcpEnvironmentArgs
from .github.dispatch_function import GitHubDispatch, GitHubDispatchArgs
from .model.platform_inputs import PlatformInputs


class Platform(pulumi.ComponentResource):
    """Artifact store, GitHub connection, environment accounts and every service's pipelines."""

    services: dict[str, ServicePipeline]

    def __init__(self, name: str, inputs: PlatformInputs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:platform:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = inputs.settings
        self.artifacts = ArtifactStore("artifacts", ArtifactStoreArgs(inputs=inputs), opts=child)
        self.connection = GitHubConnection("github", inputs.stack, settings.github_owner, opts=child)
        accounts: dict[tuple[str, str], EnvironmentAccount] = {}
        default_accounts = {environment.name: environment.account_id for environment in settings.environments}
        for environment, platforms in inputs.environment_accounts():
            # The stack's own account keeps the short name; service-specific accounts are suffixed.
            suffix = (
                "" if default_accounts[environment.name] == environment.account_id else f"-{environment.account_id}"
            )
            accounts[(environment.name, environment.account_id)] = EnvironmentAccount(
                f"env-{environment.name}{suffix}",
                inputs.stack,
                environment,
                settings.bootstrap_role_name,
                platforms,
                opts=child,
            )
        # Footholds in GCP and Azure only where a service deploys there.
        gcp_environments = {
            environment.name: GcpEnvironment(
                f"gcp-{environment.name}", GcpEnvironmentArgs(inputs.stack, environment, repositories), opts=child
            )
            for environment, repositories in inputs.cloud_environments("gcp")
        }
        azure_environments = {
            environment.name: AzureEnvironment(
                f"azure-{environment.name}", AzureEnvironmentArgs(inputs.stack, environment), opts=child
            )
            for environment, _ in inputs.cloud_environments("azure")
        }
        # One dispatch function serves every service that hands deploys to GitHub Actions.
        self.dispatch = (
            GitHubDispatch("github-dispatch", GitHubDispatchArgs(inputs=inputs), opts=child)
            if any(service.also_deploy_to for service in inputs.catalog.services)
            else None
        )
        self.services = {}
        for service_name in inputs.catalog.deploy_order:
            service = inputs.catalog.service(service_name)
            self.services[service_name] = ServicePipeline(
                service_name,
                ServicePipelineArgs(
                    inputs=inputs,
                    service=service,
                    accounts=accounts,
                    connection_arn=self.connection.arn,
                    bucket_name=self.artifacts.bucket_name,
                    bucket_arn=self.artifacts.bucket_arn,
                    key_arn=self.artifacts.key_arn,
                    gcp_environments=gcp_environments,
                    azure_environments=azure_environments,
                    dispatch_function_name=self.dispatch.function_name if self.dispatch else None,
                ),
                opts=child,
            )
        self.register_outputs(
            {
                "artifactBucket": self.artifacts.bucket_name,
                "githubConnectionArn": self.connection.arn,
                "pipelines": {
                    name: {env: pipeline.name for env, pipeline in service.pipelines.items()}
                    for name, service in self.services.items()
                },
            }
        )
