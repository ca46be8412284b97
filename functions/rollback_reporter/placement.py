"""Where an event may come from: an event is a claim, believed only from where its subject runs.

EventBridge stamps an event's ``account`` and ``region`` itself, and nobody can
put an event with an ``aws.`` source (the ``PutEvents`` entry's Source "can't
start with the aws. prefix"), so those fields are facts. Everything else is a
claim: anyone with CloudWatch access in *any* environment account can create an
alarm named ``cicd-payments-prod-health`` and set it to ALARM, and anyone with
CodeDeploy access can stop a deployment of an application they named. So the
reporter believes

a health alarm or a CodeDeploy deployment only from the account and region
where the dependency graph says that service runs in that environment (the
SSM parameter the coordination functions read, written from the catalog on
every ``pulumi up``: the catalog's per-service accounts, e.g. a PCI account,
applied); a service or environment the graph does not know is not ours. (A
failed pipeline action is the failure digest's, believed only from the tooling
account and region where the platform's pipelines run.)

Anything else is ignored with the reason logged: never acted on, never reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

try:  # the Lambda package vendors functions/deploy_ledger/graph.py at its root
    from graph import Graph, read_graph
except ImportError:  # tests import the functions as packages of the repository
    from functions.deploy_ledger.graph import Graph, read_graph  # type: ignore[no-redef]


class Claimed(Protocol):
    """What an incident claims about its origin and subject."""

    kind: str
    account: str
    region: str
    service: str
    environment: str


@dataclass(frozen=True)
class Origins:
    """The places events are believed from: the graph's placements."""

    graph: Callable[[], Graph]
    """Reads the graph when an alarm or deployment needs placing."""

    def refusal(self, incident: Claimed) -> str | None:
        """Why the incident is not believed, or None when it comes from where its subject runs."""
        origin = f"{incident.account or '?'}/{incident.region or '?'}"
        placed = self.graph().placement(incident.service, incident.environment)
        if placed is None:
            return f"{incident.service!r} does not deploy to {incident.environment!r} on this platform"
        account, region = placed
        if (incident.account, incident.region) != (account, region):
            return (
                f"{incident.kind} of {incident.service} in {incident.environment} claimed from {origin}, "
                f"but that service runs in {account}/{region} there"
            )
        return None


def graph_reader(ssm: Any, parameter: str) -> Callable[[], Graph]:
    """Read the graph (index and parts, ``read_graph``) on each use: it changes on ``pulumi up``; events are few.

    An unreadable graph raises (the event is retried, then dead-lettered):
    an event that cannot be placed is neither acted on nor dropped.
    """

    def read() -> Graph:
        return read_graph(lambda operation, **kwargs: getattr(ssm, operation)(**kwargs), parameter)

    return read
