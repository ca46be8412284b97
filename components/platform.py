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
from .coordination import Coordination, CoordinationArgs
from .governance.rollback_reporter import RollbackReporter, RollbackReporterArgs
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
        # Before the accounts: their forwarding rules target this reporter's bus.
        self.reporter = RollbackReporter("rollback-reporter", RollbackReporterArgs(inputs=inputs), opts=child)
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
                tooling_account_id=settings.tooling_account_id,
                organization_id=settings.organization_id,
                deploy_events_bus_arn=self.reporter.bus_arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.reporter.bus]),
            )
        # Before the services: every Deploy stage names the gate function in its entry rule.
        self.coordination = Coordination("coordination", CoordinationArgs(inputs=inputs), opts=child)
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
                    deploy_gate=self.coordination.gate,
                ),
                opts=child,
            )
        self.register_outputs(
            {
                "artifactBucket": self.artifacts.bucket_name,
                "githubConnectionArn": self.connection.arn,
                "rollbackWebhookSecretArn": self.reporter.webhook_secret_arn,
                "pipelines": {
                    name: {env: pipeline.name for env, pipeline in service.pipelines.items()}
                    for name, service in self.services.items()
                },
            }
        )
