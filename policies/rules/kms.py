"""KMS keys: rotation and key policies.

A key policy's ``Resource`` is always ``"*"`` (it means "this key"), and the
account root as principal delegates to IAM; neither is a finding. What is: a
key without an explicit policy, a statement that lets anyone use the key, and
bypassing the lockout safety check.
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import (
    Config,
    Props,
    as_mapping,
    aws_principals,
    is_unknown,
    policy_document,
    resource_rule,
    statement_id,
    statements,
)

KEY = "aws:kms/key:Key"
EXTERNAL_KEY = "aws:kms/externalKey:ExternalKey"
"""A key whose material is imported (the GitHub App's signing key): its policy is judged like any key's; it has
no automatic rotation to judge (KMS rotates neither imported material nor asymmetric keys)."""
ROTATABLE_SPECS = {None, "SYMMETRIC_DEFAULT"}


def check_rotation(_: str, props: Props, __: Config) -> Iterator[str]:
    spec = props.get("customerMasterKeySpec") or props.get("keySpec")
    if (
        is_unknown(props.get("customerMasterKeySpec"))
        or is_unknown(props.get("keySpec"))
        or spec not in ROTATABLE_SPECS
    ):
        return  # AWS cannot rotate asymmetric or HMAC keys
    rotation = props.get("enableKeyRotation")
    if not is_unknown(rotation) and rotation is not True:
        yield "KMS key does not rotate: set enable_key_rotation=True"


KMS_ROTATION = resource_rule(
    name="kms-rotation",
    description="Symmetric KMS keys have automatic key rotation enabled.",
    level="mandatory",
    resource_types={KEY},
    check=check_rotation,
    remediation="Set enable_key_rotation=True on the key (AWS rotates the key material yearly).",
    anchors=("CKV_AWS_7", "awsguard cmk-backing-key-rotation-enabled"),
)


def check_key_policy(_: str, props: Props, __: Config) -> Iterator[str]:
    if props.get("bypassPolicyLockoutSafetyCheck") is True:
        yield "bypass_policy_lockout_safety_check is set: a policy that locks out administrators would be accepted"
    policy = props.get("policy")
    if is_unknown(policy):
        return
    document = policy_document(policy)
    if document is None:
        yield "key has no explicit key policy: the default policy gives the whole account access through IAM"
        return
    for index, statement in enumerate(statements(document)):
        conditioned = as_mapping(statement.get("Condition")) or is_unknown(statement.get("Condition"))
        if statement.get("Effect") == "Allow" and "*" in aws_principals(statement) and not conditioned:
            yield f"key policy statement {statement_id(statement, index)} lets any principal ('*') use the key"


KMS_KEY_POLICY = resource_rule(
    name="kms-key-policy",
    description="KMS keys have an explicit key policy with no unconditioned '*' principal and no lockout bypass.",
    level="mandatory",
    resource_types={KEY, EXTERNAL_KEY},
    check=check_key_policy,
    remediation="Give the key a policy naming its administrators and users (the account root narrowed by "
    "aws:PrincipalArn is fine); never set bypass_policy_lockout_safety_check.",
    anchors=("CKV2_AWS_64", "CKV_AWS_33"),
)

RULES = (KMS_ROTATION, KMS_KEY_POLICY)
