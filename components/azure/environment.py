"""One environment's foothold in Azure: a provider pinned to its tenant and subscription.

Like the AWS environment accounts, everything an environment owns in Azure is
created through an explicit provider, so a resource can never land in the
subscription the platform engineer's CLI happens to have selected. The
provider authenticates the way azure-native does by default (the ``az`` login
or the ``ARM_*`` variables of the CI job, OIDC included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_azure_native as azure_native

from ..model.settings import Environment


class AzureFoothold(Protocol):
    """What a service's Azure deploy target needs of its environment's subscription."""

    provider: azure_native.Provider
    tenant_id: str
    subscription_id: str
    location: str


def azure_provider(name: str, environment: Environment, opts: pulumi.ResourceOptions) -> azure_native.Provider:
    """The provider pinned to the environment's tenant and subscription."""
    target = environment.azure
    if target is None:
        raise ValueError(f"environment {environment.name} has no azure settings")
    return azure_native.Provider(
        f"{name}-provider",
        tenant_id=target.tenant_id,
        subscription_id=target.subscription_id,
        location=target.location,
        opts=opts,
    )


@dataclass(frozen=True)
class AzureEnvironmentArgs:
    stack: str
    environment: Environment


class AzureEnvironment(pulumi.ComponentResource):
    """Provider into the environment's subscription."""

    provider: azure_native.Provider
    tenant_id: str
    subscription_id: str
    location: str

    def __init__(self, name: str, args: AzureEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:azure:Environment", name, None, opts)
        target = args.environment.azure
        if target is None:
            raise ValueError(f"environment {args.environment.name} has no azure settings")
        self.tenant_id, self.subscription_id, self.location = target.tenant_id, target.subscription_id, target.location
        self.provider = azure_provider(name, args.environment, pulumi.ResourceOptions(parent=self))
        self.register_outputs({"subscriptionId": target.subscription_id})
