"""Synthetic fleets with the reference catalog's mix, at any size.

A fleet of N services is the reference catalog (``catalog/services.yaml``) repeated as whole
*replicas*, the last one cut short: replica ``k`` renames every service ``<name>-<k>`` (replica 0
keeps the real names), gives it its own team (``<owner>-<k>``), repository and AWS targets
(cluster, ECS service, target groups, function, autoscaling groups, instance role), and keeps the
reference's dependency edges inside the replica. So at every size the platforms, languages,
clouds (``also_deploy_to``), per-service accounts, upstream-deploy behaviours and the shape of
the dependency graph (its depth and fan-in) are the reference's, and nothing collides.

A cut-short replica keeps the reference's first services in catalog order; the reference lists
every service after the ones it depends on, and a dependency outside the cut is dropped.

The policy pack's configuration is the platform's own: ``codebuild-no-privileged`` judges what a
project is (an image build), not a list of names, so a replica needs no entry of its own.
``synthetic_policy_config`` still extends a name list if the configuration ever carries one again.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

from components.model.yaml_source import load_yaml_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
REFERENCE_CATALOG = PROJECT_DIR / "catalog" / "services.yaml"
REFERENCE_POLICY_CONFIG = PROJECT_DIR / "policies" / "policy-config.json"
BUILD_PROJECT_SUFFIX = "-build"

_UNCHANGED_TARGET_FIELDS = {"platform", "container_port"}
"""AWS target fields that are not names: kept as they are; every other one is renamed per replica."""


def reference_services() -> list[dict[str, Any]]:
    return load_yaml_file(REFERENCE_CATALOG, "catalog/services.yaml")["services"]


def _renamed(value: Any, suffix: str) -> Any:
    if isinstance(value, str):
        return f"{value}{suffix}"
    if isinstance(value, list):
        return [_renamed(item, suffix) for item in value]
    return value


def _replica(service: dict[str, Any], replica: int, kept: set[str]) -> dict[str, Any]:
    suffix = f"-{replica}" if replica else ""
    copied = copy.deepcopy(service)
    copied["name"] = f"{service['name']}{suffix}"
    copied["owner"] = f"{service['owner']}{suffix}"
    copied["repository"] = f"{service['repository']}{suffix}"
    copied["aws"] = {
        key: value if key in _UNCHANGED_TARGET_FIELDS else _renamed(value, suffix)
        for key, value in service["aws"].items()
    }
    depends_on = [f"{name}{suffix}" for name in service.get("depends_on", []) if name in kept]
    if depends_on:
        copied["depends_on"] = depends_on
    else:
        copied.pop("depends_on", None)
    return copied


def synthetic_catalog(size: int) -> dict[str, Any]:
    """A catalog of ``size`` services (``size`` >= 1) with the reference's mix; see the module docstring."""
    if size < 1:
        raise ValueError("a catalog needs at least one service")
    base = reference_services()
    services: list[dict[str, Any]] = []
    replica = 0
    while len(services) < size:
        members = base[: size - len(services)]
        kept = {service["name"] for service in members}
        services += [_replica(service, replica, kept) for service in members]
        replica += 1
    return {"services": services}


DEFAULT_PIPELINE_QUOTA = 1000
"""CodePipeline's default pipelines per account and region ("Quotas in AWS CodePipeline": adjustable)."""


def synthetic_policy_config(services: list[dict[str, Any]], pipelines: int = 0) -> dict[str, Any]:
    """The platform's pack configuration, with every replica of a Docker build allowed by name named too.

    A fleet of ``pipelines`` (one per service and environment) above CodePipeline's default quota
    gets the quota its operators would have asked AWS for (the next thousand): the quota is
    adjustable, and shards in their own tooling accounts are not built yet (README: Scaling to a
    large fleet), so that is what a fleet of that size runs with. The ``quotas`` rule still counts.
    """
    config = json.loads(REFERENCE_POLICY_CONFIG.read_text(encoding="utf-8"))
    if pipelines > DEFAULT_PIPELINE_QUOTA:
        config.setdefault("quotas", {})["maxPipelinesPerRegion"] = -(-pipelines // 1000) * 1000
    names = config.get("codebuild-no-privileged", {}).get("allowedProjects")
    if names is None:
        return config  # the rule judges what a project is: nothing names a replica
    allowed = set(names)
    reference = {service["name"] for service in reference_services()}
    for service in services:
        base = service["name"].rsplit("-", 1)[0] if service["name"] not in reference else service["name"]
        if f"{base}{BUILD_PROJECT_SUFFIX}" in allowed:
            allowed.add(f"{service['name']}{BUILD_PROJECT_SUFFIX}")
    config["codebuild-no-privileged"]["allowedProjects"] = sorted(allowed)
    return config


def dependency_depths(services: list[dict[str, Any]]) -> dict[str, int]:
    """Service → length of its longest dependency chain (1 for a service that depends on nothing)."""
    by_name = {service["name"]: service for service in services}
    depths: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in depths:
            depths[name] = 1 + max((depth(upstream) for upstream in by_name[name].get("depends_on", [])), default=0)
        return depths[name]

    for name in by_name:
        depth(name)
    return depths


def mix(services: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Shares (0 to 1) of platforms, languages, other clouds and dependency depths: what "realistic" means here."""

    def shares(counter: Counter[Any]) -> dict[str, float]:
        total = len(services)
        return {str(key): count / total for key, count in sorted(counter.items(), key=lambda kv: str(kv[0]))}

    return {
        "platform": shares(Counter(service["aws"]["platform"] for service in services)),
        "language": shares(Counter(service["language"] for service in services)),
        "other cloud": shares(Counter(cloud for service in services for cloud in service.get("also_deploy_to", []))),
        "depth": shares(Counter(dependency_depths(services).values())),
    }


def team_shards(services: list[dict[str, Any]], services_per_shard: int) -> list[dict[str, Any]]:
    """Shards by team (the stack setting ``shards``), whole teams in catalog order, about ``services_per_shard`` each.

    Teams are never split (a shard holds a team's every service, as a platform team would cut a
    fleet), so a shard closes at the first team that brings it to ``services_per_shard`` or more.
    """
    if services_per_shard < 1:
        raise ValueError("a shard holds at least one service")
    sizes = Counter(service["owner"] for service in services)
    shards: list[dict[str, Any]] = []
    teams: list[str] = []
    count = 0
    for team in dict.fromkeys(service["owner"] for service in services):
        teams.append(team)
        count += sizes[team]
        if count >= services_per_shard:
            shards.append({"name": f"s{len(shards) + 1}", "teams": teams})
            teams, count = [], 0
    if teams:
        shards.append({"name": f"s{len(shards) + 1}", "teams": teams})
    return shards
