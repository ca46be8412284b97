"""S3 buckets: customer-key encryption, versioning, no public access, TLS only, lifecycle.

In pulumi-aws 7 every bucket setting is its own resource (encryption,
versioning, public access block, policy, lifecycle), so the resource rules
judge each setting and the stack rule ``s3-bucket-hardened`` checks that a
bucket has them at all. ``s3-kms`` is a stack rule too: S3 server access logs
can only be delivered to a bucket encrypted with S3-managed keys (S3 User Guide,
"Enabling Amazon S3 server access logging"; S3 API reference, ``LoggingEnabled``),
so SSE-S3 is accepted on a bucket that a ``BucketLogging`` names as its target,
and on no other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .base import (
    Config,
    PolicyResource,
    Props,
    allows_everyone,
    as_list,
    as_mapping,
    aws_principals,
    dig,
    is_unknown,
    policy_document,
    present,
    resource_rule,
    stack_rule,
    statement_id,
    statements,
)
from .iam_policy import condition_values

BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
ENCRYPTION_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
VERSIONING_TYPES = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
LIFECYCLE_TYPES = frozenset(
    {
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    }
)
KMS_ALGORITHMS = {"aws:kms", "aws:kms:dsse"}
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}


# s3-kms (stack: whether a bucket may use SSE-S3 depends on what writes into it)

LOGGING_TYPES = frozenset({"aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"})
SSE_S3 = "AES256"


def _encryption_problems(props: Props, may_use_sse_s3: bool | None) -> Iterator[str]:
    """The configuration's rules that are not SSE-KMS with a customer key.

    ``may_use_sse_s3``: the bucket receives S3 server access logs (True), does not (False), or it
    cannot be told yet (None: its name or a logging target is not known), in which case SSE-S3 is
    not reported.
    """
    if is_unknown(props.get("rules")):
        return
    rules = as_list(props.get("rules"))
    if not rules:
        yield "bucket encryption configuration has no rule"
        return
    for index, rule in enumerate(rules):
        default = dig(rule, "applyServerSideEncryptionByDefault")
        algorithm = dig(default, "sseAlgorithm")
        if is_unknown(default) or is_unknown(algorithm):
            continue
        key = dig(default, "kmsMasterKeyId")
        if algorithm == SSE_S3 and may_use_sse_s3 is not False:
            continue
        if algorithm not in KMS_ALGORITHMS:
            yield f"rule {index}: default encryption is {algorithm!r}, not SSE-KMS"
        elif not key and not is_unknown(key):
            yield f"rule {index}: SSE-KMS without kms_master_key_id uses the AWS-managed key, not a customer key"


def _known_name(value: Any) -> str | None:
    return value if isinstance(value, str) and not is_unknown(value) else None


def _bucket_name(resource: PolicyResource, buckets: Mapping[str, PolicyResource]) -> str | None:
    """The name of the bucket a companion configures: its ``bucket`` prop, else the bucket it hangs off."""
    own = _known_name(resource.props.get("bucket"))
    if own is not None:
        return own
    for urn in (resource.parent, *resource.dependencies):
        if urn in buckets:
            linked = _known_name(buckets[urn].props.get("bucket"))
            if linked is not None:
                return linked
    return None


def check_kms(resources: Sequence[PolicyResource], _: Config) -> Iterator[tuple[str | None, str]]:
    buckets = {r.urn: r for r in resources if r.type in BUCKET_TYPES}
    targets = [r.props.get("targetBucket") for r in resources if r.type in LOGGING_TYPES]
    known_targets = {name for name in map(_known_name, targets) if name is not None}
    every_target_known = not any(is_unknown(target) for target in targets)
    for resource in resources:
        if resource.type not in ENCRYPTION_TYPES:
            continue
        name = _bucket_name(resource, buckets)
        if name is not None and name in known_targets:
            may_use_sse_s3: bool | None = True
        elif name is None or not every_target_known:
            may_use_sse_s3 = None
        else:
            may_use_sse_s3 = False
        for problem in _encryption_problems(resource.props, may_use_sse_s3):
            yield resource.urn, problem


S3_KMS = stack_rule(
    name="s3-kms",
    description="S3 default encryption uses SSE-KMS with a customer-managed key (SSE-S3 only on a bucket that "
    "receives S3 server access logs, which AWS requires there).",
    level="mandatory",
    check=check_kms,
    remediation="Set apply_server_side_encryption_by_default to sse_algorithm='aws:kms' with kms_master_key_id "
    "naming your customer-managed key; a server access log destination uses 'AES256' (S3 delivers no access logs "
    "to an SSE-KMS bucket) and is named as target_bucket by a BucketLogging.",
    anchors=("CKV_AWS_145", "CKV_AWS_19"),
)


# s3-versioning


def check_versioning(_: str, props: Props, __: Config) -> Iterator[str]:
    status = dig(props, "versioningConfiguration", "status")
    if not is_unknown(status) and status != "Enabled":
        yield f"bucket versioning is {status!r}, not 'Enabled'"


S3_VERSIONING = resource_rule(
    name="s3-versioning",
    description="Bucket versioning is enabled, so an overwritten or deleted object can be recovered.",
    level="mandatory",
    resource_types=VERSIONING_TYPES,
    check=check_versioning,
    remediation="Set versioning_configuration.status='Enabled'.",
    anchors=("CKV_AWS_21",),
)


# s3-no-public


def check_no_public(resource_type: str, props: Props, _: Config) -> Iterator[str]:
    if resource_type == PUBLIC_ACCESS_BLOCK:
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if props.get(flag) is not True and not is_unknown(props.get(flag))]
        if off:
            yield f"public access block leaves {', '.join(off)} off"
    elif resource_type == BUCKET_POLICY:
        for index, statement in enumerate(statements(policy_document(props.get("policy")))):
            if allows_everyone(statement):
                everyone = (
                    "every principal but those it names (NotPrincipal)"
                    if "NotPrincipal" in statement
                    else "any principal ('*')"
                )
                yield f"statement {statement_id(statement, index)} allows {everyone}"
    elif resource_type == BUCKET_ACL and props.get("acl") in PUBLIC_ACLS:
        yield f"bucket ACL {props.get('acl')!r} is public"


S3_NO_PUBLIC = resource_rule(
    name="s3-no-public",
    description="Buckets block all public access and never grant access to '*' (nor, with NotPrincipal, to all but "
    "a few).",
    level="mandatory",
    resource_types={PUBLIC_ACCESS_BLOCK, BUCKET_POLICY, BUCKET_ACL},
    check=check_no_public,
    remediation="Turn on all four public access block flags; grant named principals instead of '*'; "
    "use a private ACL (or BucketOwnerEnforced ownership).",
    anchors=("CKV2_AWS_6", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV_AWS_70"),
)


# s3-tls-only


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny" or "*" not in aws_principals(statement):
        return False
    actions = {str(a).lower() for a in as_list(statement.get("Action"))}
    if not actions & {"s3:*", "*"}:
        return False
    condition = as_mapping(statement.get("Condition"))
    return any(
        operator.lower() == "bool" and value.lower() == "false"
        for operator, value in condition_values(condition, "aws:SecureTransport")
    )


def check_tls_only(_: str, props: Props, __: Config) -> Iterator[str]:
    document = policy_document(props.get("policy"))
    if document is None:
        return
    if not any(_denies_plain_http(statement) for statement in statements(document)):
        yield "bucket policy has no Deny of s3:* for '*' when aws:SecureTransport is false: plain HTTP is accepted"


S3_TLS_ONLY = resource_rule(
    name="s3-tls-only",
    description="Bucket policies deny every request that does not use TLS.",
    level="mandatory",
    resource_types={BUCKET_POLICY},
    check=check_tls_only,
    remediation='Add {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [bucket, bucket/*], '
    '"Condition": {"Bool": {"aws:SecureTransport": "false"}}}.',
    anchors=("SH S3.5",),
)


# s3-lifecycle


def check_lifecycle(_: str, props: Props, __: Config) -> Iterator[str]:
    rules = props.get("rules")
    if is_unknown(rules) or any(is_unknown(dig(rule, "status")) for rule in as_list(rules)):
        return
    enabled = [rule for rule in as_list(rules) if dig(rule, "status") == "Enabled"]
    if not any(present(dig(rule, "noncurrentVersionExpiration")) for rule in enabled):
        yield "no enabled lifecycle rule expires noncurrent versions: old artifacts are kept forever"
    if not any(present(dig(rule, "abortIncompleteMultipartUpload")) for rule in enabled):
        yield "no enabled lifecycle rule aborts incomplete multipart uploads"


S3_LIFECYCLE = resource_rule(
    name="s3-lifecycle",
    description="Bucket lifecycle expires noncurrent versions and aborts incomplete multipart uploads.",
    level="mandatory",
    resource_types=LIFECYCLE_TYPES,
    check=check_lifecycle,
    remediation="Add an enabled rule with noncurrent_version_expiration and abort_incomplete_multipart_upload.",
    anchors=("CKV2_AWS_61", "CKV_AWS_300"),
)


# s3-bucket-hardened (stack)

REQUIRED_COMPANIONS = {
    "public access block": frozenset({PUBLIC_ACCESS_BLOCK}),
    "default encryption": ENCRYPTION_TYPES,
    "versioning": VERSIONING_TYPES,
}


def _in_force(companion: str, props: Props) -> bool:
    """A versioning resource only counts when it enables versioning (CKV_AWS_21)."""
    if companion != "versioning":
        return True
    status = dig(props, "versioningConfiguration", "status")
    return status == "Enabled" or is_unknown(status)


def _known_name(value: Any) -> str | None:
    return value if isinstance(value, str) and not is_unknown(value) and value else None


def _name_prefix(bucket: PolicyResource) -> str | None:
    """What the physical name of a bucket without a ``bucket`` input starts with: its ``bucketPrefix``, or, when
    it has none either, Pulumi's auto-name (the logical name, a dash, random characters)."""
    if "bucket" in bucket.props:
        return None  # a name, known or not yet
    prefix = bucket.props.get("bucketPrefix")
    if is_unknown(prefix):
        return ""  # any name
    return _known_name(prefix) or f"{bucket.name}-"


