"""Every scenario table of the rule tests, for the checks that span all rules."""

from __future__ import annotations

from . import (
    test_access_stack_rules,
    test_cloud_identity_rules,
    test_codebuild_rules,
    test_data_rules,
    test_data_stores,
    test_document_limits,
    test_iam_rules,
    test_lambda_ops,
    test_pipeline_rules,
    test_pipeline_shape_rules,
    test_runtime_rules,
)

ALL_CASES = [
    *test_codebuild_rules.CASES,
    *test_pipeline_rules.CASES,
    *test_pipeline_shape_rules.CASES,
    *test_data_rules.CASES,
    *test_iam_rules.CASES,
    *test_runtime_rules.CASES,
    *test_cloud_identity_rules.CASES,
    *test_access_stack_rules.CASES,
    *test_lambda_ops.CASES,
    *test_data_stores.CASES,
    *test_document_limits.CASES,
]
