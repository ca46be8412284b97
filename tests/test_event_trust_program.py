"""An event is a claim: each layer between an environment account and a rollback passes on only what it should.

For both stacks under mocks: the forwarding rules in each environment account,
the tooling bus's policy, and the rollback reporter's rules on that bus, judged
with realistic events (``tests/functions/aws_events.py``) by moto's EventBridge
matcher, never by a matcher written here. The corpus holds, for every
environment account, the health alarm entering ALARM, the failed and the stopped
deployment of *every* service and environment of the catalog, raised in that
account (its own services' real events, and everyone else's names as a hostile
team there could raise them), plus the same events from another region.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from components.model import naming
from tests.conftest import document, inputs_of
from tests.functions.aws_events import action_failed, alarm_state_change, deployment_state_change, eventbridge_matches

RULE = "aws:cloudwatch/eventRule:EventRule"
STACKS = ["dev_plan", "prod_plan"]
OTHER_REGION = "us-east-1"


def account_of_provider(plan) -> dict[str, str]:
    return {
        r.urn: json.loads(r.inputs["allowedAccountIds"])[0] for r in plan.resources if r.type == "pulumi:providers:aws"
    }


def forwarding_rules(plan) -> dict[str, list[dict[str, Any]]]:
    """Per environment account, the patterns of the rules that forward to the tooling bus."""
    accounts = account_of_provider(plan)
    rules: dict[str, list[dict[str, Any]]] = {}
    for rule in plan.resources:
        if rule.type == RULE and rule.provider in accounts:
            rules.setdefault(accounts[rule.provider], []).append(json.loads(rule.inputs["eventPattern"]))
    return rules


def reporter_rules(plan) -> dict[str, dict[str, Any]]:
    prefix = naming.rollback_reporter_name(plan.inputs.stack)
    return {r["name"]: json.loads(r["eventPattern"]) for r in inputs_of(plan, RULE) if r["name"].startswith(prefix)}


def digest_rules(plan) -> dict[str, dict[str, Any]]:
    prefix = naming.failure_digest_name(plan.inputs.stack)
    return {r["name"]: json.loads(r["eventPattern"]) for r in inputs_of(plan, RULE) if r["name"].startswith(prefix)}


def placed(plan) -> dict[tuple[str, str], tuple[str, str]]:
    """(service, environment) → (account, region) where the catalog runs it."""
    inputs = plan.inputs
    return {
        (service.name, environment.name): (environment.account_id, environment.region)
        for service in inputs.catalog.services
        for environment in inputs.environments_for(service)
    }


def events_raised_in(account: str, region: str, service: str, environment: str) -> Iterator[dict[str, Any]]:
    yield alarm_state_change(naming.health_alarm_name(service, environment), account=account, region=region)
    for state in ("FAILURE", "STOP"):
        application = naming.codedeploy_application_name(service, environment)
        yield deployment_state_change(application, account=account, region=region, state=state)


def corpus(plan) -> list[tuple[bool, dict[str, Any]]]:
    """(genuine, event): every service's events raised in every environment account, in its region and another."""
    where = placed(plan)
    accounts = sorted({(account, region) for account, region in where.values()})
    events = []
    for (service, environment), home in sorted(where.items()):
        for account, region in accounts:
            for raised_in in (region, OTHER_REGION):
                genuine = (account, raised_in) == home
                events += [(genuine, e) for e in events_raised_in(account, raised_in, service, environment)]
    return events


def matched_by_any(patterns, event) -> bool:
    return any(eventbridge_matches(pattern, event) for pattern in patterns)


@pytest.mark.parametrize("stack", STACKS)
def test_each_account_forwards_its_own_services_events_and_nothing_another_account_runs(stack, request):
    plan = request.getfixturevalue(stack)
    rules = forwarding_rules(plan)
    assert set(rules) == {account for account, _ in placed(plan).values()}
    for genuine, event in corpus(plan):
        # An event reaches only the rules of its own account's default bus.
        assert matched_by_any(rules[event["account"]], event) is genuine, (genuine, event["account"], event["detail"])
        # Nor does any other account's rule take it, should it be put on that account's bus.
        others = [p for account, patterns in rules.items() if account != event["account"] for p in patterns]
        assert not matched_by_any(others, event)


