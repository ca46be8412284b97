"""The platform against its own pack: the dev and prod plans, with the platform's pack config.

The platform meets every mandatory rule at its catalogue level; the config only
sets knobs (allow-lists, release managers, retention), never lowers a level.
Advisory findings are allowed only from the list below, each with its reason,
so a new one is noticed.
"""

from __future__ import annotations

import json

import pytest

from policies import pack_config
from policies.rules import ALL_RULES
from policies.rules.codebuild import pinned_variables


@pytest.fixture(scope="module", params=["dev_plan", "prod_plan"])
def plan(request):
    return request.getfixturevalue(request.param)


KNOWN_ADVISORIES: set[tuple[str, str]] = set()
"""None: the platform causes no finding a catalog entry could not fix (the GCP registries are on the
environment's customer-managed key)."""


def test_the_platform_meets_every_mandatory_rule(plan):
    assert [(v.policy, v.message) for v in plan.violations if v.level == "mandatory"] == []


def test_advisory_findings_are_exactly_the_known_ones(plan):
    for violation in plan.violations:
        assert any(
            violation.policy == policy and fragment in violation.message for policy, fragment in KNOWN_ADVISORIES
        ), f"{violation.policy}: {violation.message}"
    # A known finding that no longer occurs is removed from the list, so the list stays true.
    for policy, fragment in KNOWN_ADVISORIES:
        assert any(v.policy == policy and fragment in v.message for v in plan.violations), (policy, fragment)


def test_the_platform_config_lowers_no_rule():
    assert pack_config.load().levels == {}


def test_privileged_projects_are_exactly_the_pinned_image_builds_and_no_list_names_them(prod_plan):
    """The pack allows privileged mode by what a project is; the platform's config names no project."""
    privileged = [
        r.inputs
        for r in prod_plan.resources
        if r.type == "aws:codebuild/project:Project" and r.inputs["environment"].get("privilegedMode")
    ]
    container_services = {s.name for s in prod_plan.inputs.catalog.services if s.aws.platform == "ECS"}
    assert sorted(p["name"] for p in privileged) == sorted(f"{name}-image-build" for name in container_services)
    assert all(pinned_variables(p["source"]["buildspec"]) is not None for p in privileged)
    assert "codebuild-no-privileged" not in json.loads(pack_config.DEFAULT_PATH.read_text())


def test_the_platform_config_names_only_known_rules_and_properties():
    raw = json.loads(pack_config.DEFAULT_PATH.read_text())
    rules = {rule.name: rule for rule in ALL_RULES}
    for name, value in raw.items():
        assert name in rules or name == "all", name
        if isinstance(value, dict):
            assert set(value) - {"enforcementLevel"} <= set(rules[name].config_schema), name
