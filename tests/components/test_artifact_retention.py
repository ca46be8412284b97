"""Artifact retention as S3 and ECR will apply it: every kind of object lives exactly as long as its setting says.

The lifecycle rules are judged the way the services evaluate them, not by their shape:

- S3 applies every enabled rule whose filter matches an object (prefix, tag, or none) and, where
  two expirations overlap, the shorter one (S3 User Guide, "How Amazon S3 handles conflicts in
  lifecycle configurations");
- ECR selects an image by the first rule, in ``rulePriority`` order, whose tag patterns it matches
  (``*`` standing for any characters); an image selected by one rule is never expired by a later
  one (Amazon ECR User Guide, "Lifecycle policy properties", "How lifecycle policies work").
"""

from __future__ import annotations

import fnmatch
import uuid

import pytest

from components.model import artifact_retention as retention
from components.model import naming
from components.model.errors import PlatformInputError
from components.model.platform_inputs import load_platform_inputs
from components.model.settings import parse_settings
from components.pipeline.stages import image_tag
from tests.conftest import PROJECT_DIR, stack_settings

FILE = "Pulumi.dev.yaml"
COMMIT = "9f2c4e1ab3d5f60718293a4b5c6d7e8f90a1b2c3"


def inputs_of(stack: str, **overrides):
    return load_platform_inputs({**stack_settings(stack), **overrides}, stack, PROJECT_DIR)


def expiry_days(rules: list[retention.ExpiryRule], key: str, tags: dict[str, str] | None = None) -> int | None:
    """When S3 expires the current version of ``key``: the shortest expiration among the rules that match it."""
    tags = tags or {}
    matching = [
        rule.days
        for rule in rules
        if rule.days is not None
        and (rule.prefix is None or key.startswith(rule.prefix))
        and (rule.tag is None or tags.get(rule.tag[0]) == rule.tag[1])
    ]
    return min(matching, default=None)


@pytest.fixture(scope="module", params=["dev", "prod"])
def inputs(request):
    return inputs_of(request.param)


def pipeline_keys(inputs):
    for service in inputs.catalog.services:
        for environment in inputs.environments_for(service):
            prefix = naming.artifact_prefix(service.name, environment.name)
            yield service, environment, f"{prefix}/SourceArti/Ab12Cd3", f"{prefix}/BuildArtif/x9Y8z7W"


def test_every_pipeline_artifact_expires_after_artifact_retention_days(inputs):
    rules = retention.artifact_lifecycle(inputs.catalog, inputs.settings)
    for _, _, source, build in pipeline_keys(inputs):
        assert expiry_days(rules, source) == inputs.settings.artifact_retention_days, source
        assert expiry_days(rules, build) == inputs.settings.artifact_retention_days, build


def test_every_lambda_release_package_expires_after_its_own_days_though_it_sits_among_pipeline_artifacts(inputs):
    rules = retention.artifact_lifecycle(inputs.catalog, inputs.settings)
    tag = {naming.ARTIFACT_KIND_TAG: naming.LAMBDA_RELEASE_KIND}
    for service, environment, _, _ in pipeline_keys(inputs):
        key = f"{naming.lambda_release_prefix(service.name, environment.name)}/7f3a/function.zip"
        assert expiry_days(rules, key, tag) == inputs.settings.lambda_release_retention_days, key
        # Untagged, it would be an ordinary pipeline artifact: the tag is what the rule finds.
        assert expiry_days(rules, key) == inputs.settings.artifact_retention_days


def test_security_reports_and_sboms_outlive_pipeline_artifacts(inputs):
    rules = retention.artifact_lifecycle(inputs.catalog, inputs.settings)
    for service in inputs.catalog.services:
        prefix = naming.security_reports_prefix(service.name)
        for key in (f"{prefix}/sbom/{COMMIT}.cdx.json", f"{prefix}/reports/booking-security-findings/x.json"):
            assert expiry_days(rules, key) == inputs.settings.security_report_retention_days, key
    assert inputs.settings.security_report_retention_days > inputs.settings.artifact_retention_days


def test_anything_else_in_the_bucket_still_expires_at_the_longest_retention(inputs):
    """A removed service's artifacts, or a stray upload: never kept forever, never cut short."""
    rules = retention.artifact_lifecycle(inputs.catalog, inputs.settings)
    longest = max(
        inputs.settings.artifact_retention_days,
        inputs.settings.lambda_release_retention_days,
        inputs.settings.security_report_retention_days,
    )
    for key in ("0-manual-upload/readme.txt", "zz-retired-service-prod/SourceArti/x", "_tmp/x"):
        assert expiry_days(rules, key) == longest, key
    catch_all = [rule for rule in rules if rule.prefix is None and rule.tag is None and rule.days is not None]
    assert [rule.days for rule in catch_all] == [longest]


def test_noncurrent_versions_unfinished_uploads_and_expired_delete_markers_are_cleaned_for_every_object(inputs):
    rules = [rule for rule in retention.artifact_lifecycle(inputs.catalog, inputs.settings) if rule.prefix is None]
    everything = [rule for rule in rules if rule.tag is None]
    assert any(rule.noncurrent_days == retention.NONCURRENT_VERSION_DAYS for rule in everything)
    assert any(rule.abort_upload_days == retention.INCOMPLETE_UPLOAD_DAYS for rule in everything)
    # S3 refuses a rule that expires by days and removes expired delete markers at once: a rule of its own.
    (markers,) = [rule for rule in everything if rule.expired_delete_markers]
    assert markers.days is None and markers.as_args()["expiration"] == {"expired_object_delete_marker": True}


