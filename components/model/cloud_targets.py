"""Where an environment reaches Google Cloud and Azure, when services deploy there too.

A service that lists ``also_deploy_to: [gcp]`` or ``[azure]`` deploys to that
cloud from a GitHub Actions workflow that signs in with the workflow's OIDC
token; nothing long-lived is stored anywhere. The platform needs to know, per
environment, which GCP project (and workload identity pool) or which Azure
tenant and subscription that environment means. Both blocks are optional: an
environment that no multi-cloud service uses need not name them.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

GCP_PROJECT_ID = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
GCP_REGION = r"^[a-z]+-[a-z]+\d{1,2}$"
WORKLOAD_IDENTITY_POOL_ID = r"^[a-z0-9-]{4,32}$"
GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
AZURE_LOCATION = r"^[a-z][a-z0-9]{2,39}$"

Guid = Annotated[str, StringConstraints(pattern=GUID), Field(description="A GUID, as Azure shows it.")]


class _CloudBlock(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
    )


class GcpTarget(_CloudBlock):
    """The GCP project one environment deploys into, and the pool GitHub's tokens are exchanged in."""

    project_id: Annotated[str, StringConstraints(pattern=GCP_PROJECT_ID)] = Field(
        description="GCP project id: 6-30 characters, lower-case letters, digits and '-', starting with a letter."
    )
    region: Annotated[str, StringConstraints(pattern=GCP_REGION)] = Field(
        description="GCP region for Artifact Registry and Cloud Run, e.g. europe-west1."
    )
    workload_identity_pool_id: Annotated[str, StringConstraints(pattern=WORKLOAD_IDENTITY_POOL_ID)] = Field(
        default="github-actions",
        description="Workload identity pool id: 4-32 of a-z, 0-9 and '-'; 'gcp-' is reserved by Google.",
    )

    @field_validator("workload_identity_pool_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        # Google reserves the prefix for its own pools and rejects the create call.
        if value.startswith("gcp-"):
            raise ValueError("workload identity pool ids may not start with 'gcp-' (reserved by Google)")
        return value


class AzureTarget(_CloudBlock):
    """The Entra tenant and subscription one environment deploys into."""

    tenant_id: Guid
    subscription_id: Guid
    location: str = Field(description="Azure location name as the CLI prints it: lower-case, no spaces (westeurope).")

    @field_validator("location")
    @classmethod
    def _location_name(cls, value: str) -> str:
        if not re.match(AZURE_LOCATION, value):
            raise ValueError(
                f"'{value}' is not an Azure location name; use the lower-case name without spaces "
                "that 'az account list-locations' prints (e.g. westeurope)"
            )
        return value
