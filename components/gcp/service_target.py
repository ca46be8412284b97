"""What one service needs to deploy itself to Cloud Run in one environment's GCP project.

The service's deploy workflow signs in as a deploy service account that only
its own repository may impersonate (``roles/iam.workloadIdentityUser`` granted
to ``principalSet://…/attribute.repository/OWNER/REPO``, never to the pool),
pushes to its own Artifact Registry repository and deploys Cloud Run revisions
that run as a dedicated runtime service account. No service-account key is
created: the workflow's OIDC token is exchanged for a short-lived one.

Why the platform creates the Cloud Run service: ``roles/run.developer`` granted
on the project would let one service's deploy identity replace the revisions
of every other service in a shared project. Google documents two narrower ways,
and only one works here. IAM Conditions on ``resource.name`` are honoured only
by the services and resource types on IAM's "Resource attributes for IAM
Conditions" list ("Other services and resource types do not recognize resource
attributes"), and neither ``run.googleapis.com`` nor a Cloud Run resource type
is on it. Cloud Run's "Access control with IAM" and its roles reference do
document granting ``roles/run.developer`` on one service ("Lowest-level
resources where you can grant this role: Service"), but such a binding needs
the service to exist, and creating a service (``run.services.create``) would
need a grant on the project, the very thing to avoid. So the platform creates
each service, serving Google's placeholder image until the first deploy, and
binds the role on that service alone: the deploy identity can replace its own
service's revisions and can neither create nor touch any other service. Pulumi
leaves the revision template, traffic and labels to the deploy workflow
(``ignore_changes``), and deletion protection keeps a catalog edit from
deleting a live service.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from ..model import naming
from ..model.catalog import Service
from ..model.settings import Environment
from ..model.tags import standard_tags
from .environment import GcpFoothold

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
REPOSITORY_WRITER = "roles/artifactregistry.writer"
RUN_DEVELOPER = "roles/run.developer"
SERVICE_ACCOUNT_USER = "roles/iam.serviceAccountUser"
PLACEHOLDER_IMAGE = "us-docker.pkg.dev/cloudrun/container/hello"
"""Google's sample container: what a service runs between its creation and its first deploy."""
DEPLOYED_BY_THE_WORKFLOW = ["template", "traffics", "client", "clientVersion", "labels"]
"""What ``gcloud run deploy`` changes on every deploy; Pulumi must not put the placeholder back."""
GITHUB_VARIABLES = (
    "GCP_PROJECT_ID",
    "GCP_REGION",
    "GCP_WORKLOAD_IDENTITY_PROVIDER",
    "GCP_SERVICE_ACCOUNT",
    "GCP_RUNTIME_SERVICE_ACCOUNT",
    "GCP_ARTIFACT_REPOSITORY",
    "CLOUD_RUN_SERVICE",
    "SERVICE_NAME",
)
"""The keys ``github_variables`` holds: the deploy target's keys for this cloud (``CICD_DEPLOY_TARGET``, README)."""


@dataclass(frozen=True)
class GcpServiceTargetArgs:
    stack: str
    service: Service
    environment: Environment
    gcp_environment: GcpFoothold


