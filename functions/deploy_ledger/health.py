"""Whether a service may deploy to an environment now, and if not, who it waits for and why.

One rule set for the gate (before a Deploy stage enters) and the coordinator
(before it restarts a held deploy), so they never disagree. A deploy waits when:

- the environment is frozen (SSM ``<freeze prefix><env>`` is anything but plainly ``off``: ``deploy_ledger.freeze``);
- the service's own health alarm there (``cicd-<service>-<env>-health``) is in ALARM, or cannot be read;
- a dependency that deploys to the same environment has a release in flight there
  (its pipeline runs: booking's deploy waits for auth's when both change);
- a dependency's last deploy there failed;
- a dependency's health alarm there (``cicd-<dependency>-<env>-health``, the
  composite of its signal alarms) is in ALARM, or cannot be read.

A health alarm lives in the account where its service runs in that
environment (the graph's ``accounts``), read through that account's alarm
reader role (the graph's ``alarmReaders``). Health that cannot be read (no
placement in the graph, the role cannot be assumed, the alarm is missing)
holds the deploy with a message naming the account and the role: the gate
fails closed, never open. The service's own alarm is read here, by the gate,
rather than by a ``CloudWatchAlarm`` stage rule: AWS documents a rule's
``roleArn`` as the pipeline role (API reference, ``RuleDeclaration``) and no
rule reading an alarm in another account, and these alarms live in the
environment accounts.

A dependency the ledger has never seen is taken as healthy: it was running
before the platform recorded anything, and blocking on it would stop a fleet's
first release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import ClientError

from .aws import Aws
from .freeze import freeze_reason
from .graph import AlarmReader, Graph
from .retry import THROTTLING_CODES, error_code
from .store import IN_PROGRESS, Ledger


@dataclass(frozen=True)
class Blocker:
    kind: str
    """``freeze``, ``health`` (the service's own) or ``dependency``."""
    subject: str
    """The environment for a freeze, the service for its own health, the dependency otherwise."""
    reason: str

    def describe(self, environment: str) -> str:
        if self.kind == "freeze":
            return f"change freeze in {environment}: {self.reason}"
        if self.kind == "health":
            return f"{self.subject}'s own health in {environment}: {self.reason}"
        return f"waiting for {self.subject} in {environment}: {self.reason}"


def describe(blockers: list[Blocker], environment: str) -> str:
    return "; ".join(blocker.describe(environment) for blocker in blockers)


@dataclass(frozen=True)
class HealthReading:
    """One read of a service's health alarm: its state and when it last changed, or why it is unknown."""

    alarm: str
    reader: AlarmReader | None
    state: str | None = None
    """``OK``, ``ALARM`` or ``INSUFFICIENT_DATA``; None when the alarm could not be read."""
    state_reason: str = ""
    changed_at: datetime | None = None
    """When the alarm's state last changed (``StateTransitionedTimestamp``, else ``StateUpdatedTimestamp``)."""
    unknown: str | None = None
    """Why the health is unknown (the caller fails closed on it); None when the alarm was read."""

    @property
    def where(self) -> str:
        """The alarm, its account and the role it is read through, for messages a person acts on."""
        if self.reader is None:
            return f"alarm {self.alarm}"
        return f"alarm {self.alarm} in account {self.reader.account_id} through role {self.reader.role_arn}"


def read_health(aws: Aws, graph: Graph, service: str, environment: str) -> HealthReading:
    """Read ``service``'s health alarm in ``environment``, in the account where it runs there.

    Throttling that outlasts the backoff is raised (the caller fails closed on
    the error itself); every other failure to read is a reading whose
    ``unknown`` says why, naming the account and the role.
    """
    alarm = aws.settings.health_alarm_pattern.format(service=service, environment=environment)
    reader = graph.alarm_reader(service, environment)
    if reader is None:
        unknown = f"health unknown: the dependency graph names no account and alarm reader for alarm {alarm}"
        return HealthReading(alarm, None, unknown=unknown)
    reading = HealthReading(alarm, reader)
    try:
        answer = aws.call_as(
            reader.role_arn,
            reader.region,
            "cloudwatch",
            "describe_alarms",
            AlarmNames=[alarm],
            AlarmTypes=["CompositeAlarm", "MetricAlarm"],
        )
    except ClientError as error:
        if error_code(error) in THROTTLING_CODES:
            raise  # still throttled after the backoff: the gate fails closed on the error itself
        return HealthReading(
            alarm, reader, unknown=f"health unknown: cannot read {reading.where}: {error_code(error) or 'error'}"
        )
    alarms = answer.get("CompositeAlarms", []) + answer.get("MetricAlarms", [])
    if not alarms:
        return HealthReading(alarm, reader, unknown=f"health unknown: {reading.where} does not exist")
    in_alarm = [found for found in alarms if found.get("StateValue") == "ALARM"]
    chosen = (in_alarm or alarms)[0]
    changes = [
        moment
        for found in alarms
        if isinstance(moment := found.get("StateTransitionedTimestamp") or found.get("StateUpdatedTimestamp"), datetime)
    ]
    return HealthReading(
        alarm,
        reader,
        state=str(chosen.get("StateValue")),
        state_reason=str(chosen.get("StateReason", "")),
        changed_at=max(changes) if changes else None,
    )


def health_problem(aws: Aws, graph: Graph, dependency: str, environment: str) -> str | None:
    """Why ``dependency``'s health alarm in ``environment`` holds a deploy, or None when it is not in ALARM."""
    health = read_health(aws, graph, dependency, environment)
    if health.unknown:
        return health.unknown
    if health.state == "ALARM":
        return f"alarm {health.alarm} is in ALARM"
    return None


def own_health_blocker(
    aws: Aws, graph: Graph, service: str, environment: str, declared_alarm: str | None = None
) -> Blocker | None:
    """Why the service's own health keeps it out of Deploy, or None when its alarm is readable and not in ALARM.

    ``declared_alarm`` is the alarm the pipeline's gate rule says it checks
    (``healthAlarm`` in its ``UserParameters``, which the policy pack reads): a
    rule that names another alarm than the one the gate reads is a
    misconfiguration, and holds the deploy rather than checking the wrong thing.
    """
    health = read_health(aws, graph, service, environment)
    if declared_alarm is not None and declared_alarm != health.alarm:
        return Blocker(
            "health",
            service,
            f"the gate rule names alarm {declared_alarm}, but {service}'s health alarm in {environment} is "
            f"{health.alarm}",
        )
    if health.unknown:
        return Blocker("health", service, health.unknown)
    if health.state == "ALARM":
        account = health.reader.account_id if health.reader else "unknown"
        return Blocker("health", service, f"alarm {health.alarm} in account {account} is in ALARM")
    return None


def dependency_blockers(aws: Aws, ledger: Ledger, graph: Graph, service: str, environment: str) -> list[Blocker]:
    blockers: list[Blocker] = []
    for dependency in graph.dependencies_in(service, environment):
        state = ledger.state(dependency, environment)
        if state.get("deploy_state") == "STARTED":
            # Checked before the release: the run's end may arrive before its Deploy stage's end.
            blockers.append(
                Blocker("dependency", dependency, f"mid-deploy (execution {state.get('deploy_execution')})")
            )
        elif state.get("release_state") == IN_PROGRESS:
            execution = state.get("release_execution")
            blockers.append(Blocker("dependency", dependency, f"release in flight (execution {execution})"))
        elif state.get("deploy_state") == "FAILED":
            blockers.append(
                Blocker("dependency", dependency, f"last deploy failed (execution {state.get('deploy_execution')})")
            )
        problem = health_problem(aws, graph, dependency, environment)
        if problem:
            blockers.append(Blocker("dependency", dependency, problem))
    return blockers


def blockers_for(
    aws: Aws, ledger: Ledger, graph: Graph, service: str, environment: str, declared_alarm: str | None = None
) -> list[Blocker]:
    """Everything that keeps ``service`` from deploying to ``environment`` right now (empty: go)."""
    reason = freeze_reason(aws, environment)
    freeze = [Blocker("freeze", environment, reason)] if reason else []
    own = own_health_blocker(aws, graph, service, environment, declared_alarm)
    return freeze + ([own] if own else []) + dependency_blockers(aws, ledger, graph, service, environment)


def load_graph(aws: Aws) -> Graph:
    return Graph.from_json(aws.call("ssm", "get_parameter", Name=aws.settings.graph_parameter)["Parameter"]["Value"])
