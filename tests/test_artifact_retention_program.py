"""Artifact retention and access logs in the program under mocks, in both stacks.

What the issue asks of the program: the ECR lifecycle keeps the last N release images per environment
and expires untagged images after a day; the artifact bucket's lifecycle is the stack settings' and the
plan summary shows it; the artifact bucket logs its requests into a hardened log bucket S3 can deliver
to (SSE-S3, TLS only, its own lifecycle, owner-enforced objects, delivery granted by bucket policy).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.model import artifact_retention, naming
from offline_plan.report import render_summary, summary
from tests.conftest import document, inputs_of

STACKS = ["dev_plan", "prod_plan"]
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ECR_LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
BUCKET_TYPES = {
    "encryption": "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "ownership": "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "public": "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "versioning": "aws:s3/bucketVersioning:BucketVersioning",
    "policy": "aws:s3/bucketPolicy:BucketPolicy",
    "lifecycle": LIFECYCLE,
    "logging": "aws:s3/bucketLogging:BucketLogging",
}


def names(plan):
    settings = plan.inputs.settings
    return (
        naming.artifact_bucket_name(plan.stack, settings.tooling_account_id, settings.region),
        naming.access_log_bucket_name(plan.stack, settings.tooling_account_id, settings.region),
    )


def of_bucket(plan, bucket: str) -> dict[str, dict]:
    found = {}
    for kind, resource_type in BUCKET_TYPES.items():
        matching = [i for i in inputs_of(plan, resource_type) if i.get("bucket") == bucket]
        assert len(matching) <= 1, (bucket, kind)
        if matching:
            found[kind] = matching[0]
    return found


def as_plan_rules(rules: list[artifact_retention.ExpiryRule]) -> list[dict]:
    """The model's rules as the plan records them (camelCase; numbers as the engine sends them)."""

    def camel(value):
        if isinstance(value, dict):
            return {
                "".join(w.title() if i else w for i, w in enumerate(key.split("_"))): camel(item)
                for key, item in value.items()
            }
        return value

    return [camel(rule.as_args()) for rule in rules]


@pytest.mark.parametrize("stack", STACKS)
def test_every_image_repository_keeps_the_newest_release_images_of_each_environment_and_a_day_of_untagged(
    stack, request
):
    plan = request.getfixturevalue(stack)
    kept = plan.inputs.settings.release_images_per_environment
    assert kept == {"dev": 10, "prod": 20}[plan.stack], "dev sets its own count: the component reads the setting"
    policies = {i["repository"]: json.loads(i["policy"]) for i in inputs_of(plan, ECR_LIFECYCLE)}
    containers = [s for s in plan.inputs.catalog.services if s.aws.platform == "ECS"]
    assert containers and set(policies) == {s.name for s in containers}
    for service in containers:
        environments = [env.name for env in plan.inputs.environments_for(service)]
        rules = policies[service.name]["rules"]
        assert rules[0]["selection"]["tagStatus"] == "untagged"
        assert rules[0]["selection"]["countUnit"] == "days" and rules[0]["selection"]["countNumber"] == 1
        tagged = {tuple(r["selection"]["tagPatternList"]): r["selection"]["countNumber"] for r in rules[1:]}
        assert tagged == {(f"*-{env}-*",): kept for env in environments}, service.name


@pytest.mark.parametrize("stack", STACKS)
def test_the_artifact_bucket_lifecycle_is_the_stack_settings_kind_by_kind(stack, request):
    plan = request.getfixturevalue(stack)
    artifacts, _ = names(plan)
    declared = of_bucket(plan, artifacts)["lifecycle"]["rules"]
    expected = as_plan_rules(artifact_retention.artifact_lifecycle(plan.inputs.catalog, plan.inputs.settings))
    assert _numbers_as_ints(declared) == _numbers_as_ints(expected)
    ids = [rule["id"] for rule in declared]
    assert "security-reports" in ids and "lambda-releases" in ids and "everything-else" in ids


def _numbers_as_ints(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _numbers_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_ints(item) for item in value]
    return value


