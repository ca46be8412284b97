"""Does the bootstrap role allow every call the plan makes in an environment account?

From an offline plan: each explicit provider that assumes a role is an
environment account; each resource and data source call made through it costs
the API calls ``api_calls`` lists; each call is checked against the bootstrap
policy rendered for that account, with a small IAM evaluator (Allow/Deny,
action and resource wildcards, the condition operators the policy uses).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from components.model.naming import partition_of

from .api_calls import INVOKE_ACTIONS, PROVIDER_ACTIONS, RESOURCE_CALLS, ApiCall, Placement
from .permissions import Document, bootstrap_policy, render


@dataclass(frozen=True)
class EnvironmentProvider:
    urn: str
    partition: str
    account_id: str
    region: str
    default_tags: dict[str, str]


@dataclass(frozen=True)
class RequiredCall:
    """A call the program makes in an account, and what in the plan makes it."""

    origin: str
    provider: EnvironmentProvider
    call: ApiCall


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def environment_providers(plan: Any) -> dict[str, EnvironmentProvider]:
    """Explicit AWS providers that assume a role: the program's way into an environment account."""
    providers: dict[str, EnvironmentProvider] = {}
    for resource in plan.resources:
        if resource.type != "pulumi:providers:aws" or not resource.inputs.get("assumeRoles"):
            continue
        region = resource.inputs.get("region") or plan.inputs.settings.region
        default_tags = (_decoded(resource.inputs.get("defaultTags")) or {}).get("tags", {})
        providers[resource.urn] = EnvironmentProvider(
            urn=resource.urn,
            partition=partition_of(region),
            account_id=_decoded(resource.inputs["allowedAccountIds"])[0],
            region=region,
            default_tags=default_tags,
        )
    return providers


def _opted_in_roles(plan: Any) -> frozenset[str]:
    """The catalog's Server instance roles: the account owner tags them (the preflight verifies)."""
    return frozenset(
        service.aws.instance_role for service in plan.inputs.catalog.services if service.aws.platform == "Server"
    )


def unknown_types(plan: Any) -> list[str]:
    """Resource types and data sources placed in environment accounts that the call table does not know."""
    providers = environment_providers(plan)
    unknown = {r.type for r in plan.resources if r.custom and r.provider in providers and r.type not in RESOURCE_CALLS}
    unknown |= {i.token for i in plan.invokes if i.provider in providers and i.token not in INVOKE_ACTIONS}
    return sorted(unknown)


def role_boundaries(plan: Any) -> dict[str, dict[str, str]]:
    """Per environment provider, the permissions boundary of each role the plan creates through it."""
    providers = environment_providers(plan)
    boundaries: dict[str, dict[str, str]] = {urn: {} for urn in providers}
    for resource in plan.resources:
        if resource.type == "aws:iam/role:Role" and resource.provider in providers:
            boundary = resource.inputs.get("permissionsBoundary")
            if boundary:
                boundaries[resource.provider][str(resource.inputs["name"])] = str(boundary)
    return boundaries


def required_calls(plan: Any) -> list[RequiredCall]:
    providers = environment_providers(plan)
    opted_in = _opted_in_roles(plan)
    boundaries = role_boundaries(plan)
    calls = [
        RequiredCall(urn, provider, ApiCall(action, "*"))
        for urn, provider in providers.items()
        for action in PROVIDER_ACTIONS
    ]
    for resource in plan.resources:
        provider = providers.get(resource.provider or "")
        if provider is None or not resource.custom or resource.type not in RESOURCE_CALLS:
            continue
        tags = {**provider.default_tags, **(resource.inputs.get("tags") or {})}
        place = Placement(
            provider.partition, provider.account_id, provider.region, tags, opted_in, boundaries[provider.urn]
        )
        calls += [
            RequiredCall(resource.urn, provider, call) for call in RESOURCE_CALLS[resource.type](resource.inputs, place)
        ]
    for invoke in plan.invokes:
        provider = providers.get(invoke.provider or "")
        if provider is None:
            continue
        calls += [RequiredCall(invoke.token, provider, ApiCall(a, "*")) for a in INVOKE_ACTIONS.get(invoke.token, [])]
    return calls


def denied_calls(plan: Any, policy: Document | None = None) -> list[str]:
    """One line per distinct call the bootstrap policy (rendered per account) does not allow.

    The policy is rendered with the stack's ``permissionsBoundaryName``, as the landing zone rolls it out.
    """
    template = policy or bootstrap_policy(plan.inputs.settings.permissions_boundary_name)
    problems: dict[str, None] = {}
    # A plan makes the same call in the same account many times: render once per account, judge once per call.
    documents: dict[tuple[str, str, str], Document] = {}
    verdicts: dict[tuple[Any, ...], bool] = {}
    for required in required_calls(plan):
        provider, call = required.provider, required.call
        where = (provider.partition, provider.account_id, provider.region)
        if where not in documents:
            documents[where] = render(template, partition=where[0], account_id=where[1], region=where[2])
        key = (where, call.action, call.resource, tuple(sorted(call.context.items())))
        if key not in verdicts:
            verdicts[key] = is_allowed(documents[where], call)
        if not verdicts[key]:
            problems.setdefault(
                f"{provider.account_id}: {call.action} on {call.resource} (needed by {required.origin})", None
            )
    return list(problems)


# --- a small IAM evaluator: enough for the documents this package writes --------------------------


@cache
def _pattern(glob: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


NEGATED_OPERATORS = {"StringNotEquals": "StringEquals", "ArnNotEquals": "ArnEquals"}


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    if operator in NEGATED_OPERATORS:
        # IAM: a negated operator matches when the key is absent from the request, or matches no value.
        return not _condition_holds(NEGATED_OPERATORS[operator], key, expected, context)
    if key not in context:
        return False
    actual = context[key]
    if operator in ("StringEquals", "ArnEquals"):
        return any(actual == value for value in _as_list(expected))
    if operator in ("StringLike", "ArnLike"):
        return any(_pattern(value, ignore_case=False).match(actual) for value in _as_list(expected))
    raise ValueError(f"condition operator {operator} is not modelled; extend bootstrap/coverage.py")


def _statement_matches(statement: Document, call: ApiCall) -> bool:
    if not any(_pattern(a, ignore_case=True).match(call.action) for a in _as_list(statement["Action"])):
        return False
    if not any(_pattern(r, ignore_case=False).match(call.resource) for r in _as_list(statement["Resource"])):
        return False
    context = dict(call.context)
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, clauses in statement.get("Condition", {}).items()
        for key, expected in clauses.items()
    )


def is_allowed(document: Document, call: ApiCall) -> bool:
    """An explicit Allow and no explicit Deny, as IAM decides within one identity policy."""
    statements = document["Statement"]
    if any(s["Effect"] == "Deny" and _statement_matches(s, call) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _statement_matches(s, call) for s in statements)
