"""iam-trust-scoped: roles trust named principals, and cross-account trust has a second factor (CKV_AWS_60, CKV_AWS_61).

An AWS principal in a trust policy (a role or an account) must come with
``sts:ExternalId`` or ``aws:PrincipalOrgID`` so a confused or compromised
principal outside the organization cannot assume the role.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Props, ResourceRule, aws_principals, policy_document, statements

SECOND_FACTOR_KEYS = {"sts:externalid", "aws:principalorgid"}


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    keys: set[str] = set()
    if isinstance(condition, Mapping):
        for operator_block in condition.values():
            if isinstance(operator_block, Mapping):
                keys |= {str(key).lower() for key in operator_block}
    return keys


def check(_: str, props: Props) -> Iterator[str]:
    document = policy_document(props.get("assumeRolePolicy"))
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid", index)
        principals = aws_principals(statement)
        if "*" in principals:
            yield f"trust statement {sid} lets any AWS principal assume the role"
            continue
        if principals and not (_condition_keys(statement) & SECOND_FACTOR_KEYS):
            yield f"trust statement {sid} trusts {', '.join(principals)} without sts:ExternalId or aws:PrincipalOrgID"


RULE = ResourceRule(
    name="iam-trust-scoped",
    description="Role trust names its principals; AWS principals need sts:ExternalId or aws:PrincipalOrgID.",
    level="mandatory",
    resource_types=frozenset({"aws:iam/role:Role"}),
    check=check,
    anchors=("CKV_AWS_60", "CKV_AWS_61"),
)
