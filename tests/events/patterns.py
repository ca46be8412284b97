"""EventBridge event patterns as data: match an event, list every value, take one value out.

Matching is moto's EventBridge matcher (``moto.events.models.EventPattern``), never ours (moto
5.2 does not implement the ``TestEventPattern`` API itself, so its pattern class is called):
it implements the content filters the platform uses (``prefix``, ``suffix``,
``wildcard``, ``anything-but``, ``exists``, nested objects), but answers "match" for a filter
name it does not know, so ``unknown_operators`` checks every filter name against the ones the
Amazon EventBridge User Guide documents (*Content filtering in event patterns*) first.

A *value* is one element of one list in the pattern (``"FAILED"`` in ``"state": ["FAILED"]``,
``{"wildcard": "*-prod"}`` in ``"pipeline": [...]``). Taking it out of a list of several
narrows the pattern; taking out the only one removes its field (EventBridge refuses empty
lists), which widens the pattern, and a field whose object empties goes with it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from moto.events.models import EventPattern

DOCUMENTED_FILTERS = frozenset(
    {"prefix", "suffix", "anything-but", "numeric", "exists", "cidr", "equals-ignore-case", "wildcard"}
)


@lru_cache(maxsize=4096)
def _compiled(pattern_json: str) -> EventPattern:
    return EventPattern.load(pattern_json)


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether EventBridge (as moto implements it) delivers ``event`` to a rule with ``pattern``."""
    return _compiled(json.dumps(pattern, sort_keys=True)).matches_event(event)


@dataclass(frozen=True)
class Value:
    """One value of a pattern: where it is, which element of its list, and how many share the list."""

    path: tuple[str, ...]
    index: int
    value: Any
    siblings: int

    @property
    def only_one(self) -> bool:
        return self.siblings == 1

    def __str__(self) -> str:
        return f"{'.'.join(self.path)} = {json.dumps(self.value)}"


def values(pattern: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[Value]:
    for key, node in pattern.items():
        if key == "$or":
            for branch_index, branch in enumerate(node):
                yield from values(branch, (*path, "$or", str(branch_index)))
        elif isinstance(node, Mapping):
            yield from values(node, (*path, key))
        else:
            for index, value in enumerate(node):
                yield Value((*path, key), index, value, len(node))


def unknown_operators(pattern: Mapping[str, Any]) -> list[str]:
    """Content filters whose name EventBridge does not document (moto would match anything with them)."""
    unknown = []
    for value in values(pattern):
        if isinstance(value.value, Mapping):
            unknown += [f"{value}: {name!r}" for name in value.value if name not in DOCUMENTED_FILTERS]
    return unknown


def without(pattern: Mapping[str, Any], value: Value) -> dict[str, Any]:
    """``pattern`` with ``value`` taken out (see the module docstring); ``{}`` matches every event."""
    copied = copy.deepcopy(dict(pattern))
    parents: list[tuple[dict[str, Any], str]] = []
    node: Any = copied
    for key in value.path[:-1]:
        parents.append((node, key))
        node = node[int(key)] if isinstance(node, list) else node[key]
    field = value.path[-1]
    remaining = node[field]
    del remaining[value.index]
    if not remaining:
        del node[field]
        for parent, key in reversed(parents):  # fields whose objects emptied go too
            child = parent[int(key)] if isinstance(parent, list) else parent[key]
            if child or isinstance(parent, list):
                break
            del parent[key]
    return copied
