"""The pure pieces of the GCP/Azure targets: names that fit the clouds' limits, conditions, subjects."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.azure.service_target import federated_subject, role_assignment_name
from components.gcp.environment import attribute_condition
from components.model import naming
from components.model.settings import parse_settings
from offline_plan import gcp_mocks

SERVICE_NAMES = st.from_regex(r"^[a-z][a-z0-9-]{0,26}[a-z0-9]$", fullmatch=True)
ENVIRONMENT_NAMES = st.from_regex(r"^[a-z][a-z0-9]{1,11}$", fullmatch=True)
GCP_ACCOUNT_ID = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
AR_REPOSITORY_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ACR_NAME = re.compile(r"^[a-zA-Z0-9]{5,50}$")


@given(SERVICE_NAMES, ENVIRONMENT_NAMES)
def test_gcp_and_azure_names_fit_their_limits_for_every_catalog_name(service, environment):
    for account in (
        naming.gcp_deploy_account_id(service, environment),
        naming.gcp_runtime_account_id(service, environment),
    ):
        assert GCP_ACCOUNT_ID.match(account), account
    assert AR_REPOSITORY_ID.match(naming.gcp_repository_id(service, environment))
    assert len(naming.gcp_cloud_run_service(service, environment)) <= 49
    assert ACR_NAME.match(naming.azure_registry_name("prod", service, environment))


def test_long_names_stay_distinct_after_shortening():
    a = naming.gcp_deploy_account_id("customer-support-portal-eu", "staging")
    b = naming.gcp_deploy_account_id("customer-support-portal-us", "staging")
    assert len(a) <= 30 and len(b) <= 30 and a != b


def environment(raw_settings, name):
    return parse_settings(raw_settings, "Pulumi.dev.yaml").environment(name)


@pytest.mark.parametrize("name", ["dev", "qa", "staging", "prod"])
def test_condition_lists_repositories_exactly_and_pins_every_environment_to_its_github_environment(
    dev_settings_raw, name
):
    repositories = ("bookwise/b", "bookwise/a")
    assert attribute_condition(repositories, environment(dev_settings_raw, name)) == (
        f"assertion.repository in ['bookwise/a', 'bookwise/b'] && assertion.environment == '{name}'"
    )


def test_a_pool_that_would_admit_no_repository_is_refused(dev_settings_raw):
    with pytest.raises(ValueError, match="admit nothing"):
        attribute_condition((), environment(dev_settings_raw, "dev"))


def test_federated_subject_is_the_exact_github_environment_subject():
    assert federated_subject("bookwise/partner-api", "prod") == "repo:bookwise/partner-api:environment:prod"


def test_role_assignment_names_are_stable_guids():
    first = role_assignment_name("/subscriptions/x/resourceGroups/rg", "id", "role")
    assert first == role_assignment_name("/subscriptions/x/resourceGroups/rg", "id", "role")
    assert first != role_assignment_name("/subscriptions/x/resourceGroups/rg", "id", "other-role")
    assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", first)


def test_mocked_project_lookup_agrees_with_mocked_pool_names():
    project = gcp_mocks.get_project({"projectId": "bookwise-prod-91bd"}, "")
    _, pool = gcp_mocks.resource_state(
        "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
        "pool",
        {"workloadIdentityPoolId": "github-actions"},
        "bookwise-prod-91bd",
        "europe-west1",
    )
    assert pool["name"] == f"projects/{project['number']}/locations/global/workloadIdentityPools/github-actions"
    assert re.match(r"^\d{12}$", project["number"])
