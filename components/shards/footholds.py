"""A shard's view of the footholds its core owns in environment accounts, GCP projects and Azure subscriptions.

The core creates what every service shares there (the CodeDeploy service role, the alarm
topic and reader, forwarding, the GCP workload identity pool). A shard only needs to create
its services' own resources *through* those accounts, so it declares its own providers, with
the same configuration and logical names as the core's (``pulumi state move`` then matches a
moved resource's provider by URN), and reads the rest from the core's ``shardInterface``.
Names the model determines (alarm reader role, permissions boundary) are derived, as in the core.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from ..aws.environment_account import environment_provider
from ..azure.environment import azure_provider
from ..gcp.environment import gcp_provider
from ..model import naming
from ..model.catalog import Service
from ..model.platform_inputs import PlatformInputs
from ..model.settings import Environment
from .core_interface import CoreReference, account_key


@dataclass(frozen=True)
class AccountView:
    """``AccountFoothold`` of an environment account whose shared pieces the core owns."""

    environment: Environment
    provider: aws.Provider
    codedeploy_role_arn: pulumi.Input[str]
    alarm_topic_arn: pulumi.Input[str]
    alarm_reader_role_arn: str
    permissions_boundary_arn: str
    codedeploy_role_attachments: Sequence[pulumi.Resource] = field(default=())
    """Created (and waited for) by the core, which is deployed before its shards."""
    alarm_reader: pulumi.Resource | None = None


@dataclass(frozen=True)
class GcpView:
    """``GcpFoothold`` of a project whose workload identity pool the core owns."""

    provider: gcp.Provider
    project_id: str
    region: str
    pool_id: str
    project_number: pulumi.Output[str]
    workload_identity_provider_name: pulumi.Output[str]
    artifact_key_name: pulumi.Output[str]
    artifact_key_grant: None = None
    """The core declared the service agent's grant on the key, and was deployed before any shard."""

    def principal_set(self, repository: str) -> pulumi.Output[str]:
        return self.project_number.apply(lambda number: naming.gcp_principal_set(number, self.pool_id, repository))


@dataclass(frozen=True)
class AzureView:
    """``AzureFoothold``: a subscription needs nothing from the core but the provider's settings."""

    provider: azure_native.Provider
    tenant_id: str
    subscription_id: str
    location: str


def account_views(
    inputs: PlatformInputs, services: Iterable[Service], core: CoreReference
) -> dict[tuple[str, str], AccountView]:
    """(environment, account) → the view of each environment account ``services`` deploy into."""
    settings = inputs.settings
    wanted = {(env.name, env.account_id) for service in services for env in inputs.environments_for(service)}
    default_accounts = {environment.name: environment.account_id for environment in settings.environments}
    views: dict[tuple[str, str], AccountView] = {}
    for environment, _ in inputs.environment_accounts():
        key = (environment.name, environment.account_id)
        if key not in wanted:
            continue
        name = naming.environment_account_name(environment.name, environment.account_id, default_accounts[key[0]])
        shared = ("environmentAccounts", account_key(*key))
        views[key] = AccountView(
            environment=environment,
            provider=environment_provider(
                name, inputs.stack, environment, settings.bootstrap_role_name, pulumi.ResourceOptions()
            ),
            codedeploy_role_arn=core.get(*shared, "codedeployRoleArn"),
            alarm_topic_arn=core.get(*shared, "alarmTopicArn"),
            alarm_reader_role_arn=naming.role_arn(
                environment.region, environment.account_id, naming.alarm_reader_role_name(environment.name)
            ),
            permissions_boundary_arn=naming.permissions_boundary_arn(
                environment.region, environment.account_id, settings.permissions_boundary_name
            ),
        )
    return views


def gcp_views(inputs: PlatformInputs, services: Iterable[Service], core: CoreReference) -> dict[str, GcpView]:
    """environment → the view of its GCP project, where one of ``services`` deploys to GCP."""
    wanted = {
        env.name for service in services if "gcp" in service.also_deploy_to for env in inputs.environments_for(service)
    }
    views: dict[str, GcpView] = {}
    for environment, _ in inputs.cloud_environments("gcp"):
        target = environment.gcp
        if environment.name not in wanted or target is None:
            continue
        shared = ("gcpEnvironments", environment.name)
        views[environment.name] = GcpView(
            provider=gcp_provider(f"gcp-{environment.name}", inputs.stack, environment, pulumi.ResourceOptions()),
            project_id=target.project_id,
            region=target.region,
            pool_id=target.workload_identity_pool_id,
            project_number=core.get(*shared, "projectNumber"),
            workload_identity_provider_name=core.get(*shared, "workloadIdentityProvider"),
            artifact_key_name=core.get(*shared, "artifactKeyName"),
        )
    return views


def azure_views(inputs: PlatformInputs, services: Iterable[Service]) -> dict[str, AzureView]:
    """environment → the view of its Azure subscription, where one of ``services`` deploys to Azure."""
    wanted = {
        env.name
        for service in services
        if "azure" in service.also_deploy_to
        for env in inputs.environments_for(service)
    }
    views: dict[str, AzureView] = {}
    for environment, _ in inputs.cloud_environments("azure"):
        target = environment.azure
        if environment.name not in wanted or target is None:
            continue
        views[environment.name] = AzureView(
            provider=azure_provider(f"azure-{environment.name}", environment, pulumi.ResourceOptions()),
            tenant_id=target.tenant_id,
            subscription_id=target.subscription_id,
            location=target.location,
        )
    return views


def _environments_reaching(inputs: PlatformInputs, services: Iterable[Service], cloud: str) -> set[str]:
    """Environments where one of ``services`` also deploys to ``cloud`` (gcp/azure)."""
    return {
        environment.name
        for service in services
        if cloud in service.also_deploy_to
        for environment in inputs.environments_for(service)
    }
