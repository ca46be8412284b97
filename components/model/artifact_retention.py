"""How long each kind of artifact lives: one plan for the artifact bucket, the image repositories and the summary.

The artifact bucket holds three kinds of objects, told apart by where and how they are written:

- **pipeline artifacts** (sources, build outputs), which CodePipeline writes under each pipeline's
  name cut to 20 characters (``naming.artifact_prefix``): ``artifactRetentionDays``;
- **Lambda release packages**, which the platform's release project writes among its pipeline's
  artifacts and tags ``cicd-artifact-kind=lambda-release``: ``lambdaReleaseRetentionDays``;
- **security reports and SBOMs**, under ``security_reports/<service>/``: ``securityReportRetentionDays``.

S3 applies the shorter expiration when two lifecycle rules cover one object (S3 User Guide, "How
Amazon S3 handles conflicts in lifecycle configurations"). A kind can therefore live *shorter* than
the rule around it (Lambda releases inside the pipeline artifacts: found by their tag, one rule
however large the fleet) but only *longer* where no shorter rule reaches it. Pipeline artifacts
have no common prefix, so their rules name the shortest key prefixes that cover every pipeline of
the catalog and no security report (``pipeline_artifact_cover``): pipeline names start with a
letter and never hold ``_``, so ``a``, ``b``, ``se``… do, at most a few dozen rules for any
fleet, well under S3's 1,000 rules per configuration. A last rule covers everything at the longest
retention of all kinds (it never cuts a kind short) and expires noncurrent versions and unfinished
uploads: artifacts of a removed service, or anything else that lands in the bucket, still go.

Image repositories keep, per environment, the newest ``releaseImagesPerEnvironment`` images: the
image build tags each push ``<commit>-<environment>-<execution>`` (``pipeline.stages.image_tag``),
so one ``tagPatternList`` rule per environment (``*-<env>-*``) counts that environment's images
alone, and untagged images go a day after their push. ECR applies the rules in ``rulePriority``
order and an image selected by one rule is never expired by a later one (Amazon ECR User Guide,
"Lifecycle policy properties" and "How lifecycle policies work"); a pattern list of several
patterns would select only images matching all of them, hence one rule per environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import naming
from .catalog import Catalog
from .settings import StackSettings, placements_of

NONCURRENT_VERSION_DAYS = 7
"""An overwritten or expired object stays recoverable this long (the bucket is versioned)."""
INCOMPLETE_UPLOAD_DAYS = 1
UNTAGGED_IMAGE_DAYS = 1
ACCESS_LOG_NONCURRENT_DAYS = 1
"""Log objects are never overwritten; a noncurrent version is only a deleted one, kept a day against mistakes."""


@dataclass(frozen=True)
class ExpiryRule:
    """One enabled S3 lifecycle rule: which objects (a key prefix, a tag, or all) and when they go."""

    rule_id: str
    days: int | None
    prefix: str | None = None
    tag: tuple[str, str] | None = None
    noncurrent_days: int | None = None
    abort_upload_days: int | None = None
    expired_delete_markers: bool = False

    def as_args(self) -> dict[str, Any]:
        """The rule as ``aws.s3.BucketLifecycleConfiguration`` takes it (snake_case args)."""
        if self.prefix is not None:
            selection: dict[str, Any] = {"prefix": self.prefix}
        elif self.tag is not None:
            selection = {"tag": {"key": self.tag[0], "value": self.tag[1]}}
        else:
            selection = {}
        rule: dict[str, Any] = {"id": self.rule_id, "status": "Enabled", "filter": selection}
        if self.expired_delete_markers:
            rule["expiration"] = {"expired_object_delete_marker": True}
        elif self.days is not None:
            rule["expiration"] = {"days": self.days}
        if self.noncurrent_days is not None:
            rule["noncurrent_version_expiration"] = {"noncurrent_days": self.noncurrent_days}
        if self.abort_upload_days is not None:
            rule["abort_incomplete_multipart_upload"] = {"days_after_initiation": self.abort_upload_days}
        return rule


def pipeline_artifact_cover(prefixes: Iterable[str], reserved: Sequence[str]) -> list[str]:
    """The shortest key prefixes that reach every pipeline's artifacts (``<prefix>/…``) and no ``reserved`` key.

    For each pipeline, the first prefix of ``<prefix>/`` that no reserved root starts with: ``a`` for
    ``auth-prod``, ``sea`` for ``search-prod`` next to ``security_reports/``. One never extends another,
    since each is the shortest for every pipeline it covers.
    """
    cover: set[str] = set()
    for prefix in prefixes:
        keys = f"{prefix}/"
        candidates = (keys[:length] for length in range(1, len(keys) + 1))
        shortest = next((c for c in candidates if not any(root.startswith(c) for root in reserved)), None)
        if shortest is None:
            raise ValueError(f"pipeline artifacts under {keys} overlap the reserved prefix of another kind")
        cover.add(shortest)
    return sorted(cover)


def pipeline_prefixes(catalog: Catalog, settings: StackSettings) -> list[str]:
    """Every pipeline's artifact prefix in the catalog (shards included: the core owns the bucket)."""
    return sorted(
        {
            naming.artifact_prefix(service.name, environment.name)
            for service in catalog.services
            for environment in placements_of(service, settings)
        }
    )


