"""Services that also deploy to GCP or Azure: keyless identities, scoped grants and their dispatch actions."""

from __future__ import annotations

import json

import pytest
import yaml

from components.model import naming
from offline_plan.azure_mocks import stable_guid
from offline_plan.gcp_mocks import project_number
from tests.conftest import PROJECT_DIR, document, service_entry, with_dependencies
from tests.shared_plans import shared_plan
from tests.test_workflows import TEMPLATES_DIR, deploy_target_keys

GCP_SERVICES = ("pricing", "recommendations", "reporting")
AZURE_SERVICES = ("customer-support", "partner-api")
ENVIRONMENTS = ("dev", "qa", "staging", "prod")
POOL_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
REPOSITORY_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
CLOUD_RUN_SERVICE = "gcp:cloudrunv2/service:Service"
CLOUD_RUN_MEMBER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
# Built-in Azure roles a CI identity must never hold.
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def of_type(plan, resource_type):
    return [r for r in plan.resources if r.type == resource_type]


def providers(plan, provider_type):
    return {r.urn: r.inputs for r in plan.resources if r.type == provider_type}


def pipeline(plan, name):
    (found,) = [
        r.inputs for r in plan.resources if r.type == "aws:codepipeline/pipeline:Pipeline" and r.inputs["name"] == name
    ]
    return found


def deploy_actions(plan, name):
    stage = next(stage for stage in pipeline(plan, name)["stages"] if stage["name"] == "Deploy")
    return {action["name"]: action for action in stage["actions"]}


# --- GCP -------------------------------------------------------------------------------------------------------


