"""GCP and Azure identity rules: federation pinned to one repository, no keys, no admin roles."""

from __future__ import annotations

import json

import pytest

from policies.rules.azure_identity import AZURE_FIC_SUBJECT, AZURE_ROLE_LEAST_PRIVILEGE
from policies.rules.federated_environments import IDENTITY_PINNED_ENVIRONMENT
from policies.rules.gcp_artifact_registry import GCP_ARTIFACT_REGISTRY, GCP_ARTIFACT_REGISTRY_CMEK
from policies.rules.gcp_identity import GCP_NO_SA_KEYS, GCP_SA_NO_ADMIN, WIF_BINDING_SCOPED, WIF_PROVIDER_CONDITION
from policies.testing import UNKNOWN, Provider, Resource

from .rule_cases import fires, quiet, unknown

POOL = "projects/123456/locations/global/workloadIdentityPools/github"
SA = "cicd-deployer@bookwise-prod.iam.gserviceaccount.com"
SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000"
OWNER = f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
WEBSITE_CONTRIBUTOR = (
    f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/de139f84-1756-47ae-9be6-808fbbe84772"
)


def provider(condition):
    props = {
        "workloadIdentityPoolId": "github",
        "workloadIdentityPoolProviderId": "github-actions",
        "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"},
        "attributeMapping": {"google.subject": "assertion.sub", "attribute.repository": "assertion.repository"},
    }
    if condition is not None:
        props["attributeCondition"] = condition
    return Resource("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider", props, "github-provider")


def gcp_project(environment):
    """The explicit provider into an environment's project, labelled with the environment (as the platform does)."""
    labels = json.dumps({"managed-by": "cicd-platform", "environment": environment})
    props = {"project": f"bookwise-{environment}", "region": "europe-west1", "defaultLabels": labels}
    return Provider(props, f"gcp-{environment}-provider", "pulumi:providers:gcp")


def pinned_provider(condition, environment):
    """A pool provider created through its environment's project provider, and that provider as a resource."""
    project = gcp_project(environment)
    pool = provider(condition)
    return [
        Resource(project.type, project.props, project.name),
        Resource(pool.type, pool.props, f"gcp-{environment}-github", provider=project),
    ]


def identity(environment, name="id-booking-qa-deploy"):
    props = {"resourceName": name, "resourceGroupName": "rg-booking-qa", "tags": {"environment": environment}}
    return Resource("azure-native:managedidentity:UserAssignedIdentity", props, f"booking-{environment}-deployer")


def qa_credential(subject, **props):
    return credential(
        subject,
        "github-environment-qa",
        resourceName="id-booking-qa-deploy",
        resourceGroupName="rg-booking-qa",
        **props,
    )


def sa_member(member, role="roles/iam.workloadIdentityUser"):
    props = {"serviceAccountId": f"projects/bookwise-prod/serviceAccounts/{SA}", "role": role, "member": member}
    return Resource("gcp:serviceaccount/iAMMember:IAMMember", props, "wif-binding")


def project_member(role, member=f"serviceAccount:{SA}"):
    return Resource(
        "gcp:projects/iAMMember:IAMMember", {"project": "bookwise-prod", "role": role, "member": member}, "grant"
    )


def registry_member(member):
    props = {
        "repository": "images",
        "location": "europe-west1",
        "role": "roles/artifactregistry.reader",
        "member": member,
    }
    return Resource("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", props, "reader")


def registry(**props):
    base = {"repositoryId": "images", "format": "DOCKER", "location": "europe-west1"}
    return Resource("gcp:artifactregistry/repository:Repository", {**base, **props}, "images")


def credential(subject, name="booking-prod-github", **props):
    base = {
        "resourceGroupName": "cicd",
        "resourceName": "booking-deployer",
        "federatedIdentityCredentialResourceName": name,
        "issuer": "https://token.actions.githubusercontent.com",
        "audiences": ["api://AzureADTokenExchange"],
        "subject": subject,
    }
    return Resource("azure-native:managedidentity:FederatedIdentityCredential", {**base, **props}, name)


def assignment(role=WEBSITE_CONTRIBUTOR, scope=f"{SUBSCRIPTION}/resourceGroups/booking-prod", **props):
    base = {"principalId": "1111", "principalType": "ServicePrincipal", "roleDefinitionId": role, "scope": scope}
    return Resource("azure-native:authorization:RoleAssignment", {**base, **props}, "deployer-role")


