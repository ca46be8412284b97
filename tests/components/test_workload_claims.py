"""Each service owns the roles and workloads its entry names in an account; a second claimant is refused, located."""

from __future__ import annotations

import copy

import pytest

from components.model.catalog import parse_catalog
from components.model.errors import PlatformInputError
from components.model.settings import parse_settings
from components.model.workload_claims import check_workload_claims
from tests.conftest import service_entry


def check(catalog_raw, settings_raw):
    check_workload_claims(parse_catalog(catalog_raw, "c.yaml"), parse_settings(settings_raw, "s.yaml"), "c.yaml")


def refusal(catalog_raw, settings_raw) -> str:
    with pytest.raises(PlatformInputError) as caught:
        check(catalog_raw, settings_raw)
    return str(caught.value)


def newcomer(catalog_raw, template: str = "user-profiles", **aws_changes):
    """A new entry copied from ``template`` with its own name, repository and (for ECS) target groups."""
    entry = copy.deepcopy(service_entry(catalog_raw, template))
    entry.update(name="newcomer", owner="team-newcomers", repository="bookwise/newcomer", depends_on=[])
    entry.pop("accounts", None)
    entry.pop("environments", None)
    if entry["aws"]["platform"] == "ECS":
        entry["aws"].update(service="newcomer", target_groups=["newcomer-blue", "newcomer-green"])
    entry["aws"].update(aws_changes)
    return entry


def test_the_reference_catalog_names_no_workload_twice(catalog_raw, dev_settings_raw, prod_settings_raw):
    check(catalog_raw, dev_settings_raw)
    check(catalog_raw, prod_settings_raw)


def test_another_services_default_task_role_is_refused_naming_file_service_field_and_owner(
    catalog_raw, prod_settings_raw
):
    catalog_raw["services"].append(newcomer(catalog_raw, task_role="auth-task"))
    message = refusal(catalog_raw, prod_settings_raw)
    assert message.startswith("c.yaml: service 'newcomer': field 'aws.task_role': its dev target names IAM role ")
    assert "'auth-task' in account 411111111111, which service 'auth' already names (aws.task_role)" in message


def test_role_names_differ_only_in_case_and_kind_in_iams_eyes(catalog_raw, prod_settings_raw):
    """IAM role names are unique per account regardless of case (IAM API Reference, CreateRole)."""
    catalog_raw["services"].append(newcomer(catalog_raw, execution_role="Search-Query-Node"))
    message = refusal(catalog_raw, prod_settings_raw)
    assert "field 'aws.execution_role'" in message
    assert "which service 'search' already names (aws.instance_role)" in message


def test_another_services_ecs_service_or_target_group_is_refused(catalog_raw, prod_settings_raw):
    catalog_raw["services"].append(newcomer(catalog_raw, cluster="bookwise-core", service="auth"))
    assert "field 'aws.service'" in refusal(catalog_raw, prod_settings_raw)
    catalog_raw["services"][-1] = newcomer(catalog_raw, target_groups=["newcomer-blue", "auth-green"])
    message = refusal(catalog_raw, prod_settings_raw)
    assert "field 'aws.target_groups[1]'" in message
    assert "target group 'auth-green'" in message


def test_another_services_lambda_function_or_autoscaling_group_is_refused(catalog_raw, prod_settings_raw):
    catalog_raw["services"].append(newcomer(catalog_raw, "email-sender", function="email-sender"))
    assert "field 'aws.function'" in refusal(catalog_raw, prod_settings_raw)
    search = service_entry(catalog_raw, "search")
    catalog_raw["services"][-1] = newcomer(
        catalog_raw, "search", autoscaling_groups=list(search["aws"]["autoscaling_groups"]), instance_role="nc-node"
    )
    assert "field 'aws.autoscaling_groups[0]'" in refusal(catalog_raw, prod_settings_raw)


def test_a_platform_role_is_never_a_workload_role(catalog_raw, prod_settings_raw):
    catalog_raw["services"].append(newcomer(catalog_raw, task_role="cicd-deploy-auth-prod"))
    message = refusal(catalog_raw, prod_settings_raw)
    assert message.startswith("c.yaml: service 'newcomer': field 'aws.task_role': names IAM role 'cicd-deploy")


def test_the_same_names_in_another_account_are_another_services_own(catalog_raw, prod_settings_raw):
    """A service in its own accounts (useServiceAccounts) may reuse names: they are different resources there."""
    prod_settings_raw["useServiceAccounts"] = True
    entry = newcomer(catalog_raw, task_role="auth-task")
    entry["environments"] = ["prod"]
    entry["accounts"] = {"prod": "466666666666"}
    catalog_raw["services"].append(entry)
    check(catalog_raw, prod_settings_raw)
    entry["accounts"] = {}
    assert "account 444444444444" in refusal(catalog_raw, prod_settings_raw)


def test_one_service_names_its_own_workload_in_every_environment_of_a_shared_account(catalog_raw, dev_settings_raw):
    for environment in dev_settings_raw["environments"]:
        environment["accountId"] = "310000000011"
    check(catalog_raw, dev_settings_raw)
