"""Which CloudWatch alarm each catalog health signal becomes, per compute platform.

The catalog says *what* hurts users (``HealthSignals``); this module says where
AWS measures it. Thresholds are the catalog's; periods and datapoints are the
platform's, chosen so a canary step (5 minutes) can trip an alarm: three bad
minutes out of five. Missing data is ``notBreaching`` everywhere: a quiet
environment without traffic is healthy, and an alarm stuck on missing data
would block every deploy behind its CloudWatchAlarm gate.

Metric sources, by signal and platform (ECS behind an ALB / Lambda alias / Server):

- http-5xx: ALB ``HTTPCode_Target_5XX_Count`` / ``RequestCount`` of both target
  groups; ``Errors`` / ``Invocations``; ``Bookwise/<service>`` ``Http5xxCount`` / ``RequestCount``.
- cpu: ``AWS/ECS`` ``CPUUtilization`` (cluster, service); none (the catalog refuses
  it); ``AWS/EC2`` ``CPUUtilization`` per Auto Scaling group, the highest.
- login-failures: ``Bookwise/<service>`` ``LoginFailures`` per 5 minutes, everywhere.
- p99-latency: ALB ``TargetResponseTime`` p99 of the slower target group;
  ``Duration`` p99; ``Bookwise/<service>`` ``Latency`` p99.

Server services name no load balancer in the catalog, so their request
signals come from the service's own metric namespace, like login failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from ..model.catalog import EcsTarget, LambdaTarget, ServerTarget, Service

PERIOD_SECONDS = 60
EVALUATION_PERIODS = 5
DATAPOINTS_TO_ALARM = 3
LOGIN_PERIOD_SECONDS = 300
TREAT_MISSING_DATA = "notBreaching"
SIGNALS = ("http-5xx", "cpu", "login-failures", "p99-latency")


@dataclass(frozen=True)
class EcsDimensions:
    """ALB dimension values of an ECS service: ``app/<name>/<id>`` and ``targetgroup/<name>/<id>`` (blue, green)."""

    load_balancer: pulumi.Input[str]
    target_groups: tuple[pulumi.Input[str], pulumi.Input[str]]


@dataclass(frozen=True)
class AlarmDefinition:
    """One metric alarm, as ``aws.cloudwatch.MetricAlarm`` keyword arguments minus name and actions."""

    signal: str
    description: str
    threshold: float
    metric: dict[str, object] = field(default_factory=dict)
    """Either single-metric keys (namespace, metric_name, dimensions, statistic/extended_statistic, period) or
    ``metric_queries`` for metric math."""
    evaluation_periods: int = EVALUATION_PERIODS
    datapoints_to_alarm: int = DATAPOINTS_TO_ALARM

    def arguments(self) -> dict[str, object]:
        return {
            "comparison_operator": "GreaterThanThreshold",
            "threshold": self.threshold,
            "evaluation_periods": self.evaluation_periods,
            "datapoints_to_alarm": self.datapoints_to_alarm,
            "treat_missing_data": TREAT_MISSING_DATA,
            **self.metric,
        }


def _stat(
    query_id: str, namespace: str, metric: str, dimensions: dict, stat: str, period: int = PERIOD_SECONDS
) -> dict[str, object]:
    return {
        "id": query_id,
        "return_data": False,
        "metric": {
            "namespace": namespace,
            "metric_name": metric,
            "dimensions": dimensions,
            "stat": stat,
            "period": period,
        },
    }


def _expression(query_id: str, expression: str, label: str) -> dict[str, object]:
    return {"id": query_id, "expression": expression, "label": label, "return_data": True}


def _error_rate(errors: Sequence[dict], requests: Sequence[dict], label: str) -> dict[str, object]:
    """100 * errors / requests summed over the given series; 0 when there is no traffic."""
    err = " + ".join(f"FILL({q['id']}, 0)" for q in errors)
    req = " + ".join(f"FILL({q['id']}, 0)" for q in requests)
    return {
        "metric_queries": [
            *errors,
            *requests,
            _expression("rate", f"IF(({req}) > 0, 100 * ({err}) / ({req}), 0)", label),
        ]
    }


def _highest(series: Sequence[dict], label: str) -> dict[str, object]:
    """The highest of several series at each point (either target group, any Auto Scaling group)."""
    ids = ", ".join(q["id"] for q in series)
    return {"metric_queries": [*series, _expression("highest", f"MAX([{ids}])", label)]}


def _custom(service: Service) -> str:
    return f"Bookwise/{service.name}"


def definitions_for(service: Service, ecs: EcsDimensions | None = None) -> list[AlarmDefinition]:
    """The alarms of one service in one environment, one per signal the catalog sets (ECS needs its ALB dims)."""
    health, target = service.health, service.aws
    found: list[AlarmDefinition] = []
    if health.http_5xx_percent is not None:
        found.append(
            AlarmDefinition(
                "http-5xx",
                f"{service.name}: more than {health.http_5xx_percent}% of requests fail with a 5xx",
                health.http_5xx_percent,
                _error_rate_for(service, ecs),
            )
        )
    if health.cpu_percent is not None and not isinstance(target, LambdaTarget):
        found.append(
            AlarmDefinition(
                "cpu",
                f"{service.name}: CPU above {health.cpu_percent}%",
                health.cpu_percent,
                _cpu_for(target),
            )
        )
    if health.login_failures_per_5min is not None:
        found.append(
            AlarmDefinition(
                "login-failures",
                f"{service.name}: more than {health.login_failures_per_5min} failed logins in 5 minutes",
                float(health.login_failures_per_5min),
                {
                    "namespace": _custom(service),
                    "metric_name": "LoginFailures",
                    "statistic": "Sum",
                    "period": LOGIN_PERIOD_SECONDS,
                },
                evaluation_periods=1,
                datapoints_to_alarm=1,
            )
        )
    if health.p99_latency_ms is not None:
        found.append(_latency_for(service, ecs, health.p99_latency_ms))
    return found


def _error_rate_for(service: Service, ecs: EcsDimensions | None) -> dict[str, object]:
    target = service.aws
    if isinstance(target, EcsTarget):
        dims = _require(ecs, service)
        colours = ("blue", "green")
        errors = [
            _stat(f"{c}5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", _alb(dims, i), "Sum")
            for i, c in enumerate(colours)
        ]
        requests = [
            _stat(f"{c}requests", "AWS/ApplicationELB", "RequestCount", _alb(dims, i), "Sum")
            for i, c in enumerate(colours)
        ]
        return _error_rate(errors, requests, "5xx % of requests (both target groups)")
    if isinstance(target, LambdaTarget):
        dims = _lambda(target)
        return _error_rate(
            [_stat("errors", "AWS/Lambda", "Errors", dims, "Sum")],
            [_stat("invocations", "AWS/Lambda", "Invocations", dims, "Sum")],
            "errors % of invocations",
        )
    return _error_rate(
        [_stat("errors", _custom(service), "Http5xxCount", {}, "Sum")],
        [_stat("requests", _custom(service), "RequestCount", {}, "Sum")],
        "5xx % of requests",
    )


def _cpu_for(target: EcsTarget | ServerTarget) -> dict[str, object]:
    if isinstance(target, EcsTarget):
        return {
            "namespace": "AWS/ECS",
            "metric_name": "CPUUtilization",
            "dimensions": {"ClusterName": target.cluster, "ServiceName": target.service},
            "statistic": "Average",
            "period": PERIOD_SECONDS,
        }
    groups = target.autoscaling_groups
    if len(groups) == 1:
        return {
            "namespace": "AWS/EC2",
            "metric_name": "CPUUtilization",
            "dimensions": {"AutoScalingGroupName": groups[0]},
            "statistic": "Average",
            "period": PERIOD_SECONDS,
        }
    series = [
        _stat(f"group{i}", "AWS/EC2", "CPUUtilization", {"AutoScalingGroupName": group}, "Average")
        for i, group in enumerate(groups)
    ]
    return _highest(series, "highest CPU of the Auto Scaling groups")


def _latency_for(service: Service, ecs: EcsDimensions | None, threshold_ms: int) -> AlarmDefinition:
    target = service.aws
    description = f"{service.name}: p99 latency above {threshold_ms} ms"
    if isinstance(target, EcsTarget):
        dims = _require(ecs, service)
        series = [
            _stat(f"{c}p99", "AWS/ApplicationELB", "TargetResponseTime", _alb(dims, i), "p99")
            for i, c in enumerate(("blue", "green"))
        ]
        # TargetResponseTime is in seconds.
        return AlarmDefinition("p99-latency", description, threshold_ms / 1000, _highest(series, "p99 seconds"))
    if isinstance(target, LambdaTarget):
        metric = {"namespace": "AWS/Lambda", "metric_name": "Duration", "dimensions": _lambda(target)}
    else:
        metric = {"namespace": _custom(service), "metric_name": "Latency"}
    return AlarmDefinition(
        "p99-latency",
        description,
        float(threshold_ms),
        {**metric, "extended_statistic": "p99", "period": PERIOD_SECONDS},
    )


def _alb(dims: EcsDimensions, index: int) -> dict[str, pulumi.Input[str]]:
    return {"LoadBalancer": dims.load_balancer, "TargetGroup": dims.target_groups[index]}


def _lambda(target: LambdaTarget) -> dict[str, str]:
    # The alias is what CodeDeploy shifts; its metrics carry Resource = "<function>:<alias>".
    return {"FunctionName": target.function, "Resource": f"{target.function}:{target.alias}"}


def _require(ecs: EcsDimensions | None, service: Service) -> EcsDimensions:
    if ecs is None:
        raise ValueError(f"{service.name}: ECS alarms need the ALB and target group dimensions")
    return ecs


def composite_rule(alarm_names: Sequence[str]) -> str:
    """The health alarm's rule: ALARM when any signal alarm is."""
    return " OR ".join(f'ALARM("{name}")' for name in alarm_names)