CASES = [
    fires(
        WIF_PROVIDER_CONDITION,
        "no condition",
        provider(None),
        "provider github-actions trusts GitHub's issuer "
        "with no attribute_condition: every GitHub repository can use it",
    ),
    fires(
        WIF_PROVIDER_CONDITION,
        "owner only",
        provider("assertion.repository_owner == 'bookwise'"),
        'provider github-actions condition "assertion.repository_owner '
        "== 'bookwise'\" does not pin assertion.repository to named ORG/REPO repositories",
    ),
    quiet(
        WIF_PROVIDER_CONDITION,
        "a closed list of repositories",
        provider(
            "assertion.repository in ['bookwise/pricing', 'bookwise/reporting'] && assertion.environment == 'prod'"
        ),
    ),
    fires(
        WIF_PROVIDER_CONDITION,
        "a list with a wildcard entry",
        provider("assertion.repository in ['bookwise/pricing', 'bookwise/*']"),
        "provider github-actions condition \"assertion.repository in ['bookwise/pricing', 'bookwise/*']\" does not pin "
        "assertion.repository to named ORG/REPO repositories",
    ),
    quiet(
        WIF_PROVIDER_CONDITION,
        "repository pinned",
        provider("assertion.repository == 'bookwise/booking' && assertion.ref == 'refs/heads/main'"),
    ),
    unknown(WIF_PROVIDER_CONDITION, "condition not known", provider(UNKNOWN)),
    fires(
        WIF_BINDING_SCOPED,
        "pool-wide",
        sa_member(f"principalSet://iam.googleapis.com/{POOL}/*"),
        f"workloadIdentityUser granted to principalSet://iam.googleapis.com/{POOL}/*: "
        f"not one repository (attribute.repository/ORG/REPO)",
    ),
    fires(
        WIF_BINDING_SCOPED,
        "owner-wide attribute",
        sa_member(f"principalSet://iam.googleapis.com/{POOL}/attribute.repository_owner/bookwise"),
        f"workloadIdentityUser granted to principalSet://iam.googleapis.com/{POOL}/"
        "attribute.repository_owner/bookwise: not one repository (attribute.repository/ORG/REPO)",
    ),
    quiet(
        WIF_BINDING_SCOPED,
        "one repository",
        sa_member(f"principalSet://iam.googleapis.com/{POOL}/attribute.repository/bookwise/booking"),
    ),
    unknown(WIF_BINDING_SCOPED, "member not known", sa_member(UNKNOWN)),
    fires(
        GCP_NO_SA_KEYS,
        "a key",
        Resource("gcp:serviceaccount/key:Key", {"serviceAccountId": SA}, "key"),
        f"service account key for {SA}: a long-lived credential (use federation)",
    ),
    quiet(
        GCP_NO_SA_KEYS,
        "a service account without keys",
        Resource("gcp:serviceaccount/account:Account", {"accountId": "cicd-deployer"}),
    ),
    unknown(
        GCP_NO_SA_KEYS,
        "a key of an account not known yet is still a key",
        Resource("gcp:serviceaccount/key:Key", {"serviceAccountId": UNKNOWN}, "key"),
        "service account key for (not known yet): a long-lived credential (use federation)",
    ),
    fires(
        GCP_SA_NO_ADMIN,
        "editor",
        project_member("roles/editor"),
        f"service account {SA} holds roles/editor on project bookwise-prod",
    ),
    fires(
        GCP_SA_NO_ADMIN,
        "*Admin role",
        project_member("roles/run.admin"),
        f"service account {SA} holds roles/run.admin on project bookwise-prod",
    ),
    fires(
        GCP_SA_NO_ADMIN,
        "run developer on the whole project",
        project_member("roles/run.developer"),
        f"service account {SA} holds roles/run.developer on the whole project bookwise-prod: "
        "grant it on the one resource it deploys",
    ),
    quiet(GCP_SA_NO_ADMIN, "run viewer", project_member("roles/run.viewer")),
    quiet(
        GCP_SA_NO_ADMIN,
        "run developer allowed project-wide by configuration",
        project_member("roles/run.developer"),
        config={"serviceScopedRoles": []},
    ),
    quiet(
        GCP_SA_NO_ADMIN, "a person may be admin (not CI)", project_member("roles/owner", "user:ops@bookwise.example")
    ),
    unknown(GCP_SA_NO_ADMIN, "role not known", project_member(UNKNOWN)),
    fires(
        GCP_ARTIFACT_REGISTRY,
        "public",
        registry_member("allUsers"),
        "repository images grants roles/artifactregistry.reader to allUsers",
    ),
    quiet(GCP_ARTIFACT_REGISTRY, "runtime service account", registry_member(f"serviceAccount:{SA}")),
    unknown(GCP_ARTIFACT_REGISTRY, "member not known", registry_member(UNKNOWN)),
    fires(
        GCP_ARTIFACT_REGISTRY_CMEK,
        "Google-managed key",
        registry(),
        "repository images is encrypted with a Google-managed key (no kms_key_name)",
    ),
    quiet(
        GCP_ARTIFACT_REGISTRY_CMEK,
        "CMEK",
        registry(kmsKeyName="projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k"),
    ),
    unknown(GCP_ARTIFACT_REGISTRY_CMEK, "key not known", registry(kmsKeyName=UNKNOWN)),
    fires(
        AZURE_FIC_SUBJECT,
        "pull_request subject",
        credential("repo:bookwise/booking:pull_request"),
        "subject 'repo:bookwise/booking:pull_request' lets pull-request workflows mint tokens",
    ),
    fires(
        AZURE_FIC_SUBJECT,
        "wildcard subject",
        credential("repo:bookwise/*:environment:prod"),
        "subject 'repo:bookwise/*:environment:prod' is not an exact repo:ORG/REPO:environment:NAME (or ref) subject",
    ),
    fires(
        AZURE_FIC_SUBJECT,
        "prod credential on a branch",
        credential("repo:bookwise/booking:ref:refs/heads/main"),
        "production credential subject 'repo:bookwise/booking:ref:refs/heads/main' "
        "names a branch, not a GitHub environment",
    ),
    fires(
        AZURE_FIC_SUBJECT,
        "wrong audience",
        credential("repo:bookwise/booking:environment:prod", audiences=["api://other"]),
        "audiences ['api://other'] are not exactly ['api://AzureADTokenExchange']",
    ),
    quiet(AZURE_FIC_SUBJECT, "prod environment subject", credential("repo:bookwise/booking:environment:prod")),
    quiet(
        AZURE_FIC_SUBJECT,
        "dev on a branch",
        credential("repo:bookwise/booking:ref:refs/heads/develop", name="booking-dev-github"),
    ),
    unknown(AZURE_FIC_SUBJECT, "subject not known", credential(UNKNOWN)),
    # identity-pinned-environment
    fires(
        IDENTITY_PINNED_ENVIRONMENT,
        "a non-production provider that pins only the repositories",
        pinned_provider("assertion.repository in ['bookwise/pricing']", "dev"),
        "workload identity provider github-actions (gcp-dev-github) accepts a GitHub token from any branch or "
        "workflow of its repositories: its attribute condition does not pin assertion.environment",
    ),
    fires(
        IDENTITY_PINNED_ENVIRONMENT,
        "the dev project's provider pins prod",
        pinned_provider("assertion.repository == 'bookwise/pricing' && assertion.environment == 'prod'", "dev"),
        "workload identity provider github-actions (gcp-dev-github) in the dev project pins GitHub environment "
        "prod, not dev",
    ),
    fires(
        IDENTITY_PINNED_ENVIRONMENT,
        "an environment pin that '||' bypasses",
        pinned_provider("assertion.environment == 'qa' || assertion.repository == 'bookwise/pricing'", "qa"),
        "workload identity provider github-actions (gcp-qa-github) pins the GitHub environment only on one side of "
        "'||' in \"assertion.environment == 'qa' || assertion.repository == 'bookwise/pricing'\": the other side "
        "admits any environment",
    ),
    fires(
        IDENTITY_PINNED_ENVIRONMENT,
        "a non-production Azure credential on a branch",
        [identity("qa"), qa_credential("repo:bookwise/booking:ref:refs/heads/develop")],
        "federated credential github-environment-qa trusts subject 'repo:bookwise/booking:ref:refs/heads/develop', "
        "not a GitHub environment (repo:ORG/REPO:environment:NAME)",
    ),
    fires(
        IDENTITY_PINNED_ENVIRONMENT,
        "a qa identity trusting the prod GitHub environment",
        [identity("qa"), qa_credential("repo:bookwise/booking:environment:prod")],
        "federated credential github-environment-qa of a qa identity trusts GitHub environment prod, not qa",
    ),
    quiet(
        IDENTITY_PINNED_ENVIRONMENT,
        "every environment pinned to its own GitHub environment",
        [
            *pinned_provider("assertion.repository in ['bookwise/pricing'] && assertion.environment == 'dev'", "dev"),
            identity("qa"),
            qa_credential("repo:bookwise/booking:environment:qa"),
        ],
    ),
    quiet(
        IDENTITY_PINNED_ENVIRONMENT,
        "a provider for another issuer",
        Resource(
            "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
            {"oidc": {"issuerUri": "https://gitlab.example.com"}, "attributeCondition": "true"},
        ),
    ),
    unknown(
        IDENTITY_PINNED_ENVIRONMENT,
        "condition and subject not known yet",
        [*pinned_provider(UNKNOWN, "dev"), identity("qa"), qa_credential(UNKNOWN)],
    ),
    unknown(
        IDENTITY_PINNED_ENVIRONMENT,
        "the identity's name not known yet: the subject must still name an environment",
        [identity("qa"), credential("repo:bookwise/booking:ref:refs/heads/develop", "github", resourceName=UNKNOWN)],
        "federated credential github trusts subject 'repo:bookwise/booking:ref:refs/heads/develop', not a GitHub "
        "environment (repo:ORG/REPO:environment:NAME)",
    ),
    fires(AZURE_ROLE_LEAST_PRIVILEGE, "Owner", assignment(OWNER), "CI identity 1111 is assigned Owner"),
    fires(
        AZURE_ROLE_LEAST_PRIVILEGE,
        "subscription scope",
        assignment(scope=SUBSCRIPTION),
        f"role assignment scope {SUBSCRIPTION} is a whole subscription or management group (use a resource group)",
    ),
    quiet(AZURE_ROLE_LEAST_PRIVILEGE, "contributor on a resource group", assignment()),
    unknown(AZURE_ROLE_LEAST_PRIVILEGE, "scope and role not known", assignment(role=UNKNOWN, scope=UNKNOWN)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_cloud_identity_rule(case):
    case.verify()
