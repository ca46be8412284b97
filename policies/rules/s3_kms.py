"""s3-kms: bucket default encryption is SSE-KMS with a customer key (CKV_AWS_145, CKV_AWS_19)."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Props, ResourceRule, as_list

KMS_ALGORITHMS = {"aws:kms", "aws:kms:dsse"}


def check(_: str, props: Props) -> Iterator[str]:
    rules = as_list(props.get("rules"))
    if not rules:
        yield "bucket encryption configuration has no rule"
        return
    for index, rule in enumerate(rules):
        default = (rule or {}).get("applyServerSideEncryptionByDefault") or {}
        algorithm = default.get("sseAlgorithm")
        if algorithm not in KMS_ALGORITHMS:
            yield f"rule {index}: default encryption is {algorithm!r}, not SSE-KMS"
        elif not default.get("kmsMasterKeyId"):
            yield f"rule {index}: SSE-KMS without kms_master_key_id uses the AWS-managed key, not a customer key"


RULE = ResourceRule(
    name="s3-kms",
    description="S3 default encryption uses SSE-KMS with a customer-managed key.",
    level="mandatory",
    resource_types=frozenset(
        {
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
        }
    ),
    check=check,
    anchors=("CKV_AWS_145", "CKV_AWS_19"),
)
