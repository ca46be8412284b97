"""The README's promise: a service team edits one catalog entry, and nothing else, to get its pipelines.

For each stack, one plan of the reference catalog with a generated service of every platform (ECS,
Lambda, Server) for every cloud target (AWS only, also GCP, also Azure) added, and two leaf services
removed, all at once. It must plan with no mandatory finding and no advisory finding the reference
catalog does not already have, with nothing but the catalog changed (this test writes a catalog
outside the repository and nothing else: not ``policies/policy-config.json``, not a stack file), and
the removed services must leave no trace: no resource, name, grant, alarm, event pattern, bus
policy, graph entry, SCP statement or output that names them.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from typing import Any

import pytest
import yaml

from components.governance.config_rules import privileged_build_projects
from offline_plan.report import service_of
from offline_plan.runner import Plan
from tests import shared_plans
from tests.conftest import PROJECT_DIR

PLATFORMS = ("ECS", "Lambda", "Server")
TARGETS: tuple[tuple[str, ...], ...] = ((), ("gcp",), ("azure",))
REMOVED = ("partner-api", "reporting")
"""Leaves of the dependency graph: partner-api (ECS, Azure, integration tests on upstream deploys, three
dependencies) and reporting (Lambda, GCP): between them, every kind of trace a service leaves."""


def generated_entry(platform: str, clouds: tuple[str, ...]) -> dict[str, Any]:
    """What a team writes for a new service, as the README's "Adding a service" shows it."""
    name = "-".join(["new", platform.lower(), *clouds])
    aws: dict[str, Any] = {
        "ECS": {
            "platform": "ECS",
            "cluster": "bookwise-core",
            "service": name,
            "container": "app",
            "container_port": 8080,
            "load_balancer": "bookwise-core-alb",
            "target_groups": [f"{name}-blue", f"{name}-green"],
        },
        "Lambda": {"platform": "Lambda", "function": f"{name}-handler"},
        "Server": {"platform": "Server", "autoscaling_groups": [f"{name}-nodes"], "instance_role": f"{name}-node"},
    }[platform]
    entry: dict[str, Any] = {
        "name": name,
        "description": f"A new {platform} service" + (f" that also runs on {', '.join(clouds)}" if clouds else ""),
        "owner": "team-newcomers",
        "repository": f"bookwise/{name}",
        "language": "python",
        "aws": aws,
        "health": {"http_5xx_percent": 1.0} if platform == "Lambda" else {"http_5xx_percent": 1.0, "cpu_percent": 80},
        "depends_on": ["auth"],
    }
    if clouds:
        entry["also_deploy_to"] = list(clouds)
    return entry


GENERATED = [generated_entry(platform, clouds) for platform in PLATFORMS for clouds in TARGETS]
NAMES = [entry["name"] for entry in GENERATED]


