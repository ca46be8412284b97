"""What one service needs to deploy itself to Azure Container Apps in one environment's subscription.

A resource group holds the service's Azure side. The deploy workflow signs in
as a user-assigned managed identity through a federated identity credential
whose subject is exactly ``repo:OWNER/REPO:environment:ENV``: only that
repository's jobs running in that GitHub environment (with its reviewers) get
a token, never a pull request or another branch's job. There is no client
secret and the registry's admin user (a password) stays disabled.

Roles, scoped as narrowly as Azure allows:
- *Container Apps Contributor* on the resource group: update container apps
  (new revisions, images) and nothing else: no role assignments, no other
  resource types. *Contributor* would let a workflow create anything in the
  group; *Website Contributor* covers App Service, which these services do
  not use. Never Owner or User Access Administrator, never the subscription.
- *AcrPush* on the service's own registry, so a workflow pushes only there.

The container app pulls its images as a second identity (``id-<service>-<env>-runtime``)
holding only *AcrPull* on that registry; the deploy identity never pulls on its behalf
and the app never gets push rights.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from ..model import naming
from ..model.catalog import Service
from ..model.settings import Environment
from ..model.tags import standard_tags
from .environment import AzureFoothold

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # noqa: S105 - an audience URI, not a secret
# Built-in role definition ids are the same in every tenant.
CONTAINER_APPS_CONTRIBUTOR = "358470bc-b998-42bd-ab17-a7e34c199c0f"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
GITHUB_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_RESOURCE_GROUP",
    "AZURE_CONTAINER_REGISTRY",
    "AZURE_RUNTIME_IDENTITY_ID",
    "AZURE_CONTAINER_APP",
    "SERVICE_NAME",
)
"""The keys ``github_variables`` holds: the deploy target's keys for this cloud (``CICD_DEPLOY_TARGET``, README)."""
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("4b0f3a57-8a0c-4a3e-9a65-6f1e0f3c2d11")


def federated_subject(repository: str, environment: str) -> str:
    """The exact, case-sensitive subject GitHub puts in a job's token when it runs in ``environment``."""
    return f"repo:{repository}:environment:{environment}"


def role_definition_id(subscription_id: str, role_id: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"


def role_assignment_name(*parts: str) -> str:
    """Role assignment names are GUIDs; derive them so a re-run never duplicates an assignment."""
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class AzureServiceTargetArgs:
    stack: str
    service: Service
    environment: Environment
    azure_environment: AzureFoothold


class AzureServiceTarget(pulumi.ComponentResource):
    """Resource group, registry, deploy and runtime identities, the federated credential, three scoped roles."""

    github_variables: pulumi.Output[dict[str, str]]
    """The GitHub environment variables ``deploy-azure.yml`` reads, by name."""

    def __init__(self, name: str, args: AzureServiceTargetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:azure:ServiceTarget", name, None, opts)
        service, environment, azure = args.service, args.environment, args.azure_environment
        in_subscription = pulumi.ResourceOptions(parent=self, provider=azure.provider)
        tags = standard_tags(args.stack, service=service.name, owner=service.owner, environment=environment.name)
        group_name = naming.azure_resource_group_name(service.name, environment.name)
        identity_name = naming.azure_identity_name(service.name, environment.name)

        group = azure_native.resources.ResourceGroup(
            f"{name}-group", resource_group_name=group_name, location=azure.location, tags=tags, opts=in_subscription
        )
        registry = azure_native.containerregistry.Registry(
            f"{name}-registry",
            registry_name=naming.azure_registry_name(args.stack, service.name, environment.name),
            resource_group_name=group.name,
            location=azure.location,
            sku=azure_native.containerregistry.SkuArgs(name="Basic"),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            tags=tags,
            opts=in_subscription,
        )
        identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-deployer",
            resource_name_=identity_name,
            resource_group_name=group.name,
            location=azure.location,
            tags=tags,
            opts=in_subscription,
        )
        azure_native.managedidentity.FederatedIdentityCredential(
            f"{name}-github",
            federated_identity_credential_resource_name=naming.azure_federated_credential_name(environment.name),
            resource_name_=identity.name,
            resource_group_name=group.name,
            issuer=GITHUB_ISSUER,
            audiences=[TOKEN_EXCHANGE_AUDIENCE],
            subject=federated_subject(service.repository, environment.name),
            opts=in_subscription,
        )
        runtime_name = naming.azure_runtime_identity_name(service.name, environment.name)
        runtime = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-runtime",
            resource_name_=runtime_name,
            resource_group_name=group.name,
            location=azure.location,
            tags=tags,
            opts=in_subscription,
        )
        group_scope = f"/subscriptions/{azure.subscription_id}/resourceGroups/{group_name}"
        for suffix, role, scope, holder, holder_name in (
            ("deploy-apps", CONTAINER_APPS_CONTRIBUTOR, group.id, identity, identity_name),
            ("push-images", ACR_PUSH, registry.id, identity, identity_name),
            ("pull-images", ACR_PULL, registry.id, runtime, runtime_name),
        ):
            azure_native.authorization.RoleAssignment(
                f"{name}-{suffix}",
                role_assignment_name=role_assignment_name(group_scope, holder_name, role),
                role_definition_id=role_definition_id(azure.subscription_id, role),
                principal_id=holder.principal_id,
                # Without the type, ARM looks the new identity up in Entra and can fail on replication lag.
                principal_type="ServicePrincipal",
                scope=scope,
                description=f"{suffix.replace('-', ' ').capitalize()}: {service.name} in {environment.name}",
                opts=in_subscription,
            )
        self.github_variables = pulumi.Output.all(
            client_id=identity.client_id, group=group.name, registry=registry.name, runtime=runtime.id
        ).apply(
            lambda resolved: {
                "AZURE_CLIENT_ID": resolved["client_id"],
                "AZURE_TENANT_ID": azure.tenant_id,
                "AZURE_SUBSCRIPTION_ID": azure.subscription_id,
                "AZURE_RESOURCE_GROUP": resolved["group"],
                "AZURE_CONTAINER_REGISTRY": resolved["registry"],
                "AZURE_RUNTIME_IDENTITY_ID": resolved["runtime"],
                "AZURE_CONTAINER_APP": service.name,
                "SERVICE_NAME": service.name,
            }
        )
        self.register_outputs({"githubVariables": self.github_variables})
