"""The dependency graph as the functions read it: the SSM parameter the Coordination component writes.

Format (``formatVersion`` 1, camelCase like the plan file)::

    {"formatVersion": 1,
     "services": {"booking": {"dependsOn": ["auth"], "environments": ["dev", "prod"],
                              "onUpstreamDeploy": "none"}}}

Pipeline names are not stored: they follow ``PIPELINE_NAME_PATTERN``, which
keeps the parameter small (a standard-tier parameter holds 4 KB).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServiceNode:
    name: str
    depends_on: tuple[str, ...]
    environments: tuple[str, ...]
    on_upstream_deploy: str = "none"


@dataclass(frozen=True)
class Graph:
    services: dict[str, ServiceNode]

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
                )
                for name, entry in document["services"].items()
            }
        )

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
