"""kms-rotation: symmetric customer keys rotate their key material (CKV_AWS_7)."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Props, ResourceRule

ROTATABLE_SPECS = {None, "SYMMETRIC_DEFAULT"}


def check(_: str, props: Props) -> Iterator[str]:
    spec = props.get("customerMasterKeySpec") or props.get("keySpec")
    if spec not in ROTATABLE_SPECS:
        return  # AWS cannot rotate asymmetric or HMAC keys
    if props.get("enableKeyRotation") is not True:
        yield "KMS key does not rotate: set enable_key_rotation=True"


RULE = ResourceRule(
    name="kms-rotation",
    description="Symmetric KMS keys have automatic key rotation enabled.",
    level="mandatory",
    resource_types=frozenset({"aws:kms/key:Key"}),
    check=check,
    anchors=("CKV_AWS_7", "awsguard cmk-backing-key-rotation-enabled"),
)
