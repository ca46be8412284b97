"""Whether a service may deploy to an environment now, and if not, who it waits for and why.

One rule set for the gate (before a Deploy stage enters) and the coordinator
(before it restarts a held deploy), so they never disagree. A deploy waits when:

- the environment is frozen (SSM ``<freeze prefix><env>`` is ``on``, optionally ``on: <reason>``);
- a dependency that deploys to the same environment has a release in flight there
  (its pipeline runs: booking's deploy waits for auth's when both change);
- a dependency's last deploy there failed;
- a dependency's alarm there is in ALARM.

A dependency the ledger has never seen is taken as healthy: it was running
before the platform recorded anything, and blocking on it would stop a fleet's
first release.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from .aws import Aws
from .graph import Graph
from .retry import error_code
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


def freeze_reason(aws: Aws, environment: str) -> str | None:
    """The reason of a change freeze in the environment, or None when it is not frozen."""
    name = f"{aws.settings.freeze_parameter_prefix}{environment}"
    try:
        value = aws.call("ssm", "get_parameter", Name=name)["Parameter"]["Value"].strip()
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return None
        raise
    switch, _, reason = value.partition(":")
    if switch.strip().lower() != "on":
        return None
    return reason.strip() or "no reason given"


def alarms_in_alarm(aws: Aws, service: str, environment: str) -> list[str]:
    prefix = aws.settings.alarm_prefix_pattern.format(service=service, environment=environment)
    names: list[str] = []
    kwargs = {"AlarmNamePrefix": prefix, "StateValue": "ALARM", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    while True:
        answer = aws.call("cloudwatch", "describe_alarms", **kwargs)
        alarms = answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
        # Filtered again here: moto ignores StateValue next to AlarmNamePrefix, and the check costs nothing.
        names += [alarm["AlarmName"] for alarm in alarms if alarm.get("StateValue") == "ALARM"]
        if not answer.get("NextToken"):
            return sorted(names)
        kwargs["NextToken"] = answer["NextToken"]


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
        for alarm in alarms_in_alarm(aws, dependency, environment):
            blockers.append(Blocker("dependency", dependency, f"alarm {alarm} is in ALARM"))
    return blockers


def blockers_for(aws: Aws, ledger: Ledger, graph: Graph, service: str, environment: str) -> list[Blocker]:
    """Everything that keeps ``service`` from deploying to ``environment`` right now (empty: go)."""
    reason = freeze_reason(aws, environment)
    freeze = [Blocker("freeze", environment, reason)] if reason else []
    return freeze + dependency_blockers(aws, ledger, graph, service, environment)


def load_graph(aws: Aws) -> Graph:
    return Graph.from_json(aws.call("ssm", "get_parameter", Name=aws.settings.graph_parameter)["Parameter"]["Value"])
