"""Scan policy in the stack settings and service URLs in the catalog: defaults and located mistakes."""

from __future__ import annotations

import pytest

from components.model.catalog import parse_catalog
from components.model.errors import PlatformInputError
from components.model.scan_policy import at_or_above, url_pattern_problem
from components.model.settings import check_catalog_against_stack, parse_settings
from tests.components.test_settings import FILE, environment, rejects
from tests.conftest import service_entry


def check(catalog_raw, settings_raw):
    check_catalog_against_stack(parse_catalog(catalog_raw, "c.yaml"), parse_settings(settings_raw, FILE), "c.yaml")


def test_production_fails_on_high_and_other_environments_on_critical(dev_settings_raw):
    settings = parse_settings(dev_settings_raw, FILE)
    assert {env.name: env.scan.fail_on for env in settings.environments} == {
        "dev": "CRITICAL",
        "qa": "CRITICAL",
        "staging": "CRITICAL",
        "prod": "HIGH",
    }


def test_dast_runs_by_default_everywhere_but_production(dev_settings_raw):
    settings = parse_settings(dev_settings_raw, FILE)
    assert [env.name for env in settings.environments if env.scan.dast] == ["dev", "qa", "staging"]


def test_network_copyleft_licenses_are_denied_by_default(dev_settings_raw):
    deny = parse_settings(dev_settings_raw, FILE).environment("dev").scan.license_deny_list
    assert {"AGPL-3.0-only", "AGPL-3.0-or-later", "SSPL-1.0"} <= set(deny)


def test_an_environment_can_tighten_its_policy(dev_settings_raw):
    environment(dev_settings_raw, "staging")["scan"] = {"failOn": "MEDIUM", "licenseDenyList": ["GPL-3.0-only"]}
    scan = parse_settings(dev_settings_raw, FILE).environment("staging").scan
    assert (scan.fail_on, scan.license_deny_list, scan.dast) == ("MEDIUM", ("GPL-3.0-only",), True)


def test_a_custom_production_environment_gets_the_production_defaults(dev_settings_raw):
    dev_settings_raw["environments"].append(
        {"name": "dr", "accountId": "310000000099", "branch": "dr/*", "production": True}
    )
    dr = parse_settings(dev_settings_raw, FILE).environment("dr")
    assert (dr.scan.fail_on, dr.scan.dast) == ("HIGH", False)


@pytest.mark.parametrize(
    ("scan", "field"),
    [
        ({"failOn": "SEVERE"}, "scan.failOn"),
        ({"failOn": "high"}, "scan.failOn"),
        ({"licenseDenyList": ["GPL 3"]}, "scan.licenseDenyList[0]"),
        ({"dast": "sometimes"}, "scan.dast"),
        ({"fialOn": "HIGH"}, "scan.fialOn"),
    ],
)
def test_bad_scan_values_name_the_environment_and_field(dev_settings_raw, scan, field):
    environment(dev_settings_raw, "qa")["scan"] = scan
    rejects(dev_settings_raw, "environment 'qa'", f"field 'cicd-platform:settings.{field}'")


def test_dast_against_production_is_refused(dev_settings_raw):
    environment(dev_settings_raw, "prod")["scan"] = {"dast": True}
    rejects(dev_settings_raw, "environment 'prod'", "field 'cicd-platform:settings.scan.dast'", "outside production")


def test_scanner_servers_are_named_by_secret(dev_settings_raw):
    dev_settings_raw["sonarqube"] = {"url": "https://sonar.bookwise.example", "tokenSecretName": "cicd/sonarqube"}
    dev_settings_raw["snyk"] = {"tokenSecretName": "cicd/snyk"}
    settings = parse_settings(dev_settings_raw, FILE)
    assert settings.sonarqube.token_secret_name == "cicd/sonarqube"
    assert settings.snyk.token_secret_name == "cicd/snyk"


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        (
            "sonarqube",
            {"url": "https://sonar.example", "tokenSecretName": "squ_" + "a1" * 20},
            "sonarqube.tokenSecretName",
        ),
        ("snyk", {"tokenSecretName": "0b4c1e2a-8f7d-4c3b-9a6e-5d2f1e0c9b8a"}, "snyk.tokenSecretName"),
        ("sonarqube", {"url": "http://sonar.example", "tokenSecretName": "cicd/sonar"}, "sonarqube.url"),
        ("sonarqube", {"url": "https://sonar.example"}, "sonarqube.tokenSecretName"),
        ("serviceUrlPattern", "https://{service}.{env}.example", "serviceUrlPattern"),
        ("serviceUrlPattern", "https://app.{environment}.example", "serviceUrlPattern"),
        ("serviceUrlPattern", "ftp://{service}.example", "serviceUrlPattern"),
    ],
)
def test_bad_scanner_settings_name_the_field(dev_settings_raw, key, value, field):
    dev_settings_raw[key] = value
    rejects(dev_settings_raw, f"field 'cicd-platform:settings.{field}'")


def test_a_token_pasted_where_the_secret_name_goes_is_refused_without_echoing_it(dev_settings_raw):
    token = "0b4c1e2a-8f7d-4c3b-9a6e-5d2f1e0c9b8a"
    dev_settings_raw["snyk"] = {"tokenSecretName": token}
    message = rejects(dev_settings_raw, "looks like a token")
    assert token not in message


def test_catalog_url_overrides_the_stack_pattern(catalog_raw, dev_settings_raw):
    service_entry(catalog_raw, "booking")["urls"] = {"qa": "https://booking-qa.internal.example/health"}
    booking = parse_catalog(catalog_raw, "c.yaml").service("booking")
    settings = parse_settings(dev_settings_raw, FILE)
    assert settings.service_url(booking, "qa") == "https://booking-qa.internal.example/health"
    assert settings.service_url(booking, "dev") == "https://booking.dev.bookwise.example"


def test_a_service_url_for_an_unknown_environment_is_rejected(catalog_raw, dev_settings_raw):
    service_entry(catalog_raw, "booking")["urls"] = {"perf": "https://booking.perf.example"}
    with pytest.raises(PlatformInputError, match=r"service 'booking': field 'urls.perf'"):
        check(catalog_raw, dev_settings_raw)


def test_a_malformed_service_url_names_the_service(catalog_raw):
    service_entry(catalog_raw, "booking")["urls"] = {"qa": "booking.qa"}
    with pytest.raises(PlatformInputError, match=r"service 'booking': field 'urls.qa'"):
        parse_catalog(catalog_raw, "c.yaml")


def test_dast_without_a_url_tells_where_to_add_one(catalog_raw, dev_settings_raw):
    del dev_settings_raw["serviceUrlPattern"]
    with pytest.raises(PlatformInputError) as caught:
        check(catalog_raw, dev_settings_raw)
    message = str(caught.value)
    assert "field 'urls.dev'" in message and "serviceUrlPattern" in message and "scan.dast" in message


def test_dast_off_needs_no_url(catalog_raw, dev_settings_raw):
    del dev_settings_raw["serviceUrlPattern"]
    for entry in dev_settings_raw["environments"]:
        entry["scan"] = {"dast": False}
    check(catalog_raw, dev_settings_raw)


def test_severity_order():
    assert at_or_above("CRITICAL", "HIGH") and at_or_above("HIGH", "HIGH")
    assert not at_or_above("MEDIUM", "HIGH")


def test_url_pattern_needs_the_service_placeholder():
    assert url_pattern_problem("https://{service}.{environment}.example") is None
    assert "{service}" in url_pattern_problem("https://shared.example")
