"""Every EventBridge rule of the dev and prod plans, against realistic events, with EventBridge's matcher.

For each rule: the events it must deliver and ignore (``rule_cases.py``), and a mutation test
of its pattern: every value is needed by some event. So a rule that stops delivering an event
it exists for (the forwarding rule losing CodeDeploy ``STOP``) fails, and so does a pattern
that gains a value no event exercises. The last tests show the harness catches both.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.events import harness
from tests.events.aws_events import DEFAULTS, KINDS, aws_event, placeholders
from tests.events.patterns import matches, unknown_operators, values, without
from tests.events.planned_rules import PlannedRule, planned_rules
from tests.events.rule_cases import RULE_KINDS, Subject, impostors

STACKS = ["dev", "prod"]


@pytest.fixture(scope="module", params=STACKS)
def judgement(request) -> harness.Judgement:
    return harness.judge(request.getfixturevalue(f"{request.param}_plan"))


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_every_rule_has_cases_that_say_what_it_is_for(judgement):
    assert judgement.unclaimed == (), report(list(judgement.unclaimed))
    kinds = {group.kind.name for group in judgement.groups}
    assert kinds == {kind.name for kind in RULE_KINDS}, "every kind of rule is in both plans"


def test_patterns_use_only_documented_content_filters(judgement):
    problems = harness.undocumented_filters(judgement)
    assert problems == [], report(problems)


def test_each_rule_delivers_what_it_is_for_and_ignores_the_rest(judgement):
    problems = [problem for group in judgement.groups for problem in harness.misdelivered(group)]
    assert problems == [], report(problems)


def test_every_value_of_every_pattern_is_needed_by_some_event(judgement):
    problems = [problem for group in judgement.groups for problem in harness.needless_values(group)]
    assert problems == [], report(problems)


def test_what_the_environment_accounts_forward_reaches_the_rollback_reporter(judgement):
    problems = harness.lost_on_the_way(judgement)
    assert problems == [], report(problems)
    forwarders = [rule for rule in judgement.rules if any(":event-bus/" in target for target in rule.targets)]
    assert forwarders, "the plan forwards events from the environment accounts"


def test_scheduled_rules_have_valid_schedules(judgement):
    problems = harness.bad_schedules(judgement)
    assert problems == [], report(problems)


def test_an_alarm_raised_where_its_service_does_not_run_never_reaches_the_reporter(judgement):
    """Issue 12, blocker 2: what a forwarding rule lets through must not wake the reporter either.

    ``impostors``: every service's names raised where the catalog does not run it. In an
    environment split over accounts (prod places payments in an account of its own) that
    includes a team in the shared account raising the payments service's alarm.
    """
    world = judgement.world
    reaching, tried = [], []
    forwarding = [g for g in judgement.groups if g.kind.name.startswith("forwarding:")]
    for group in forwarding:
        for rule in group.rules:
            on_the_bus = [r for r in judgement.rules for target in rule.targets if r.bus_arn == target and r.pattern]
            environment = group.kind.claims(rule, world.stack)["environment"]
            for case in impostors(Subject(rule, world, environment)):
                tried.append(case.label)
                if matches(rule.pattern, case.event) and any(matches(r.pattern, case.event) for r in on_the_bus):
                    reaching.append(f"{rule}: {case.label} reaches the rollback reporter")
    beside = [
        f"{p.health_alarm} ALARM raised in {other.account} {p.region}"
        for p in world.placements
        for other in world.placed_elsewhere(p.environment, p.account)
    ]
    assert set(beside) <= set(tried), "the same environment's other accounts are among the impostors"
    if world.stack == "prod":
        assert beside, "prod places a service in an account of its own"
    assert reaching == [], report(reaching)


# --- the harness itself ---------------------------------------------------------------------------


def _groups_judging(judgement: harness.Judgement, rule_name: str) -> list[harness.Group]:
    """The groups that hold ``rule_name``: where a problem of that rule is found.

    ``misdelivered`` and ``needless_values`` judge one group at a time from its own rules and cases, so
    the other groups of a plan with one rule mutated report what the unmutated plan's tests already judge;
    the tests of the harness below look where the mutated rule is (most of their cost was the rest).
    """
    groups = [group for group in judgement.groups if any(rule.name == rule_name for rule in group.rules)]
    assert groups, f"no group judges {rule_name}"
    return groups


def _mutated(plan, rule_name: str, change) -> list:
    """The plan's rules with ``change(pattern)`` applied to every rule named ``rule_name``."""
    rules = []
    for rule in planned_rules(plan):
        if rule.name == rule_name:
            pattern = json.loads(json.dumps(rule.pattern))
            change(pattern)
            rule = dataclasses.replace(rule, pattern=pattern)
        rules.append(rule)
    return rules


