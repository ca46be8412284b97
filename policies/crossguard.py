"""Adapters from our plain rules to CrossGuard policies.

Kept apart from ``__main__.py`` because constructing a ``PolicyPack`` starts
the policy server; these adapters can be built and exercised in tests (see
``testing.py``).

What the adapter does for every rule:

- **unknowns**: the server wraps props in a proxy that raises
  ``UnknownValueError`` on any unknown value, which would skip the whole
  policy for the resource. The adapter copies the props into plain data and
  turns each unknown into ``rules.base.UNKNOWN``, so a rule still judges every
  known part (an unknown key ARN does not hide a missing approval stage).
- **config**: ``args.get_config()`` (from ``--policy-pack-config``) over the
  rule's schema defaults.
- **graph**: stack rules get each resource's parent, provider and
  dependencies as URNs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

try:  # as part of the ``policies`` package (tests, the offline plan) or as the pack's own top level
    from .rules.base import UNKNOWN
except ImportError:  # pragma: no cover - the layout ``pulumi preview --policy-pack policies`` runs
    from rules.base import UNKNOWN  # type: ignore[no-redef]

LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def plain(value: Any, unknown: Any = UNKNOWN) -> Any:
    """Props as plain dicts and lists, every unknown replaced by ``unknown`` (never raised)."""
    if isinstance(value, str) and _is_sentinel(value):
        return unknown
    if isinstance(value, Mapping):
        return {key: _read(lambda k=key: value[k], unknown) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_read(lambda i=index: value[i], unknown) for index in range(len(value))]
    return value


def _read(get: Any, unknown: Any) -> Any:
    try:
        return plain(get(), unknown)
    except UnknownValueError:
        return unknown


def _is_sentinel(value: str) -> bool:
    from pulumi_policy.proxy import _is_unknown  # the SDK's own test for its sentinels

    return _is_unknown(value)


def _schema(rule: Any) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties=dict(rule.config_schema)) if rule.config_schema else None


def resource_policy(rule: Any, unknown: Any = UNKNOWN) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        props = plain(args.props, unknown)
        for message in rule.check(args.resource_type, props, rule.effective_config(args.get_config())):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=LEVELS[rule.level],
        config_schema=_schema(rule),
        remediation_steps=rule.remediation,
        tags=list(rule.anchors),
    )


def _urn(resource: Any) -> str | None:
    return resource.urn if resource is not None else None


def stack_policy(rule: Any, resource_view: Any, unknown: Any = UNKNOWN) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            resource_view(
                type=resource.resource_type,
                urn=resource.urn,
                name=resource.name,
                props=plain(resource.props, unknown),
                parent=_urn(resource.parent) or getattr(resource.opts, "parent", None),
                provider=_urn(resource.provider),
                dependencies=tuple(dependency.urn for dependency in resource.dependencies),
            )
            for resource in args.resources
        ]
        for urn, message in rule.violations(resources, args.get_config()):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=LEVELS[rule.level],
        config_schema=_schema(rule),
        remediation_steps=rule.remediation,
        tags=list(rule.anchors),
    )


def policies(
    resource_rules: Iterable[Any], stack_rules: Iterable[Any], resource_view: Any, unknown: Any = UNKNOWN
) -> list[Any]:
    return [resource_policy(rule, unknown) for rule in resource_rules] + [
        stack_policy(rule, resource_view, unknown) for rule in stack_rules
    ]
