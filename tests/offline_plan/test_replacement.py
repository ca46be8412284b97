"""The replacement table stays true: it knows every type the program declares, and names only real inputs.

The facts come from the upstream provider schemas (see ``offline_plan/replacement.py``); what can be
checked here is that the table covers the program and speaks the installed SDK's language. A provider
upgrade that renames an input, or a component that starts declaring a new type, fails here first.
"""

from __future__ import annotations

import importlib
import inspect
import keyword
import re
from pathlib import Path

import pulumi
import pytest

from offline_plan import replacement
from offline_plan.plan_index import is_component
from tests.conftest import PROJECT_DIR

PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native", "github": "pulumi_github"}
CONSTRUCTED = re.compile(r"\b(aws|gcp|azure_native|github)\.(?:([a-z_0-9]+)\.)?([A-Z][A-Za-z0-9]+)\(")
ALIASES = {"azure_native": "azure-native"}


def sdk_class(token: str) -> type:
    package, module, name = token.split(":")
    if package == "pulumi":  # pulumi:providers:<package>
        return importlib.import_module(PACKAGES[name]).Provider
    module = module.split("/")[0]
    root = importlib.import_module(PACKAGES[package])
    if module == "index":
        return getattr(root, name)
    return getattr(getattr(root, f"{module}_" if keyword.iskeyword(module) else module), name)


def sdk_inputs(token: str) -> set[str]:
    """The input names (camelCase, as the plan records them) of the type's ``…Args`` class."""
    cls = sdk_class(token)
    module = inspect.getmodule(cls)
    # The SDK names it ``<Class>InitArgs`` when ``<Class>Args`` is taken by a nested input type.
    (name,) = [n for n in module.__all__ if n in (f"{cls.__name__}Args", f"{cls.__name__}InitArgs")]
    arguments = getattr(module, name)
    return {
        getattr(value.fget, "_pulumi_name", attribute)
        for attribute, value in vars(arguments).items()
        if isinstance(value, property)
    }


def sdk_token(cls: type) -> str:
    """The type token the SDK class registers with (read from its constructor; a provider gives its package)."""
    (token,) = re.findall(r"__init__\(\s*'([^']+)'", inspect.getsource(cls._internal_init))[:1]
    return f"pulumi:providers:{token}" if issubclass(cls, pulumi.ProviderResource) else token


@pytest.mark.parametrize("token", sorted(replacement.RULES))
def test_every_listed_input_is_an_input_of_that_type_in_the_installed_sdk(token):
    rules = replacement.RULES[token]
    assert sdk_token(sdk_class(token)) == token
    assert sorted((rules.forces_replacement | set(rules.cautions)) - sdk_inputs(token)) == []


def test_every_type_in_both_stacks_plans_has_replacement_rules(dev_plan, prod_plan):
    declared = {
        resource.type
        for plan in (dev_plan, prod_plan)
        for resource in plan.resources
        if not is_component({"type": resource.type})
    }
    assert sorted(declared - set(replacement.RULES)) == []


def test_every_resource_class_the_components_construct_has_replacement_rules():
    """Also the optional ones (Chatbot, Config rules, GitHub environments) that the two stacks leave off."""
    constructed = set()
    for path in sorted((PROJECT_DIR / "components").rglob("*.py")):
        for package, module, name in CONSTRUCTED.findall(path.read_text(encoding="utf-8")):
            if name.endswith("Args") or name.startswith("get"):
                continue
            root = importlib.import_module(PACKAGES[ALIASES.get(package, package)])
            cls = getattr(getattr(root, module), name) if module else getattr(root, name)
            constructed.add(sdk_token(cls))
    assert constructed, "the scan found the components' resources"
    assert sorted(constructed - set(replacement.RULES)) == []


def test_names_that_aws_renames_in_place_do_not_force_a_replacement():
    """terraform-provider-aws updates a CodeDeploy application's and deployment group's name (no ForceNew)."""
    assert replacement.replacing_inputs("aws:codedeploy/application:Application", ["name"]) == []
    assert replacement.replacing_inputs("aws:codedeploy/deploymentGroup:DeploymentGroup", ["deploymentGroupName"]) == []
    assert replacement.replacing_inputs("aws:iam/role:Role", ["description", "name"]) == ["name"]


def test_an_unknown_type_has_no_rules_so_the_review_says_it_cannot_tell():
    assert replacement.rules_for("aws:ec2/instance:Instance") is None
    assert replacement.replacing_inputs("aws:ec2/instance:Instance", ["ami"]) == []


def test_the_table_documents_its_sources():
    docstring = Path(replacement.__file__).read_text(encoding="utf-8")
    assert "terraform-provider-aws" in docstring and "ForceNew" in docstring
