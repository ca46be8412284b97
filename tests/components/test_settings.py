"""Stack settings: documented defaults, and every mistake named by file, environment and field."""

from __future__ import annotations

import pytest

from components.model.catalog import parse_catalog
from components.model.errors import PlatformInputError
from components.model.platform_inputs import load_platform_inputs
from components.model.settings import check_catalog_against_stack, parse_settings, placements_of
from tests.conftest import PROJECT_DIR, service_entry

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


def test_branch_and_approval_defaults_follow_the_environment_name(dev_settings_raw):
    settings = parse_settings(dev_settings_raw, FILE)
    by_name = {env.name: env for env in settings.environments}
    assert {name: env.branch for name, env in by_name.items()} == {
        "dev": "feature/**",
        "qa": "develop",
        "staging": "release/**",
        "prod": "main",
    }
    assert {name for name, env in by_name.items() if env.approval} == {"staging", "prod"}
    assert [name for name, env in by_name.items() if env.production] == ["prod"]
    assert by_name["prod"].execution_mode == "QUEUED"
    assert by_name["dev"].execution_mode == "SUPERSEDED"
    assert all(env.region == settings.region for env in settings.environments)


def test_explicit_values_override_the_defaults(dev_settings_raw):
    environment(dev_settings_raw, "qa").update({"branch": "qa/*", "approval": True, "executionMode": "PARALLEL"})
    qa = parse_settings(dev_settings_raw, FILE).environment("qa")
    assert (qa.branch, qa.approval, qa.execution_mode) == ("qa/*", True, "PARALLEL")


def test_an_environment_without_a_default_branch_must_name_one(dev_settings_raw):
    dev_settings_raw["environments"].append({"name": "perf", "accountId": "310000000099"})
    rejects(dev_settings_raw, "environment 'perf'", "field 'cicd-platform:settings.branch'", "required but missing")


@pytest.mark.parametrize("account", ["31000000001", "3100000000111", "dev-account", ""])
def test_bad_account_id_names_the_environment(dev_settings_raw, account):
    environment(dev_settings_raw, "qa")["accountId"] = account
    rejects(dev_settings_raw, "environment 'qa'", "field 'cicd-platform:settings.accountId'")


@pytest.mark.parametrize("branch", ["feature//x", "main ", "release/**/", "feat~1", "refs/heads/main", "{a,b", "a..b"])
def test_bad_branch_glob_names_the_environment(dev_settings_raw, branch):
    environment(dev_settings_raw, "dev")["branch"] = branch
    rejects(dev_settings_raw, "environment 'dev'", "field 'cicd-platform:settings.branch'", "branch pattern")


@pytest.mark.parametrize("cron", ["0 9-17 ? * MON-FRI", "* * 24 ? * MON", "* * 9 * * *", "* * 9 ? * FUNDAY"])
def test_bad_deploy_window_cron_is_rejected(dev_settings_raw, cron):
    environment(dev_settings_raw, "prod")["deployWindow"] = {"cron": cron}
    rejects(dev_settings_raw, "environment 'prod'", "field 'cicd-platform:settings.deployWindow.cron'", "cron")


def test_bad_time_zone_is_rejected(dev_settings_raw):
    environment(dev_settings_raw, "prod")["deployWindow"]["timezone"] = "Europe/Atlantis"
    rejects(dev_settings_raw, "field 'cicd-platform:settings.deployWindow.timezone'", "IANA")


def test_unknown_key_is_rejected(dev_settings_raw):
    environment(dev_settings_raw, "prod")["aproval"] = True
    rejects(dev_settings_raw, "environment 'prod'", "field 'cicd-platform:settings.aproval'", "unknown key")


def test_unknown_top_level_key_is_rejected(dev_settings_raw):
    dev_settings_raw["slackChanel"] = "#typo"
    rejects(dev_settings_raw, "field 'cicd-platform:settings.slackChanel'", "unknown key")


def test_environment_defined_twice_is_rejected(dev_settings_raw):
    dev_settings_raw["environments"].append({"name": "qa", "accountId": "310000000099", "branch": "qa"})
    rejects(dev_settings_raw, "environment 'qa' is defined more than once")


def test_one_branch_pattern_cannot_feed_two_environments(dev_settings_raw):
    environment(dev_settings_raw, "qa")["branch"] = "main"
    rejects(dev_settings_raw, "'main' is used by two environments")


def test_cross_region_environments_are_refused_until_supported(dev_settings_raw):
    environment(dev_settings_raw, "prod")["region"] = "us-east-1"
    rejects(dev_settings_raw, "environment 'prod' is in us-east-1", "regional artifact store")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("organizationId", "org-123"),
        ("releaseManagers", []),
        ("releaseManagers", ["arn:aws:iam::210987654321:user/alice"]),
        ("slackChannel", "deploys"),
        ("githubOwner", "-bookwise"),
        ("artifactRetentionDays", 1),
    ],
)
def test_bad_top_level_values_name_the_field(dev_settings_raw, field, value):
    dev_settings_raw[field] = value
    rejects(dev_settings_raw, f"field 'cicd-platform:settings.{field}")


