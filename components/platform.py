"""The whole platform of one stack: shared pieces first, then one ServicePipeline per service.

Services are declared in dependency order so the plan (and ``pulumi up``'s
output) reads the way releases roll out: auth before booking, and so on.
"""

from __future__ import annotations

import pulumi
import pulumi_github as github

from .aws.artifact_store import ArtifactStore, ArtifactStoreArgs
from .aws.build_fleet import build_fleets
from .aws.environment_account import EnvironmentAccount
from .aws.github_connection import GitHubConnection
from .aws.service_pipeline import ServicePipeline, ServicePipelineArgs
from .azure import service_target as azure_target
from .azure.environment import AzureEnvironment, AzureEnvironmentArgs
from .coordination import Coordination, CoordinationArgs
from .gcp import service_target as gcp_target
from .gcp.environment import GcpEnvironment, GcpEnvironmentArgs
from .github.deploy_environments import (
    DeployEnvironments,
    DeployEnvironmentsArgs,
    deploy_target_json,
    per_key_variables,
)
from .github.dispatch_function import GitHubDispatch, GitHubDispatchArgs
from .governance.approvals import ApprovalGovernance, ApprovalGovernanceArgs, auditor_role_arn
from .governance.config_rules import ConfigRuleTwins, ConfigRuleTwinsArgs
from .governance.failure_digest import FailureDigest, FailureDigestArgs, failure_digest_role_arn
from .governance.notifications import ReleaseNews, ReleaseNewsArgs
from .governance.rollback_reporter import RollbackReporter, RollbackReporterArgs, reporter_role_arn
from .metrics import DoraMetrics, DoraMetricsArgs
from .model import naming, release_approvals
from .model.forwarded_events import forwarding_placements
from .model.platform_inputs import PlatformInputs
from .secrets.exemption_watch import ExemptionWatch, ExemptionWatchArgs, watch_role_arn
from .secrets.rotation import PURPOSE as ROTATION_PURPOSE
from .secrets.rotation import SecretRotation, SecretRotationArgs, rotated_secrets


class Platform(pulumi.ComponentResource):
    """Artifact store, GitHub connection, environment accounts and every service's pipelines."""

    services: dict[str, ServicePipeline]

    def __init__(self, name: str, inputs: PlatformInputs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:platform:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = inputs.settings
        self.artifacts = ArtifactStore("artifacts", ArtifactStoreArgs(inputs=inputs), opts=child)
        self.connection = GitHubConnection("github", inputs.stack, settings.github_owner, opts=child)
        with_approvals = release_approvals.approval_pipelines(inputs)
        # Through Chatbot the rollback reporter, the failure digest and the secret watch have no webhook: they
        # publish to the topic too.
        uses_chatbot = settings.slack_workspace_id is not None
        chatbot_publishers = (
            [reporter_role_arn(inputs), failure_digest_role_arn(inputs), watch_role_arn(inputs)] if uses_chatbot else []
        )
        # CodePipeline publishes approval requests as the pipeline roles: named by path and name, one pattern
        # however many services ask for approvals (each role's own policy says whether it may publish).
        pipeline_publishes = [inputs.tooling_roles_pattern(naming.pipeline_role_name("*"))] if with_approvals else []
        rotated = rotated_secrets(inputs)
        rotation_role = naming.role_arn(
            settings.region, settings.tooling_account_id, naming.function_name(ROTATION_PURPOSE, inputs.stack)
        )
        self.news = ReleaseNews(
            "release-news",
            ReleaseNewsArgs(
                inputs=inputs,
                publisher_role_arns=[*pipeline_publishes, auditor_role_arn(inputs), *chatbot_publishers],
                store_role_arns=[
                    auditor_role_arn(inputs),
                    reporter_role_arn(inputs),
                    failure_digest_role_arn(inputs),
                    watch_role_arn(inputs),
                    *([rotation_role] if rotated else []),
                ],
            ),
            opts=child,
        )
        self._declare_credentials(inputs, rotated, child)
        # Before the accounts: their forwarding rules target this reporter's bus.
        self.reporter = RollbackReporter(
            "rollback-reporter",
            RollbackReporterArgs(
                inputs=inputs,
                ledger_table_name=self.news.ledger_table_name,
                ledger_table_arn=self.news.ledger_table_arn,
                topic_arn=self.news.topic_arn,
                topic_key_arn=self.news.key_arn,
            ),
            opts=child,
        )
        # Why a pipeline action failed, for the team that owns it: one message per failure.
        self.digest = FailureDigest(
            "failure-digest",
            FailureDigestArgs(
                inputs=inputs,
                ledger_table_name=self.news.ledger_table_name,
                ledger_table_arn=self.news.ledger_table_arn,
                key_arn=self.news.key_arn,
                dead_letter_queue_arn=self.news.dead_letter_queue_arn,
                topic_arn=self.news.topic_arn,
            ),
            opts=child,
        )
        self.approvals = ApprovalGovernance(
            "approvals",
            ApprovalGovernanceArgs(
                inputs=inputs,
                topic_arn=self.news.topic_arn,
                key_arn=self.news.key_arn,
                ledger_table_name=self.news.ledger_table_name,
                ledger_table_arn=self.news.ledger_table_arn,
                dead_letter_queue_arn=self.news.dead_letter_queue_arn,
            ),
            opts=child,
        )
        accounts: dict[tuple[str, str], EnvironmentAccount] = {}
        default_accounts = {environment.name: environment.account_id for environment in settings.environments}
        placed = {(p.environment.name, p.environment.account_id): p.services for p in forwarding_placements(inputs)}
        for environment, platforms in inputs.environment_accounts():
            accounts[(environment.name, environment.account_id)] = EnvironmentAccount(
                naming.environment_account_name(
                    environment.name, environment.account_id, default_accounts[environment.name]
                ),
                inputs.stack,
                environment,
                settings.bootstrap_role_name,
                platforms,
                tooling_account_id=settings.tooling_account_id,
                organization_id=settings.organization_id,
                deploy_events_bus_arn=self.reporter.bus_arn,
                permissions_boundary_name=settings.permissions_boundary_name,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.reporter.bus]),
                services=placed[(environment.name, environment.account_id)],
            )
        # Before the services: every Deploy stage names the gate function in its entry rule.
        self.coordination = Coordination("coordination", CoordinationArgs(inputs=inputs), opts=child)
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
        self.accounts, self.gcp_environments = accounts, gcp_environments
        # A core stack declares no services: its shards do, reading these shared pieces (components.shards).
        fleets = build_fleets(inputs, inputs.declared_services, child)
        self.services = {}
        for service in inputs.declared_services:
            service_name = service.name
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
                    approval_topic_arn=self.news.topic_arn if service_name in with_approvals else None,
                    approval_key_arn=self.news.key_arn if service_name in with_approvals else None,
                    gcp_environments=gcp_environments,
                    azure_environments=azure_environments,
                    dispatch_function_name=self.dispatch.function_name if self.dispatch else None,
                    build_fleet_arn=fleets.get(service.build_queue),
                ),
                opts=child,
            )
        if settings.github_environments and self.dispatch is not None:
            declare_github_environments(inputs, self.services, self)
        # DORA metrics of every service and environment (README: DORA metrics); reads the coordination graph.
        self.dora = DoraMetrics("dora", DoraMetricsArgs(inputs=inputs), opts=child)
        # Runtime twins of the policy pack: drift made outside Pulumi shows up in AWS Config.
        self.config_rules = (
            ConfigRuleTwins("config-rules", ConfigRuleTwinsArgs(inputs=inputs), opts=child)
            if settings.config_rules
            else None
        )
        self.register_outputs(
            {
                "artifactBucket": self.artifacts.bucket_name,
                "githubConnectionArn": self.connection.arn,
                "releaseNewsTopicArn": self.news.topic_arn,
                "doraDashboard": self.dora.dashboard_name,
                "approvalGuardrailScp": self.approvals.guardrail_scp,
                "pipelines": {
                    name: {env: pipeline.name for env, pipeline in service.pipelines.items()}
                    for name, service in self.services.items()
                },
            }
        )

    def _declare_credentials(self, inputs: PlatformInputs, rotated: list, child: pulumi.ResourceOptions) -> None:
        """Rotation for the vendor credentials that can rotate, a daily watch over those that cannot."""
        self.secret_rotation = (
            SecretRotation(
                "secret-rotation",
                SecretRotationArgs(
                    inputs=inputs,
                    secrets=rotated,
                    key_arn=self.news.key_arn,
                    dead_letter_queue_arn=self.news.dead_letter_queue_arn,
                ),
                opts=child,
            )
            if rotated
            else None
        )
        self.exemption_watch = ExemptionWatch(
            "secret-watch",
            ExemptionWatchArgs(
                inputs=inputs,
                ledger_table_name=self.news.ledger_table_name,
                ledger_table_arn=self.news.ledger_table_arn,
                topic_arn=self.news.topic_arn,
                key_arn=self.news.key_arn,
                dead_letter_queue_arn=self.news.dead_letter_queue_arn,
            ),
            opts=child,
        )


