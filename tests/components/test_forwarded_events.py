"""The forwarding patterns from the catalog's placements, at EventBridge's pattern-size quota and past it.

Amazon EventBridge quotas: "Event pattern size", 2,048 characters by default.
Matching is moto's EventBridge matcher (``tests/functions/aws_events.py``).
"""

from __future__ import annotations

import json

import pytest

from components.model import naming
from components.model.forwarded_events import (
    EVENT_PATTERN_LIMIT,
    ForwardingPlacement,
    failed_deployment_patterns,
    forwarded_patterns,
    forwarding_patterns,
    forwarding_placements,
    health_alarm_patterns,
)
from components.model.platform_inputs import load_platform_inputs
from tests.conftest import PROJECT_DIR, stack_settings
from tests.functions.aws_events import alarm_state_change, deployment_state_change, eventbridge_matches


def inputs(stack="prod"):
    return load_platform_inputs(stack_settings(stack), stack, PROJECT_DIR)


@pytest.fixture(scope="module")
def prod():
    return inputs("prod").settings.environment("prod")


def size(pattern) -> int:
    return len(json.dumps(pattern, sort_keys=True))


def test_each_account_is_given_exactly_the_services_the_catalog_places_there():
    placements = {(p.environment.name, p.environment.account_id): p.services for p in forwarding_placements(inputs())}
    assert placements[("prod", "455555555555")] == ("payments",)  # the PCI account
    assert "payments" not in placements[("prod", "444444444444")]
    assert "booking" in placements[("prod", "444444444444")]
    assert "payments" in placements[("dev", "411111111111")]
    every = {(name, env) for (env, _account), names in placements.items() for name in names}
    assert len(every) == sum(len(placements) for placements in placements.values())  # nobody is in two accounts
    # The sandbox stack ignores service accounts: payments runs in its own prod account there.
    sandbox = {(p.environment.name, p.environment.account_id): p.services for p in forwarding_placements(inputs("dev"))}
    assert "payments" in sandbox[("prod", "310000000014")]


def services_filling(prod, target: int) -> tuple[str, ...]:
    """Service names whose one health-alarm pattern is exactly ``target`` characters long."""
    names = [f"service-{index:03d}" for index in range(50)]
    base = size(health_alarm_patterns(ForwardingPlacement(prod, tuple(names)), limit=10**6)[0])
    assert base < target
    names[-1] += "x" * (target - base)  # each character of a service name is one character of its alarm name
    return tuple(names)


def test_a_pattern_exactly_at_the_quota_stays_one_rule_and_one_character_more_splits_it(prod):
    at_limit = ForwardingPlacement(prod, services_filling(prod, EVENT_PATTERN_LIMIT))
    (pattern,) = health_alarm_patterns(at_limit)
    assert size(pattern) == EVENT_PATTERN_LIMIT

    over = ForwardingPlacement(prod, services_filling(prod, EVENT_PATTERN_LIMIT + 1))
    split = health_alarm_patterns(over)
    assert len(split) == 2
    assert all(size(p) <= EVENT_PATTERN_LIMIT for p in split)
    names = [name for p in split for name in p["detail"]["alarmName"]]
    assert names == [naming.health_alarm_name(s, "prod") for s in over.services]


def test_a_large_fleet_in_one_account_fits_in_several_rules_that_name_each_service_once(prod):
    services = tuple(f"team-{index // 20:02d}-service-{index:04d}" for index in range(1000))
    placement = ForwardingPlacement(prod, services)
    for patterns, field, name_of in (
        (health_alarm_patterns(placement), "alarmName", naming.health_alarm_name),
        (failed_deployment_patterns(placement), "application", naming.codedeploy_application_name),
    ):
        assert len(patterns) > 1
        assert all(size(p) <= EVENT_PATTERN_LIMIT for p in patterns)
        assert [n for p in patterns for n in p["detail"][field]] == [name_of(s, "prod") for s in services]
        assert all(p["account"] == [prod.account_id] and p["region"] == [prod.region] for p in patterns)
        assert "wildcard" not in json.dumps(patterns)  # at most 30 rules per bus may hold wildcards


