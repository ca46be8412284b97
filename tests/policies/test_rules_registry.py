import importlib
from pathlib import Path

import pytest

import policies.rules
from policies.rules import RESOURCE_RULES, STACK_RULES
from policies.rules.base import ResourceRule, StackRule

ALL_RULES = (*RESOURCE_RULES, *STACK_RULES)
RULE_MODULES = sorted(
    path.stem
    for path in Path(policies.rules.__file__).parent.glob("*.py")
    if path.name not in {"__init__.py", "base.py"}
)


def test_rule_modules_are_discovered():
    assert "kms_rotation" in RULE_MODULES
    assert len(RULE_MODULES) == len(ALL_RULES)


def test_rule_names_are_unique():
    names = [rule.name for rule in ALL_RULES]
    assert len(names) == len(set(names))


def test_resource_and_stack_rules_have_the_right_kind():
    assert all(isinstance(rule, ResourceRule) for rule in RESOURCE_RULES)
    assert all(isinstance(rule, StackRule) for rule in STACK_RULES)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.name)
def test_every_rule_is_mandatory_or_advisory_and_described(rule):
    assert rule.level in {"mandatory", "advisory"}
    assert rule.name
    assert rule.description


@pytest.mark.parametrize("rule", RESOURCE_RULES, ids=lambda rule: rule.name)
def test_every_resource_rule_applies_to_some_resource_type(rule):
    assert rule.resource_types
    assert all(rule.applies_to(resource_type) for resource_type in rule.resource_types)


@pytest.mark.parametrize("module_name", RULE_MODULES)
def test_every_rule_module_is_registered(module_name):
    module = importlib.import_module(f"policies.rules.{module_name}")
    registered = RESOURCE_RULES if isinstance(module.RULE, ResourceRule) else STACK_RULES
    assert any(rule is module.RULE for rule in registered), f"{module_name}.RULE is not in policies/rules/__init__.py"