REF_CONDITIONS = {
    "dev": "assertion.ref.startsWith('refs/heads/feature/')",
    "qa": "assertion.ref == 'refs/heads/develop'",
    "staging": "assertion.ref.startsWith('refs/heads/release/')",
    "prod": "assertion.ref == 'refs/heads/main'",
}
"""GitHub's ``ref`` claim of a branch is ``refs/heads/<branch>`` (GitHub Docs, "OpenID Connect reference")."""


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_each_gcp_pool_provider_pins_the_repositories_and_the_github_environment_of_its_environment(stack, request):
    """Not only prod: a token from any branch or workflow of a listed repository must not reach dev or staging."""
    plan = request.getfixturevalue(stack)
    found = {r.name: r for r in of_type(plan, POOL_PROVIDER)}
    assert set(found) == {f"gcp-{env}-github" for env in ENVIRONMENTS}
    repositories = "assertion.repository in ['bookwise/pricing', 'bookwise/recommendations', 'bookwise/reporting']"
    for environment in ENVIRONMENTS:
        provider = found[f"gcp-{environment}-github"].inputs
        assert provider["attributeCondition"] == (
            f"{repositories} && assertion.environment == '{environment}' && {REF_CONDITIONS[environment]}"
        )
        assert provider["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
        assert provider["attributeMapping"] == {
            "google.subject": "assertion.sub",
            "attribute.repository": "assertion.repository",
            "attribute.repository_owner": "assertion.repository_owner",
            "attribute.environment": "assertion.environment",
            "attribute.ref": "assertion.ref",
        }


def test_no_pool_admits_a_whole_owner(dev_plan):
    for provider in of_type(dev_plan, POOL_PROVIDER):
        condition = provider.inputs["attributeCondition"]
        assert "repository_owner" not in condition and "assertion.repository.startsWith" not in condition
        assert all("/" in repository for repository in condition.split("[")[1].split("]")[0].split(", "))


def test_pools_and_their_resources_live_in_the_environments_project(prod_plan):
    gcp_providers = providers(prod_plan, "pulumi:providers:gcp")
    assert {p["project"] for p in gcp_providers.values()} == {
        "bookwise-dev-3f9a",
        "bookwise-qa-7c21",
        "bookwise-staging-5e08",
        "bookwise-prod-91bd",
    }
    for r in prod_plan.resources:
        if r.type.startswith("gcp:"):
            assert r.provider in gcp_providers, r.urn
            environment = r.name.split("-gcp-")[0].rsplit("-", 1)[-1] if "-gcp-" in r.name else r.name.split("-")[1]
            assert (
                gcp_providers[r.provider]["project"]
                == prod_plan.inputs.settings.environment(environment).gcp.project_id
            )


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_workload_identity_user_goes_only_to_the_service_repository(stack, request):
    plan = request.getfixturevalue(stack)
    grants = [r for r in of_type(plan, SA_MEMBER) if r.inputs["role"] == "roles/iam.workloadIdentityUser"]
    assert len(grants) == len(GCP_SERVICES) * len(ENVIRONMENTS)
    for grant in grants:
        service, environment = grant.name.split("-gcp-")[0].rsplit("-", 1)
        target = plan.inputs.settings.environment(environment).gcp
        assert grant.inputs["member"] == (
            f"principalSet://iam.googleapis.com/projects/{project_number(target.project_id)}/locations/global/"
            f"workloadIdentityPools/{target.workload_identity_pool_id}/attribute.repository/bookwise/{service}"
        )
        account = naming.gcp_deploy_account_id(service, environment)
        assert grant.inputs["serviceAccountId"] == (
            f"projects/{target.project_id}/serviceAccounts/{account}@{target.project_id}.iam.gserviceaccount.com"
        )


def test_deploy_account_holds_exactly_the_three_deploy_grants(dev_plan):
    deployer = "serviceAccount:deploy-pricing-qa@bkw-platform-sandbox.iam.gserviceaccount.com"
    held = sorted(
        (r.type, r.inputs["role"])
        for r in dev_plan.resources
        if r.type in (SA_MEMBER, PROJECT_MEMBER, REPOSITORY_MEMBER, CLOUD_RUN_MEMBER) and r.inputs["member"] == deployer
    )
    assert held == [
        (REPOSITORY_MEMBER, "roles/artifactregistry.writer"),
        (CLOUD_RUN_MEMBER, "roles/run.developer"),
        (SA_MEMBER, "roles/iam.serviceAccountUser"),
    ]
    (deploy,) = [r for r in of_type(dev_plan, CLOUD_RUN_MEMBER) if r.inputs["member"] == deployer]
    assert (deploy.inputs["name"], deploy.inputs["location"]) == ("pricing-qa", "europe-west1")
    (writer,) = [r for r in of_type(dev_plan, REPOSITORY_MEMBER) if r.inputs["member"] == deployer]
    assert writer.inputs["repository"] == "pricing-qa"
    (act_as,) = [r for r in of_type(dev_plan, SA_MEMBER) if r.inputs["member"] == deployer]
    assert act_as.inputs["serviceAccountId"].endswith("/run-pricing-qa@bkw-platform-sandbox.iam.gserviceaccount.com")


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_no_deploy_identity_holds_a_project_wide_role(stack, request):
    """In a shared project a project-wide run.developer would let one service replace another's revisions."""
    plan = request.getfixturevalue(stack)
    assert of_type(plan, PROJECT_MEMBER) == []
    grants = of_type(plan, CLOUD_RUN_MEMBER)
    assert len(grants) == len(GCP_SERVICES) * len(ENVIRONMENTS)
    for grant in grants:
        service, environment = grant.name.split("-gcp-")[0].rsplit("-", 1)
        account = naming.gcp_deploy_account_id(service, environment)
        assert grant.inputs["name"] == f"{service}-{environment}"
        assert grant.inputs["member"].startswith(f"serviceAccount:{account}@")


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_the_platform_creates_each_cloud_run_service_running_as_its_runtime_account(stack, request):
    plan = request.getfixturevalue(stack)
    services = {r.inputs["name"]: r for r in of_type(plan, CLOUD_RUN_SERVICE)}
    assert set(services) == {f"{s}-{e}" for s in GCP_SERVICES for e in ENVIRONMENTS}
    for name, service in services.items():
        target = plan.inputs.settings.environment(name.rsplit("-", 1)[1]).gcp
        assert service.inputs["location"] == target.region
        assert service.inputs["deletionProtection"] is True
        template = service.inputs["template"]
        assert template["serviceAccount"] == f"run-{name}@{target.project_id}.iam.gserviceaccount.com"
        assert template["containers"] == [{"image": "us-docker.pkg.dev/cloudrun/container/hello"}]
        service_name, environment = name.rsplit("-", 1)
        assert plan.outputs["cloudDeployTargets"][service_name][environment]["gcp"]["CLOUD_RUN_SERVICE"] == name


def test_no_gcp_grant_is_broad(dev_plan, prod_plan):
    for plan in (dev_plan, prod_plan):
        for r in plan.resources:
            if r.type in (SA_MEMBER, PROJECT_MEMBER, REPOSITORY_MEMBER, CLOUD_RUN_MEMBER):
                role, member = r.inputs["role"], r.inputs["member"]
                assert role not in ("roles/owner", "roles/editor") and not role.endswith("admin"), r.urn
                assert member not in ("allUsers", "allAuthenticatedUsers"), r.urn
                assert "/*" not in member, r.urn


def test_every_gcp_service_gets_a_docker_repository_per_environment(dev_plan):
    repositories = {
        r.inputs["repositoryId"]: r.inputs for r in of_type(dev_plan, "gcp:artifactregistry/repository:Repository")
    }
    assert set(repositories) == {f"{s}-{e}" for s in GCP_SERVICES for e in ENVIRONMENTS}
    assert {r["format"] for r in repositories.values()} == {"DOCKER"}
    assert repositories["pricing-prod"]["labels"]["service"] == "pricing"


# --- Azure -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_federated_subjects_are_exact_per_repository_and_environment(stack, request):
    plan = request.getfixturevalue(stack)
    credentials = of_type(plan, FEDERATED_CREDENTIAL)
    assert sorted(c.inputs["subject"] for c in credentials) == sorted(
        f"repo:bookwise/{s}:environment:{e}" for s in AZURE_SERVICES for e in ENVIRONMENTS
    )
    for credential in credentials:
        assert credential.inputs["issuer"] == "https://token.actions.githubusercontent.com"
        assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
        assert "*" not in credential.inputs["subject"] and "pull_request" not in credential.inputs["subject"]


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_role_assignments_stay_inside_the_service_resource_group(stack, request):
    plan = request.getfixturevalue(stack)
    assignments = of_type(plan, ROLE_ASSIGNMENT)
    assert len(assignments) == 3 * len(AZURE_SERVICES) * len(ENVIRONMENTS)
    for assignment in assignments:
        service, environment = assignment.name.split("-azure-")[0].rsplit("-", 1)
        purpose = assignment.name.split("-azure-")[1]
        subscription = plan.inputs.settings.environment(environment).azure.subscription_id
        group = f"/subscriptions/{subscription}/resourceGroups/rg-{service}-{environment}"
        registry = f"{group}/providers/Microsoft.ContainerRegistry/registries/"
        registry += naming.azure_registry_name(plan.stack, service, environment)
        role = assignment.inputs["roleDefinitionId"].rsplit("/", 1)[1]
        assert role not in (OWNER, USER_ACCESS_ADMINISTRATOR, CONTRIBUTOR)
        assert assignment.inputs["roleDefinitionId"] == (
            f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}"
        )
        holder, expected_role, expected_scope = {
            "deploy-apps": ("deploy", "358470bc-b998-42bd-ab17-a7e34c199c0f", group),  # Container Apps Contributor
            "push-images": ("deploy", "8311e382-0749-4cb8-b61a-304f252e45ec", registry),  # AcrPush
            "pull-images": ("runtime", "7f951dda-4ed3-4680-a7ca-43fe172d538d", registry),  # AcrPull
        }[purpose]
        assert (role, assignment.inputs["scope"]) == (expected_role, expected_scope)
        assert assignment.inputs["principalType"] == "ServicePrincipal"
        identity = (
            f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{service}-{environment}-{holder}"
        )
        assert assignment.inputs["principalId"] == stable_guid("principal", identity)