def artifact_lifecycle(catalog: Catalog, settings: StackSettings) -> list[ExpiryRule]:
    """The artifact bucket's lifecycle rules, kind by kind (see the module docstring)."""
    reports = f"{naming.SECURITY_REPORTS_ROOT}/"
    longest = max(
        settings.artifact_retention_days,
        settings.lambda_release_retention_days,
        settings.security_report_retention_days,
    )
    rules = [
        ExpiryRule(f"pipeline-artifacts-{prefix}", settings.artifact_retention_days, prefix=prefix)
        for prefix in pipeline_artifact_cover(pipeline_prefixes(catalog, settings), [reports])
    ]
    rules += [
        ExpiryRule(
            "lambda-releases",
            settings.lambda_release_retention_days,
            tag=(naming.ARTIFACT_KIND_TAG, naming.LAMBDA_RELEASE_KIND),
        ),
        ExpiryRule("security-reports", settings.security_report_retention_days, prefix=reports),
        ExpiryRule(
            "everything-else",
            longest,
            noncurrent_days=NONCURRENT_VERSION_DAYS,
            abort_upload_days=INCOMPLETE_UPLOAD_DAYS,
        ),
        ExpiryRule("remove-expired-object-delete-markers", None, expired_delete_markers=True),
    ]
    return rules


def access_log_lifecycle(settings: StackSettings) -> list[ExpiryRule]:
    """The log bucket keeps its logs ``accessLogRetentionDays``; deleted ones a day more."""
    return [
        ExpiryRule(
            "expire-access-logs",
            settings.access_log_retention_days,
            noncurrent_days=ACCESS_LOG_NONCURRENT_DAYS,
            abort_upload_days=INCOMPLETE_UPLOAD_DAYS,
        ),
        ExpiryRule("remove-expired-object-delete-markers", None, expired_delete_markers=True),
    ]


def release_tag_pattern(environment: str) -> str:
    """The image tags of one environment's builds: ``<commit>-<environment>-<execution>``.

    Commits are hex and execution ids hex with dashes: an environment named like a 4-, 8- or 12-digit
    hex word (``cafe``) could also match inside an execution id, and share that environment's count.
    """
    return f"*-{environment}-*"


def image_lifecycle_policy(environments: Sequence[str], kept_per_environment: int) -> dict[str, Any]:
    """The ECR lifecycle policy of one service's repository: untagged images first, then each environment."""
    rules: list[dict[str, Any]] = [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images {UNTAGGED_IMAGE_DAYS} day after their push",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_IMAGE_DAYS,
            },
            "action": {"type": "expire"},
        }
    ]
    for priority, environment in enumerate(environments, start=2):
        rules.append(
            {
                "rulePriority": priority,
                "description": f"Keep the newest {kept_per_environment} release images of {environment}",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": [release_tag_pattern(environment)],
                    "countType": "imageCountMoreThan",
                    "countNumber": kept_per_environment,
                },
                "action": {"type": "expire"},
            }
        )
    return {"rules": rules}


def retention_summary(catalog: Catalog, settings: StackSettings, stack: str) -> dict[str, Any]:
    """What lives how long, for the plan summary (``summary.artifactRetention``)."""
    region, account = settings.region, settings.tooling_account_id
    return {
        "artifactBucket": naming.artifact_bucket_name(stack, account, region),
        "pipelineArtifacts": {
            "days": settings.artifact_retention_days,
            "prefixes": pipeline_artifact_cover(
                pipeline_prefixes(catalog, settings), [f"{naming.SECURITY_REPORTS_ROOT}/"]
            ),
        },
        "lambdaReleases": {
            "days": settings.lambda_release_retention_days,
            "tag": f"{naming.ARTIFACT_KIND_TAG}={naming.LAMBDA_RELEASE_KIND}",
        },
        "securityReports": {
            "days": settings.security_report_retention_days,
            "prefix": f"{naming.SECURITY_REPORTS_ROOT}/",
        },
        "noncurrentVersionDays": NONCURRENT_VERSION_DAYS,
        "incompleteUploadDays": INCOMPLETE_UPLOAD_DAYS,
        "accessLogs": {
            "bucket": naming.access_log_bucket_name(stack, account, region),
            "prefix": naming.ARTIFACT_ACCESS_LOG_PREFIX,
            "days": settings.access_log_retention_days,
        },
        "releaseImages": {
            "perEnvironment": settings.release_images_per_environment,
            "untaggedDays": UNTAGGED_IMAGE_DAYS,
        },
    }


def render_retention(summary: dict[str, Any]) -> str:
    """One line of the printed plan summary."""
    return (
        f"pipeline artifacts {summary['pipelineArtifacts']['days']} d, "
        f"Lambda release packages {summary['lambdaReleases']['days']} d, "
        f"security reports and SBOMs {summary['securityReports']['days']} d, "
        f"noncurrent versions {summary['noncurrentVersionDays']} d more; "
        f"access logs {summary['accessLogs']['days']} d ({summary['accessLogs']['bucket']}); "
        f"images: newest {summary['releaseImages']['perEnvironment']} per environment, "
        f"untagged {summary['releaseImages']['untaggedDays']} d"
    )
