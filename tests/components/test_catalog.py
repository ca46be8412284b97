"""The catalog model: the real catalog loads, and every kind of mistake is one located error."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from components.model.catalog import Catalog, load_catalog, parse_catalog, parse_catalog_text
from components.model.catalog_schema import render_schema
from components.model.errors import PlatformInputError
from tests.conftest import PROJECT_DIR, service_entry

CATALOG = "catalog/services.yaml"


def rejects(raw, *fragments: str) -> str:
    with pytest.raises(PlatformInputError) as caught:
        parse_catalog(raw, CATALOG)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{CATALOG}: ")
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_repository_catalog_describes_a_realistic_fleet():
    catalog = load_catalog(PROJECT_DIR / CATALOG, CATALOG)
    names = {service.name for service in catalog.services}
    assert len(catalog.services) >= 20
    assert {"auth", "payments", "booking", "search", "notifications"} <= names
    assert {service.aws.platform for service in catalog.services} == {"ECS", "Lambda", "Server"}
    assert {"gcp", "azure"} <= {cloud for service in catalog.services for cloud in service.also_deploy_to}
    assert set(catalog.service("booking").depends_on) >= {"auth", "payments"}
    assert catalog.service("auth").health.login_failures_per_5min is not None


def test_deploy_order_puts_every_service_after_its_dependencies():
    catalog = load_catalog(PROJECT_DIR / CATALOG, CATALOG)
    position = {name: index for index, name in enumerate(catalog.deploy_order)}
    for service in catalog.services:
        for dependency in service.depends_on:
            assert position[dependency] < position[service.name]


def test_models_are_frozen(catalog_raw):
    catalog = parse_catalog(catalog_raw, CATALOG)
    with pytest.raises(ValidationError):
        catalog.services[0].name = "renamed"


def test_unknown_key_names_service_and_field(catalog_raw):
    service_entry(catalog_raw, "booking")["owners"] = "team-booking"
    rejects(catalog_raw, "service 'booking'", "field 'owners'", "unknown key")


def test_unknown_key_inside_the_aws_target_drops_the_union_tag(catalog_raw):
    service_entry(catalog_raw, "auth")["aws"]["clustr"] = "x"
    message = rejects(catalog_raw, "service 'auth'", "field 'aws.clustr'")
    assert "ECS" not in message.split("field")[1]


def test_duplicate_service_is_rejected(catalog_raw):
    catalog_raw["services"].append(copy.deepcopy(service_entry(catalog_raw, "search")))
    rejects(catalog_raw, "service 'search'", "field 'name'", "defined more than once")


def test_unknown_dependency_names_the_edge_and_suggests(catalog_raw):
    service_entry(catalog_raw, "booking")["depends_on"] = ["auth", "paymnts"]
    rejects(catalog_raw, "service 'booking'", "field 'depends_on[1]'", "unknown service 'paymnts'", "payments")


def test_dependency_cycle_is_printed(catalog_raw):
    service_entry(catalog_raw, "auth")["depends_on"] = ["booking"]
    message = rejects(catalog_raw, "field 'depends_on'", "dependency cycle")
    cycle = message.split("dependency cycle ")[1].split(" -> ")
    assert cycle[0] == cycle[-1]
    assert {"auth", "booking"} <= set(cycle)


def test_self_dependency_is_rejected(catalog_raw):
    service_entry(catalog_raw, "search")["depends_on"] = ["search"]
    rejects(catalog_raw, "service 'search'", "cannot depend on itself")


@pytest.mark.parametrize(
    "repository", ["bookwise", "bookwise/", "/booking", "book wise/booking", "bookwise/booking/extra", "-bad/repo"]
)
def test_malformed_repository_is_rejected(catalog_raw, repository):
    service_entry(catalog_raw, "booking")["repository"] = repository
    rejects(catalog_raw, "service 'booking'", "field 'repository'")


@pytest.mark.parametrize("account", ["12345", "1234567890123", "abcdefghijkl", 123456789012])
def test_malformed_account_override_is_rejected(catalog_raw, account):
    service_entry(catalog_raw, "payments")["accounts"] = {"prod": account}
    rejects(catalog_raw, "service 'payments'", "field 'accounts.prod'")


def test_ecs_target_needs_two_distinct_target_groups(catalog_raw):
    service_entry(catalog_raw, "auth")["aws"]["target_groups"] = ["auth-blue", "auth-blue"]
    rejects(catalog_raw, "service 'auth'", "field 'aws.target_groups'", "must differ")


def test_unknown_platform_is_rejected(catalog_raw):
    service_entry(catalog_raw, "auth")["aws"]["platform"] = "Kubernetes"
    rejects(catalog_raw, "service 'auth'", "field 'aws'")


def test_health_needs_at_least_one_signal(catalog_raw):
    service_entry(catalog_raw, "search")["health"] = {}
    rejects(catalog_raw, "service 'search'", "field 'health'", "at least one health signal")


def test_missing_required_field_is_named(catalog_raw):
    del service_entry(catalog_raw, "ledger")["owner"]
    rejects(catalog_raw, "service 'ledger'", "field 'owner'", "required but missing")


def test_service_without_a_name_is_located_by_position(catalog_raw):
    del catalog_raw["services"][2]["name"]
    rejects(catalog_raw, "service #3", "field 'name'")


@pytest.mark.parametrize("name", ["Booking", "b", "booking_service", "x" * 40, "-booking"])
def test_service_names_fit_resource_naming(catalog_raw, name):
    catalog_raw["services"][0]["name"] = name
    rejects(catalog_raw, "field 'name'")


def test_repeated_list_entries_are_rejected(catalog_raw):
    service_entry(catalog_raw, "booking")["depends_on"] = ["auth", "auth"]
    rejects(catalog_raw, "service 'booking'", "field 'depends_on'", "more than once")


def test_catalog_must_be_a_mapping():
    rejects(["services"], "must be a mapping")


def test_empty_catalog_is_rejected():
    rejects({"services": []}, "field 'services'")


def test_duplicate_yaml_keys_are_not_silently_merged():
    text = "services:\n  - name: auth\n    name: auth2\n"
    with pytest.raises(PlatformInputError, match=r"line 3.*duplicate key 'name' \(first defined on line 2\)"):
        parse_catalog_text(text, CATALOG)


def test_yaml_syntax_error_reports_the_position():
    with pytest.raises(PlatformInputError, match=r"catalog/services.yaml: invalid YAML at line 2, column 1: .*'\\t'"):
        parse_catalog_text("services:\n\t- name: auth\n", CATALOG)


def test_missing_catalog_file_is_reported(tmp_path: Path):
    with pytest.raises(PlatformInputError, match=r"missing\.yaml: file not found"):
        load_catalog(tmp_path / "missing.yaml", "missing.yaml")


def test_catalog_that_is_not_utf8_gets_one_located_error(tmp_path: Path):
    path = tmp_path / "services.yaml"
    path.write_bytes("services:\n  - name: auth\n    description: Caf\u00e9 sign-in\n".encode("latin-1"))
    with pytest.raises(PlatformInputError, match=r"^services\.yaml: is not valid UTF-8 \(line 3, byte \d+\)"):
        load_catalog(path, "services.yaml")


def test_schema_file_is_generated_from_the_model():
    committed = (PROJECT_DIR / "catalog" / "services.schema.json").read_text()
    assert committed == render_schema(), "catalog/services.schema.json is stale: run `make schema`"


def test_schema_accepts_the_catalog_and_rejects_what_the_model_rejects(catalog_raw):
    schema = json.loads((PROJECT_DIR / "catalog" / "services.schema.json").read_text())
    jsonschema.validate(catalog_raw, schema)
    service_entry(catalog_raw, "booking")["owners"] = "typo"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(catalog_raw, schema)


def test_yaml_file_points_editors_at_the_schema():
    first_line = (PROJECT_DIR / CATALOG).read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=./services.schema.json"


def test_catalog_round_trips_through_yaml(catalog_raw):
    again = parse_catalog_text(yaml.safe_dump(catalog_raw), CATALOG)
    assert again == Catalog.model_validate(catalog_raw)


def test_a_lambda_service_cannot_alarm_on_cpu(catalog_raw):
    service_entry(catalog_raw, "notifications")["health"]["cpu_percent"] = 80
    rejects(catalog_raw, "service 'notifications'", "Lambda functions have no CPU metric")


def test_the_fast_yaml_parser_reads_every_project_file_as_the_pure_python_one_does():
    from components.model import yaml_source

    assert issubclass(yaml_source._FastStrictLoader, yaml.CSafeLoader if yaml_source.LIBYAML else yaml.SafeLoader)
    project = Path(__file__).resolve().parents[2]
    for path in [project / "catalog" / "services.yaml", *project.glob("Pulumi*.yaml")]:
        text = path.read_text()
        assert yaml_source.parse_yaml_text(text, path.name) == yaml.load(text, Loader=yaml_source._StrictLoader)
    # Duplicate keys are refused on the fast path too, with the same located message.
    with pytest.raises(PlatformInputError, match=r"line 3.*duplicate key 'a' \(first defined on line 2\)"):
        yaml_source.parse_yaml_text("x:\n  a: 1\n  a: 2\n", "f.yaml")


# What libyaml decides (components/model/yaml_source.py): the review of the parser switch found documents
# the two parsers judge differently; each must get one answer, whichever parser is asked first.

ACCEPTED_BY_LIBYAML = {
    "tab after a colon": ("services:\n  - name:\tauth\n", [{"name": "auth"}]),
    "trailing tab": ("services:\n  - name: auth\t\n", [{"name": "auth"}]),
    "tab before a comment": ("services:\n  - name: auth\t# the login service\n", [{"name": "auth"}]),
    "tab in a flow sequence": (
        "services: [{name: auth},\t{name: billing}]\n",
        [{"name": "auth"}, {"name": "billing"}],
    ),
    "'?' ending a flow plain scalar": (
        "services: [{name: auth, description: why?}]\n",
        [{"name": "auth", "description": "why?"}],
    ),
    "'#' right after a block indicator": (
        "services:\n  - name: auth\n    description: |# note\n      text\n",
        [{"name": "auth", "description": "text\n"}],
    ),
}


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="without libyaml the pure parser decides, and refuses these")
@pytest.mark.parametrize("case", list(ACCEPTED_BY_LIBYAML))
def test_what_libyaml_accepts_is_accepted_as_libyaml_reads_it(case):
    from components.model import yaml_source

    text, services = ACCEPTED_BY_LIBYAML[case]
    with pytest.raises(yaml.YAMLError):
        yaml.load(text, Loader=yaml_source._StrictLoader)
    assert yaml.load(text, Loader=yaml_source._FastStrictLoader) == {"services": services}
    assert yaml_source.parse_yaml_text(text, CATALOG) == {"services": services}


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="libyaml's verdicts")
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\n\ufeffb: 2\n", r"line 2, column \d+: "),  # the pure parser reads a key '\ufeffb'
        ("%FOO bar\n---\na: 1\n", r"line 1, column \d+: found unknown directive name"),  # the pure one ignores it
        ('a: "\\ud800"\n', r"line 1, column \d+: found invalid Unicode character escape code"),  # pure builds one
    ],
)
def test_what_libyaml_refuses_is_refused_with_its_own_located_error(text, message):
    from components.model import yaml_source

    with pytest.raises(yaml.YAMLError):
        yaml.load(text, Loader=yaml_source._FastStrictLoader)
    yaml.load(text, Loader=yaml_source._StrictLoader)
    with pytest.raises(PlatformInputError, match=rf"^f\.yaml: invalid YAML at {message}"):
        yaml_source.parse_yaml_text(text, "f.yaml")


def test_a_document_both_parsers_refuse_gets_the_pure_parsers_message_naming_what_it_found():
    """libyaml says only "found character that cannot start any token"; the pure parser names the tab."""
    from components.model import yaml_source

    with pytest.raises(PlatformInputError, match=r"^f\.yaml: invalid YAML at line 3, column 1: found character '\\t'"):
        yaml_source.parse_yaml_text("services:\n  - name: auth\n\tdescription: x\n", "f.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 2000 + "]" * 2000, r"line 1, column \d+: "),  # libyaml: too deep; the pure parser: RecursionError
        ("{a: " * 2000 + "1" + "}" * 2000, r"line 1, column \d+: "),
        ("".join("  " * level + "a:\n" for level in range(3000)), r"line \d+, column \d+: "),
        ("{a: " * 300 + "1" + "}" * 300, r"line 1, column \d+: nested 300 levels deep"),  # built by recursion
        ('a: "\\U00110000"\n', r"line 1, column \d+: "),  # the pure scanner: ValueError from chr()
        ("a: 2001-02-30\n", r"line 1, column 4: cannot read this value \(day is out of range for month\)"),
        ("a: !!int\n", r"line 1, column 4: cannot read this value"),
        ("? [a, b]\n: 1\n", r"line 1, column 3: a key must be a plain value, not a list"),
        ("{[a]: 1}\n", r"line 1, column 2: a key must be a plain value, not a list"),
    ],
)
def test_a_document_no_parser_can_read_gets_a_located_error_never_a_traceback(text, message):
    from components.model import yaml_source

    with pytest.raises(PlatformInputError, match=rf"^f\.yaml: invalid YAML at {message}"):
        yaml_source.parse_yaml_text(text, "f.yaml")


def test_a_duplicate_key_is_located_on_its_line_by_either_parser():
    from components.model import yaml_source

    text = "services:\n  - \n    name: a\n    x: 1\n    name: b\n"
    expected = r"line 5, column 5: duplicate key 'name' \(first defined on line 3\)"
    with pytest.raises(PlatformInputError, match=expected):
        yaml_source.parse_yaml_text(text, "f.yaml")
    for loader in (yaml_source._FastStrictLoader, yaml_source._StrictLoader):
        with pytest.raises(yaml.constructor.ConstructorError, match="line 5"):
            yaml.load(text, Loader=loader)
