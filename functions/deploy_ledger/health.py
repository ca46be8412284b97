"""Whether a service may deploy to an environment now, and if not, who it waits for and why.

One rule set for the gate (before a Deploy stage enters) and the coordinator
(before it restarts a held deploy), so they never disagree. A deploy waits when:

- the environment is frozen (SSM ``<freeze prefix><env>`` is anything but plainly ``off``: ``deploy_ledger.freeze``);
- a dependency that deploys to the same environment has a release in flight there
  (its pipeline runs: booking's deploy waits for auth's when both change);
- a dependency's last deploy there failed;
- a dependency's health alarm there (``cicd-<dependency>-<env>-health``, the
  composite of its signal alarms) is in ALARM, or cannot be read.

The health alarm lives in the account where the dependency runs in that
environment (the graph's ``accounts``), read through that account's alarm
reader role (the graph's ``alarmReaders``). Health that cannot be read (no
placement in the graph, the role cannot be assumed, the alarm is missing)
holds the deploy with a message naming the account and the role: the gate
fails closed, never open.

A dependency the ledger has never seen is taken as healthy: it was running
before the platform recorded anything, and blocking on it would stop a fleet's
first release.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from .aws import Aws
from .freeze import freeze_reason
from .graph import Graph
from .retry import THROTTLING_CODES, error_code
from .store import IN_PROGRESS, Ledger


@dataclass(frozen=True)
class Blocker:
    kind: str
    """``freeze`` or ``dependency``."""
    subject: str
    """The environment for a freeze, the dependency otherwise."""
    reason: str

    def describe(self, environment: str) -> str:
        if self.kind == "freeze":
            return f"change freeze in {environment}: {self.reason}"
        return f"waiting for {self.subject} in {environment}: {self.reason}"


def describe(blockers: list[Blocker], environment: str) -> str:
    return "; ".join(blocker.describe(environment) for blocker in blockers)


def health_problem(aws: Aws, graph: Graph, dependency: str, environment: str) -> str | None:
    """Why ``dependency``'s health alarm in ``environment`` holds a deploy, or None when it is not in ALARM."""
    alarm = aws.settings.health_alarm_pattern.format(service=dependency, environment=environment)
    reader = graph.alarm_reader(dependency, environment)
    if reader is None:
        return f"health unknown: the dependency graph names no account and alarm reader for alarm {alarm}"
    where = f"alarm {alarm} in account {reader.account_id} through role {reader.role_arn}"
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
        return f"health unknown: cannot read {where}: {error_code(error) or 'error'}"
    alarms = answer.get("CompositeAlarms", []) + answer.get("MetricAlarms", [])
    if not alarms:
        return f"health unknown: {where} does not exist"
    if any(found.get("StateValue") == "ALARM" for found in alarms):
        return f"alarm {alarm} is in ALARM"
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


def blockers_for(aws: Aws, ledger: Ledger, graph: Graph, service: str, environment: str) -> list[Blocker]:
    """Everything that keeps ``service`` from deploying to ``environment`` right now (empty: go)."""
    reason = freeze_reason(aws, environment)
    freeze = [Blocker("freeze", environment, reason)] if reason else []
    return freeze + dependency_blockers(aws, ledger, graph, service, environment)


def load_graph(aws: Aws) -> Graph:
    return Graph.from_json(aws.call("ssm", "get_parameter", Name=aws.settings.graph_parameter)["Parameter"]["Value"])
