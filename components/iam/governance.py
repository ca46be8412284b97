"""Policies of the governance roles in the tooling account: the per-service scan role.

A scan reads the service's source, runs third-party scanners over it (some of
which run the project's package manager, i.e. the project's code) and reports.
It sits between Build and Deploy, so anything able to write pipeline artifacts
there could swap the artifact after it was vetted: the scan role may read
artifacts but writes only under the service's own ``security_reports/`` prefix
(report exports and the SBOM). It holds the two rights a build must not have:
importing Security Hub findings and reading the scanner tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from .documents import ARTIFACT_READ_ACTIONS, Document, artifact_objects, document, write_own_logs

SCAN_REPORT_ACTIONS = ["codebuild:BatchPutTestCases", "codebuild:CreateReport", "codebuild:UpdateReport"]


def scan_role_policy(
    log_group_arn: str,
    bucket_arn: str,
    key_arn: str,
    report_group_arn: str,
    reports_prefix: str,
    security_hub_product_arn: str,
    artifact_prefixes: Sequence[str],
    secret_arns: Sequence[str] = (),
) -> Document:
    """Read the service's artifacts, write reports and the SBOM under ``reports_prefix``, import findings,
    read tokens."""
    statements: list[Document] = [
        write_own_logs("Logs", log_group_arn),
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": ARTIFACT_READ_ACTIONS,
            "Resource": artifact_objects(bucket_arn, artifact_prefixes),
        },
        {
            # CodeBuild exports the report group's raw reports with the project's role.
            "Sid": "WriteReportsAndSbom",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{reports_prefix}/*",
        },
        {
            "Sid": "ArtifactKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
            "Resource": key_arn,
        },
        {"Sid": "Reports", "Effect": "Allow", "Action": SCAN_REPORT_ACTIONS, "Resource": report_group_arn},
        {
            "Sid": "SecurityHubFindings",
            "Effect": "Allow",
            "Action": "securityhub:BatchImportFindings",
            "Resource": security_hub_product_arn,
        },
    ]
    if secret_arns:
        statements.append(
            {
                "Sid": "ScannerTokens",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": sorted(secret_arns),
            }
        )
    return document(*statements)
