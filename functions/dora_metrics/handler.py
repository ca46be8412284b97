"""DORA metrics: record every deployment once, and publish each service's four numbers per environment.

Woken by EventBridge for two kinds of events:

- a Deploy stage of a platform pipeline ended (``aws.codepipeline`` "CodePipeline Stage Execution
  State Change", ``SUCCEEDED`` or ``FAILED``, from the tooling account): the outcome is checked
  (``deployments``: believed only from the tooling account and region, for a pipeline the
  dependency graph places), completed from CodePipeline (``executions``: standard or rollback,
  whether the stage's actions ran, the commit's time, a hotfix), recorded once (``store``), and the
  service's numbers in that environment are computed again and published (``metrics``,
  ``publishing``);
- the hourly schedule (``Scheduled Event``): every service in every environment it deploys to is
  computed and published, so a window that moves on without a deployment shows it.

Duplicates, retries and reordering change nothing: an outcome is one item, put only if absent,
and the numbers are computed from the items, never counted up. An event that cannot be believed,
or that CodePipeline does not know, is ignored with the reason logged. A failure to read or write
raises, so Lambda retries the event and finally keeps it in the dead-letter queue.

Settings: ``FACTS_TABLE``, ``GRAPH_PARAMETER`` (the coordination graph: where each service
deploys), ``TOOLING_ACCOUNT_ID``, ``TOOLING_REGION``, ``PIPELINE_NAME_PATTERN``, ``DEPLOY_STAGE``,
``SOURCE_STAGE``, ``WINDOW_DAYS`` (the trailing window of every metric), ``FAILURE_WINDOW_HOURS``
(how long after a deployment a rollback or hotfix marks it failed).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

try:  # the Lambda package vendors functions/deploy_ledger/graph.py at its root
    from graph import Graph, read_graph
except ImportError:  # tests import the functions as packages of the repository
    from functions.deploy_ledger.graph import Graph, read_graph  # type: ignore[no-redef]

try:  # imported as a package in tests, as top-level modules in Lambda
    from .deployments import IgnoredEventError, Origin, is_scheduled_tick, read_outcome
    from .executions import UnknownExecutionError, describe
    from .metrics import DoraNumbers, compute
    from .publishing import datapoints, publish
    from .store import FactStore
except ImportError:  # pragma: no cover - the Lambda runtime path
    from deployments import IgnoredEventError, Origin, is_scheduled_tick, read_outcome  # type: ignore[no-redef]
    from executions import UnknownExecutionError, describe  # type: ignore[no-redef]
    from metrics import DoraNumbers, compute  # type: ignore[no-redef]
    from publishing import datapoints, publish  # type: ignore[no-redef]
    from store import FactStore  # type: ignore[no-redef]

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


@dataclass(frozen=True)
class Settings:
    facts_table: str
    graph_parameter: str
    account_id: str
    region: str
    pipeline_name_pattern: str = "{service}-{environment}"
    deploy_stage: str = "Deploy"
    source_stage: str = "Source"
    window: timedelta = timedelta(days=30)
    failure_window: timedelta = timedelta(hours=24)

    @property
    def keep_for(self) -> timedelta:
        """An outcome matters until the window and the failure window after it have passed (then a day more)."""
        return self.window + self.failure_window + timedelta(days=1)

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            facts_table=env["FACTS_TABLE"],
            graph_parameter=env["GRAPH_PARAMETER"],
            account_id=env["TOOLING_ACCOUNT_ID"],
            region=env["TOOLING_REGION"],
            pipeline_name_pattern=env.get("PIPELINE_NAME_PATTERN") or cls.pipeline_name_pattern,
            deploy_stage=env.get("DEPLOY_STAGE") or cls.deploy_stage,
            source_stage=env.get("SOURCE_STAGE") or cls.source_stage,
            window=timedelta(days=float(env.get("WINDOW_DAYS") or 30)),
            failure_window=timedelta(hours=float(env.get("FAILURE_WINDOW_HOURS") or 24)),
        )


class DoraMetrics:
    """One invocation's work; clients are injected so tests can use moto and stubs."""

    def __init__(
        self,
        *,
        settings: Settings,
        codepipeline: Any,
        dynamodb: Any,
        cloudwatch: Any,
        graph: Callable[[], Graph],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.codepipeline = codepipeline
        self.cloudwatch = cloudwatch
        self.graph = graph
        self.now = now
        self.store = FactStore(dynamodb, settings.facts_table, settings.keep_for)
        self.origin = Origin(settings.account_id, settings.region)

    def handle(self, event: Any) -> dict[str, Any]:
        if is_scheduled_tick(event):
            try:
                self.origin.check(event)
            except IgnoredEventError as ignored:
                return self._ignored(str(ignored))
            return self.publish_all()
        settings = self.settings
        try:
            outcome = read_outcome(
                event, self.origin, self.graph(), settings.pipeline_name_pattern, settings.deploy_stage
            )
        except IgnoredEventError as ignored:
            return self._ignored(str(ignored))
        duplicate = self.store.has(outcome)
        if not duplicate:
            try:
                facts = describe(
                    self.codepipeline, outcome.pipeline, outcome.execution, settings.deploy_stage, settings.source_stage
                )
            except UnknownExecutionError as unknown:
                return self._ignored(f"CodePipeline does not know it: {unknown}")
            duplicate = not self.store.record(outcome, facts)
        numbers = self.numbers(outcome.service, outcome.environment)
        moment = self.now()
        publish(self.cloudwatch, datapoints(outcome.service, outcome.environment, numbers, moment))
        result = {
            "recorded" if not duplicate else "duplicate": outcome.key,
            "service": outcome.service,
            "environment": outcome.environment,
            "numbers": numbers.values(),
        }
        LOG.info(json.dumps(result))
        return result

    def numbers(self, service: str, environment: str, end: datetime | None = None) -> DoraNumbers:
        """The service's numbers there over the trailing window ending ``end`` (now by default)."""
        end = end or self.now()
        start = end - self.settings.window
        facts = self.store.since(service, environment, start - self.settings.failure_window)

        def first_deployed(commit: str) -> datetime | None:
            return self.store.first_deployed(service, environment, commit)

        return compute(facts, start, end, self.settings.failure_window, first_deployed)

    def publish_all(self) -> dict[str, Any]:
        graph, moment = self.graph(), self.now()
        entries: list[dict[str, Any]] = []
        for name, node in sorted(graph.services.items()):
            for environment in node.environments:
                entries += datapoints(name, environment, self.numbers(name, environment, moment), moment)
        published = publish(self.cloudwatch, entries)
        LOG.info(json.dumps({"published": published}))
        return {"published": published}

    @staticmethod
    def _ignored(reason: str) -> dict[str, Any]:
        LOG.warning(json.dumps({"ignored": reason}))
        return {"ignored": reason}


def graph_reader(ssm: Any, parameter: str) -> Callable[[], Graph]:
    """The graph (index and parts, ``read_graph``), read on each use: ``pulumi up`` rewrites it. Unreadable, it
    raises and the event is retried."""

    def read() -> Graph:
        return read_graph(lambda operation, **kwargs: getattr(ssm, operation)(**kwargs), parameter)

    return read


def handler(event: Any, _context: Any) -> dict[str, Any]:
    settings = Settings.from_environment()
    return DoraMetrics(
        settings=settings,
        codepipeline=boto3.client("codepipeline"),
        dynamodb=boto3.client("dynamodb"),
        cloudwatch=boto3.client("cloudwatch"),
        graph=graph_reader(boto3.client("ssm"), settings.graph_parameter),
    ).handle(event)
