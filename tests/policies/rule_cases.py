"""Scenario tables for the rules: a resource (or stack) that makes a rule fire, one that keeps it quiet,
and one whose deciding value is not known yet. Every case runs through ``policies.testing``, i.e. through
protobuf, the SDK's deserializer and proxy, and the pack's real CrossGuard adapter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pulumi_policy.deserialize import SPECIAL_SIG_KEY

from policies.rules.base import ResourceRule, StackRule
from policies.testing import UNKNOWN, Reports, Resource, check

KINDS = ("fires", "quiet", "unknown")


@dataclass(frozen=True)
class Case:
    rule: ResourceRule | StackRule
    kind: str
    scenario: str
    resources: tuple[Resource, ...]
    expected: tuple[str, ...] = ()
    config: Mapping[str, Any] | None = field(default=None)

    def __str__(self) -> str:
        return f"{self.rule.name}: {self.kind}: {self.scenario}"

    def run(self, resources: Sequence[Resource] | None = None) -> Reports:
        return check(self.rule, *(resources if resources is not None else self.resources), config=self.config)

    def verify(self) -> None:
        reports = self.run()
        assert not reports.skipped, f"{self}: the policy could not run ({reports.items})"
        assert reports.messages == list(self.expected), str(self)


def _resources(resources: Resource | Sequence[Resource]) -> tuple[Resource, ...]:
    return (resources,) if isinstance(resources, Resource) else tuple(resources)


def fires(rule, scenario: str, resources, *expected: str, config=None) -> Case:
    assert expected, "a firing case names the messages it expects"
    return Case(rule, "fires", scenario, _resources(resources), tuple(expected), config)


def quiet(rule, scenario: str, resources, config=None) -> Case:
    return Case(rule, "quiet", scenario, _resources(resources), (), config)


def unknown(rule, scenario: str, resources, *expected: str, config=None) -> Case:
    """A deciding value is not known yet: quiet, unless what is known already proves a violation."""
    return Case(rule, "unknown", scenario, _resources(resources), tuple(expected), config)


def document(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def with_unknown_leaves(value: Any) -> Iterator[Any]:
    """Every variant of a props tree with exactly one value (leaf, object or list) made unknown."""
    if isinstance(value, Mapping) and SPECIAL_SIG_KEY in value:
        return  # a secret on the wire is one value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield {**value, key: UNKNOWN}
            for variant in with_unknown_leaves(item):
                yield {**value, key: variant}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield [*value[:index], UNKNOWN, *value[index + 1 :]]
            for variant in with_unknown_leaves(item):
                yield [*value[:index], variant, *value[index + 1 :]]


def resource_variants(resources: Sequence[Resource]) -> Iterator[list[Resource]]:
    """The resources with one value of one resource made unknown, for every value."""
    for index, resource in enumerate(resources):
        for props in with_unknown_leaves(dict(resource.props)):
            yield [*resources[:index], replace(resource, props=props), *resources[index + 1 :]]