def test_a_forwarding_rule_that_no_longer_matches_codedeploy_stop_fails_the_harness(dev_plan):
    def drop_stop(pattern):
        pattern["detail"]["state"].remove("STOP")

    judgement = harness.judge(dev_plan, rules=_mutated(dev_plan, "cicd-forward-failed-deployments-prod", drop_stop))
    problems = [problem for group in judgement.groups for problem in harness.misdelivered(group)]
    assert problems, "the harness must notice that a stopped deployment is no longer forwarded"
    assert all("cicd-forward-failed-deployments-prod" in problem and "STOP" in problem for problem in problems)


@pytest.mark.parametrize(
    ("rule_name", "change", "value"),
    [
        (
            "cicd-forward-failed-deployments-qa",
            lambda pattern: pattern["detail"]["state"].append("SUCCESS"),
            'detail.state = "SUCCESS"',
        ),
        (
            "cicd-dev-rollback-reporter-forwarded",
            lambda pattern: pattern["$or"][0]["account"].append("777766665555"),
            '$or.0.account = "777766665555"',
        ),
        (
            "cicd-forward-health-alarms-staging",
            lambda pattern: pattern["detail"].update({"previousState": {"value": ["OK"]}}),
            'detail.previousState.value = "OK"',
        ),
    ],
)
def test_a_value_no_event_exercises_fails_the_harness_naming_the_rule_and_the_value(dev_plan, rule_name, change, value):
    judgement = harness.judge(dev_plan, rules=_mutated(dev_plan, rule_name, change))
    problems = [
        problem for group in _groups_judging(judgement, rule_name) for problem in harness.needless_values(group)
    ]
    assert any(rule_name in problem and value in problem for problem in problems), report(problems)


def _forgets(field: str):
    """A change that drops ``field`` from a pattern and from each of its ``$or`` branches."""

    def change(pattern):
        for branch in pattern.get("$or", [pattern]):
            branch.pop(field, None)

    return change


@pytest.mark.parametrize(
    ("rule_name", "field", "lets_in"),
    [
        ("cicd-forward-health-alarms-prod", "account", "cicd-payments-prod-health ALARM raised in 444444444444"),
        ("cicd-forward-failed-deployments-prod", "region", "booking-prod STOP raised in 444444444444 us-east-1"),
        ("cicd-prod-rollback-reporter-forwarded-4", "account", "booking-prod STOP raised in 455555555555"),
        ("cicd-failure-digest-prod-failed-actions", "account", "action FAILED in 411111111111 eu-west-1"),
        ("cicd-prod-coordinator-pipeline-events-1", "account", "booking-prod SUCCEEDED in 444444444444"),
    ],
)
def test_a_rule_that_forgets_where_its_events_come_from_fails_the_harness(prod_plan, rule_name, field, lets_in):
    judgement = harness.judge(prod_plan, rules=_mutated(prod_plan, rule_name, _forgets(field)))
    problems = [problem for group in _groups_judging(judgement, rule_name) for problem in harness.misdelivered(group)]
    assert any(rule_name in problem and lets_in in problem for problem in problems), report(problems)


