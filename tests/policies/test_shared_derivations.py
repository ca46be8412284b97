"""While one stack is judged, rules share what they derive from it; outside that, nothing is remembered."""

from __future__ import annotations

from policies.rules.base import derived, shared_derivations
from policies.rules.iam_policy import statements_by_principal
from policies.rules.pipeline_model import Action


def test_a_derivation_is_computed_once_per_object_inside_the_block_and_every_time_outside():
    calls: list[str] = []
    source, twin = {"a": 1}, {"a": 1}

    def compute() -> str:
        calls.append("computed")
        return "value"

    with shared_derivations():
        assert derived("kind", (source,), compute) == "value"
        assert derived("kind", (source,), compute) == "value"
        assert len(calls) == 1, "the same object: derived once"
        derived("kind", (twin,), compute)
        assert len(calls) == 2, "an equal but different object is derived afresh (it may change later)"
        derived("other kind", (source,), compute)
        assert len(calls) == 3, "another kind of derivation of the same object"
    derived("kind", (source,), compute)
    derived("kind", (source,), compute)
    assert len(calls) == 5, "outside the block nothing is remembered"


def test_blocks_do_not_leak_into_each_other():
    source = {"a": 1}
    with shared_derivations():
        derived("kind", (source,), lambda: "first")
    with shared_derivations():
        assert derived("kind", (source,), lambda: "second") == "second"


def test_rules_share_the_parsed_variables_of_an_action_and_the_statements_of_a_stack():
    action = Action(0, "Build", "Build", {"configuration": {"EnvironmentVariables": '[{"name": "A", "value": "1"}]'}})
    role = type("View", (), {"type": "aws:iam/role:Role", "urn": "urn:r", "props": {"name": "r", "inlinePolicies": []}})
    resources = [role()]
    with shared_derivations():
        assert action.environment_variables() is action.environment_variables()
        assert statements_by_principal(resources) is statements_by_principal(resources)
    assert action.environment_variables() == {"A": "1"}
    assert action.environment_variables() is not action.environment_variables()
