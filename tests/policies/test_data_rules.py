"""S3 and KMS rules over the artifact store's shapes and their broken twins."""

from __future__ import annotations

import pytest

from policies.rules.kms import KMS_KEY_POLICY, KMS_ROTATION
from policies.rules.s3 import S3_BUCKET_HARDENED, S3_KMS, S3_LIFECYCLE, S3_NO_PUBLIC, S3_TLS_ONLY, S3_VERSIONING
from policies.testing import UNKNOWN, Resource

from .platform_shapes import KEY_ARN, TOOLING
from .rule_cases import document, fires, quiet, unknown

BUCKET = "cicd-artifacts-prod-123456789012-eu-west-1"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
ROOT = f"arn:aws:iam::{TOOLING}:root"
DENY_PLAIN_HTTP = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
NAMED_READERS = {
    "Sid": "DeployAccount411111111111ReadsArtifacts",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::411111111111:root"},
    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
    "Resource": f"{BUCKET_ARN}/*",
    "Condition": {"ArnEquals": {"aws:PrincipalArn": ["arn:aws:iam::411111111111:role/cicd-deploy-booking-dev"]}},
}
KEY_ADMIN = {
    "Sid": "KeyAdministration",
    "Effect": "Allow",
    "Principal": {"AWS": ROOT},
    "Action": ["kms:Create*"],
    "Resource": "*",
}


def s3(kind, name, **props):
    return Resource(f"aws:s3/{kind[0].lower()}{kind[1:]}:{kind}", {"bucket": BUCKET, **props}, name)


def encryption(algorithm="aws:kms", key=KEY_ARN):
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key is not None else {})}
    return s3(
        "BucketServerSideEncryptionConfiguration",
        "artifacts-encryption",
        rules=[{"applyServerSideEncryptionByDefault": default}],
    )


def versioning(status="Enabled"):
    return s3("BucketVersioning", "artifacts-versioning", versioningConfiguration={"status": status})


def access_block(**flags):
    values = {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}
    return s3("BucketPublicAccessBlock", "artifacts-public-access", **{**values, **flags})


def bucket_policy(*statements):
    return s3("BucketPolicy", "artifacts-policy", policy=document(*statements))


def lifecycle(*rules):
    return s3("BucketLifecycleConfiguration", "artifacts-lifecycle", rules=list(rules))


ARTIFACT_RULE = {
    "id": "expire-old-artifacts",
    "status": "Enabled",
    "filter": {},
    "expiration": {"days": 90},
    "noncurrentVersionExpiration": {"noncurrentDays": 7},
    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1},
}
BUCKET_RESOURCE = Resource("aws:s3/bucket:Bucket", {"bucket": BUCKET}, "artifacts-bucket")


def key(**props):
    return Resource(
        "aws:kms/key:Key", {"enableKeyRotation": True, "policy": document(KEY_ADMIN), **props}, "artifacts-key"
    )


def companions_of(bucket, *resources):
    """Companions declared with bucket=bucket.id: during a first preview the name is unknown, the parent is not."""
    from dataclasses import replace

    return [replace(r, props={**r.props, "bucket": UNKNOWN}, parent=bucket.urn) for r in resources]


