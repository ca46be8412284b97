"""GCP Artifact Registry: never readable by allUsers; images encrypted with a customer key."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Config, Props, as_list, is_unknown, present, resource_rule

REPOSITORY = "gcp:artifactregistry/repository:Repository"
REPOSITORY_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
REPOSITORY_BINDING = "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding"
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}


def check_private(resource_type: str, props: Props, _: Config) -> Iterator[str]:
    members = as_list(props.get("members")) if resource_type == REPOSITORY_BINDING else [props.get("member")]
    for member in members:
        if not is_unknown(member) and member in PUBLIC_MEMBERS:
            yield f"repository {props.get('repository')} grants {props.get('role')} to {member}"


GCP_ARTIFACT_REGISTRY = resource_rule(
    name="gcp-artifact-registry",
    description="Artifact Registry repositories are never granted to allUsers or allAuthenticatedUsers.",
    level="mandatory",
    resource_types={REPOSITORY_MEMBER, REPOSITORY_BINDING},
    check=check_private,
    remediation="Grant roles/artifactregistry.reader to the runtime service accounts that pull images.",
    anchors=("CKV_GCP_101",),
)


def check_cmek(_: str, props: Props, __: Config) -> Iterator[str]:
    if not present(props.get("kmsKeyName")):
        yield f"repository {props.get('repositoryId')} is encrypted with a Google-managed key (no kms_key_name)"


GCP_ARTIFACT_REGISTRY_CMEK = resource_rule(
    name="gcp-artifact-registry-cmek",
    description="Artifact Registry repositories are encrypted with a customer-managed key (CMEK).",
    level="advisory",
    resource_types={REPOSITORY},
    check=check_cmek,
    remediation="Set kms_key_name to a Cloud KMS key the Artifact Registry service agent may use.",
    anchors=("CKV_GCP_84",),
)

RULES = (GCP_ARTIFACT_REGISTRY, GCP_ARTIFACT_REGISTRY_CMEK)