def test_only_the_deploy_identity_can_be_federated(dev_plan):
    credentials = of_type(dev_plan, FEDERATED_CREDENTIAL)
    assert {c.inputs["resourceName"] for c in credentials} == {
        f"id-{s}-{e}-deploy" for s in AZURE_SERVICES for e in ENVIRONMENTS
    }


def test_azure_resources_are_created_in_the_environment_subscription(prod_plan):
    azure_providers = providers(prod_plan, "pulumi:providers:azure-native")
    assert len(azure_providers) == len(ENVIRONMENTS)
    for r in prod_plan.resources:
        if r.type.startswith("azure-native:"):
            environment = r.name.split("-azure-")[0].rsplit("-", 1)[1]
            target = prod_plan.inputs.settings.environment(environment).azure
            assert azure_providers[r.provider]["subscriptionId"] == target.subscription_id, r.urn
            assert azure_providers[r.provider]["tenantId"] == target.tenant_id


def test_registries_never_enable_the_admin_password(dev_plan):
    registries = of_type(dev_plan, "azure-native:containerregistry:Registry")
    assert len(registries) == len(AZURE_SERVICES) * len(ENVIRONMENTS)
    assert all(r.inputs["adminUserEnabled"] is False and r.inputs["anonymousPullEnabled"] is False for r in registries)


