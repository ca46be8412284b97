"""Review: GCP and Azure deploy identities admit a token from any branch of the repository, in every
environment but a hand-protected prod, contrary to the README.

README ("What the platform creates in GCP and Azure") says the pools admit "only jobs running in the GitHub
environment of that name, in every environment ..., so no other branch or workflow of those repositories, a
pull request's included, gets a token". GitHub puts the environment in the token of *any* job that names it,
whatever its branch or event (GitHub Docs, "OpenID Connect reference": ``repo:ORG/REPO:environment:NAME``),
and a GitHub environment accepts every branch unless it has a deployment branch policy ("Managing
environments for deployment": deployment branches default to "No restriction"; a job naming an environment
that does not exist creates it, unprotected). The platform gives non-production environments no branch policy
(``components/github/deploy_environments.py`` sets one only ``if production``), the template README asks for
one only on prod, and the pool's condition does not read ``assertion.ref`` although it maps it. So any branch
or same-repository pull request with ``environment: qa`` gets a qa token and deploys to qa's Cloud Run / Container
Apps without passing the pipeline's scans.
"""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import PROJECT_DIR, with_dependencies
from tests.shared_plans import shared_plan

PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"


@pytest.fixture(params=["dev", "prod"])
def plan(request):
    return request.getfixturevalue(f"{request.param}_plan")


def test_every_pool_condition_pins_the_branch_its_environment_deploys_from(plan):
    environments = {environment.name: environment for environment in plan.inputs.settings.environments}
    providers = [r for r in plan.resources if r.type == PROVIDER]
    assert providers
    unpinned = []
    for provider in providers:
        name = provider.name.removeprefix("gcp-").removesuffix("-github")
        environment = environments[name]
        condition = provider.inputs["attributeCondition"]
        if "assertion.ref" not in condition:
            unpinned.append(f"{name} (branch {environment.branch}): {condition}")
    assert not unpinned, "pools that admit any branch: " + "; ".join(unpinned)


@pytest.fixture(scope="module")
def github_plan(tmp_path_factory):
    """The dev stack with githubEnvironments on (the platform owns the GitHub environments).

    Written with the same bytes each time, so planned once for every worker and session (``tests/shared_plans.py``).
    """
    project = tmp_path_factory.mktemp("project")
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((PROJECT_DIR / name).read_text())
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    stack["config"]["cicd-platform:settings"].update(githubEnvironments=True, githubProdReviewerTeams=["release"])
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    # One service that deploys to GCP and one to Azure, with what they depend on (9 services, not 24).
    catalog = project / "services.yaml"
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    catalog.write_text(yaml.safe_dump(with_dependencies(raw, ["pricing", "customer-support"])))
    return shared_plan(project, "dev", str(catalog))


def test_every_platform_owned_github_environment_accepts_only_its_branch(github_plan):
    """Azure's federated subject can only name the environment, so the environment must hold the branch rule."""
    environments = [
        r for r in github_plan.resources if r.type == "github:index/repositoryEnvironment:RepositoryEnvironment"
    ]
    assert environments
    open_to_any_branch = sorted(
        f"{r.inputs['repository']}:{r.inputs['environment']}"
        for r in environments
        if not r.inputs.get("deploymentBranchPolicy")
    )
    assert not open_to_any_branch, f"environments any branch can deploy from: {open_to_any_branch}"
