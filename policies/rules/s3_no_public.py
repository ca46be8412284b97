"""s3-no-public: all public-access flags on; no policy allows everyone (CKV2_AWS_6, CKV_AWS_53-56, CKV_AWS_70)."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Props, ResourceRule, aws_principals, policy_document, statements

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"


def check(resource_type: str, props: Props) -> Iterator[str]:
    if resource_type == PUBLIC_ACCESS_BLOCK:
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if props.get(flag) is not True]
        if off:
            yield f"public access block leaves {', '.join(off)} off"
    elif resource_type == BUCKET_POLICY:
        for index, statement in enumerate(statements(policy_document(props.get("policy")))):
            if statement.get("Effect") == "Allow" and "*" in aws_principals(statement):
                yield f"statement {statement.get('Sid', index)} allows any principal ('*')"
    elif resource_type == BUCKET_ACL and props.get("acl") in PUBLIC_ACLS:
        yield f"bucket ACL {props.get('acl')!r} is public"


RULE = ResourceRule(
    name="s3-no-public",
    description="Buckets block all public access and never grant access to '*'.",
    level="mandatory",
    resource_types=frozenset({PUBLIC_ACCESS_BLOCK, BUCKET_POLICY, BUCKET_ACL}),
    check=check,
    anchors=("CKV2_AWS_6", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV_AWS_70"),
)