CASES = [
    fires(S3_KMS, "SSE-S3", encryption("AES256", None), "rule 0: default encryption is 'AES256', not SSE-KMS"),
    quiet(S3_KMS, "SSE-KMS with the artifact key", encryption()),
    unknown(S3_KMS, "key ARN not known yet", encryption(key=UNKNOWN)),
    fires(S3_VERSIONING, "suspended", versioning("Suspended"), "bucket versioning is 'Suspended', not 'Enabled'"),
    quiet(S3_VERSIONING, "enabled", versioning()),
    unknown(S3_VERSIONING, "status not known", versioning(UNKNOWN)),
    fires(
        S3_NO_PUBLIC,
        "one flag off",
        access_block(ignorePublicAcls=False),
        "public access block leaves ignorePublicAcls off",
    ),
    quiet(S3_NO_PUBLIC, "all four flags", access_block()),
    quiet(S3_NO_PUBLIC, "account roots narrowed by PrincipalArn", bucket_policy(DENY_PLAIN_HTTP, NAMED_READERS)),
    unknown(S3_NO_PUBLIC, "a flag not known", access_block(blockPublicPolicy=UNKNOWN)),
    fires(
        S3_TLS_ONLY,
        "no TLS deny",
        bucket_policy(NAMED_READERS),
        "bucket policy has no Deny of s3:* for '*' when aws:SecureTransport is false: plain HTTP is accepted",
    ),
    fires(
        S3_TLS_ONLY,
        "deny that only covers GetObject",
        bucket_policy({**DENY_PLAIN_HTTP, "Action": "s3:GetObject"}),
        "bucket policy has no Deny of s3:* for '*' when aws:SecureTransport is false: plain HTTP is accepted",
    ),
    quiet(S3_TLS_ONLY, "the artifact bucket policy", bucket_policy(DENY_PLAIN_HTTP, NAMED_READERS)),
    unknown(S3_TLS_ONLY, "policy not known", s3("BucketPolicy", "p", policy=UNKNOWN)),
    fires(
        S3_LIFECYCLE,
        "expiry only",
        lifecycle({"id": "expire", "status": "Enabled", "expiration": {"days": 90}}),
        "no enabled lifecycle rule expires noncurrent versions: old artifacts are kept forever",
        "no enabled lifecycle rule aborts incomplete multipart uploads",
    ),
    fires(
        S3_LIFECYCLE,
        "the right rule, disabled",
        lifecycle({**ARTIFACT_RULE, "status": "Disabled"}),
        "no enabled lifecycle rule expires noncurrent versions: old artifacts are kept forever",
        "no enabled lifecycle rule aborts incomplete multipart uploads",
    ),
    quiet(
        S3_LIFECYCLE,
        "the artifact lifecycle",
        lifecycle(
            ARTIFACT_RULE, {"id": "markers", "status": "Enabled", "expiration": {"expiredObjectDeleteMarker": True}}
        ),
    ),
    unknown(S3_LIFECYCLE, "rules not known", s3("BucketLifecycleConfiguration", "l", rules=UNKNOWN)),
    fires(
        S3_BUCKET_HARDENED,
        "bucket without companions",
        [BUCKET_RESOURCE],
        f"bucket {BUCKET} has no default encryption, public access block, versioning",
    ),
    quiet(
        S3_BUCKET_HARDENED, "bucket with its companions", [BUCKET_RESOURCE, encryption(), versioning(), access_block()]
    ),
    quiet(
        S3_BUCKET_HARDENED,
        "companions found through their parent while the bucket id is unknown",
        [BUCKET_RESOURCE, *companions_of(BUCKET_RESOURCE, encryption(), versioning(), access_block())],
    ),
    unknown(
        S3_BUCKET_HARDENED,
        "companions whose bucket is unknown and unlinked",
        [
            BUCKET_RESOURCE,
            *[
                Resource(r.type, {**r.props, "bucket": UNKNOWN}, r.name)
                for r in (encryption(), versioning(), access_block())
            ],
        ],
    ),
    fires(
        KMS_ROTATION,
        "rotation off",
        key(enableKeyRotation=False),
        "KMS key does not rotate: set enable_key_rotation=True",
    ),
    quiet(KMS_ROTATION, "rotation on", key()),
    quiet(
        KMS_ROTATION, "asymmetric keys cannot rotate", key(enableKeyRotation=False, customerMasterKeySpec="RSA_2048")
    ),
    unknown(KMS_ROTATION, "rotation not known", key(enableKeyRotation=UNKNOWN)),
    fires(
        KMS_KEY_POLICY,
        "no explicit policy",
        key(policy=None),
        "key has no explicit key policy: the default policy gives the whole account access through IAM",
    ),
    fires(
        KMS_KEY_POLICY,
        "anyone may decrypt",
        key(
            policy=document(
                KEY_ADMIN,
                {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
            )
        ),
        "key policy statement Open lets any principal ('*') use the key",
    ),
    fires(
        KMS_KEY_POLICY,
        "lockout check bypassed",
        key(bypassPolicyLockoutSafetyCheck=True),
        "bypass_policy_lockout_safety_check is set: a policy that locks out administrators would be accepted",
    ),
    quiet(KMS_KEY_POLICY, "root administers, Resource '*' means this key", key()),
    unknown(KMS_KEY_POLICY, "policy not known", key(policy=UNKNOWN)),
    fires(
        KMS_KEY_POLICY,
        "an imported signing key (the GitHub App's) is judged like any key",
        Resource("aws:kms/externalKey:ExternalKey", {"keySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}),
        "key has no explicit key policy: the default policy gives the whole account access through IAM",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_data_rule(case):
    case.verify()
