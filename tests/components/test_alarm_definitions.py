"""Health signals become alarms on the metrics each compute platform really publishes."""

from __future__ import annotations

import pytest

from components.governance.alarm_definitions import EcsDimensions, composite_rule, definitions_for
from components.model.catalog import Catalog
from tests.conftest import service_entry

ECS = EcsDimensions("app/bookwise-core-alb/abc", ("targetgroup/auth-blue/1", "targetgroup/auth-green/2"))


def service(catalog_raw, name, **health):
    entry = service_entry(catalog_raw, name)
    if health:
        entry["health"] = health
    return Catalog.model_validate({"services": [entry | {"depends_on": []}]}).services[0]


def by_signal(definitions):
    return {d.signal: d for d in definitions}


def test_ecs_error_rate_sums_both_target_groups_of_the_shared_alb(catalog_raw):
    alarms = by_signal(definitions_for(service(catalog_raw, "auth"), ECS))
    assert set(alarms) == {"http-5xx", "cpu", "login-failures", "p99-latency"}
    queries = alarms["http-5xx"].arguments()["metric_queries"]
    dims = [q["metric"]["dimensions"] for q in queries if "metric" in q]
    assert {d["TargetGroup"] for d in dims} == {"targetgroup/auth-blue/1", "targetgroup/auth-green/2"}
    assert {d["LoadBalancer"] for d in dims} == {"app/bookwise-core-alb/abc"}
    (expression,) = [q for q in queries if "expression" in q]
    assert expression["return_data"] is True
    assert expression["expression"].startswith("IF((FILL(bluerequests, 0) + FILL(greenrequests, 0)) > 0, 100 *")
    assert alarms["http-5xx"].threshold == 0.5


def test_ecs_latency_is_the_slower_target_group_in_seconds_and_cpu_is_the_service(catalog_raw):
    alarms = by_signal(definitions_for(service(catalog_raw, "auth"), ECS))
    latency = alarms["p99-latency"]
    assert latency.threshold == 0.4
    assert latency.arguments()["metric_queries"][-1]["expression"] == "MAX([bluep99, greenp99])"
    assert alarms["cpu"].arguments()["dimensions"] == {"ClusterName": "bookwise-core", "ServiceName": "auth"}


def test_login_failures_come_from_the_service_namespace_per_five_minutes(catalog_raw):
    login = by_signal(definitions_for(service(catalog_raw, "auth"), ECS))["login-failures"].arguments()
    assert (login["namespace"], login["metric_name"], login["period"]) == ("Bookwise/auth", "LoginFailures", 300)
    assert (login["evaluation_periods"], login["statistic"], login["threshold"]) == (1, "Sum", 300.0)


def test_lambda_alarms_watch_the_alias_that_codedeploy_shifts(catalog_raw):
    fn = service(catalog_raw, "notifications", http_5xx_percent=1.0, p99_latency_ms=900)
    alarms = by_signal(definitions_for(fn))
    dims = alarms["http-5xx"].arguments()["metric_queries"][0]["metric"]["dimensions"]
    assert dims == {"FunctionName": fn.aws.function, "Resource": f"{fn.aws.function}:live"}
    latency = alarms["p99-latency"].arguments()
    assert (latency["metric_name"], latency["extended_statistic"], latency["threshold"]) == ("Duration", "p99", 900.0)


def test_server_cpu_is_the_busiest_auto_scaling_group_and_requests_come_from_the_service(catalog_raw):
    alarms = by_signal(definitions_for(service(catalog_raw, "ledger")))
    cpu = alarms["cpu"].arguments()["metric_queries"]
    assert [q["metric"]["dimensions"] for q in cpu[:-1]] == [
        {"AutoScalingGroupName": "ledger-blue"},
        {"AutoScalingGroupName": "ledger-green"},
    ]
    assert cpu[-1]["expression"] == "MAX([group0, group1])"
    errors = alarms["http-5xx"].arguments()["metric_queries"]
    assert {q["metric"]["namespace"] for q in errors if "metric" in q} == {"Bookwise/ledger"}
    single = by_signal(definitions_for(service(catalog_raw, "search")))["cpu"].arguments()
    assert single["dimensions"] == {"AutoScalingGroupName": "search-query-nodes"}


@pytest.mark.parametrize("name", ["auth", "notifications", "ledger"])
def test_every_alarm_ignores_missing_data_and_needs_three_bad_minutes(catalog_raw, name):
    for definition in definitions_for(service(catalog_raw, name), ECS):
        arguments = definition.arguments()
        assert arguments["treat_missing_data"] == "notBreaching"
        assert arguments["comparison_operator"] == "GreaterThanThreshold"
        if definition.signal != "login-failures":
            assert (arguments["evaluation_periods"], arguments["datapoints_to_alarm"]) == (5, 3)


def test_ecs_alarms_refuse_to_guess_alb_dimensions(catalog_raw):
    with pytest.raises(ValueError, match="ALB and target group dimensions"):
        definitions_for(service(catalog_raw, "auth"))


def test_the_health_alarm_is_in_alarm_when_any_signal_is():
    assert composite_rule(["a", "b"]) == 'ALARM("a") OR ALARM("b")'
