"""Documents AWS would refuse for their size: key, bucket and identity policies, parameter values.

Anchors: IAM Access Analyzer's policy check "Policy size exceeds identity policy quota" (Tenable
AC_AWS_0499). The limits are AWS's own and none is adjustable:

- a KMS key policy holds 32,768 bytes (AWS KMS Developer Guide, "Creating a key policy"; the
  ``PutKeyPolicy`` API reference: "The policy size limit is 32 KiB");
- an S3 bucket policy 20 KB (Amazon S3 User Guide, "Bucket policies and user policies": "Bucket
  policies are limited to 20 KB in size");
- the inline policies of one IAM role 10,240 characters together, and a managed policy 6,144, white
  space not counted (IAM User Guide, "IAM and AWS STS quotas");
- an SSM parameter value 4 KB in the standard tier, 8 KB in the advanced tier, which is also the most
  Intelligent-Tiering can choose (Systems Manager User Guide, "Managing parameter tiers").

``pulumi preview`` (and the offline plan) accepts any of these; ``pulumi up`` then fails halfway with
``LimitExceeded``/``MalformedPolicyDocument``/``ValidationException``. Documents the platform shares
across the fleet (the artifact key and bucket, the release managers' and coordinator's policies, the
dependency graph) grow with every service unless they name principals and resources by pattern, so
this is a stack rule: one claim about every such document, and about each role's inline policies
taken together, whichever component declares them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from .base import Config, PolicyResource, is_unknown, stack_rule

KEY = "aws:kms/key:Key"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
PARAMETER = "aws:ssm/parameter:Parameter"

KMS_KEY_POLICY_BYTES = 32_768
S3_BUCKET_POLICY_BYTES = 20 * 1024
IAM_ROLE_INLINE_CHARACTERS = 10_240
IAM_MANAGED_POLICY_CHARACTERS = 6_144
SSM_STANDARD_VALUE_BYTES = 4 * 1024
SSM_ADVANCED_VALUE_BYTES = 8 * 1024

WHITESPACE = re.compile(r"\s")
Findings = Iterator[tuple[str | None, str]]


def _text(value: Any) -> str | None:
    """A document as AWS receives it: JSON text as given; ``None`` when not known yet (or a secret)."""
    return value if isinstance(value, str) and not is_unknown(value) else None


def _iam_size(text: str) -> int:
    """IAM counts characters and ignores white space (IAM and AWS STS quotas)."""
    return len(WHITESPACE.sub("", text))


def _name(resource: PolicyResource) -> str:
    name = resource.props.get("name")
    return name if isinstance(name, str) else resource.name


def _resource_policies(resources: Sequence[PolicyResource]) -> Findings:
    limits = {
        KEY: (KMS_KEY_POLICY_BYTES, "key policy", "KMS"),
        BUCKET_POLICY: (S3_BUCKET_POLICY_BYTES, "bucket policy", "S3"),
    }
    for resource in resources:
        text = _text(resource.props.get("policy")) if resource.type in limits else None
        if text is None:
            continue
        limit, what, service = limits[resource.type]
        if len(text.encode()) > limit:
            yield (
                resource.urn,
                f"the {what} of {resource.name} is {len(text.encode()):,} bytes; {service} refuses more than {limit:,}",
            )


def _role_policies(resources: Sequence[PolicyResource]) -> Findings:
    """Inline policies add up per role: the role's account (its provider) and name."""
    totals: dict[tuple[str | None, str], int] = {}
    first: dict[tuple[str | None, str], str] = {}
    for resource in resources:
        if resource.type != ROLE_POLICY:
            continue
        role, text = resource.props.get("role"), _text(resource.props.get("policy"))
        if not isinstance(role, str) or is_unknown(role) or text is None:
            continue
        key = (resource.provider, role)
        totals[key] = totals.get(key, 0) + _iam_size(text)
        first.setdefault(key, resource.urn)
    for key, total in totals.items():
        if total > IAM_ROLE_INLINE_CHARACTERS:
            role = key[1]
            yield (
                first[key],
                f"the inline policies of role {role} hold {total:,} characters (white space not counted); "
                f"IAM refuses more than {IAM_ROLE_INLINE_CHARACTERS:,} per role",
            )


def _managed_policies(resources: Sequence[PolicyResource]) -> Findings:
    for resource in resources:
        text = _text(resource.props.get("policy")) if resource.type == MANAGED_POLICY else None
        if text is not None and _iam_size(text) > IAM_MANAGED_POLICY_CHARACTERS:
            yield (
                resource.urn,
                f"managed policy {_name(resource)} holds {_iam_size(text):,} characters (white space not counted); "
                f"IAM refuses more than {IAM_MANAGED_POLICY_CHARACTERS:,}",
            )


def _parameters(resources: Sequence[PolicyResource]) -> Findings:
    for resource in resources:
        if resource.type != PARAMETER:
            continue
        tier = resource.props.get("tier")
        text = _text(resource.props.get("insecureValue")) or _text(resource.props.get("value"))
        if text is None or is_unknown(tier):
            continue
        size = len(text.encode())
        if tier in (None, "", "Standard") and size > SSM_STANDARD_VALUE_BYTES:
            yield (
                resource.urn,
                f"parameter {_name(resource)} holds {size:,} bytes; a standard-tier parameter holds "
                f"{SSM_STANDARD_VALUE_BYTES:,}",
            )
        elif size > SSM_ADVANCED_VALUE_BYTES:
            yield (
                resource.urn,
                f"parameter {_name(resource)} holds {size:,} bytes; no parameter tier holds more than "
                f"{SSM_ADVANCED_VALUE_BYTES:,}",
            )


def check_document_limits(resources: Sequence[PolicyResource], _: Config) -> Findings:
    yield from _resource_policies(resources)
    yield from _role_policies(resources)
    yield from _managed_policies(resources)
    yield from _parameters(resources)


DOCUMENT_SIZE_LIMITS = stack_rule(
    name="aws-document-size-limits",
    description="Key and bucket policies, each role's inline policies, managed policies and SSM parameter values fit "
    "AWS's size limits.",
    level="mandatory",
    check=check_document_limits,
    remediation="Name principals and resources by pattern (an IAM path such as /cicd/<stack>/ matched with ArnLike "
    "aws:PrincipalArn, a name prefix, aws:ResourceTag/aws:PrincipalTag conditions) instead of listing one ARN per "
    "service; split an identity policy over managed policies; split a parameter value into parts (the dependency "
    "graph's index and parts) or choose the advanced tier up to 8 KB.",
    anchors=("Access Analyzer: policy size exceeds identity policy quota", "AC_AWS_0499"),
)

RULES = (DOCUMENT_SIZE_LIMITS,)