def test_the_lifecycle_stays_far_below_s3s_thousand_rules_and_ids_are_unique(inputs):
    rules = retention.artifact_lifecycle(inputs.catalog, inputs.settings)
    assert len({rule.rule_id for rule in rules}) == len(rules)
    assert len(rules) < 50


def test_the_cover_of_a_thousand_services_is_bounded_by_the_alphabet():
    # Half the fleet starts with 's' (the letter the security reports share), the rest spread over the alphabet.
    names = [f"s{uuid.uuid5(uuid.NAMESPACE_DNS, str(i)).hex[:10]}" for i in range(500)]
    names += [f"{chr(ord('a') + i % 26)}svc{i}" for i in range(500)]
    prefixes = [naming.artifact_prefix(name, env) for name in names for env in ("dev", "qa", "staging", "prod")]
    cover = retention.pipeline_artifact_cover(prefixes, ["security_reports/"])
    assert len(cover) < 80
    assert all(any(f"{prefix}/".startswith(c) for c in cover) for prefix in prefixes)
    assert not any("security_reports/booking/sbom/x".startswith(c) for c in cover)


def test_the_cover_steps_around_the_security_reports_by_the_shortest_prefix():
    assert retention.pipeline_artifact_cover(["search-prod", "sms-gateway-dev", "auth-qa"], ["security_reports/"]) == [
        "a",
        "sea",
        "sm",
    ]
    # A service named 'security' reads 'security-…': its '-' is where the reports' '_' is.
    assert retention.pipeline_artifact_cover(["security-prod"], ["security_reports/"]) == ["security-"]


def test_the_cover_refuses_a_pipeline_inside_a_reserved_prefix():
    with pytest.raises(ValueError, match="overlap the reserved prefix"):
        retention.pipeline_artifact_cover(["security_reports"], ["security_reports/"])


def test_lambda_release_retention_longer_than_the_pipeline_artifacts_around_it_is_refused():
    raw = {**stack_settings("dev"), "artifactRetentionDays": 30, "lambdaReleaseRetentionDays": 45}
    with pytest.raises(PlatformInputError) as caught:
        parse_settings(raw, FILE)
    message = str(caught.value)
    assert message.startswith(f"{FILE}: ") and "lambdaReleaseRetentionDays (45) exceeds artifactRetentionDays (30)" in (
        message
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("releaseImagesPerEnvironment", 1),
        ("releaseImagesPerEnvironment", 1001),
        ("securityReportRetentionDays", 29),
        ("accessLogRetentionDays", 3651),
        ("lambdaReleaseRetentionDays", 0),
    ],
)
def test_retention_settings_out_of_range_name_the_field(field, value):
    with pytest.raises(PlatformInputError) as caught:
        parse_settings({**stack_settings("dev"), field: value}, FILE)
    assert f"cicd-platform:settings.{field}" in str(caught.value)


def selected_by(policy: dict, tag: str | None) -> int | None:
    """The priority of the ECR rule that selects an image with this tag (None: untagged)."""
    for rule in sorted(policy["rules"], key=lambda rule: rule["rulePriority"]):
        selection = rule["selection"]
        if selection["tagStatus"] == "untagged" and tag is None:
            return rule["rulePriority"]
        matches = tag is not None and all(fnmatch.fnmatchcase(tag, p) for p in selection.get("tagPatternList", []))
        if selection["tagStatus"] == "tagged" and matches:
            return rule["rulePriority"]
        if selection["tagStatus"] == "any":
            return rule["rulePriority"]
    return None


def test_each_environments_release_images_are_counted_by_a_rule_of_their_own(inputs):
    for service in inputs.catalog.services:
        if service.aws.platform != "ECS":
            continue
        environments = inputs.environments_for(service)
        policy = retention.image_lifecycle_policy([env.name for env in environments], 20)
        priorities = [rule["rulePriority"] for rule in policy["rules"]]
        assert len(set(priorities)) == len(priorities)
        by_rule = {}
        for environment in environments:
            template = image_tag(service, environment)
            tag = template.replace("#{SourceVariables.CommitId}", COMMIT).replace(
                "#{codepipeline.PipelineExecutionId}", str(uuid.uuid4())
            )
            rule = next(r for r in policy["rules"] if r["rulePriority"] == selected_by(policy, tag))
            assert rule["selection"]["countType"] == "imageCountMoreThan" and rule["selection"]["countNumber"] == 20
            by_rule.setdefault(rule["rulePriority"], set()).add(environment.name)
        assert all(len(names) == 1 for names in by_rule.values()), by_rule
        untagged = next(r for r in policy["rules"] if r["rulePriority"] == selected_by(policy, None))
        assert untagged["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 1,
        }
        # ECR wants a tagStatus 'any' rule last; there is none, so nothing counts every environment together.
        assert all(rule["selection"]["tagStatus"] != "any" for rule in policy["rules"])
        # At most four wildcards per pattern (ECR's limit).
        assert all(p.count("*") <= 4 for r in policy["rules"] for p in r["selection"].get("tagPatternList", []))


def test_the_summary_says_what_lives_how_long():
    inputs = inputs_of("dev", releaseImagesPerEnvironment=12, securityReportRetentionDays=500)
    summary = retention.retention_summary(inputs.catalog, inputs.settings, inputs.stack)
    assert summary["pipelineArtifacts"]["days"] == 30
    assert summary["securityReports"] == {"days": 500, "prefix": "security_reports/"}
    assert summary["releaseImages"] == {"perEnvironment": 12, "untaggedDays": 1}
    assert summary["accessLogs"]["bucket"] == naming.access_log_bucket_name("dev", "210987654321", "eu-west-1")
    line = retention.render_retention(summary)
    assert "pipeline artifacts 30 d" in line and "security reports and SBOMs 500 d" in line
    assert "newest 12 per environment, untagged 1 d" in line
