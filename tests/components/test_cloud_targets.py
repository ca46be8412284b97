"""The pure pieces of the GCP/Azure targets: names that fit the clouds' limits, conditions, subjects."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.azure.service_target import federated_subject, role_assignment_name
from components.gcp.environment import attribute_condition, ref_condition
from components.model import naming
from components.model.branch_pattern import matches
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
    ref = {
        "dev": "assertion.ref.startsWith('refs/heads/feature/')",
        "qa": "assertion.ref == 'refs/heads/develop'",
        "staging": "assertion.ref.startsWith('refs/heads/release/')",
        "prod": "assertion.ref == 'refs/heads/main'",
    }[name]
    assert attribute_condition(repositories, environment(dev_settings_raw, name)) == (
        f"assertion.repository in ['bookwise/a', 'bookwise/b'] && assertion.environment == '{name}' && {ref}"
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


PATTERNS = ["main", "develop", "feature/**", "release/**", "hotfix/*", "release/v[0-9]*", "{main,master}"]
PATTERNS += ["team-?/**", "rel.x/*", "[!a]*/fix", "o'brien"]
BRANCHES = ["main", "master", "develop", "feature/a", "feature/a/b", "feature", "release/1.2", "release/1/2"]
BRANCHES += ["hotfix/x", "hotfix/x/y", "release/v2", "release/vx", "team-1/a", "team-12/a", "rel.x/y", "relax/y"]
BRANCHES += ["b/fix", "a/fix", "o'brien", "mainx", "xmain"]


def admits(condition: str, ref: str) -> bool:
    """Evaluate the three shapes ``ref_condition`` writes, the way CEL does (``matches`` is an RE2 search)."""
    unquote = lambda text: text.replace("\\'", "'").replace("\\\\", "\\")  # noqa: E731
    if equal := re.fullmatch(r"assertion\.ref == '(.*)'", condition):
        return ref == unquote(equal[1])
    if prefix := re.fullmatch(r"assertion\.ref\.startsWith\('(.*)'\)", condition):
        return ref.startswith(unquote(prefix[1]))
    regex = re.fullmatch(r"assertion\.ref\.matches\('(.*)'\)", condition)
    assert regex and "\\" not in regex[1].replace("\\'", ""), condition  # no escape CEL would read first
    return re.search(unquote(regex[1]), ref) is not None


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_pool_admits_exactly_the_branches_the_pipeline_trigger_builds(pattern):
    """Same meaning as the CodePipeline trigger filter (``branch_pattern.matches``); never a PR or a tag."""
    condition = ref_condition(pattern)
    for branch in BRANCHES:
        assert admits(condition, f"refs/heads/{branch}") == matches(pattern, branch), (pattern, branch, condition)
    for ref in ("refs/pull/7/merge", f"refs/tags/{pattern}", "refs/tags/main"):
        assert not admits(condition, ref), (condition, ref)


def test_literal_and_prefix_patterns_read_as_equality_and_startswith():
    assert ref_condition("main") == "assertion.ref == 'refs/heads/main'"
    assert ref_condition("release/**") == "assertion.ref.startsWith('refs/heads/release/')"
    assert ref_condition("hotfix/*") == "assertion.ref.matches('^refs/heads/hotfix/[^/]*$')"
