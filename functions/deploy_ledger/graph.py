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
``PIPELINE_NAME_PATTERN``).

Even so a fleet's graph outgrows one parameter (4 KB standard, 8 KB advanced:
Systems Manager user guide, "Managing parameter tiers") at about 60 services, so
``pulumi up`` writes it in parts (``formatVersion`` 2, ``read_graph``): the
parameter itself is an index holding everything but the services, and the
digests of its parts ``<index>-part-1``, ``-part-2``..., each a standard
parameter ``{"services": {...}}``. Parts are written before the index (the
commit point); a part whose current value does not match the index's digest was
rewritten after the index was read, or by an update that failed before the
index, and is taken from the part's history instead, so a reader never mixes
two versions of the graph. ``components/model/coordination_graph.py`` writes
this; a test holds the two in step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PARTITIONED_FORMAT_VERSION = 2
PART_SUFFIX = "-part-"
DIGEST_LENGTH = 16
GET_PARAMETERS_BATCH = 10
"""Names ``GetParameters`` accepts in one call (SSM API reference, GetParameters: "Maximum number of 10 items")."""
HISTORY_PAGE = 50
"""The largest ``MaxResults`` of ``GetParameterHistory``."""

SsmCall = Callable[..., dict[str, Any]]
"""``call(operation, **kwargs)``: an SSM API call by its boto3 method name, with whatever retries the caller uses."""


class GraphUnreadableError(RuntimeError):
    """The graph cannot be read whole: an event or job that needs it is retried rather than decided on half a graph."""


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
        return cls.from_document(json.loads(text))

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Graph:
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


def part_name(index_name: str, number: int) -> str:
    """Part ``number`` (from 1) of the graph whose index is ``index_name``."""
    return f"{index_name}{PART_SUFFIX}{number}"


def part_digest(value: str) -> str:
    """What the index records of a part: the first hex digits of the SHA-256 of its exact value."""
    return hashlib.sha256(value.encode()).hexdigest()[:DIGEST_LENGTH]


def read_graph(call: SsmCall, index_name: str) -> Graph:
    """Read the graph whole: a single document (``formatVersion`` 1), or an index and the parts it names.

    Uses ``GetParameters`` (the index, then the parts in batches) and, for a part whose value does
    not match the index, ``GetParameterHistory``; a missing index or part, or a part whose matching
    version is no longer in its history (SSM keeps 100), raises ``GraphUnreadableError``.
    """
    document = json.loads(_values(call, [index_name])[index_name])
    if document.get("formatVersion") != PARTITIONED_FORMAT_VERSION:
        return Graph.from_document(document)
    digests: list[str] = list(document["parts"])
    names = [part_name(index_name, number) for number in range(1, len(digests) + 1)]
    current = _values(call, names)
    services: dict[str, Any] = {}
    for name, digest in zip(names, digests, strict=True):
        value = current[name] if part_digest(current[name]) == digest else _version_with(call, name, digest)
        services.update(json.loads(value)["services"])
    return Graph.from_document({**document, "services": services})


def _values(call: SsmCall, names: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for start in range(0, len(names), GET_PARAMETERS_BATCH):
        response = call("get_parameters", Names=names[start : start + GET_PARAMETERS_BATCH])
        values.update({parameter["Name"]: parameter["Value"] for parameter in response.get("Parameters", [])})
    missing = [name for name in names if name not in values]
    if missing:
        raise GraphUnreadableError(f"the dependency graph's parameters {missing} do not exist")
    return values


def _version_with(call: SsmCall, name: str, digest: str) -> str:
    """The value of ``name`` the index was written with: in flight or half-applied updates leave a newer one."""
    kwargs: dict[str, Any] = {"Name": name, "MaxResults": HISTORY_PAGE}
    while True:
        response = call("get_parameter_history", **kwargs)
        for version in reversed(response.get("Parameters", [])):
            if part_digest(version["Value"]) == digest:
                return version["Value"]
        if not response.get("NextToken"):
            raise GraphUnreadableError(f"no version of {name} matches the dependency graph's index ({digest})")
        kwargs["NextToken"] = response["NextToken"]
