"""The benchmark's synthetic fleets are valid catalogs with the reference's mix (figures live in docs/, not here)."""

from __future__ import annotations

import json

import pytest

import bench.synthetic_catalog as synthetic_catalog_module
from bench.synthetic_catalog import (
    PROJECT_DIR,
    REFERENCE_POLICY_CONFIG,
    dependency_depths,
    mix,
    reference_services,
    synthetic_catalog,
    synthetic_policy_config,
    team_shards,
)
from components.model.catalog import parse_catalog
from components.model.settings import parse_settings
from components.model.sharding import check_shards, shard_members
from offline_plan.stack_config import read_stack_config
from policies import pack_config


def test_24_services_is_the_reference_catalog_itself():
    assert synthetic_catalog(24)["services"] == reference_services()


@pytest.mark.parametrize("size", [1, 30, 200, 1000])
def test_every_size_is_a_valid_catalog_of_that_size(size):
    catalog = parse_catalog(synthetic_catalog(size), f"synthetic-{size}")
    assert len(catalog.services) == size
    names = [service.name for service in catalog.services]
    assert len(set(names)) == size
    targets = [json.dumps(s.aws.model_dump(exclude={"platform", "container_port"})) for s in catalog.services]
    assert len(set(targets)) == size, "each replica deploys to its own AWS targets"


@pytest.mark.parametrize("size", [48, 1008])
def test_whole_replicas_keep_the_reference_mix_and_dependency_depths(size):
    assert mix(synthetic_catalog(size)["services"]) == mix(reference_services())
    depths = dependency_depths(synthetic_catalog(size)["services"])
    assert max(depths.values()) == max(dependency_depths(reference_services()).values())


def test_a_replica_depends_only_on_services_of_its_own_replica():
    services = synthetic_catalog(60)["services"]
    for service in services:
        suffix = service["name"][len(service["name"].rstrip("0123456789")) :]
        for upstream in service.get("depends_on", []):
            assert upstream.endswith(f"-{suffix}") if suffix else not upstream[-1].isdigit()


def test_the_policy_config_is_the_platforms_and_valid_for_the_pack(tmp_path):
    """``codebuild-no-privileged`` judges what a project is, so the reference configuration serves every size."""
    config = synthetic_policy_config(synthetic_catalog(72)["services"])
    assert config == json.loads(REFERENCE_POLICY_CONFIG.read_text())
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(config))
    pack_config.load(path)  # valid for the pack's schemas


def test_a_name_list_in_the_policy_config_names_every_replica_of_a_listed_build(tmp_path, monkeypatch):
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps({"codebuild-no-privileged": {"allowedProjects": ["auth-build", "booking-build"]}}))
    monkeypatch.setattr(synthetic_catalog_module, "REFERENCE_POLICY_CONFIG", reference)
    config = synthetic_policy_config(synthetic_catalog(72)["services"])
    allowed = set(config["codebuild-no-privileged"]["allowedProjects"])
    assert {"auth-build", "auth-1-build", "auth-2-build", "booking-2-build"} <= allowed
    assert "currency-rates-1-build" not in allowed
    assert len(allowed) == 6


@pytest.mark.parametrize(("size", "per_shard"), [(200, 100), (1000, 100), (30, 1000)])
def test_team_shards_hold_whole_teams_and_every_service_once(size, per_shard):
    raw = synthetic_catalog(size)
    shards = team_shards(raw["services"], per_shard)
    catalog = parse_catalog(raw, "synthetic")
    config = read_stack_config(PROJECT_DIR, "dev", "cicd-platform")
    settings = json.loads(config.values["cicd-platform:settings"]) | {"shards": shards}
    check_shards(catalog, parse_settings(settings, "Pulumi.dev.yaml"), "synthetic", "Pulumi.dev.yaml")
    owner = shard_members(catalog, parse_settings(settings, "Pulumi.dev.yaml").shards)
    assert sorted(owner) == sorted(service.name for service in catalog.services)
    sizes = [sum(1 for shard in owner.values() if shard == s["name"]) for s in shards]
    assert all(n >= per_shard for n in sizes[:-1]), "a shard closes only once it holds enough services"
    teams = [team for shard in shards for team in shard["teams"]]
    assert len(teams) == len(set(teams)), "a team is never split over two shards"


def test_team_shards_refuse_an_empty_shard_size():
    with pytest.raises(ValueError, match="at least one service"):
        team_shards(reference_services(), 0)


def test_a_fleet_over_codepipelines_default_quota_runs_with_the_quota_it_asked_for(tmp_path):
    services = synthetic_catalog(1000)["services"]
    assert "maxPipelinesPerRegion" not in synthetic_policy_config(services, 1000).get("quotas", {})
    config = synthetic_policy_config(services, 4000)
    assert config["quotas"]["maxPipelinesPerRegion"] == 4000
    assert synthetic_policy_config(services, 4001)["quotas"]["maxPipelinesPerRegion"] == 5000
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(config))
    assert pack_config.load(path).properties_of("quotas")["maxPipelinesPerRegion"] == 4000
