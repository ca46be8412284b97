"""The dependency graph as the functions read it: the SSM parameter the Coordination component writes.

Format (``formatVersion`` 1, camelCase like the plan file)::

    {"formatVersion": 1,
     "services": {"booking": {"dependsOn": ["auth", "payments"], "environments": ["dev", "prod"],
                              "onUpstreamDeploy": "none"},
                  "payments": {..., "accounts": {"prod": "333333333333"}}},
     "accounts": {"dev": "111111111111", "prod": "222222222222"},
     "regions": {"dev": "eu-west-1", "prod": "eu-west-1"},
     "alarmReaders": {"prod": {"222222222222": {"region": "eu-west-1",
                                                "roleArn": "arn:aws:iam::222222222222:role/cicd-alarm-reader-prod"},
                               "333333333333": {...}}}}

A service runs in its environment's account (top-level ``accounts``) unless
its own ``accounts`` names another there (e.g. a PCI account), in its
environment's region (``regions``); ``alarmReaders``
names, per environment and account, the read-only role through which health
alarms are read. Readers are listed once per account, service accounts only
where they differ, and pipeline names are not stored (they follow
``PIPELINE_NAME_PATTERN``): the graph stays a standard-tier parameter (4 KB).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServiceNode:
    name: str
    depends_on: tuple[str, ...]
    environments: tuple[str, ...]
    on_upstream_deploy: str = "none"
    accounts: dict[str, str] = field(default_factory=dict)
    """Environment name to the account id the service runs in there, where it is not the environment's."""


@dataclass(frozen=True)
class AlarmReader:
    """Where a service's alarms of one environment are, and the role that may read them."""

    account_id: str
    region: str
    role_arn: str


@dataclass(frozen=True)
class Graph:
    services: dict[str, ServiceNode]
    alarm_readers: dict[str, dict[str, AlarmReader]] = field(default_factory=dict)
    """Environment name to account id to its alarm reader."""
    accounts: dict[str, str] = field(default_factory=dict)
    """Environment name to the account its services run in unless their own ``accounts`` say otherwise."""
    regions: dict[str, str] = field(default_factory=dict)
    """Environment name to the region its services run in."""

    @classmethod
    def from_json(cls, text: str) -> Graph:
        document: dict[str, Any] = json.loads(text)
        return cls(
            {
                name: ServiceNode(
                    name=name,
                    depends_on=tuple(entry.get("dependsOn", ())),
                    environments=tuple(entry.get("environments", ())),
                    on_upstream_deploy=entry.get("onUpstreamDeploy", "none"),
                    accounts=dict(entry.get("accounts", {})),
                )
                for name, entry in document["services"].items()
            },
            {
                environment: {
                    account: AlarmReader(account_id=account, region=reader["region"], role_arn=reader["roleArn"])
                    for account, reader in readers.items()
                }
                for environment, readers in document.get("alarmReaders", {}).items()
            },
            dict(document.get("accounts", {})),
            dict(document.get("regions", {})),
        )

    def alarm_reader(self, service: str, environment: str) -> AlarmReader | None:
        """The reader of ``service``'s alarms in ``environment``, or None when the graph does not say where it runs."""
        node = self.services.get(service)
        account = (node.accounts.get(environment) or self.accounts.get(environment)) if node else None
        return self.alarm_readers.get(environment, {}).get(account) if account else None

    def placement(self, service: str, environment: str) -> tuple[str, str] | None:
        """(account, region) where ``service`` runs in ``environment``; None where it does not deploy there.

        None too when the graph names no region for the environment (a graph
        written before regions were recorded): an event cannot then be placed.
        """
        node = self.services.get(service)
        if node is None or environment not in node.environments:
            return None
        account = node.accounts.get(environment) or self.accounts.get(environment)
        region = self.regions.get(environment)
        return (account, region) if account and region else None

    def deploys_to(self, service: str, environment: str) -> bool:
        node = self.services.get(service)
        return node is not None and environment in node.environments

    def dependencies_in(self, service: str, environment: str) -> list[str]:
        """Dependencies that deploy to ``environment``; one that never deploys there cannot hold a deploy."""
        node = self.services.get(service)
        return [dep for dep in node.depends_on if self.deploys_to(dep, environment)] if node else []

    def dependents_in(self, service: str, environment: str) -> list[ServiceNode]:
        return [
            node
            for name, node in sorted(self.services.items())
            if service in node.depends_on and environment in node.environments
        ]

    def locate(self, pipeline: str, pattern: str) -> tuple[str, str] | None:
        """(service, environment) of a pipeline name, or None for a pipeline this platform does not own."""
        for name, node in self.services.items():
            for environment in node.environments:
                if pattern.format(service=name, environment=environment) == pipeline:
                    return name, environment
        return None
