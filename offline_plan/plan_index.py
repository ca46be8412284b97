"""A plan document (``out/plan-<stack>.json``) indexed for review: who owns each resource, in which environment.

Works on the JSON document alone, not on a live ``Plan``, so the same code reads a plan made by
another revision, a cached one, or one merged from shards. Ownership follows the component tree: a
resource belongs to the service whose ``ServicePipeline`` it sits under, else to the platform. Its
environment is its ``environment`` tag when it has one (``tooling`` is none of them), else the
environment its component or provider is named for (``booking-prod-alarms``, ``env-prod-provider``);
service-wide and platform-wide resources have none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

SERVICE_COMPONENT = "cicd:service:ServicePipeline"
PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"
STACK_TYPE = "pulumi:pulumi:Stack"
COMPONENT_PACKAGE = "cicd"
"""Every component of this program is typed ``cicd:<area>:<Name>`` (DESIGN.md); the rest are cloud resources."""

PLATFORM = "platform"


def is_component(resource: Mapping[str, Any]) -> bool:
    resource_type = str(resource.get("type", ""))
    return resource_type == STACK_TYPE or resource_type.split(":", 1)[0] == COMPONENT_PACKAGE


def short_type(resource_type: str) -> str:
    """``aws:iam/rolePolicy:RolePolicy`` → ``aws:iam:RolePolicy``, as ``pulumi preview`` prints types."""
    parts = resource_type.split(":")
    if len(parts) != 3:
        return resource_type
    return f"{parts[0]}:{parts[1].split('/', 1)[0]}:{parts[2]}"


class PlanIndex:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.resources: dict[str, Mapping[str, Any]] = {
            resource["urn"]: resource for resource in document.get("resources", [])
        }
        self._services: dict[str, str | None] = {}

    @property
    def stack(self) -> str:
        return str(self.document.get("stack", "?"))

    @property
    def summary(self) -> Mapping[str, Any]:
        return self.document.get("summary") or {}

    @cached_property
    def environments(self) -> tuple[str, ...]:
        """The stack's environments in the order its settings list them."""
        found: dict[str, None] = dict.fromkeys(self.summary.get("deployWaves") or {})
        for by_environment in (self.summary.get("pipelines") or {}).values():
            found.update(dict.fromkeys(by_environment))
        return tuple(found)

    def custom_resources(self) -> Iterator[Mapping[str, Any]]:
        return (resource for resource in self.resources.values() if not is_component(resource))

    def _chain(self, urn: str) -> Iterator[Mapping[str, Any]]:
        current = self.resources.get(urn)
        seen: set[str] = set()
        while current is not None and current["urn"] not in seen:
            seen.add(current["urn"])
            yield current
            parent = current.get("parent")
            current = self.resources.get(parent) if parent else None

    def service_of(self, urn: str) -> str | None:
        if urn not in self._services:
            owner = next((node for node in self._chain(urn) if node.get("type") == SERVICE_COMPONENT), None)
            self._services[urn] = str(owner["name"]) if owner is not None else None
        return self._services[urn]

    def _environment_named(self, name: str, service: str | None) -> str | None:
        if service and name.startswith(f"{service}-"):
            name = name[len(service) + 1 :]
        return next((token for token in name.split("-") if token in self.environments), None)

    def environment_of(self, urn: str) -> str | None:
        resource = self.resources.get(urn)
        if resource is None:
            return None
        tags = (resource.get("inputs") or {}).get("tags")
        if isinstance(tags, dict) and isinstance(tags.get("environment"), str):
            # Authoritative either way: "tooling" (the platform's own account) is in no environment.
            return tags["environment"] if tags["environment"] in self.environments else None
        service = self.service_of(urn)
        for node in self._chain(urn):
            if node.get("type") in (SERVICE_COMPONENT, STACK_TYPE):
                break  # a service's or the stack's own name says nothing (a stack may be called "dev")
            found = self._environment_named(str(node.get("name", "")), service)
            if found is not None:
                return found
        provider = resource.get("provider")
        if provider:
            return self._environment_named(provider.rsplit("::", 1)[-1], None)
        return None

    def group_of(self, urn: str) -> tuple[str, str | None]:
        """``(service or "platform", environment or None)``: where a reviewer looks for the resource."""
        return self.service_of(urn) or PLATFORM, self.environment_of(urn)
