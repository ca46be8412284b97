"""The platform against its own pack: the dev and prod plans, with the platform's pack config.

The platform meets every rule at its catalogue level; the config only sets knobs
(allow-lists, release managers, retention), never lowers a level.
"""

from __future__ import annotations

import json

import pytest

from policies import pack_config
from policies.rules import ALL_RULES


@pytest.fixture(scope="module", params=["dev_plan", "prod_plan"])
def plan(request):
    return request.getfixturevalue(request.param)


def test_the_platform_meets_every_rule_mandatory_and_advisory(plan):
    assert [(v.policy, v.message) for v in plan.violations] == []


def test_the_platform_config_lowers_no_rule():
    assert pack_config.load().levels == {}


def test_privileged_mode_is_allowed_exactly_for_the_container_builds(prod_plan):
    allowed = set(pack_config.load().properties_of("codebuild-no-privileged")["allowedProjects"])
    privileged = {
        r.inputs["name"]
        for r in prod_plan.resources
        if r.type == "aws:codebuild/project:Project" and r.inputs["environment"].get("privilegedMode")
    }
    assert privileged == allowed


def test_the_platform_config_names_only_known_rules_and_properties():
    raw = json.loads(pack_config.DEFAULT_PATH.read_text())
    rules = {rule.name: rule for rule in ALL_RULES}
    for name, value in raw.items():
        assert name in rules or name == "all", name
        if isinstance(value, dict):
            assert set(value) - {"enforcementLevel"} <= set(rules[name].config_schema), name