# --- keyless, everywhere ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_no_keys_or_secrets_exist_for_other_clouds(stack, request):
    plan = request.getfixturevalue(stack)
    types = {r.type for r in plan.resources}
    assert "gcp:serviceaccount/key:Key" not in types
    assert not [t for t in types if t.startswith(("azure-native:", "azuread:")) and ("Secret" in t or "Password" in t)]
    assert not [t for t in types if t.startswith("aws:iam/accessKey")]


# --- wiring ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", GCP_SERVICES + AZURE_SERVICES)
def test_each_multicloud_service_dispatches_its_workflow_after_the_aws_deploy(dev_plan, service):
    cloud = "gcp" if service in GCP_SERVICES else "azure"
    action_name = {"gcp": "DeployToGcp", "azure": "DeployToAzure"}[cloud]
    for environment in ENVIRONMENTS:
        actions = deploy_actions(dev_plan, f"{service}-{environment}")
        bake = actions.pop("BakeHealthAlarm", None)  # where the environment bakes, it watches after every deploy
        assert len(actions) == 2
        dispatch = actions[action_name]
        if bake is not None:
            assert bake["runOrder"] > dispatch["runOrder"]
        assert (dispatch["category"], dispatch["owner"], dispatch["provider"], dispatch["version"]) == (
            "Invoke",
            "AWS",
            "Lambda",
            "1",
        )
        assert dispatch["runOrder"] == 2
        assert dispatch["configuration"]["FunctionName"] == "cicd-github-dispatch-dev"
        assert json.loads(dispatch["configuration"]["UserParameters"]) == {
            "service": service,
            "repository": f"bookwise/{service}",
            "cloud": cloud,
            "environment": environment,
            "workflow": f"deploy-{cloud}.yml",
            "commit": "#{SourceVariables.CommitId}",
            "ref": "#{SourceVariables.BranchName}",
            "pipelineExecutionId": "#{codepipeline.PipelineExecutionId}",
            "timeoutMinutes": 480 if environment == "prod" else 120,
        }
        assert dispatch["namespace"] == {"gcp": "GitHubGcp", "azure": "GitHubAzure"}[cloud]
        assert "inputArtifacts" not in dispatch


def test_services_without_other_clouds_have_no_dispatch_action(dev_plan):
    for name in ("booking-prod", "invoicing-dev", "ledger-staging"):
        actions = deploy_actions(dev_plan, name)
        actions.pop("BakeHealthAlarm", None)  # the bake invokes the deploy gate's function, not the dispatch
        assert [a["provider"] for a in actions.values()] != ["Lambda"]
        assert len(actions) == 1


