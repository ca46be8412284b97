"""The bucket that receives the artifact bucket's S3 server access logs: who read or wrote which artifact, when.

Hardened like the artifact bucket, with the differences S3's log delivery imposes (S3 User Guide,
"Enabling Amazon S3 server access logging" and "Permissions for log delivery"):

- default encryption is **SSE-S3**: a destination bucket may use default encryption only with Amazon
  S3 managed keys; SSE-KMS default encryption is not supported for server access log destinations
  (the S3 API reference says the same of ``LoggingEnabled.targetBucket``: no SSE-KMS or DSSE-KMS
  default encryption, no Object Lock, no Requester Pays). The pack's ``s3-kms`` rule accepts SSE-S3
  on exactly such a bucket, and on no other;
- object ownership **BucketOwnerEnforced** (ACLs off), so delivery is granted by the bucket policy to
  ``logging.s3.amazonaws.com``, for the artifact bucket only (``aws:SourceArn``) and this account
  (``aws:SourceAccount``);
- TLS only, all public access blocked, versioning on (a deleted log stays a day), its own lifecycle
  (``accessLogRetentionDays``), and no access logging of its own: logging a log bucket into itself
  would log each delivery again.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.artifact_retention import access_log_lifecycle
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags


@dataclass(frozen=True)
class AccessLogBucketArgs:
    inputs: PlatformInputs
    source_bucket_arn: pulumi.Input[str]
    """The bucket whose server access logs this one receives (its delivery is granted for it alone)."""


class AccessLogBucket(pulumi.ComponentResource):
    """S3-managed-key bucket, owner-enforced, TLS-only, lifecycle, log delivery granted by policy."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:artifacts:AccessLogBucket", name, None, opts)
        settings, stack = args.inputs.settings, args.inputs.stack
        tags = standard_tags(stack)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=naming.access_log_bucket_name(stack, settings.tooling_account_id, settings.region),
            force_destroy=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_bucket = pulumi.ResourceOptions(parent=bucket)
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=in_bucket
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=in_bucket,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=in_bucket
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=in_bucket,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[rule.as_args() for rule in access_log_lifecycle(settings)],
            # S3 requires versioning to be configured before rules about noncurrent versions apply.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[versioning]),
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, args.source_bucket_arn).apply(
                lambda arns: iam.to_json(
                    iam.access_log_bucket_policy(
                        arns[0], naming.ARTIFACT_ACCESS_LOG_PREFIX, arns[1], settings.tooling_account_id
                    )
                )
            ),
            # The public access block must exist first, or a policy slip could be public for a moment.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[public_access]),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.ready: list[pulumi.Resource] = [ownership, encryption, policy]
        """What must exist before a source bucket's logging points here (delivery needs the grant)."""
        self.register_outputs({"bucketName": bucket.bucket, "bucketArn": bucket.arn})