def _split_in_two(plan, rule_name: str, names_field: str) -> list[PlannedRule]:
    """The plan's rules with ``rule_name`` cut in two as a large fleet's are: the same rule and a ``-2``."""
    rules = []
    for rule in planned_rules(plan):
        if rule.name != rule_name:
            rules.append(rule)
            continue
        names = rule.pattern["detail"][names_field]
        for suffix, part in (("", names[: len(names) // 2]), ("-2", names[len(names) // 2 :])):
            pattern = json.loads(json.dumps(rule.pattern))
            pattern["detail"][names_field] = part
            rules.append(dataclasses.replace(rule, name=rule.name + suffix, pattern=pattern))
    return rules


def test_a_forwarding_rule_cut_in_two_for_a_large_fleet_is_judged_as_one_duty(dev_plan):
    rules = _split_in_two(dev_plan, "cicd-forward-health-alarms-prod", "alarmName")
    judgement = harness.judge(dev_plan, rules=rules)
    assert judgement.unclaimed == ()
    (group,) = [g for g in judgement.groups if "cicd-forward-health-alarms-prod" in str(g)]
    assert [rule.name for rule in group.rules] == [
        "cicd-forward-health-alarms-prod",
        "cicd-forward-health-alarms-prod-2",
    ]
    problems = harness.misdelivered(group) + harness.needless_values(group) + harness.lost_on_the_way(judgement)
    assert problems == [], report(problems)

    (second,) = [rule for rule in rules if rule.name == "cicd-forward-health-alarms-prod-2"]
    without_second = [rule for rule in rules if rule is not second]
    (group,) = [g for g in harness.judge(dev_plan, rules=without_second).groups if "health-alarms-prod" in str(g)]
    lost = harness.misdelivered(group)
    assert {problem.split("must deliver ")[1].split(" ALARM")[0] for problem in lost} == set(
        second.pattern["detail"]["alarmName"]
    ), "each alarm of the second half is reported lost"


@pytest.mark.parametrize(
    ("name", "kind", "environment"),
    [
        ("cicd-forward-health-alarms-prod", "forwarding: health alarms", "prod"),
        ("cicd-forward-health-alarms-prod-2", "forwarding: health alarms", "prod"),
        ("cicd-forward-failed-deployments-staging-12", "forwarding: failed deployments", "staging"),
        ("cicd-dev-rollback-reporter-forwarded", "rollback reporter: forwarded events", None),
        ("cicd-dev-rollback-reporter-forwarded-3", "rollback reporter: forwarded events", None),
        ("cicd-forward-health-alarms-prod-x", None, None),
        ("cicd-dev-rollback-reporter-forwarded3", None, None),
    ],
)
def test_numbered_rules_are_claimed_by_their_kind_with_their_environment(name, kind, environment):
    rule = PlannedRule(name, "default", "123456789012", "eu-west-1", {}, None, ())
    claims = [(k.name, match.groupdict().get("environment")) for k in RULE_KINDS if (match := k.claims(rule, "dev"))]
    assert claims == ([(kind, environment)] if kind else [])


def test_values_and_their_removal_follow_eventbridge_rules():
    pattern = {"source": ["aws.codedeploy"], "detail": {"state": ["FAILURE", "STOP"], "application": ["a"]}}
    listed = {str(value): value for value in values(pattern)}
    assert set(listed) == {
        'source = "aws.codedeploy"',
        'detail.state = "FAILURE"',
        'detail.state = "STOP"',
        'detail.application = "a"',
    }
    assert without(pattern, listed['detail.state = "STOP"'])["detail"]["state"] == ["FAILURE"]
    assert without(pattern, listed['detail.application = "a"']) == {
        "source": ["aws.codedeploy"],
        "detail": {"state": ["FAILURE", "STOP"]},
    }
    nested = {"detail": {"state": {"value": ["ALARM"]}}}
    assert without(nested, next(values(nested))) == {}  # an emptied object goes with its field


@pytest.mark.parametrize(
    ("pattern", "alarm_name", "delivered"),
    [
        ({"detail": {"alarmName": [{"wildcard": "cicd-*-prod-health"}]}}, "cicd-booking-prod-health", True),
        ({"detail": {"alarmName": [{"wildcard": "cicd-*-prod-health"}]}}, "cicd-booking-prod-health-5xx", False),
        ({"detail": {"alarmName": [{"suffix": "-health"}]}}, "cicd-booking-prod-health", True),
        ({"detail": {"alarmName": [{"prefix": "cicd-"}]}}, "payments-p99", False),
        ({"detail": {"alarmName": [{"anything-but": ["x"]}]}}, "cicd-booking-prod-health", True),
        ({"detail": {"alarmName": ["cicd-booking-prod-health"]}}, "CICD-booking-prod-health", False),
        ({"detail": {"missing": [{"exists": False}]}}, "cicd-booking-prod-health", True),
    ],
)
def test_the_matcher_is_eventbridges(pattern, alarm_name, delivered):
    event = aws_event("cloudwatch-alarm-state-change", alarm_name=alarm_name, state="ALARM", previous_state="OK")
    assert matches(pattern, event) is delivered


@pytest.mark.parametrize("kind", KINDS)
def test_every_fixture_is_an_eventbridge_event(kind):
    event = aws_event(kind, **{name: "x" for name in placeholders(kind) - set(DEFAULTS)})
    envelope = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert envelope <= set(event), kind
    assert event["source"].startswith("aws.") and event["version"] == "0"


def test_a_misspelt_content_filter_is_caught_before_moto_waves_it_through():
    pattern = {"detail": {"pipeline": [{"sufix": "-prod"}]}}
    event = aws_event("codepipeline-pipeline-execution-state-change", pipeline="booking-dev", state="STARTED")
    assert matches(pattern, event), "moto matches any event with a filter name it does not know"
    assert unknown_operators(pattern) == ['detail.pipeline = {"sufix": "-prod"}: \'sufix\'']
