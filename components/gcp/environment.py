"""One environment's foothold in its GCP project: a provider and the pool GitHub tokens are exchanged in.

GitHub signs every workflow's OIDC token with one issuer for all of GitHub, so
a provider that only checks the issuer would accept any repository on earth.
The provider's attribute condition therefore admits only the repositories that
deploy to this environment (exact ``owner/name``, never the owner alone), and
only tokens minted for a job running in the GitHub environment of the same
name, in every environment, as the Azure federated subjects do. Without the
environment, any branch or workflow of a listed repository (a pull request's
``pull_request`` workflow, a scratch branch) could sign in as that
environment's deploy accounts; with it, only jobs the environment's protection
rules let run (its reviewers in production, its branch policy) get a token.
Bindings on each service account narrow it further to one repository
(``service_target.py``).

The environment's Artifact Registry repositories are encrypted with a key the
platform holds (CMEK), one per environment, rotated every 90 days. Google's
requirements (Artifact Registry, "Enabling customer-managed encryption keys"
and "Artifact Registry Service Agent"): the key is in the repositories'
location; the Artifact Registry service agent
``service-<project-number>@gcp-sa-artifactregistry.iam.gserviceaccount.com``
holds ``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on it before a repository
is created with it; and that agent exists only after the project's first
repository, unless it is created first, the documented way being
``gcloud beta services identity create --service=artifactregistry.googleapis.com``,
which ``gcp.projects.ServiceIdentity`` calls. The grant is on the key, not the
project, so the agent can use this key and no other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_gcp as gcp

from ..model import naming
from ..model.settings import Environment
from ..model.tags import standard_tags

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
KEY_ROTATION_PERIOD = "7776000s"
"""90 days, as the AWS keys rotate (Cloud KMS takes seconds)."""
ATTRIBUTE_MAPPING = {
    "google.subject": "assertion.sub",
    "attribute.repository": "assertion.repository",
    "attribute.repository_owner": "assertion.repository_owner",
    "attribute.environment": "assertion.environment",
    "attribute.ref": "assertion.ref",
}


def attribute_condition(repositories: Sequence[str], environment: Environment) -> str:
    """The CEL condition a GitHub token must satisfy to be exchanged in this environment's pool."""
    if not repositories:
        raise ValueError(f"no repository deploys to GCP in {environment.name}; the pool would admit nothing")
    listed = ", ".join(f"'{repository}'" for repository in sorted(repositories))
    return f"assertion.repository in [{listed}] && assertion.environment == '{environment.name}'"


class GcpFoothold(Protocol):
    """What a service's GCP deploy target needs of its environment's project (``GcpEnvironment``, or a shard's
    view of its core's)."""

    provider: gcp.Provider
    project_id: str
    region: str
    pool_id: str
    workload_identity_provider_name: pulumi.Input[str]
    artifact_key_name: pulumi.Input[str]
    """The Cloud KMS key the environment's Artifact Registry repositories are encrypted with."""
    artifact_key_grant: pulumi.Resource | None
    """The service agent's use of that key, where this stack declares it (a shard's core declared it before)."""

    def principal_set(self, repository: str) -> pulumi.Output[str]: ...


def gcp_provider(name: str, stack: str, environment: Environment, opts: pulumi.ResourceOptions) -> gcp.Provider:
    """The provider pinned to the environment's project, labelling what it creates."""
    target = environment.gcp
    if target is None:
        raise ValueError(f"environment {environment.name} has no gcp settings")
    return gcp.Provider(
        f"{name}-provider",
        project=target.project_id,
        region=target.region,
        default_labels=standard_tags(stack, environment=environment.name),
        opts=opts,
    )


@dataclass(frozen=True)
class GcpEnvironmentArgs:
    stack: str
    environment: Environment
    repositories: tuple[str, ...]
    """``owner/name`` of every repository whose service deploys to GCP in this environment."""


