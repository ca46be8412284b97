"""Run the policy pack's rules over the recorded resources, as the policy server would.

The pack's configuration comes from ``policies/policy-config.json`` (the file
a real run passes with ``--policy-pack-config``): rule properties and
enforcement-level overrides, ``disabled`` rules skipped. The plan renders
unknown values as ``"[unknown]"``; rules read that as not known yet, exactly
like the engine's unknowns.

Rules judge secrets by their plain value, as over the CLI's gRPC protocol
(``RecordedResource.policy_inputs``); a finding's message is masked
(``"[secret]"``) wherever it would quote a secret, so neither the plan file nor
the printed summary can carry one: any secret of the stack, and, in a finding
about a resource, also the parts of that resource's secret documents (a secret
trust policy's Sid or principal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from policies import pack_config
from policies.rules import RESOURCE_RULES, STACK_RULES, UNKNOWN, PolicyResource, ResourceRule, StackRule
from policies.rules.base import is_unknown, shared_derivations

from .recorder import RecordedResource, mask_secrets, secret_fragments


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str | None
    message: str
    remediation: str = ""

    def as_plan_entry(self) -> dict[str, str | None]:
        return {
            "policy": self.policy,
            "level": self.level,
            "urn": self.urn,
            "message": self.message,
            "remediation": self.remediation,
        }


def _known(value: Any) -> Any:
    """Plan values with ``"[unknown]"`` turned into the marker rules test with ``is_unknown``."""
    if isinstance(value, dict):
        return {key: _known(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_known(item) for item in value]
    return UNKNOWN if is_unknown(value) else value


def evaluate(
    resources: Sequence[RecordedResource],
    resource_rules: Sequence[ResourceRule] = RESOURCE_RULES,
    stack_rules: Sequence[StackRule] = STACK_RULES,
    config: pack_config.PackConfig | None = None,
) -> list[Violation]:
    config = config if config is not None else pack_config.load()
    custom = [resource for resource in resources if resource.custom]
    views = [
        PolicyResource(
            type=r.type,
            urn=r.urn,
            name=r.name,
            props=_known(r.policy_inputs),
            parent=r.parent,
            provider=r.provider,
            dependencies=r.dependencies,  # as the CLI hands them to stack policies
        )
        for r in sorted(custom, key=lambda r: r.urn)  # registration order varies; findings should not
    ]
    stack_secrets = {secret for resource in resources for secret in resource.secret_values}
    own_secrets = {
        resource.urn: stack_secrets | set(secret_fragments(resource.secret_values))
        for resource in custom
        if resource.secret_values
    }

    def shown(message: str, urn: str | None = None) -> str:
        secrets = own_secrets.get(urn, stack_secrets) if urn else stack_secrets
        return mask_secrets(message, secrets) if secrets else message

    violations: list[Violation] = []
    with shared_derivations():  # the plan no longer changes: what rules derive from it is derived once
        for rule in resource_rules:
            level = config.level_of(rule.name, rule.level)
            if level == "disabled":
                continue
            settings = config.properties_of(rule.name)
            violations += [
                Violation(rule.name, level, view.urn, shown(message, view.urn), rule.remediation)
                for view in views
                for message in rule.violations(view.type, view.props, settings)
            ]
        for rule in stack_rules:
            level = config.level_of(rule.name, rule.level)
            if level == "disabled":
                continue
            violations += [
                Violation(rule.name, level, urn, shown(message, urn), rule.remediation)
                for urn, message in rule.violations(views, config.properties_of(rule.name))
            ]
    return violations