def declare_github_environments(
    inputs: PlatformInputs, services: dict[str, ServicePipeline], parent: pulumi.Resource | None
) -> None:
    """The optional GitHub side: environments with reviewers and the workflows' deploy-target variable, per service.

    ``parent`` is the Platform of a whole stack; a shard declares its provider at the stack root, where a
    resource moved out of a whole stack lands (README: Scaling to a large fleet).
    """
    # Authenticates as the pulumi-github provider does by default (GITHUB_TOKEN or a GitHub App in the
    # CI job's environment); the token needs Administration and Variables write on the repositories.
    provider = github.Provider(
        "github-provider", owner=inputs.settings.github_owner, opts=pulumi.ResourceOptions(parent=parent)
    )
    lookups = pulumi.InvokeOutputOptions(parent=parent, provider=provider)
    team_ids = [
        github.get_team_output(slug=slug, summary_only=True, opts=lookups).id.apply(int)
        for slug in inputs.settings.github_prod_reviewer_teams
    ]
    # The keys each cloud's per-key variables had, known before deploy (githubPerKeyVariables: README,
    # "Upgrading to one deploy-target variable").
    names = {"gcp": gcp_target.GITHUB_VARIABLES, "azure": azure_target.GITHUB_VARIABLES}
    per_key = inputs.settings.github_per_key_variables
    for service_name, pipeline in services.items():
        service = inputs.catalog.service(service_name)
        if not service.also_deploy_to:
            continue
        environments = inputs.environments_for(service)
        DeployEnvironments(
            f"{service_name}-github-environments",
            DeployEnvironmentsArgs(
                service=service,
                environments=environments,
                deploy_targets={env.name: deploy_target_json(pipeline.cloud_targets[env.name]) for env in environments},
                reviewer_team_ids=team_ids,
                provider=provider,
                per_key_variables={
                    env.name: per_key_variables(pipeline.cloud_targets[env.name], names) for env in environments
                }
                if per_key
                else None,
            ),
            opts=pulumi.ResourceOptions(parent=pipeline),
        )
