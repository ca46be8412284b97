"""Reading IAM policy documents the way IAM evaluates them: actions as case-insensitive globs.

Shared by the IAM resource rules and the stack rules that reason about who
may do what (approval-restricted, role-separation, bootstrap-least-privilege).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .base import Props, as_list, as_mapping, is_unknown, policy_document, statement_id, statements

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY_PROPS = {
    ROLE_POLICY: "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
IDENTITY_POLICY_TYPES = frozenset({ROLE, *POLICY_PROPS})


@dataclass(frozen=True)
class Grant:
    """One Allow statement of an identity policy, with where it came from."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Any]
    not_action: bool = False


def identity_documents(resource_type: str, props: Props) -> Iterator[dict[str, Any]]:
    """The identity policy documents a resource declares (a role's inline policies, a policy's document)."""
    if resource_type == ROLE:
        for inline in as_list(props.get("inlinePolicies")):
            document = policy_document(as_mapping(inline).get("policy"))
            if document:
                yield document
        return
    prop = POLICY_PROPS.get(resource_type)
    if prop:
        document = policy_document(props.get(prop))
        if document:
            yield document


def grants(document: Mapping[str, Any] | None) -> Iterator[Grant]:
    """Allow statements with their actions and resources as strings; unknown entries are dropped."""
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        not_action = "NotAction" in statement and "Action" not in statement
        actions = statement.get("NotAction") if not_action else statement.get("Action")
        yield Grant(
            sid=statement_id(statement, index),
            actions=tuple(str(a) for a in as_list(actions) if not is_unknown(a)),
            resources=tuple(str(r) for r in as_list(statement.get("Resource")) if not is_unknown(r)),
            condition=as_mapping(statement.get("Condition")),
            not_action=not_action,
        )


def resource_grants(resource_type: str, props: Props) -> Iterator[Grant]:
    for document in identity_documents(resource_type, props):
        yield from grants(document)


def action_covers(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (``s3:Get*``, ``*``) covers an action; IAM compares case-insensitively."""
    return fnmatchcase(action.lower(), pattern.lower())


def grant_covers(grant: Grant, action: str) -> bool:
    if grant.not_action:
        return not any(action_covers(pattern, action) for pattern in grant.actions)
    return any(action_covers(pattern, action) for pattern in grant.actions)


def covered_actions(grant: Grant, actions: Iterable[str]) -> list[str]:
    return [action for action in actions if grant_covers(grant, action)]


def condition_keys(condition: Mapping[str, Any]) -> set[str]:
    """Lower-cased condition keys of a statement, across all operators."""
    keys: set[str] = set()
    for block in condition.values():
        if isinstance(block, Mapping):
            keys |= {str(key).lower() for key in block}
    return keys


def condition_values(condition: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    """(operator, value) pairs for a condition key (case-insensitive key match)."""
    found: list[tuple[str, str]] = []
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            continue
        for name, values in block.items():
            if str(name).lower() == key.lower():
                found += [(str(operator), str(value)) for value in as_list(values) if not is_unknown(value)]
    return found


def role_name_of(resource_type: str, props: Props) -> str | None:
    """Which role a policy belongs to: a role's own name, or a role policy's ``role``."""
    value = props.get("name") if resource_type == ROLE else props.get("role") if resource_type == ROLE_POLICY else None
    if isinstance(value, str) and not is_unknown(value):
        return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
    return None


def resource_matches(pattern: str, arn: str) -> bool:
    """Whether a Resource element (which may use ``*``/``?`` wildcards) covers an ARN."""
    return fnmatchcase(arn, pattern)


def grants_by_role(resources: Iterable[Any]) -> dict[str, list[tuple[str, Grant]]]:
    """Role name → (urn of the declaring resource, grant) across a stack.

    Follows inline role policies, ``RolePolicy`` resources and customer
    policies attached with ``RolePolicyAttachment`` (matched by policy name).
    """
    resources = list(resources)
    by_role: dict[str, list[tuple[str, Grant]]] = {}
    policies_by_name = {
        str(r.props.get("name")): r for r in resources if r.type == "aws:iam/policy:Policy" and r.props.get("name")
    }
    for resource in resources:
        if resource.type in (ROLE, ROLE_POLICY):
            role = role_name_of(resource.type, resource.props)
            if role:
                by_role.setdefault(role, []).extend(
                    (resource.urn, grant) for grant in resource_grants(resource.type, resource.props)
                )
        elif resource.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            arn, role = resource.props.get("policyArn"), resource.props.get("role")
            if not isinstance(arn, str) or not isinstance(role, str) or is_unknown(arn) or is_unknown(role):
                continue
            policy = policies_by_name.get(arn.rsplit("/", 1)[-1])
            if policy is not None:
                by_role.setdefault(role.rsplit("/", 1)[-1], []).extend(
                    (policy.urn, grant) for grant in resource_grants(policy.type, policy.props)
                )
    return by_role