def test_pipeline_role_may_invoke_only_the_dispatch_function(prod_plan):
    def statements(service):
        (role,) = [
            r
            for r in prod_plan.resources
            if r.type == "aws:iam/role:Role" and r.inputs["name"] == f"cicd-pipeline-{service}"
        ]
        (policy,) = [
            r for r in prod_plan.resources if r.type == "aws:iam/rolePolicy:RolePolicy" and r.parent == role.urn
        ]
        return {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}

    invoke = statements("partner-api")["InvokeGitHubDispatch"]
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert invoke["Resource"] == "arn:aws:lambda:eu-west-1:123456789012:function:cicd-github-dispatch-prod"
    # One dispatch function for the fleet (other features have functions of their own).
    functions = [r.inputs["name"] for r in prod_plan.resources if r.type == "aws:lambda/function:Function"]
    assert [name for name in functions if "dispatch" in name] == ["cicd-github-dispatch-prod"]
    assert "InvokeGitHubDispatch" not in statements("booking")


def test_stack_outputs_carry_what_the_workflows_need(dev_plan):
    targets = dev_plan.outputs["cloudDeployTargets"]
    assert sorted(targets) == sorted(GCP_SERVICES + AZURE_SERVICES)
    gcp = targets["pricing"]["prod"]["gcp"]
    number = project_number("bkw-platform-sandbox")
    assert gcp == {
        "GCP_PROJECT_ID": "bkw-platform-sandbox",
        "GCP_REGION": "europe-west1",
        "GCP_WORKLOAD_IDENTITY_PROVIDER": (
            f"projects/{number}/locations/global/workloadIdentityPools/github-prod/providers/github"
        ),
        "GCP_SERVICE_ACCOUNT": "deploy-pricing-prod@bkw-platform-sandbox.iam.gserviceaccount.com",
        "GCP_RUNTIME_SERVICE_ACCOUNT": "run-pricing-prod@bkw-platform-sandbox.iam.gserviceaccount.com",
        "GCP_ARTIFACT_REPOSITORY": "pricing-prod",
        "CLOUD_RUN_SERVICE": "pricing-prod",
        "SERVICE_NAME": "pricing",
    }
    azure = targets["partner-api"]["qa"]["azure"]
    group = "rg-partner-api-qa"
    identity_id = (
        f"/subscriptions/9c3b1e07-5d2a-4f6e-8a1b-2c3d4e5f6a70/resourceGroups/{group}/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/id-partner-api-qa-deploy"
    )
    assert azure["AZURE_CLIENT_ID"] == stable_guid("client", identity_id)
    assert azure["AZURE_TENANT_ID"] == "6f1c2d3e-4a5b-4c7d-8e9f-0a1b2c3d4e5f"
    assert azure["AZURE_SUBSCRIPTION_ID"] == "9c3b1e07-5d2a-4f6e-8a1b-2c3d4e5f6a70"
    assert azure["AZURE_RESOURCE_GROUP"] == group
    assert azure["AZURE_CONTAINER_REGISTRY"] == naming.azure_registry_name("dev", "partner-api", "qa")
    assert azure["AZURE_RUNTIME_IDENTITY_ID"] == identity_id.replace("-qa-deploy", "-qa-runtime")
    assert "gcp" not in targets["partner-api"]["qa"]


def test_clouds_no_service_uses_get_no_provider(catalog_raw, tmp_path):
    """One GCP service in dev and prod only, and no Azure service: nothing of Azure, and GCP in two environments."""
    service_entry(catalog_raw, "pricing")["environments"] = ["dev", "prod"]
    catalog = tmp_path / "services.yaml"
    catalog.write_text(yaml.safe_dump(with_dependencies(catalog_raw, ["pricing"])))
    plan = shared_plan(PROJECT_DIR, "dev", str(catalog))
    assert not [r for r in plan.resources if r.type.startswith(("azure-native", "pulumi:providers:azure"))]
    assert sorted(r.name for r in plan.resources if r.type == "pulumi:providers:gcp") == [
        "gcp-dev-provider",
        "gcp-prod-provider",
    ]
    assert [v for v in plan.violations if v.level == "mandatory"] == []


