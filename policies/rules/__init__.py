"""The rules of the cicd-platform policy pack, grouped by what they govern.

``RESOURCE_RULES`` and ``STACK_RULES`` are what the pack (``policies/__main__.py``)
and the offline plan both run; adding a rule means adding it to its domain
module's ``RULES`` (or ``RESOURCE_RULES``/``STACK_RULES``) tuple.
"""

from . import (
    account_boundaries,
    azure_identity,
    cloudwatch,
    codebuild,
    codedeploy,
    codepipeline,
    data_stores,
    federated_environments,
    federation,
    gcp_artifact_registry,
    gcp_identity,
    iam,
    kms,
    lambda_functions,
    pipeline_access,
    pipeline_shape,
    release_safety,
    s3,
    secrets,
    service_graph,
    sns,
    tagging,
)
from .base import UNKNOWN, PolicyResource, ResourceRule, StackRule, is_unknown

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    *codebuild.RULES,
    *codepipeline.RULES,
    *codedeploy.RULES,
    *s3.RESOURCE_RULES,
    *kms.RULES,
    *iam.RULES,
    *sns.RULES,
    *lambda_functions.RULES,
    *cloudwatch.RULES,
    *secrets.RULES,
    *gcp_identity.RULES,
    *gcp_artifact_registry.RULES,
    *azure_identity.RULES,
    *tagging.RULES,
)
STACK_RULES: tuple[StackRule, ...] = (
    *pipeline_shape.RULES,
    *release_safety.RULES,
    *pipeline_access.RULES,
    *codebuild.STACK_RULES,
    *account_boundaries.RULES,
    *federation.RULES,
    *federated_environments.RULES,
    *service_graph.RULES,
    *s3.STACK_RULES,
    *secrets.STACK_RULES,
    *lambda_functions.STACK_RULES,
    *data_stores.RULES,
)
ALL_RULES = (*RESOURCE_RULES, *STACK_RULES)

__all__ = [
    "ALL_RULES",
    "RESOURCE_RULES",
    "STACK_RULES",
    "UNKNOWN",
    "PolicyResource",
    "ResourceRule",
    "StackRule",
    "is_unknown",
]