def test_the_reporters_patterns_join_every_accounts_patterns_within_the_quota(prod):
    shared = ForwardingPlacement(prod, tuple(f"shared-{index:03d}" for index in range(300)))
    pci = ForwardingPlacement(prod.model_copy(update={"account_id": "455555555555"}), ("payments", "cards"))
    rules = forwarded_patterns([shared, pci])
    assert all(size(rule) <= EVENT_PATTERN_LIMIT for rule in rules)
    branches = [branch for rule in rules for branch in rule.get("$or", [rule])]
    expected = [p for placement in (shared, pci) for kind in forwarding_patterns(placement).values() for p in kind]
    assert branches == expected
    # What the PCI account sends reaches the reporter; the same names from the shared account do not.
    for account, expected_match in (("455555555555", True), ("444444444444", False)):
        alarm = alarm_state_change("cicd-cards-prod-health", account=account, region=prod.region)
        stop = deployment_state_change("cards-prod", account=account, region=prod.region, state="STOP")
        assert any(eventbridge_matches(rule, alarm) for rule in rules) is expected_match
        assert any(eventbridge_matches(rule, stop) for rule in rules) is expected_match
    shared_alarm = alarm_state_change("cicd-shared-299-prod-health", account="444444444444", region=prod.region)
    assert any(eventbridge_matches(rule, shared_alarm) for rule in rules)


def test_an_account_with_no_services_in_an_environment_forwards_nothing(prod):
    assert forwarding_patterns(ForwardingPlacement(prod, ())) == {}


def test_the_graph_the_functions_read_places_each_service_where_the_forwarding_rules_do():
    from components.model.coordination_graph import coordination_graph_json
    from functions.deploy_ledger.graph import Graph

    model = inputs()
    graph = Graph.from_json(coordination_graph_json(model))
    for placement in forwarding_placements(model):
        environment = placement.environment
        for service in placement.services:
            assert graph.placement(service, environment.name) == (environment.account_id, environment.region)
    assert graph.placement("payments", "prod") == ("455555555555", "eu-west-1")
    assert graph.placement("ghost", "prod") is None and graph.placement("booking", "perf") is None
    # A graph written before regions were recorded places nothing: the reporter then acts on nothing.
    older = json.loads(coordination_graph_json(model))
    del older["regions"]
    assert Graph.from_json(json.dumps(older)).placement("booking", "prod") is None


def test_the_bus_policy_admits_each_account_for_the_kinds_its_own_rules_forward_and_no_other(prod):
    from components import iam

    booking = forwarding_patterns(ForwardingPlacement(prod, ("booking",)))
    bus = "arn:aws:events:eu-west-1:123456789012:event-bus/cicd-prod-deploy-events"
    policy = iam.deploy_events_bus_policy(
        "eu-west-1",
        bus,
        "o-bkw7prodorg01",
        {
            "444444444444": [*booking["health-alarms"], *booking["failed-deployments"]],
            "455555555555": booking["health-alarms"],  # an account that forwarded alarms only
            "466666666666": [],  # nothing forwarded: not admitted at all
        },
    )
    admitted = {
        tuple(statement["Principal"]["AWS"]): statement["Condition"]["ForAllValues:StringEquals"]
        for statement in policy["Statement"]
    }
    assert admitted == {
        ("arn:aws:iam::444444444444:root",): {
            "events:source": ["aws.cloudwatch", "aws.codedeploy"],
            "events:detail-type": ["CloudWatch Alarm State Change", "CodeDeploy Deployment State-change Notification"],
        },
        ("arn:aws:iam::455555555555:root",): {
            "events:source": ["aws.cloudwatch"],
            "events:detail-type": ["CloudWatch Alarm State Change"],
        },
    }
    assert len({statement["Sid"] for statement in policy["Statement"]}) == 2
    assert all(statement["Resource"] == bus for statement in policy["Statement"])
