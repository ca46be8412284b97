"""s3-bucket-hardened: each bucket has a public access block, default encryption and versioning enabled.

S3 settings are separate resources in pulumi-aws 7, so a bucket can be
declared with none of them; only a view of the whole stack can tell.
Buckets are matched by name; a bucket whose name is not known yet (preview)
is skipped rather than reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .base import PolicyResource, StackRule

BUCKET_TYPES = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
REQUIRED_COMPANIONS = {
    "public access block": {"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"},
    "default encryption": {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    },
    "versioning": {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"},
}


def _in_force(companion: str, props: Mapping[str, Any]) -> bool:
    """A versioning resource only counts when it enables versioning (CKV_AWS_21)."""
    if companion != "versioning":
        return True
    configuration = props.get("versioningConfiguration")
    return isinstance(configuration, Mapping) and configuration.get("status") == "Enabled"


def check(resources: Sequence[PolicyResource]) -> Iterator[tuple[str | None, str]]:
    covered: dict[str, set[str]] = {}
    for resource in resources:
        for companion, types in REQUIRED_COMPANIONS.items():
            bucket = resource.props.get("bucket")
            if resource.type in types and isinstance(bucket, str) and _in_force(companion, resource.props):
                covered.setdefault(bucket, set()).add(companion)
    for resource in resources:
        if resource.type not in BUCKET_TYPES:
            continue
        name = resource.props.get("bucket")
        if not isinstance(name, str):
            continue
        missing = sorted(set(REQUIRED_COMPANIONS) - covered.get(name, set()))
        if missing:
            yield resource.urn, f"bucket {name} has no {', '.join(missing)}"


RULE = StackRule(
    name="s3-bucket-hardened",
    description="Every bucket has a public access block, default encryption and versioning.",
    level="mandatory",
    check=check,
    anchors=("CKV2_AWS_6", "CKV_AWS_145", "CKV_AWS_21"),
)
