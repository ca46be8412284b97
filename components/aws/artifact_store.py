"""The artifact store: one KMS key and one S3 bucket that every pipeline of the stack shares.

Artifacts cross accounts (built in tooling, deployed from environment
accounts), so the key and bucket policies say which roles of which accounts may
read them: by pattern and tag, so their size does not grow with the fleet.
Everything else is the hardening a reviewer expects: rotation, versioning,
SSE-KMS with a bucket key, no public access, TLS only, owner-enforced objects,
a lifecycle per kind of object from the stack settings (``model.artifact_retention``)
and server access logs in a bucket of their own (``access_log_bucket``; CKV_AWS_18).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.artifact_retention import artifact_lifecycle
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags
from .access_log_bucket import AccessLogBucket, AccessLogBucketArgs


@dataclass(frozen=True)
class ArtifactStoreArgs:
    inputs: PlatformInputs


class ArtifactStore(pulumi.ComponentResource):
    """KMS key + hardened bucket for pipeline artifacts."""

    key_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:artifacts:ArtifactStore", name, None, opts)
        settings = args.inputs.settings
        tags = standard_tags(args.inputs.stack)
        child = pulumi.ResourceOptions(parent=self)
        readers = args.inputs.artifact_reader_accounts()

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts CI/CD artifacts and build logs of platform stack {args.inputs.stack}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=iam.to_json(
                iam.artifact_key_policy(
                    settings.region, settings.tooling_account_id, args.inputs.tooling_roles_pattern(), readers
                )
            ),
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/cicd-artifacts-{args.inputs.stack}", target_key_id=key.key_id, opts=child
        )

        bucket_name = naming.artifact_bucket_name(args.inputs.stack, settings.tooling_account_id, settings.region)
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=False, tags=tags, opts=child)
        bucket_child = pulumi.ResourceOptions(parent=bucket)
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=bucket_child
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=bucket_child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=bucket_child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[rule.as_args() for rule in artifact_lifecycle(args.inputs.catalog, settings)],
            opts=bucket_child,
        )
        logs = AccessLogBucket(
            f"{name}-access-logs", AccessLogBucketArgs(inputs=args.inputs, source_bucket_arn=bucket.arn), opts=child
        )
        aws.s3.BucketLogging(
            f"{name}-logging",
            bucket=bucket.id,
            target_bucket=logs.bucket_name,
            target_prefix=naming.ARTIFACT_ACCESS_LOG_PREFIX,
            # Date-partitioned keys (by when the request happened), the layout Athena reads by partition.
            target_object_key_format={"partitioned_prefix": {"partition_date_source": "EventTime"}},
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=logs.ready),
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: iam.to_json(iam.artifact_bucket_policy(settings.region, arn, readers))),
            # The public access block must exist first, or a policy slip could be public for a moment.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[public_access]),
        )

        self.key_arn = key.arn
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.access_log_bucket_name = logs.bucket_name
        self.register_outputs(
            {
                "keyArn": key.arn,
                "bucketName": bucket.bucket,
                "bucketArn": bucket.arn,
                "accessLogBucketName": logs.bucket_name,
            }
        )