@pytest.mark.parametrize("stack", STACKS)
def test_the_artifact_bucket_logs_every_request_into_the_log_bucket(stack, request):
    plan = request.getfixturevalue(stack)
    artifacts, logs = names(plan)
    logging = of_bucket(plan, artifacts)["logging"]
    assert logging["targetBucket"] == logs
    assert logging["targetPrefix"] == naming.ARTIFACT_ACCESS_LOG_PREFIX
    assert logging["targetObjectKeyFormat"] == {"partitionedPrefix": {"partitionDateSource": "EventTime"}}
    assert not any(i.get("bucket") == logs for i in inputs_of(plan, BUCKET_TYPES["logging"])), (
        "the log bucket does not log into itself"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_log_bucket_is_hardened_the_way_s3_log_delivery_allows(stack, request):
    plan = request.getfixturevalue(stack)
    artifacts, logs = names(plan)
    settings = plan.inputs.settings
    parts = of_bucket(plan, logs)
    # S3 delivers access logs only to an SSE-S3 bucket (S3 User Guide, "Enabling Amazon S3 server access logging").
    assert parts["encryption"]["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    assert parts["ownership"]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert all(parts["public"][flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
    assert parts["public"]["restrictPublicBuckets"] is True
    assert parts["versioning"]["versioningConfiguration"] == {"status": "Enabled"}
    rules = _numbers_as_ints(parts["lifecycle"]["rules"])
    expire = next(rule for rule in rules if rule["id"] == "expire-access-logs")
    assert expire["expiration"] == {"days": settings.access_log_retention_days}
    assert expire["noncurrentVersionExpiration"] and expire["abortIncompleteMultipartUpload"]
    statements = {s["Sid"]: s for s in document(parts["policy"]["policy"])["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    delivery = statements["ServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == f"arn:aws:s3:::{logs}/{naming.ARTIFACT_ACCESS_LOG_PREFIX}*"
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{artifacts}"},
        "StringEquals": {"aws:SourceAccount": settings.tooling_account_id},
    }
    assert [s for s in statements.values() if s["Effect"] == "Allow"] == [delivery]


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_summary_says_what_lives_how_long(stack, request, tmp_path: Path):
    plan = request.getfixturevalue(stack)
    facts = summary(plan)
    settings = plan.inputs.settings
    retained = facts["artifactRetention"]
    assert retained["pipelineArtifacts"]["days"] == settings.artifact_retention_days
    assert retained["lambdaReleases"]["days"] == settings.lambda_release_retention_days
    assert retained["securityReports"]["days"] == settings.security_report_retention_days
    assert retained["accessLogs"]["days"] == settings.access_log_retention_days
    assert retained["releaseImages"]["perEnvironment"] == settings.release_images_per_environment
    artifacts, logs = names(plan)
    assert (retained["artifactBucket"], retained["accessLogs"]["bucket"]) == (artifacts, logs)
    printed = render_summary(plan, facts, tmp_path / "plan.json")
    assert f"artifact retention: pipeline artifacts {settings.artifact_retention_days} d" in printed


def test_lambda_release_packages_are_tagged_with_the_kind_their_lifecycle_rule_finds(prod_plan):
    lambdas = [s.name for s in prod_plan.inputs.catalog.services if s.aws.platform == "Lambda"]
    assert lambdas
    projects = [
        i for i in inputs_of(prod_plan, "aws:codebuild/project:Project") if i["name"].endswith("-lambda-release")
    ]
    tagging = f'--tagging "{naming.ARTIFACT_KIND_TAG}={naming.LAMBDA_RELEASE_KIND}"'
    assert projects and all(tagging in p["source"]["buildspec"] for p in projects)
    for policy in inputs_of(prod_plan, "aws:iam/rolePolicy:RolePolicy"):
        if policy["role"].startswith("cicd-release-"):
            staged = next(s for s in document(policy["policy"])["Statement"] if s["Sid"] == "StageReleases")
            # PutObject with x-amz-tagging also needs s3:PutObjectTagging (S3 API reference, PutObject).
            assert staged["Action"] == ["s3:PutObject", "s3:PutObjectTagging"]
