"""The pack implements the catalogue (policies/CATALOGUE.md), once per rule, each rule fully described and tested."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pulumi_policy import PolicyConfigSchema

import policies.rules
from policies.rules import ALL_RULES, RESOURCE_RULES, STACK_RULES
from policies.rules.base import ResourceRule, StackRule

from .all_cases import ALL_CASES
from .rule_cases import KINDS

CATALOGUE = Path(policies.rules.__file__).parents[1] / "CATALOGUE.md"
LEVEL_LETTERS = {"M": "mandatory", "A": "advisory"}


def catalogue_rows(section: str) -> list[list[str]]:
    text = CATALOGUE.read_text(encoding="utf-8").split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:] if not set(row[0].strip()) <= {"-"}]


RESOURCE_ROWS = {row[0]: row for row in catalogue_rows("Resource rules")}
STACK_ROWS = {row[0]: row for row in catalogue_rows("Stack rules")}
BY_NAME = {rule.name: rule for rule in ALL_RULES}


def test_the_catalogue_lists_the_expected_number_of_rules():
    assert len(RESOURCE_ROWS) == 34
    assert len(STACK_ROWS) == 21  # s3-kms became a stack rule: a log bucket's encryption depends on its role


@pytest.mark.parametrize("name", sorted(RESOURCE_ROWS))
def test_every_catalogued_resource_rule_is_a_resource_rule_at_its_level(name):
    rule = BY_NAME.get(name)
    assert isinstance(rule, ResourceRule), f"{name} is not implemented as a resource rule"
    level = RESOURCE_ROWS[name][-1]
    assert rule.level == LEVEL_LETTERS[level[0]], f"{name}: catalogue says {level!r}"


@pytest.mark.parametrize("name", sorted(STACK_ROWS))
def test_every_catalogued_stack_rule_is_a_stack_rule_at_its_level(name):
    rule = BY_NAME.get(name)
    assert isinstance(rule, StackRule), f"{name} is not implemented as a stack rule"
    assert rule.level == LEVEL_LETTERS[STACK_ROWS[name][-1][0]]


def test_rules_beyond_the_catalogue_are_the_split_levels_and_the_bucket_check():
    extra = {rule.name for rule in ALL_RULES} - set(RESOURCE_ROWS) - set(STACK_ROWS)
    assert extra == {
        "iam-no-wildcards-deploy",
        "log-encryption",
        "gcp-artifact-registry-cmek",
        "s3-bucket-hardened",
        "secret-rotation-configured",  # secret-rotation's other half: a secret with no rotation at all
    }


def test_rule_names_are_unique():
    names = [rule.name for rule in ALL_RULES]
    assert len(names) == len(set(names))


def test_resource_and_stack_rules_have_the_right_kind():
    assert all(isinstance(rule, ResourceRule) for rule in RESOURCE_RULES)
    assert all(isinstance(rule, StackRule) for rule in STACK_RULES)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.name)
def test_every_rule_is_described_with_a_remediation_and_a_valid_config_schema(rule):
    assert rule.level in {"mandatory", "advisory"}
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    assert rule.description.endswith(".")
    assert len(rule.remediation) > 20
    PolicyConfigSchema(properties=dict(rule.config_schema))  # the SDK's own validation
    for key, spec in rule.config_schema.items():
        assert "default" in spec and "description" in spec, f"{rule.name}.{key}"


@pytest.mark.parametrize("rule", RESOURCE_RULES, ids=lambda rule: rule.name)
def test_every_resource_rule_applies_to_some_resource_type(rule):
    assert rule.resource_types
    assert all(rule.applies_to(resource_type) for resource_type in rule.resource_types)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.name)
def test_every_rule_has_a_firing_a_quiet_and_an_unknown_scenario(rule):
    kinds = {case.kind for case in ALL_CASES if case.rule is rule}
    assert kinds == set(KINDS), f"{rule.name} lacks {set(KINDS) - kinds}"


def test_the_pack_readme_tables_list_every_rule_at_its_level():
    readme = (CATALOGUE.parent / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|(.*)$", readme, flags=re.MULTILINE)
    levels = {name: ("mandatory" if "| mandatory |" in f"|{rest}" else "advisory") for name, rest in rows}
    assert levels == {rule.name: rule.level for rule in ALL_RULES}
    for name, rest in rows:
        assert f"| {BY_NAME[name].description} |" in f"|{rest}", f"{name}: the README's description is stale"


def test_every_rule_module_is_registered():
    modules = {rule.check.__module__ for rule in ALL_RULES}
    on_disk = {
        f"policies.rules.{path.stem}"
        for path in Path(policies.rules.__file__).parent.glob("*.py")
        if path.stem not in {"__init__", "base", "iam_policy", "pipeline_model", "lambda_invocation", "cel_condition"}
    }
    assert on_disk == modules
