"""Run the policy pack's rules over the recorded resources, as the policy server would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.rules import RESOURCE_RULES, STACK_RULES, PolicyResource, ResourceRule, StackRule

from .recorder import RecordedResource


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str | None
    message: str

    def as_plan_entry(self) -> dict[str, str | None]:
        return {"policy": self.policy, "level": self.level, "urn": self.urn, "message": self.message}


def evaluate(
    resources: Sequence[RecordedResource],
    resource_rules: Sequence[ResourceRule] = RESOURCE_RULES,
    stack_rules: Sequence[StackRule] = STACK_RULES,
) -> list[Violation]:
    custom = [resource for resource in resources if resource.custom]
    violations = [
        Violation(rule.name, rule.level, resource.urn, message)
        for resource in custom
        for rule in resource_rules
        for message in rule.violations(resource.type, resource.inputs)
    ]
    views = [PolicyResource(type=r.type, urn=r.urn, name=r.name, props=r.inputs) for r in custom]
    violations += [
        Violation(rule.name, rule.level, urn, message)
        for rule in stack_rules
        for urn, message in rule.violations(views)
    ]
    return violations
