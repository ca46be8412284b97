"""How Azure Resource Manager would answer, for the resources the program uses.

Ids are ARM resource ids in the provider's subscription; a managed identity's
``clientId`` and ``principalId`` are GUIDs derived from its id, so the plan is
stable between runs and the role assignment names the identity's principal.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

PROVIDER_TYPE = "pulumi:providers:azure-native"


def stable_guid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))


def provider_location(inputs: dict[str, Any]) -> tuple[str, str, str]:
    """(subscription, tenant, location) from an azure-native provider's config."""
    return (
        str(inputs.get("subscriptionId") or ""),
        str(inputs.get("tenantId") or ""),
        str(inputs.get("location") or ""),
    )


def resource_state(
    typ: str, inputs: dict[str, Any], subscription: str, tenant: str, location: str
) -> tuple[str, dict[str, Any]] | None:
    """(id, outputs) for an azure-native resource, or ``None`` for a type this mock does not shape."""
    state = dict(inputs)
    group = f"/subscriptions/{subscription}/resourceGroups/{inputs.get('resourceGroupName')}"
    if typ == "azure-native:resources:ResourceGroup":
        state.update(name=inputs["resourceGroupName"], location=inputs.get("location") or location)
        return group, state
    if typ == "azure-native:managedidentity:UserAssignedIdentity":
        resource_id = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{inputs['resourceName']}"
        state.update(
            name=inputs["resourceName"],
            location=inputs.get("location") or location,
            clientId=stable_guid("client", resource_id),
            principalId=stable_guid("principal", resource_id),
            tenantId=tenant,
            type="Microsoft.ManagedIdentity/userAssignedIdentities",
        )
        return resource_id, state
    if typ == "azure-native:containerregistry:Registry":
        name = inputs["registryName"]
        state.update(name=name, loginServer=f"{name.lower()}.azurecr.io", location=inputs.get("location") or location)
        return f"{group}/providers/Microsoft.ContainerRegistry/registries/{name}", state
    if typ == "azure-native:managedidentity:FederatedIdentityCredential":
        name = inputs["federatedIdentityCredentialResourceName"]
        resource_id = (
            f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{inputs['resourceName']}"
            f"/federatedIdentityCredentials/{name}"
        )
        state.update(name=name, type="Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials")
        return resource_id, state
    if typ == "azure-native:authorization:RoleAssignment":
        name = inputs.get("roleAssignmentName") or stable_guid(str(inputs.get("scope")), str(inputs.get("principalId")))
        state.update(name=name, type="Microsoft.Authorization/roleAssignments")
        return f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{name}", state
    return None