def test_missing_settings_object_is_reported_before_anything_else():
    with pytest.raises(PlatformInputError, match=r"Pulumi.dev.yaml: field 'cicd-platform:settings': required"):
        load_platform_inputs(None, "dev", PROJECT_DIR)


def test_settings_must_be_a_mapping():
    rejects(["not", "a", "mapping"], "must be a mapping")


def test_service_environment_must_exist_in_the_stack(catalog_raw, dev_settings_raw):
    service_entry(catalog_raw, "reporting")["environments"] = ["dev", "perf"]
    with pytest.raises(PlatformInputError) as caught:
        check_catalog_against_stack(
            parse_catalog(catalog_raw, "c.yaml"), parse_settings(dev_settings_raw, FILE), "c.yaml"
        )
    assert str(caught.value).startswith("c.yaml: service 'reporting': field 'environments[1]': environment 'perf'")


def test_account_override_for_an_unknown_environment_is_rejected(catalog_raw, dev_settings_raw):
    service_entry(catalog_raw, "payments")["accounts"] = {"perf": "555555555555"}
    with pytest.raises(PlatformInputError, match=r"service 'payments': field 'accounts.perf'"):
        check_catalog_against_stack(
            parse_catalog(catalog_raw, "c.yaml"), parse_settings(dev_settings_raw, FILE), "c.yaml"
        )


def test_repository_outside_the_connected_github_owner_is_rejected(catalog_raw, dev_settings_raw):
    service_entry(catalog_raw, "search")["repository"] = "someone-else/search"
    with pytest.raises(PlatformInputError, match=r"service 'search': field 'repository': repository owner"):
        check_catalog_against_stack(
            parse_catalog(catalog_raw, "c.yaml"), parse_settings(dev_settings_raw, FILE), "c.yaml"
        )


def test_service_accounts_apply_only_where_the_stack_honours_them(catalog_raw, dev_settings_raw, prod_settings_raw):
    payments = parse_catalog(catalog_raw, "c.yaml").service("payments")
    prod = {env.name: env.account_id for env in placements_of(payments, parse_settings(prod_settings_raw, FILE))}
    sandbox = {env.name: env.account_id for env in placements_of(payments, parse_settings(dev_settings_raw, FILE))}
    assert prod["prod"] == payments.accounts["prod"]
    assert prod["staging"] == "433333333333"
    assert sandbox["prod"] == "310000000014"


def test_service_environment_subset_keeps_the_stack_order(catalog_raw, dev_settings_raw):
    service_entry(catalog_raw, "reporting")["environments"] = ["prod", "dev", "staging"]
    reporting = parse_catalog(catalog_raw, "c.yaml").service("reporting")
    placed = placements_of(reporting, parse_settings(dev_settings_raw, FILE))
    assert [env.name for env in placed] == ["dev", "staging", "prod"]


def test_production_bakes_ten_minutes_and_other_environments_do_not_by_default(dev_settings_raw):
    settings = parse_settings(dev_settings_raw, FILE)
    assert {env.name: env.bake_minutes for env in settings.environments} == {
        "dev": 0,
        "qa": 0,
        "staging": 0,
        "prod": 10,
    }


def test_an_environment_can_set_its_own_bake(dev_settings_raw):
    environment(dev_settings_raw, "staging")["bakeMinutes"] = 5
    environment(dev_settings_raw, "prod")["bakeMinutes"] = 0
    settings = parse_settings(dev_settings_raw, FILE)
    assert (settings.environment("staging").bake_minutes, settings.environment("prod").bake_minutes) == (5, 0)


@pytest.mark.parametrize("minutes", [-1, 181, "ten"])
def test_a_bake_outside_zero_to_three_hours_names_the_environment(dev_settings_raw, minutes):
    environment(dev_settings_raw, "prod")["bakeMinutes"] = minutes
    rejects(dev_settings_raw, "environment 'prod'", "field 'cicd-platform:settings.bakeMinutes'")


def test_github_runs_get_a_working_day_in_production_and_two_hours_elsewhere(dev_settings_raw):
    settings = parse_settings(dev_settings_raw, FILE)
    assert {env.name: env.github_run_timeout_minutes for env in settings.environments} == {
        "dev": 120,
        "qa": 120,
        "staging": 120,
        "prod": 480,
    }


def test_an_environment_can_set_its_own_github_run_timeout(dev_settings_raw):
    environment(dev_settings_raw, "prod")["githubRunTimeoutMinutes"] = 1380
    assert parse_settings(dev_settings_raw, FILE).environment("prod").github_run_timeout_minutes == 1380


@pytest.mark.parametrize(
    ("minutes", "problem"),
    [
        (1381, "CodePipeline fails a Lambda invoke action after 24 hours"),
        (1440, "keeps the last 60 minutes to cancel the GitHub run"),
        (9, "at least 10 minutes"),
        ("eight hours", "valid integer"),
    ],
)
def test_a_github_run_timeout_past_codepipelines_limit_names_the_environment(dev_settings_raw, minutes, problem):
    environment(dev_settings_raw, "prod")["githubRunTimeoutMinutes"] = minutes
    rejects(dev_settings_raw, "environment 'prod'", "field 'cicd-platform:settings.githubRunTimeoutMinutes'", problem)
