"""The rules of the cicd-platform policy pack, one concern per module.

``RESOURCE_RULES`` and ``STACK_RULES`` are what the pack (``policies/__main__.py``)
and the offline plan both run; adding a rule means adding it here.
"""

from .base import PolicyResource, ResourceRule, StackRule
from .iam_no_admin import RULE as IAM_NO_ADMIN
from .iam_trust_scoped import RULE as IAM_TRUST_SCOPED
from .kms_rotation import RULE as KMS_ROTATION
from .pipeline_artifact_cmk import RULE as PIPELINE_ARTIFACT_CMK
from .s3_bucket_hardened import RULE as S3_BUCKET_HARDENED
from .s3_kms import RULE as S3_KMS
from .s3_no_public import RULE as S3_NO_PUBLIC

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    KMS_ROTATION,
    S3_KMS,
    S3_NO_PUBLIC,
    PIPELINE_ARTIFACT_CMK,
    IAM_NO_ADMIN,
    IAM_TRUST_SCOPED,
)
STACK_RULES: tuple[StackRule, ...] = (S3_BUCKET_HARDENED,)

__all__ = ["RESOURCE_RULES", "STACK_RULES", "PolicyResource", "ResourceRule", "StackRule"]
