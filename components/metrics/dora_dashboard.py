"""The DORA dashboard of one stack: a service picker, then per environment the four metrics with their targets.

The body follows CloudWatch's "Dashboard Body Structure and Syntax": a ``property`` variable (a
select of the catalog's services) replaces the ``Service`` dimension of every widget, so one
dashboard of 1 + 5 widgets per environment serves a fleet of any size (a body holds at most 500
widgets); each metric widget draws the environment's metric of the chosen service, the seed's
target as a horizontal annotation. The metric names, units and dimensions are the ones the DORA
function publishes (``functions/dora_metrics/metrics.py``; a test keeps the two equal).

The targets are the seed teams' goals: deploy daily, two hours from commit to production, 2 % of
changes failing, 15 minutes to restore.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NAMESPACE = "CicdPlatform/DORA"
SERVICE_DIMENSION = "Service"
ENVIRONMENT_DIMENSION = "Environment"
PERIOD_SECONDS = 3600
"""The function publishes every hour and after each deployment; an hour's average is the window's value then."""
WIDTH, HEIGHT = 6, 6


@dataclass(frozen=True)
class DoraMetric:
    name: str
    title: str
    unit: str
    target: float
    target_label: str


METRICS: tuple[DoraMetric, ...] = (
    DoraMetric("DeploymentFrequency", "Deployment frequency (per day)", "Count", 1, "target: daily"),
    DoraMetric("LeadTimeForChanges", "Lead time for changes (seconds)", "Seconds", 2 * 3600, "target: 2 h"),
    DoraMetric("ChangeFailureRate", "Change failure rate (%)", "Percent", 2, "target: 2 %"),
    DoraMetric("TimeToRestore", "Time to restore (seconds)", "Seconds", 15 * 60, "target: 15 min"),
)

INTRODUCTION = (
    "## DORA metrics\n"
    "Pick a service above. Each value covers the trailing {window} days and is published every hour "
    "and after each deployment by `{function}`. Deployment frequency: successful deployments per day. "
    "Lead time: median time from the deployed commit to its successful Deploy stage. Change failure rate: "
    "deployments that failed, or that a rollback, hotfix or revert followed within {failure} hours. "
    "Time to restore: median time from a failure to the next successful Deploy stage. README: DORA metrics."
)


def dashboard_body(
    services: Sequence[str],
    environments: Sequence[str],
    region: str,
    function_name: str,
    window_days: int,
    failure_window_hours: int,
) -> str:
    """The dashboard as JSON text (``aws.cloudwatch.Dashboard.dashboard_body``)."""
    first = services[0]
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 3,
            "properties": {
                "markdown": INTRODUCTION.format(
                    window=window_days, function=function_name, failure=failure_window_hours
                )
            },
        }
    ]
    y = 3
    for environment in environments:
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": y,
                "width": 24,
                "height": 1,
                "properties": {"markdown": f"### {environment}"},
            }
        )
        y += 1
        for column, metric in enumerate(METRICS):
            widgets.append(
                {
                    "type": "metric",
                    "x": column * WIDTH,
                    "y": y,
                    "width": WIDTH,
                    "height": HEIGHT,
                    "properties": {
                        "title": f"{environment}: {metric.title}",
                        "view": "timeSeries",
                        "region": region,
                        "stat": "Average",
                        "period": PERIOD_SECONDS,
                        "metrics": [
                            [NAMESPACE, metric.name, SERVICE_DIMENSION, first, ENVIRONMENT_DIMENSION, environment]
                        ],
                        "annotations": {"horizontal": [{"label": metric.target_label, "value": metric.target}]},
                        "yAxis": {"left": {"min": 0, "showUnits": False}},
                    },
                }
            )
        y += HEIGHT
    body = {
        "start": f"-P{window_days}D",
        "periodOverride": "inherit",
        "variables": [
            {
                "type": "property",
                "property": SERVICE_DIMENSION,
                "inputType": "select",
                "id": "service",
                "label": "Service",
                "defaultValue": first,
                "visible": True,
                "values": [{"value": service, "label": service} for service in services],
            }
        ],
        "widgets": widgets,
    }
    return json.dumps(body, sort_keys=True)