def test_a_shared_account_cannot_forward_the_pci_services_alarm_nor_dev_a_prod_alarm(prod_plan):
    rules = forwarding_rules(prod_plan)
    crafted = [
        alarm_state_change("cicd-payments-prod-health", account="444444444444", region="eu-west-1"),
        alarm_state_change("cicd-booking-prod-health", account="411111111111", region="eu-west-1"),
        deployment_state_change("payments-prod", account="444444444444", region="eu-west-1", state="STOP"),
    ]
    assert [matched_by_any(rules[event["account"]], event) for event in crafted] == [False, False, False]
    genuine = alarm_state_change("cicd-payments-prod-health", account="455555555555", region="eu-west-1")
    assert matched_by_any(rules["455555555555"], genuine)


@pytest.mark.parametrize("stack", STACKS)
def test_a_deployment_stopped_by_its_alarm_is_forwarded_from_every_account(stack, request):
    plan = request.getfixturevalue(stack)
    rules = forwarding_rules(plan)
    for (service, environment), (account, region) in placed(plan).items():
        application = naming.codedeploy_application_name(service, environment)
        stopped = deployment_state_change(application, account=account, region=region, state="STOP")
        assert matched_by_any(rules[account], stopped), f"{application} STOP is not forwarded from {account}"
        succeeded = deployment_state_change(application, account=account, region=region, state="SUCCESS")
        assert not matched_by_any(rules[account], succeeded)
        recovered = alarm_state_change(naming.health_alarm_name(service, environment), account=account, region=region)
        recovered["detail"]["state"]["value"] = "OK"
        assert not matched_by_any(rules[account], recovered)


@pytest.mark.parametrize("stack", STACKS)
def test_the_reporters_rules_match_per_account_exactly_what_that_account_forwards(stack, request):
    plan = request.getfixturevalue(stack)
    rules = reporter_rules(plan)
    forwarded = [pattern for name, pattern in rules.items() if "-forwarded" in name]
    for genuine, event in corpus(plan):
        assert matched_by_any(forwarded, event) is genuine, (event["account"], event["region"], event["detail"])
    tooling, region = plan.inputs.settings.tooling_account_id, plan.inputs.settings.region
    # The failed pipeline actions are the failure digest's now: one message per failure.
    assert f"{naming.rollback_reporter_name(plan.inputs.stack)}-failed-actions" not in rules
    failed_actions = digest_rules(plan)[f"{naming.failure_digest_name(plan.inputs.stack)}-failed-actions"]
    for environment in plan.inputs.settings.environments:
        pipeline = naming.pipeline_name("booking", environment.name)
        assert eventbridge_matches(failed_actions, action_failed(pipeline, account=tooling, region=region))
        assert not eventbridge_matches(
            failed_actions, action_failed(pipeline, account=environment.account_id, region=region)
        )
        assert not eventbridge_matches(failed_actions, action_failed(pipeline, account=tooling, region=OTHER_REGION))
    assert all(len(json.dumps(pattern, sort_keys=True)) <= 2048 for pattern in rules.values())


