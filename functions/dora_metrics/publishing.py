"""The DORA numbers as CloudWatch metrics: one datapoint per metric, service and environment, in batches.

``PutMetricData`` takes up to 1,000 metrics per call (CloudWatch API reference); a datapoint
carries the trailing window's value at the moment it was computed, so the dashboard's graph is
the metric over time. Publishing the same numbers twice adds a second, equal datapoint: with the
dashboard's ``Average`` statistic that changes nothing, so a retried invocation may publish again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

try:  # imported as a package in tests, as top-level modules in Lambda
    from .metrics import ENVIRONMENT_DIMENSION, NAMESPACE, SERVICE_DIMENSION, UNITS, DoraNumbers
except ImportError:  # pragma: no cover - the Lambda runtime path
    from metrics import ENVIRONMENT_DIMENSION, NAMESPACE, SERVICE_DIMENSION, UNITS, DoraNumbers  # type: ignore[no-redef]

BATCH = 1000


def datapoints(service: str, environment: str, numbers: DoraNumbers, at: datetime) -> list[dict[str, Any]]:
    dimensions = [{"Name": SERVICE_DIMENSION, "Value": service}, {"Name": ENVIRONMENT_DIMENSION, "Value": environment}]
    return [
        {"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": value, "Unit": UNITS[name]}
        for name, value in numbers.values().items()
    ]


def publish(cloudwatch: Any, entries: list[dict[str, Any]]) -> int:
    """Send ``entries`` in batches CloudWatch accepts; a refusal raises, so the invocation is retried."""
    for first in range(0, len(entries), BATCH):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=entries[first : first + BATCH])
    return len(entries)