class GcpServiceTarget(pulumi.ComponentResource):
    """Deploy and runtime service accounts, an image repository, the Cloud Run service and the grants a deploy needs."""

    github_variables: pulumi.Output[dict[str, str]]
    """The GitHub environment variables ``deploy-gcp.yml`` reads, by name."""

    def __init__(self, name: str, args: GcpServiceTargetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:gcp:ServiceTarget", name, None, opts)
        service, environment, project = args.service, args.environment, args.gcp_environment
        in_project = pulumi.ResourceOptions(parent=self, provider=project.provider)
        labels = standard_tags(args.stack, service=service.name, owner=service.owner, environment=environment.name)

        # Encrypted with the environment's key (CMEK), which the Artifact Registry service agent may use
        # only once its grant exists. Artifact Registry cannot change a repository's encryption, so a
        # change of key replaces the repository; its fixed name means the old one must go first.
        repository = gcp.artifactregistry.Repository(
            f"{name}-images",
            repository_id=naming.gcp_repository_id(service.name, environment.name),
            location=project.region,
            format="DOCKER",
            description=f"Images of {service.name} for {environment.name}",
            kms_key_name=project.artifact_key_name,
            # Tags stay mutable: images are tagged with the commit SHA, and a retried deploy rebuilds and
            # pushes the same tag again (docker builds are not bit-reproducible), which immutable tags refuse.
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=project.provider,
                depends_on=[project.artifact_key_grant] if project.artifact_key_grant is not None else [],
                delete_before_replace=True,
            ),
        )
        deployer = gcp.serviceaccount.Account(
            f"{name}-deployer",
            account_id=naming.gcp_deploy_account_id(service.name, environment.name),
            display_name=f"Deploys {service.name} ({environment.name})"[:100],
            description=f"Impersonated only by GitHub Actions in {service.repository}; no keys.",
            opts=in_project,
        )
        runtime = gcp.serviceaccount.Account(
            f"{name}-runtime",
            account_id=naming.gcp_runtime_account_id(service.name, environment.name),
            display_name=f"Runs {service.name} on Cloud Run ({environment.name})"[:100],
            description="Identity of the Cloud Run revisions; it holds no project roles from the platform.",
            opts=in_project,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-federated-deployer",
            service_account_id=deployer.name,
            role=WORKLOAD_IDENTITY_USER,
            member=project.principal_set(service.repository),
            opts=in_project,
        )
        gcp.artifactregistry.RepositoryIamMember(
            f"{name}-push-images",
            project=project.project_id,
            location=repository.location,
            repository=repository.name,
            role=REPOSITORY_WRITER,
            member=deployer.member,
            opts=in_project,
        )
        run_service = gcp.cloudrunv2.Service(
            f"{name}-service",
            name=naming.gcp_cloud_run_service(service.name, environment.name),
            project=project.project_id,
            location=project.region,
            description=f"{service.name} ({environment.name}); revisions come from {service.repository}",
            deletion_protection=True,
            template=gcp.cloudrunv2.ServiceTemplateArgs(
                service_account=runtime.email,
                containers=[gcp.cloudrunv2.ServiceTemplateContainerArgs(image=PLACEHOLDER_IMAGE)],
            ),
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self, provider=project.provider, ignore_changes=DEPLOYED_BY_THE_WORKFLOW
            ),
        )
        # On this service only (see the module docstring): run.developer deploys its revisions but cannot change
        # IAM policies, and revisions can only run as the runtime account below.
        gcp.cloudrunv2.ServiceIamMember(
            f"{name}-deploy-revisions",
            project=project.project_id,
            location=run_service.location,
            name=run_service.name,
            role=RUN_DEVELOPER,
            member=deployer.member,
            opts=in_project,
        )
        # Deploying a revision that runs as an account needs actAs on that account, and only that one.
        gcp.serviceaccount.IAMMember(
            f"{name}-act-as-runtime",
            service_account_id=runtime.name,
            role=SERVICE_ACCOUNT_USER,
            member=deployer.member,
            opts=in_project,
        )
        self.github_variables = pulumi.Output.all(
            provider=project.workload_identity_provider_name,
            deployer=deployer.email,
            runtime=runtime.email,
            repository=repository.repository_id,
            cloud_run=run_service.name,
        ).apply(
            lambda resolved: {
                "GCP_PROJECT_ID": project.project_id,
                "GCP_REGION": project.region,
                "GCP_WORKLOAD_IDENTITY_PROVIDER": resolved["provider"],
                "GCP_SERVICE_ACCOUNT": resolved["deployer"],
                "GCP_RUNTIME_SERVICE_ACCOUNT": resolved["runtime"],
                "GCP_ARTIFACT_REPOSITORY": resolved["repository"],
                "CLOUD_RUN_SERVICE": resolved["cloud_run"],
                "SERVICE_NAME": service.name,
            }
        )
        self.register_outputs({"githubVariables": self.github_variables})
