"""Adapters from our plain rules to CrossGuard policies.

Kept apart from ``__main__.py`` because constructing a ``PolicyPack`` starts
the policy server; these adapters can be built and exercised in tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def resource_policy(rule: Any) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        for message in rule.check(args.resource_type, args.props):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, enforcement_level=LEVELS[rule.level]
    )


def stack_policy(rule: Any, resource_view: Any) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            resource_view(type=resource.resource_type, urn=resource.urn, name=resource.name, props=resource.props)
            for resource in args.resources
        ]
        for urn, message in rule.check(resources):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, enforcement_level=LEVELS[rule.level]
    )


def policies(resource_rules: Iterable[Any], stack_rules: Iterable[Any], resource_view: Any) -> list[Any]:
    return [resource_policy(rule) for rule in resource_rules] + [
        stack_policy(rule, resource_view) for rule in stack_rules
    ]
