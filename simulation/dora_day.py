"""The release day's DORA metrics, through the real DORA function (``make simulate``).

The day's Deploy stage outcomes reach the function as EventBridge delivers them (late, twice, out of
order, the same deliveries the coordinator gets), filtered the way its rule filters them; it records
them in moto's DynamoDB and publishes to moto's CloudWatch. At the end of the day every service's
numbers in every environment are computed over the day, and so is each environment's (all its
services' deployments together): the four numbers ``make simulate`` prints, and the rows of the
dashboard's data it writes as a Markdown table (``out/dora-<stack>.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import boto3

from functions.dora_metrics.handler import DoraMetrics, Settings, graph_reader
from functions.dora_metrics.metrics import (
    CHANGE_FAILURE_RATE,
    DEPLOYMENT_FREQUENCY,
    LEAD_TIME,
    TIME_TO_RESTORE,
    DoraNumbers,
    compute,
)

STAGE_EVENT = "CodePipeline Stage Execution State Change"
OUTCOMES = ("SUCCEEDED", "FAILED")


@dataclass
class DoraDay:
    """The function's view of the day: what it was handed, and the numbers at the end."""

    delivered: int = 0
    recorded: int = 0
    duplicates: int = 0
    ignored: list[str] = field(default_factory=list)
    by_placement: dict[tuple[str, str], DoraNumbers] = field(default_factory=dict)
    by_environment: dict[str, DoraNumbers] = field(default_factory=dict)


class DoraRecorder:
    """The DORA function of the day, with its table; ``codepipeline`` answers from the day's model."""

    def __init__(self, account: str, region: str, graph_parameter: str, codepipeline: Any, stack: str) -> None:
        self.settings = Settings(
            facts_table=f"cicd-dora-deployments-{stack}",
            graph_parameter=graph_parameter,
            account_id=account,
            region=region,
        )
        self.codepipeline = codepipeline
        self.day = DoraDay()
        # One set of clients for the day, as a warm container keeps them at module level.
        self.clients = {name: boto3.client(name, region_name=region) for name in ("dynamodb", "cloudwatch", "ssm")}
        self.clients["dynamodb"].create_table(
            TableName=self.settings.facts_table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    def function(self, now: datetime, settings: Settings | None = None) -> DoraMetrics:
        return DoraMetrics(
            settings=settings or self.settings,
            codepipeline=self.codepipeline,
            dynamodb=self.clients["dynamodb"],
            cloudwatch=self.clients["cloudwatch"],
            graph=graph_reader(self.clients["ssm"], self.settings.graph_parameter),
            now=lambda: now,
        )

    @staticmethod
    def wants(event: dict[str, Any], account: str) -> bool:
        """What the function's rule delivers (``components.metrics.dora.deploy_outcome_pattern``)."""
        detail = event.get("detail") or {}
        return (
            event.get("source") == "aws.codepipeline"
            and event.get("detail-type") == STAGE_EVENT
            and event.get("account") == account
            and detail.get("stage") == "Deploy"
            and detail.get("state") in OUTCOMES
        )

    def deliver(self, event: dict[str, Any], now: datetime) -> None:
        if not self.wants(event, self.settings.account_id):
            return
        self.day.delivered += 1
        outcome = self.function(now).handle(event)
        if "recorded" in outcome:
            self.day.recorded += 1
        elif "duplicate" in outcome:
            self.day.duplicates += 1
        else:
            self.day.ignored.append(outcome.get("ignored", "?"))

    def finish(self, placements: Iterable[tuple[str, str]], start: datetime, end: datetime) -> DoraDay:
        """Every placement's numbers over the day, and each environment's over all its services."""
        window = replace(self.settings, window=end - start)
        function = self.function(end, window)
        by_environment: dict[str, list] = {}
        for service, environment in placements:
            self.day.by_placement[(service, environment)] = function.numbers(service, environment, end)
            facts = function.store.since(service, environment, start - window.failure_window)
            # Execution ids are unique per pipeline; across services they are told apart by the service.
            by_environment.setdefault(environment, []).extend(
                replace(fact, execution=f"{service}/{fact.execution}") for fact in facts
            )
        self.day.by_environment = {
            environment: compute(facts, start, end, window.failure_window)
            for environment, facts in by_environment.items()
        }
        return self.day


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def rendered(numbers: DoraNumbers) -> list[str]:
    values = numbers.values()
    rate = values.get(CHANGE_FAILURE_RATE)
    return [
        f"{values[DEPLOYMENT_FREQUENCY]:g}",
        duration(values.get(LEAD_TIME)),
        "—" if rate is None else f"{rate:g} %",
        duration(values.get(TIME_TO_RESTORE)),
    ]


HEADER = ["deployments per day", "lead time for changes", "change failure rate", "time to restore"]


def summary_lines(day: DoraDay) -> list[str]:
    """The four numbers of each environment, for the printed verdict."""
    return [
        f"  {environment}: "
        + ", ".join(f"{name} {value}" for name, value in zip(HEADER, rendered(numbers), strict=True))
        for environment, numbers in day.by_environment.items()
    ]


def markdown_table(day: DoraDay, stack: str, when: datetime, order: Callable[[str], int]) -> str:
    """The dashboard's data for the day: one row per service and environment that deployed or tried to."""
    lines = [
        f"# DORA metrics of the simulated release day ({stack}, {when:%Y-%m-%d})",
        "",
        "What the `cicd-dora-<stack>` dashboard shows for the day, per service and environment (README: DORA "
        "metrics); windows of one day. Produced by `make simulate`.",
        "",
        "| service | environment | deployments | " + " | ".join(HEADER) + " |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = sorted(day.by_placement.items(), key=lambda item: (order(item[0][1]), item[0][0]))
    for (service, environment), numbers in rows:
        if numbers.deployments == 0:
            continue
        cells = [service, environment, str(numbers.deployments), *rendered(numbers)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| environment (all services) | deployments | " + " | ".join(HEADER) + " |"]
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for environment, numbers in day.by_environment.items():
        lines.append("| " + " | ".join([environment, str(numbers.deployments), *rendered(numbers)]) + " |")
    return "\n".join(lines) + "\n"


ONE_DAY = timedelta(days=1)