def check_bucket_hardened(resources: Sequence[PolicyResource], _: Config) -> Iterator[tuple[str | None, str]]:
    """Companions are matched to their bucket by name, or by parent/dependency (a companion built from the
    bucket's id depends on it: the CLI and the offline plan both hand dependencies over).

    A bucket whose name is not in its inputs (``bucketPrefix``, auto-named, or not known yet) is judged all
    the same, by its links, by companions whose bucket is not known yet (they may be its own) and by companions
    of a name no other bucket of the stack has that it could carry (its prefix, or any while its name is unknown).
    """
    buckets = [r for r in resources if r.type in BUCKET_TYPES]
    named = {name for name in (_known_name(b.props.get("bucket")) for b in buckets) if name}
    by_name: dict[str, set[str]] = {}
    by_urn: dict[str, set[str]] = {}
    unattributable: set[str] = set()
    for resource in resources:
        for companion, types in REQUIRED_COMPANIONS.items():
            if resource.type not in types or not _in_force(companion, resource.props):
                continue
            bucket = resource.props.get("bucket")
            linked = [b.urn for b in buckets if b.urn in (resource.parent, *resource.dependencies)]
            if isinstance(bucket, str) and not is_unknown(bucket):
                by_name.setdefault(bucket, set()).add(companion)
            for urn in linked:
                by_urn.setdefault(urn, set()).add(companion)
            if is_unknown(bucket) and not linked:
                unattributable.add(companion)  # during preview: cannot tell whose it is
    orphans = {name: have for name, have in by_name.items() if name not in named}
    for resource in buckets:
        name = _known_name(resource.props.get("bucket"))
        have = by_urn.get(resource.urn, set()) | unattributable
        if name:
            have |= by_name.get(name, set())
            shown_name = name
        else:
            prefix = _name_prefix(resource)
            for orphan, companions in orphans.items():
                if prefix is None or orphan.startswith(prefix):
                    have |= companions
            shown_name = f"{resource.name} (its name not known until AWS or Pulumi names it)"
        missing = sorted(set(REQUIRED_COMPANIONS) - have)
        if missing:
            yield resource.urn, f"bucket {shown_name} has no {', '.join(missing)}"


S3_BUCKET_HARDENED = stack_rule(
    name="s3-bucket-hardened",
    description="Every bucket has a public access block, default encryption and versioning.",
    level="mandatory",
    check=check_bucket_hardened,
    remediation="Declare a BucketPublicAccessBlock, BucketServerSideEncryptionConfiguration and an enabled "
    "BucketVersioning for the bucket.",
    anchors=("CKV2_AWS_6", "CKV_AWS_145", "CKV_AWS_21"),
)

RESOURCE_RULES = (S3_VERSIONING, S3_NO_PUBLIC, S3_TLS_ONLY, S3_LIFECYCLE)
STACK_RULES = (S3_KMS, S3_BUCKET_HARDENED)
