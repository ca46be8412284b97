"""Per-environment GCP and Azure blocks: accepted shapes, and every mistake located."""

from __future__ import annotations

import pytest

from components.model.catalog import parse_catalog
from components.model.errors import PlatformInputError
from components.model.settings import check_catalog_against_stack, parse_settings
from tests.conftest import service_entry

FILE = "Pulumi.dev.yaml"


def rejects(raw, *fragments: str) -> str:
    with pytest.raises(PlatformInputError) as caught:
        parse_settings(raw, FILE)
    message = str(caught.value)
    assert message.startswith(f"{FILE}: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def environment(raw, name):
    return next(entry for entry in raw["environments"] if entry["name"] == name)


def test_both_stacks_configure_gcp_and_azure_for_every_environment(dev_settings_raw, prod_settings_raw):
    for raw in (dev_settings_raw, prod_settings_raw):
        settings = parse_settings(raw, FILE)
        assert all(env.gcp and env.azure for env in settings.environments)
    prod = parse_settings(prod_settings_raw, FILE)
    assert prod.environment("prod").gcp.project_id == "bookwise-prod-91bd"
    assert prod.environment("prod").azure.subscription_id != prod.environment("dev").azure.subscription_id


def test_cloud_blocks_are_optional(dev_settings_raw):
    for entry in dev_settings_raw["environments"]:
        entry.pop("gcp"), entry.pop("azure")
    settings = parse_settings(dev_settings_raw, FILE)
    assert settings.environment("dev").gcp is None and settings.environment("dev").azure is None


def test_pool_id_defaults_when_omitted(dev_settings_raw):
    del environment(dev_settings_raw, "qa")["gcp"]["workloadIdentityPoolId"]
    assert parse_settings(dev_settings_raw, FILE).environment("qa").gcp.workload_identity_pool_id == "github-actions"


@pytest.mark.parametrize(
    "project", ["Bookwise-dev", "1bookwise", "short", "bookwise-dev-", "bookwise_dev", "a" * 31, "bookwise dev"]
)
def test_bad_gcp_project_id_names_environment_and_field(dev_settings_raw, project):
    environment(dev_settings_raw, "qa")["gcp"]["projectId"] = project
    rejects(dev_settings_raw, "environment 'qa'", "field 'cicd-platform:settings.gcp.projectId'")


@pytest.mark.parametrize("region", ["europe-west", "eu-west-1", "EUROPE-WEST1", "europe west1", ""])
def test_bad_gcp_region_is_rejected(dev_settings_raw, region):
    environment(dev_settings_raw, "dev")["gcp"]["region"] = region
    rejects(dev_settings_raw, "environment 'dev'", "field 'cicd-platform:settings.gcp.region'")


@pytest.mark.parametrize("pool", ["abc", "GitHub-pool", "pool_github", "a" * 33])
def test_bad_pool_id_is_rejected(dev_settings_raw, pool):
    environment(dev_settings_raw, "prod")["gcp"]["workloadIdentityPoolId"] = pool
    rejects(dev_settings_raw, "environment 'prod'", "field 'cicd-platform:settings.gcp.workloadIdentityPoolId'")


def test_pool_id_with_googles_reserved_prefix_is_rejected(dev_settings_raw):
    environment(dev_settings_raw, "prod")["gcp"]["workloadIdentityPoolId"] = "gcp-github"
    rejects(dev_settings_raw, "environment 'prod'", "workloadIdentityPoolId", "reserved by Google")


def test_two_environments_cannot_share_one_pool_in_one_project(dev_settings_raw):
    environment(dev_settings_raw, "qa")["gcp"]["workloadIdentityPoolId"] = "github-dev"
    rejects(dev_settings_raw, "pool 'github-dev' in project 'bkw-platform-sandbox' is named by two environments")


def test_the_same_pool_id_in_different_projects_is_fine(prod_settings_raw):
    settings = parse_settings(prod_settings_raw, FILE)
    assert {env.gcp.workload_identity_pool_id for env in settings.environments} == {"github-actions"}


def test_unknown_key_in_the_gcp_block_is_rejected(dev_settings_raw):
    environment(dev_settings_raw, "dev")["gcp"]["project"] = "bkw-platform-sandbox"
    rejects(dev_settings_raw, "environment 'dev'", "field 'cicd-platform:settings.gcp.project'", "unknown key")


def test_missing_gcp_project_is_rejected(dev_settings_raw):
    del environment(dev_settings_raw, "dev")["gcp"]["projectId"]
    rejects(dev_settings_raw, "field 'cicd-platform:settings.gcp.projectId'", "required but missing")


@pytest.mark.parametrize("field", ["tenantId", "subscriptionId"])
@pytest.mark.parametrize(
    "value", ["not-a-guid", "6f1c2d3e4a5b4c7d8e9f0a1b2c3d4e5f", "{6f1c2d3e-4a5b-4c7d-8e9f-0a1b2c3d4e5f}"]
)
def test_azure_ids_must_be_guids(dev_settings_raw, field, value):
    environment(dev_settings_raw, "staging")["azure"][field] = value
    rejects(dev_settings_raw, "environment 'staging'", f"field 'cicd-platform:settings.azure.{field}'")


@pytest.mark.parametrize("location", ["North Europe", "NorthEurope", "north-europe", "ne"])
def test_azure_location_must_be_the_lowercase_name(dev_settings_raw, location):
    environment(dev_settings_raw, "dev")["azure"]["location"] = location
    rejects(dev_settings_raw, "environment 'dev'", "field 'cicd-platform:settings.azure.location'", "lower-case")


def _cross_check(catalog_raw, settings_raw):
    check_catalog_against_stack(parse_catalog(catalog_raw, "c.yaml"), parse_settings(settings_raw, FILE), "c.yaml")


def test_a_service_cannot_target_a_cloud_its_environment_does_not_configure(catalog_raw, dev_settings_raw):
    del environment(dev_settings_raw, "staging")["gcp"]
    with pytest.raises(PlatformInputError) as caught:
        _cross_check(catalog_raw, dev_settings_raw)
    message = str(caught.value)
    assert message.startswith("c.yaml: service 'pricing': field 'also_deploy_to': deploys to gcp"), message
    assert "environment 'staging'" in message and "no 'gcp' block" in message


def test_a_missing_azure_block_names_the_azure_service(catalog_raw, dev_settings_raw):
    del environment(dev_settings_raw, "prod")["azure"]
    with pytest.raises(PlatformInputError) as caught:
        _cross_check(catalog_raw, dev_settings_raw)
    message = str(caught.value)
    assert "service 'partner-api'" in message and "field 'also_deploy_to'" in message
    assert "environment 'prod'" in message and "'azure'" in message


def test_only_the_environments_a_service_deploys_to_need_the_block(catalog_raw, dev_settings_raw):
    for name in ("pricing", "reporting", "recommendations"):
        service_entry(catalog_raw, name)["environments"] = ["dev", "prod"]
    del environment(dev_settings_raw, "qa")["gcp"]
    _cross_check(catalog_raw, dev_settings_raw)


def test_services_without_other_clouds_need_no_blocks(catalog_raw, dev_settings_raw):
    for entry in catalog_raw["services"]:
        entry.pop("also_deploy_to", None)
    for entry in dev_settings_raw["environments"]:
        entry.pop("gcp"), entry.pop("azure")
    _cross_check(catalog_raw, dev_settings_raw)