# --- optional: GitHub environments ------------------------------------------------------------------------------


TWO_CLOUDS = "pricing"
"""In ``github_plan`` this GCP service deploys to Azure too: the reference catalog has no two-cloud service."""


def plan_with_github_environments(project, **settings_changes):
    """The dev stack with githubEnvironments on (and ``settings_changes``), planned from a copy of the project files
    in ``project`` (``TWO_CLOUDS``: both clouds)."""
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((PROJECT_DIR / name).read_text())
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    settings = stack["config"]["cicd-platform:settings"]
    settings.update(githubEnvironments=True, githubProdReviewerTeams=["release-managers"], **settings_changes)
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    catalog = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    service_entry(catalog, TWO_CLOUDS)["also_deploy_to"] = ["gcp", "azure"]
    # GitHub environments are the multicloud services' only: those and what they depend on (13 of 24).
    multicloud = [entry["name"] for entry in catalog["services"] if entry.get("also_deploy_to")]
    (project / "services.yaml").write_text(yaml.safe_dump(with_dependencies(catalog, multicloud)))
    return shared_plan(project, "dev", str(project / "services.yaml"))


@pytest.fixture(scope="module")
def github_plan(tmp_path_factory):
    """The dev stack with githubEnvironments on (``githubPerKeyVariables`` off, its default)."""
    return plan_with_github_environments(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def github_per_key_plan(tmp_path_factory):
    """The same stack during a rollout of the templates: ``githubPerKeyVariables: true``."""
    return plan_with_github_environments(tmp_path_factory.mktemp("project"), githubPerKeyVariables=True)


def test_github_environments_are_off_by_default(dev_plan, prod_plan):
    for plan in (dev_plan, prod_plan):
        assert not [r for r in plan.resources if r.type.startswith(("github:", "pulumi:providers:github"))]


def test_github_environments_need_a_reviewer_team(dev_settings_raw):
    from components.model.errors import PlatformInputError
    from components.model.settings import parse_settings

    dev_settings_raw["githubEnvironments"] = True
    with pytest.raises(PlatformInputError, match="githubEnvironments needs githubProdReviewerTeams"):
        parse_settings(dev_settings_raw, "Pulumi.dev.yaml")


def test_each_multicloud_repository_gets_its_environments_and_prod_waits_for_reviewers(github_plan):
    environments = {
        (r.inputs["repository"], r.inputs["environment"]): r.inputs
        for r in of_type(github_plan, "github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    assert set(environments) == {(s, e) for s in GCP_SERVICES + AZURE_SERVICES for e in ENVIRONMENTS}
    prod = environments[("pricing", "prod")]
    team = json.loads(json.dumps(prod["reviewers"]))[0]["teams"]
    assert len(team) == 1 and int(team[0]) > 0
    assert prod["preventSelfReview"] is True and prod["canAdminsBypass"] is False
    assert prod["deploymentBranchPolicy"] == {"protectedBranches": False, "customBranchPolicies": True}
    assert "reviewers" not in environments[("pricing", "dev")]
    policies = of_type(
        github_plan, "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
    )
    # Every environment, not only prod: GitHub puts the environment in the token of a job on any branch.
    # GitHub's wildcards never match '/' (File.fnmatch), so 'x/**' also gets 'x/**/*' for deeper branches.
    patterns = {"dev": ("feature/**", "feature/**/*"), "qa": ("develop",), "staging": ("release/**", "release/**/*")}
    patterns["prod"] = ("main",)
    assert {(p.inputs["repository"], p.inputs["environment"], p.inputs["branchPattern"]) for p in policies} == {
        (s, e, pattern) for s in GCP_SERVICES + AZURE_SERVICES for e in ENVIRONMENTS for pattern in patterns[e]
    }
    for key, inputs in environments.items():
        assert inputs["deploymentBranchPolicy"] == {"protectedBranches": False, "customBranchPolicies": True}, key


def test_each_environment_gets_one_deploy_target_holding_its_clouds_stack_outputs(github_plan):
    """One ``CICD_DEPLOY_TARGET`` per repository environment (not one variable per key: 32 for a two-cloud service),
    whose JSON is the union of that environment's ``cloudDeployTargets`` over the service's clouds."""
    variables: dict[tuple[str, str], str] = {}
    for resource in of_type(github_plan, "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"):
        key = (resource.inputs["repository"], resource.inputs["environment"])
        assert key not in variables, f"{key} has more than one variable"
        assert resource.inputs["variableName"] == "CICD_DEPLOY_TARGET"
        variables[key] = resource.inputs["value"]
    assert set(variables) == {(s, e) for s in GCP_SERVICES + AZURE_SERVICES for e in ENVIRONMENTS}
    outputs = github_plan.outputs["cloudDeployTargets"]
    for (service, environment), text in variables.items():
        merged: dict[str, str] = {}
        for values in outputs[service][environment].values():
            merged.update(values)
        assert json.loads(text) == merged, (service, environment)
    assert [v for v in github_plan.violations if v.level == "mandatory"] == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_two_cloud_service_gets_every_key_both_workflows_read_in_one_variable(github_plan, environment):
    (text,) = [
        r.inputs["value"]
        for r in of_type(github_plan, "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
        if (r.inputs["repository"], r.inputs["environment"]) == (TWO_CLOUDS, environment)
    ]
    clouds = github_plan.outputs["cloudDeployTargets"][TWO_CLOUDS][environment]
    assert sorted(clouds) == ["azure", "gcp"]
    target = json.loads(text)
    assert set(target) == set(clouds["gcp"]) | set(clouds["azure"])
    assert target["SERVICE_NAME"] == clouds["gcp"]["SERVICE_NAME"] == clouds["azure"]["SERVICE_NAME"] == TWO_CLOUDS
    assert deploy_target_keys(TEMPLATES_DIR / "deploy-gcp.yml") | deploy_target_keys(
        TEMPLATES_DIR / "deploy-azure.yml"
    ) <= set(target)
    # Sorted and compact: the bytes jq -cS prints for the manual path, and the same bytes on every up.
    assert text == json.dumps(target, sort_keys=True, separators=(",", ":"))


# --- the rollout: githubPerKeyVariables keeps the variables templates from before CICD_DEPLOY_TARGET read ----------

ENVIRONMENT_VARIABLE = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"
PER_KEY_URN_PREFIX = (
    "urn:pulumi:dev::cicd-platform::cicd:platform:Platform$cicd:service:ServicePipeline$cicd:github:DeployEnvironments"
    "$github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable::"
)
PRE_CHANGE = {
    PER_KEY_URN_PREFIX + "pricing-github-environments-prod-gcp-project-id": ("GCP_PROJECT_ID", "bkw-platform-sandbox"),
    PER_KEY_URN_PREFIX + "pricing-github-environments-prod-azure-client-id": (
        "AZURE_CLIENT_ID",
        "5b86bb1c-f28d-4ae3-1a1d-45513d211474",
    ),
}
"""URN → (variable, value), copied from a plan of 9274640 (the last commit with per-key variables only) of this same
stack with the whole reference catalog; all 188 of that plan's variables recurred in ``github_per_key_plan`` with the
same URNs and inputs. (``github_plan`` now plans only the multicloud services and their dependencies, which hold
every GitHub variable.)"""


def variables_by_environment(plan):
    found: dict[tuple[str, str], dict[str, str]] = {}
    for resource in of_type(plan, ENVIRONMENT_VARIABLE):
        names = found.setdefault((resource.inputs["repository"], resource.inputs["environment"]), {})
        assert resource.inputs["variableName"] not in names, resource.urn
        names[resource.inputs["variableName"]] = resource.inputs["value"]
    return found


def test_per_key_variables_are_off_by_default(dev_settings_raw):
    from components.model.settings import parse_settings

    dev_settings_raw.update(githubEnvironments=True, githubProdReviewerTeams=["release-managers"])
    assert parse_settings(dev_settings_raw, "Pulumi.dev.yaml").github_per_key_variables is False


def test_per_key_variables_need_github_environments(dev_settings_raw):
    from components.model.errors import PlatformInputError
    from components.model.settings import parse_settings

    dev_settings_raw["githubPerKeyVariables"] = True
    with pytest.raises(PlatformInputError, match="githubPerKeyVariables needs githubEnvironments"):
        parse_settings(dev_settings_raw, "Pulumi.dev.yaml")


def test_without_the_setting_each_environment_holds_only_the_deploy_target(github_plan):
    variables = variables_by_environment(github_plan)
    assert set(variables) == {(s, e) for s in GCP_SERVICES + AZURE_SERVICES for e in ENVIRONMENTS}
    assert {name for names in variables.values() for name in names} == {"CICD_DEPLOY_TARGET"}


def test_with_the_setting_old_templates_find_their_per_key_variables_and_new_ones_the_deploy_target(
    github_per_key_plan,
):
    """Both templates work during the rollout: the per-key variables under their old names with their old values
    (each key of the environment's ``cloudDeployTargets``, ``SERVICE_NAME`` once), and ``CICD_DEPLOY_TARGET``."""
    outputs = github_per_key_plan.outputs["cloudDeployTargets"]
    variables = variables_by_environment(github_per_key_plan)
    assert set(variables) == {(s, e) for s in GCP_SERVICES + AZURE_SERVICES for e in ENVIRONMENTS}
    for (service, environment), names in variables.items():
        merged: dict[str, str] = {}
        for values in outputs[service][environment].values():
            merged.update(values)
        assert json.loads(names.pop("CICD_DEPLOY_TARGET")) == merged, (service, environment)
        assert names == merged, (service, environment)
    # What 9274640's test asserted: 8 per cloud and environment (the two-cloud service shares SERVICE_NAME).
    per_key = sum(len(names) for names in variables.values())  # CICD_DEPLOY_TARGET popped above
    assert per_key == (len(GCP_SERVICES) * 8 + len(AZURE_SERVICES) * 8 + 7) * len(ENVIRONMENTS)
    old_template_reads = {"GCP_PROJECT_ID", "GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT", "SERVICE_NAME"}
    assert old_template_reads <= set(variables[(TWO_CLOUDS, "prod")])
    assert {"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"} <= set(variables[(TWO_CLOUDS, "prod")])
    assert [v for v in github_per_key_plan.violations if v.level == "mandatory"] == []


def test_per_key_variables_keep_the_urns_they_had_before_the_deploy_target_so_nothing_is_replaced(
    github_per_key_plan, github_plan
):
    """A stack that had the per-key variables keeps them as they are when it turns the setting on in the ``up`` that
    brings this release (a changed name is a new URN: a create and a delete); the setting only adds resources."""
    per_key = {r.urn: r.inputs for r in of_type(github_per_key_plan, ENVIRONMENT_VARIABLE)}
    for urn, (variable, value) in PRE_CHANGE.items():
        assert (per_key[urn]["variableName"], per_key[urn]["value"]) == (variable, value), urn
    expected = {
        PER_KEY_URN_PREFIX + f"{service}-github-environments-{environment}-{variable.lower().replace('_', '-')}"
        for (service, environment), names in variables_by_environment(github_per_key_plan).items()
        for variable in names
        if variable != "CICD_DEPLOY_TARGET"
    }
    without = {r.urn: r.inputs for r in of_type(github_plan, ENVIRONMENT_VARIABLE)}
    assert set(per_key) - set(without) == expected
    assert {urn: per_key[urn] for urn in without} == without, "the setting changes nothing else"
    everything_else = {r.urn for r in github_plan.resources}
    assert {r.urn for r in github_per_key_plan.resources} == everything_else | expected