def repository_state() -> dict[str, str]:
    """SHA-256 of every file git tracks (and of every untracked file it does not ignore), by path."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT_DIR,
        capture_output=True,
        check=True,
    ).stdout.decode()
    paths = sorted({path for path in listed.split("\0") if path})
    return {
        path: hashlib.sha256((PROJECT_DIR / path).read_bytes()).hexdigest() if (PROJECT_DIR / path).is_file() else ""
        for path in paths
    }


@pytest.fixture(scope="module", params=["dev", "prod"])
def changed(request, tmp_path_factory) -> tuple[Plan, Plan]:
    """(the changed catalog's plan, the reference catalog's plan) for one stack.

    Planned once for every worker and session (``tests/shared_plans.py``): the catalog's bytes depend only on
    the reference catalog and ``GENERATED``, and the fingerprint reads content, not the temporary path. The
    repository is compared around the plan in whichever process computes it; should planning change a file,
    the plan is dropped from the cache as well as failing here, so a later session plans (and checks) again
    instead of reading it.
    """
    stack = request.param
    reference: Plan = request.getfixturevalue(f"{stack}_plan")
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text(encoding="utf-8"))
    dependents = {name for entry in raw["services"] for name in entry.get("depends_on", [])}
    assert not dependents & set(REMOVED), "a removed service must be a leaf, or the catalog would not validate"
    raw["services"] = [entry for entry in raw["services"] if entry["name"] not in REMOVED] + GENERATED
    catalog = tmp_path_factory.mktemp(f"catalog-{stack}") / "services.yaml"
    catalog.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    key = shared_plans.fingerprint(stack, PROJECT_DIR, str(catalog))
    before = repository_state()
    plan = shared_plans.shared_plan(PROJECT_DIR, stack, catalog=str(catalog))
    after = repository_state()
    if after != before:
        for cached in shared_plans.CACHE_DIR.glob(f"plan-{stack}-{key}.*"):
            cached.unlink(missing_ok=True)
    assert after == before, "planning a catalog change changed a file of the repository"
    return plan, reference


def test_the_generated_catalog_really_holds_every_platform_and_cloud_target():
    kinds = {(entry["aws"]["platform"], tuple(entry.get("also_deploy_to", ()))) for entry in GENERATED}
    assert kinds == {(platform, clouds) for platform in PLATFORMS for clouds in TARGETS}


def test_adding_services_is_one_entry_each_no_mandatory_finding(changed):
    plan, _ = changed
    assert [(v.policy, v.message) for v in plan.mandatory_violations] == []


def test_adding_services_brings_no_new_advisory_finding(changed):
    plan, reference = changed
    known = {(v.policy, v.message) for v in reference.violations}
    assert [(v.policy, v.message) for v in plan.violations if (v.policy, v.message) not in known] == []


@pytest.mark.parametrize("name", NAMES)
def test_each_added_service_gets_its_pipelines_and_is_judged_clean(changed, name):
    plan, _ = changed
    service = plan.inputs.catalog.service(name)
    environments = [environment.name for environment in plan.inputs.environments_for(service)]
    assert set(plan.outputs["pipelines"][name]) == set(environments)
    owners = service_of(plan)
    owned = [r for r in plan.resources if owners.get(r.urn) == name]
    assert owned, name
    assert [v.message for v in plan.violations if owners.get(v.urn or "") == name] == []
    projects = {r.inputs["name"]: r.inputs for r in owned if r.type == "aws:codebuild/project:Project"}
    if service.aws.platform == "ECS":
        # The privileged image build the pack accepted for what it is, not because a list names it.
        assert projects[f"{name}-image-build"]["environment"]["privilegedMode"] is True
        assert f"{name}-image-build" in privileged_build_projects(plan.inputs)
    assert projects[f"{name}-build"]["environment"]["privilegedMode"] is False
    for cloud in service.also_deploy_to:
        assert set(plan.outputs["cloudDeployTargets"][name]) == set(environments), cloud
    repositories = [r.inputs for r in owned if r.type == "gcp:artifactregistry/repository:Repository"]
    assert all(repository.get("kmsKeyName") for repository in repositories)
    assert len(repositories) == (len(environments) if "gcp" in service.also_deploy_to else 0)


def every_word_of(plan: Plan) -> str:
    """Every name, URN, input (secrets included: the graph parameter and policies as the pack sees them) and output."""
    seen = [
        {"urn": r.urn, "name": r.name, "inputs": r.revealed_inputs or r.inputs, "deps": r.dependencies}
        for r in plan.resources
    ]
    return json.dumps({"resources": seen, "outputs": plan.outputs}, sort_keys=True, default=str)


@pytest.mark.parametrize("name", REMOVED)
def test_a_removed_service_leaves_no_trace(changed, name):
    plan, reference = changed
    mentions = re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])")
    assert mentions.search(every_word_of(reference)), f"{name} leaves no trace even when present: the check is blind"
    text = every_word_of(plan)
    found = sorted({text[max(match.start() - 60, 0) : match.end() + 20] for match in mentions.finditer(text)})
    assert found == [], f"{name} is still named in the plan: {found[:5]}"
    assert name not in plan.outputs["pipelines"]
    assert name not in {service.name for service in plan.inputs.catalog.services}
    assert f"{name}-image-build" not in privileged_build_projects(plan.inputs)


def test_the_plan_used_the_repositorys_own_pack_configuration(changed):
    """No allow-list had to grow: the configuration names no project, service or account."""
    config = (PROJECT_DIR / "policies" / "policy-config.json").read_text(encoding="utf-8")
    for name in [*NAMES, *REMOVED, *(s.name for s in changed[1].inputs.catalog.services)]:
        assert not re.search(rf"(?<![A-Za-z0-9-]){re.escape(name)}(?![A-Za-z0-9])", config), name
