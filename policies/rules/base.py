"""What a rule is: metadata plus one pure check function.

Rules never import the Pulumi program. They see resources exactly as the
policy server hands them over: a type token and camelCase props, which during
``pulumi preview`` may hold unknown values. Checks read props defensively and
say nothing about what they cannot see.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["mandatory", "advisory"]
Props = Mapping[str, Any]


@dataclass(frozen=True)
class PolicyResource:
    """One resource as a stack rule sees it."""

    type: str
    urn: str
    name: str
    props: Props


@dataclass(frozen=True)
class ResourceRule:
    """A rule about one resource at a time."""

    name: str
    description: str
    level: Level
    resource_types: frozenset[str]
    check: Callable[[str, Props], Iterable[str]]
    anchors: tuple[str, ...] = ()

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.resource_types

    def violations(self, resource_type: str, props: Props) -> list[str]:
        if not self.applies_to(resource_type):
            return []
        return list(self.check(resource_type, props))


@dataclass(frozen=True)
class StackRule:
    """A rule about how resources relate; yields (urn or None, message)."""

    name: str
    description: str
    level: Level
    check: Callable[[Sequence[PolicyResource]], Iterable[tuple[str | None, str]]]
    anchors: tuple[str, ...] = ()

    def violations(self, resources: Sequence[PolicyResource]) -> list[tuple[str | None, str]]:
        return list(self.check(resources))


def policy_document(value: Any) -> dict[str, Any] | None:
    """A policy document from a prop that may be a JSON string, a dict, or not known yet."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def statements(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The statements of a document; anything malformed is skipped, never raised on."""
    if not document:
        return []
    return [dict(statement) for statement in as_list(document.get("Statement")) if isinstance(statement, Mapping)]


def as_list(value: Any) -> list[Any]:
    """A prop as a list; the policy server hands lists over as read-only ``Sequence`` proxies."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return [value]


def aws_principals(statement: Mapping[str, Any]) -> list[str]:
    """Principals of a statement; a bare ``"*"`` principal is reported as ``"*"``."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [str(item) for item in as_list(principal.get("AWS"))]
    return []