def mutants(pattern: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Each copy of ``pattern`` with one matched value (a string or a named filter) replaced by one nothing has."""
    if isinstance(pattern, dict):
        for key, value in pattern.items():
            for where, mutated in mutants(value, (*path, key)):
                yield where, {**pattern, key: mutated}
    elif isinstance(pattern, list):
        for index, value in enumerate(pattern):
            if isinstance(value, dict) and "wildcard" not in value:  # a $or branch
                for where, mutated in mutants(value, (*path, index)):
                    yield where, [*pattern[:index], mutated, *pattern[index + 1 :]]
            else:
                yield (*path, index, value), [*pattern[:index], "value-no-event-has", *pattern[index + 1 :]]


@pytest.mark.parametrize("stack", STACKS)
def test_every_value_of_every_forwarding_and_reporter_pattern_is_exercised_by_some_event(stack, request):
    """Replace any one value of a pattern and some realistic event it used to match is lost.

    So no value is dead weight, and none can be dropped (``STOP``, an account,
    a service's alarm name) without some test event noticing.
    """
    plan = request.getfixturevalue(stack)
    settings = plan.inputs.settings
    events = [event for genuine, event in corpus(plan) if genuine]
    events += [
        action_failed(
            naming.pipeline_name(service, environment), account=settings.tooling_account_id, region=settings.region
        )
        for service, environment in placed(plan)
    ]
    patterns = [p for ps in forwarding_rules(plan).values() for p in ps]
    patterns += [*reporter_rules(plan).values(), *digest_rules(plan).values()]
    unexercised = []
    for pattern in patterns:
        matched = [event for event in events if eventbridge_matches(pattern, event)]
        assert matched, pattern
        for where, mutant in mutants(copy.deepcopy(pattern)):
            if all(eventbridge_matches(mutant, event) for event in matched):
                unexercised.append(where)
    assert unexercised == []


def bus_policy(plan) -> dict[str, Any]:
    (policy,) = [r for r in plan.resources if r.type == "aws:cloudwatch/eventBusPolicy:EventBusPolicy"]
    return document(policy.inputs["policy"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_tooling_bus_admits_each_environment_account_only_for_the_kinds_of_events_it_forwards(stack, request):
    plan = request.getfixturevalue(stack)
    (statement,) = bus_policy(plan)["Statement"]
    rules = forwarding_rules(plan)
    assert statement["Principal"]["AWS"] == [f"arn:aws:iam::{account}:root" for account in sorted(rules)]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": plan.inputs.settings.organization_id}
    admitted = statement["Condition"]["ForAllValues:StringEquals"]
    assert admitted == {
        "events:source": ["aws.cloudwatch", "aws.codedeploy"],
        "events:detail-type": ["CloudWatch Alarm State Change", "CodeDeploy Deployment State-change Notification"],
    }
    # ForAllValues holds when a key is missing: both keys must be present.
    assert statement["Condition"]["Null"] == {"events:source": "false", "events:detail-type": "false"}
    for patterns in rules.values():
        assert {s for p in patterns for s in p["source"]} <= set(admitted["events:source"])
        assert {t for p in patterns for t in p["detail-type"]} <= set(admitted["events:detail-type"])


def test_the_reporter_reads_where_services_run_from_the_coordination_graph(prod_plan):
    (function,) = [
        f for f in inputs_of(prod_plan, "aws:lambda/function:Function") if f["name"] == "cicd-prod-rollback-reporter"
    ]
    variables = function["environment"]["variables"]
    assert variables["GRAPH_PARAMETER"] == naming.graph_parameter_name("prod")
    # A failed pipeline action, believed only from the tooling account and region, is the failure digest's now.
    assert "TOOLING_ACCOUNT_ID" not in variables and "TOOLING_REGION" not in variables
    assert function["code"]["assets"]["graph.py"]["path"] == "functions/deploy_ledger/graph.py"
    parameters = {p["name"]: p for p in inputs_of(prod_plan, "aws:ssm/parameter:Parameter")}
    graph = json.loads(parameters[variables["GRAPH_PARAMETER"]]["insecureValue"])
    assert graph["regions"] == {"dev": "eu-west-1", "qa": "eu-west-1", "staging": "eu-west-1", "prod": "eu-west-1"}
    role = next(
        r for r in prod_plan.resources if r.type == "aws:iam/role:Role" and r.inputs["name"] == function["name"]
    )
    (policy,) = [r for r in prod_plan.resources if r.type == "aws:iam/rolePolicy:RolePolicy" and r.parent == role.urn]
    statements = {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}
    assert statements["ReadPlacements"] == {
        "Sid": "ReadPlacements",
        "Effect": "Allow",
        # The graph's index and its parts (functions/deploy_ledger/graph.py: read_graph), and their history.
        "Action": ["ssm:GetParameterHistory", "ssm:GetParameters"],
        "Resource": [
            "arn:aws:ssm:eu-west-1:123456789012:parameter/cicd-platform/prod/coordination/graph",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/cicd-platform/prod/coordination/graph-part-*",
        ],
    }
