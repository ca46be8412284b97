"""iam-no-admin: nothing grants every action on every resource; no admin policy (CKV_AWS_62, CKV_AWS_274)."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Props, ResourceRule, as_list, policy_document, statements

ADMIN_POLICY_NAMES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
ROLE = "aws:iam/role:Role"
POLICY_PROPS = {
    ROLE: (),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
}
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
}


def _admin_statements(document: object) -> Iterator[str]:
    for index, statement in enumerate(statements(policy_document(document))):
        if statement.get("Effect") != "Allow":
            continue
        actions = {str(action) for action in as_list(statement.get("Action"))}
        resources = {str(resource) for resource in as_list(statement.get("Resource"))}
        if actions & {"*", "*:*"} and "*" in resources:
            yield f"statement {statement.get('Sid', index)} allows every action on every resource"


def _is_admin_arn(arn: object) -> bool:
    return isinstance(arn, str) and arn.startswith("arn:") and arn.rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES


def check(resource_type: str, props: Props) -> Iterator[str]:
    if resource_type in ATTACHMENTS:
        if _is_admin_arn(props.get("policyArn")):
            yield f"attaches {props['policyArn']}"
        return
    if resource_type == ROLE:
        for arn in as_list(props.get("managedPolicyArns")):
            if _is_admin_arn(arn):
                yield f"role carries {arn}"
        for inline in as_list(props.get("inlinePolicies")):
            yield from _admin_statements((inline or {}).get("policy"))
        return
    for prop in POLICY_PROPS.get(resource_type, ()):
        yield from _admin_statements(props.get(prop))


RULE = ResourceRule(
    name="iam-no-admin",
    description="No IAM policy grants '*' on '*', and no administrator managed policy is attached.",
    level="mandatory",
    resource_types=frozenset(POLICY_PROPS) | frozenset(ATTACHMENTS),
    check=check,
    anchors=("CKV_AWS_62", "CKV_AWS_274"),
)