class GcpEnvironment(pulumi.ComponentResource):
    """Provider into the environment's project, its workload identity pool and GitHub OIDC provider."""

    provider: gcp.Provider
    project_id: str
    region: str
    pool_id: str
    project_number: pulumi.Output[str]
    workload_identity_provider_name: pulumi.Output[str]
    """``projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/github``.

    The full provider name, which google-github-actions/auth takes as ``workload_identity_provider``.
    """
    artifact_key_name: pulumi.Output[str]
    """``projects/<p>/locations/<region>/keyRings/<ring>/cryptoKeys/artifact-registry``: the repositories' CMEK."""
    artifact_key_grant: gcp.kms.CryptoKeyIAMMember
    """The service agent's use of the key; a repository created before it exists cannot be encrypted."""

    def __init__(self, name: str, args: GcpEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:gcp:Environment", name, None, opts)
        environment = args.environment
        target = environment.gcp
        if target is None:
            raise ValueError(f"environment {environment.name} has no gcp settings")
        self.project_id, self.region, self.pool_id = target.project_id, target.region, target.workload_identity_pool_id
        self.provider = gcp_provider(name, args.stack, environment, pulumi.ResourceOptions(parent=self))
        in_project = pulumi.ResourceOptions(parent=self, provider=self.provider)
        # principalSet members name the project by number, which only the project itself knows.
        self.project_number = gcp.organizations.get_project_output(
            project_id=target.project_id, opts=pulumi.InvokeOutputOptions(parent=self, provider=self.provider)
        ).number
        pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            workload_identity_pool_id=target.workload_identity_pool_id,
            display_name=f"GitHub Actions {environment.name}"[:32],
            description=f"GitHub Actions deploys to {environment.name} (cicd-platform {args.stack})",
            opts=in_project,
        )
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-github",
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=naming.GCP_WORKLOAD_IDENTITY_PROVIDER_ID,
            display_name="GitHub Actions",
            description=f"Tokens of the repositories that deploy to {environment.name}",
            attribute_mapping=ATTRIBUTE_MAPPING,
            attribute_condition=attribute_condition(args.repositories, environment),
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            opts=in_project,
        )
        self.workload_identity_provider_name = provider.name
        self.artifact_key_name, self.artifact_key_grant = self._artifact_key(name, args, in_project)
        self.register_outputs(
            {
                "poolName": pool.name,
                "workloadIdentityProvider": provider.name,
                "projectNumber": self.project_number,
                "artifactKeyName": self.artifact_key_name,
            }
        )

    def _artifact_key(
        self, name: str, args: GcpEnvironmentArgs, in_project: pulumi.ResourceOptions
    ) -> tuple[pulumi.Output[str], gcp.kms.CryptoKeyIAMMember]:
        """Key ring and key in the repositories' region, and the Artifact Registry service agent's use of it."""
        agent = gcp.projects.ServiceIdentity(
            f"{name}-artifact-registry-agent",
            project=self.project_id,
            service=naming.ARTIFACT_REGISTRY_SERVICE,
            opts=in_project,
        )
        ring = gcp.kms.KeyRing(
            f"{name}-key-ring",
            name=naming.gcp_key_ring_name(args.stack, args.environment.name),
            location=self.region,
            opts=in_project,
        )
        key = gcp.kms.CryptoKey(
            f"{name}-artifact-key",
            name=naming.GCP_ARTIFACT_KEY_NAME,
            key_ring=ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=KEY_ROTATION_PERIOD,
            opts=in_project,
        )
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-artifact-key-agent",
            crypto_key_id=key.id,
            role=ENCRYPTER_DECRYPTER,
            member=agent.member,
            opts=in_project,
        )
        return key.id, grant

    def principal_set(self, repository: str) -> pulumi.Output[str]:
        """The member for every token of one repository in this pool."""
        return self.project_number.apply(lambda number: naming.gcp_principal_set(number, self.pool_id, repository))
