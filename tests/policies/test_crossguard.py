"""The CrossGuard adapter and the test harness, checked against the SDK's own policy server code.

``_PolicyAnalyzerServicer`` is what ``PolicyPack`` serves over gRPC; calling its
``Analyze``/``AnalyzeStack`` directly (no server started) shows that the
harness builds arguments the way a real ``pulumi preview`` run does.
"""

from __future__ import annotations

import dataclasses

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policies.crossguard import policies, resource_policy, stack_policy
from policies.rules import RESOURCE_RULES, STACK_RULES, UNKNOWN, PolicyResource
from policies.rules.cloudwatch import LOG_RETENTION
from policies.rules.kms import KMS_ROTATION
from policies.rules.pipeline_shape import PROD_MANUAL_APPROVAL
from policies.rules.s3 import S3_BUCKET_HARDENED
from policies.testing import UNKNOWN as WIRE_UNKNOWN
from policies.testing import Provider, Resource, check, run_stack_policy, secret

from .platform_shapes import governed_stages, pipeline

KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SHORT_LIVED = Resource(LOG_GROUP, {"name": "/aws/codebuild/booking-build", "retentionInDays": 7}, "booking-logs")


# construction


def test_resource_rule_becomes_a_resource_validation_policy_with_its_metadata():
    policy = resource_policy(LOG_RETENTION)
    assert isinstance(policy, ResourceValidationPolicy)
    assert policy.name == "log-retention"
    assert policy.description == LOG_RETENTION.description
    assert policy.enforcement_level is EnforcementLevel.MANDATORY
    assert policy.remediation_steps == LOG_RETENTION.remediation
    assert (
        policy.config_schema.properties["minimumDays"]["default"]
        == LOG_RETENTION.config_schema["minimumDays"]["default"]
    )
    assert policy.tags == list(LOG_RETENTION.anchors)


def test_stack_rule_becomes_a_stack_validation_policy():
    policy = stack_policy(S3_BUCKET_HARDENED, PolicyResource)
    assert isinstance(policy, StackValidationPolicy)
    assert policy.name == "s3-bucket-hardened"
    assert policy.config_schema is None


@pytest.mark.parametrize(
    ("level", "expected"), [("mandatory", EnforcementLevel.MANDATORY), ("advisory", EnforcementLevel.ADVISORY)]
)
def test_rule_level_maps_to_the_enforcement_level(level, expected):
    assert resource_policy(dataclasses.replace(KMS_ROTATION, level=level)).enforcement_level is expected
    assert (
        stack_policy(dataclasses.replace(S3_BUCKET_HARDENED, level=level), PolicyResource).enforcement_level is expected
    )


def test_unknown_rule_level_is_refused():
    with pytest.raises(KeyError):
        resource_policy(dataclasses.replace(KMS_ROTATION, level="disabled"))


def test_pack_policies_are_resource_policies_then_stack_policies_in_rule_order():
    built = policies(RESOURCE_RULES, STACK_RULES, PolicyResource)
    assert [policy.name for policy in built] == [rule.name for rule in (*RESOURCE_RULES, *STACK_RULES)]
    assert all(isinstance(policy, ResourceValidationPolicy) for policy in built[: len(RESOURCE_RULES)])
    assert all(isinstance(policy, StackValidationPolicy) for policy in built[len(RESOURCE_RULES) :])


# what a rule sees


def test_a_rule_sees_plain_props_with_numbers_as_the_wire_makes_them():
    seen = []
    rule = dataclasses.replace(KMS_ROTATION, check=lambda _, props, __: seen.append(props) or [])
    check(rule, Resource(KEY, {"enableKeyRotation": True, "deletionWindowInDays": 7, "tags": {"a": "b"}}))
    assert seen == [{"enableKeyRotation": True, "deletionWindowInDays": 7.0, "tags": {"a": "b"}}]
    assert type(seen[0]) is dict


def test_unknown_values_reach_the_rule_as_the_unknown_marker_and_known_ones_stay():
    seen = []
    rule = dataclasses.replace(KMS_ROTATION, check=lambda _, props, __: seen.append(props) or [])
    reports = check(rule, Resource(KEY, {"enableKeyRotation": WIRE_UNKNOWN, "policy": {"Statement": [WIRE_UNKNOWN]}}))
    assert not reports.skipped
    assert seen == [{"enableKeyRotation": UNKNOWN, "policy": {"Statement": [UNKNOWN]}}]


def test_secrets_reach_the_rule_as_their_plain_value():
    assert check(KMS_ROTATION, Resource(KEY, {"enableKeyRotation": secret(False)})).messages == [
        "KMS key does not rotate: set enable_key_rotation=True"
    ]


def test_configuration_from_the_pack_config_reaches_the_rule():
    assert check(LOG_RETENTION, SHORT_LIVED).messages != []
    assert check(LOG_RETENTION, SHORT_LIVED, config={"minimumDays": 7}).messages == []


def test_stack_rules_see_parent_provider_and_dependencies():
    seen = []
    rule = dataclasses.replace(S3_BUCKET_HARDENED, check=lambda resources, _: seen.extend(resources) or [])
    parent = Resource("cicd:artifacts:ArtifactStore", {}, "artifacts")
    provider = Provider({"region": "eu-west-1"}, "env-prod-provider")
    bucket = Resource("aws:s3/bucket:Bucket", {"bucket": "b"}, "bucket", parent=parent.urn, provider=provider)
    policy = Resource("aws:s3/bucketPolicy:BucketPolicy", {"bucket": "b"}, "policy", dependencies=(bucket.urn,))
    run_stack_policy(stack_policy(rule, PolicyResource), [parent, bucket, policy])
    by_name = {view.name: view for view in seen}
    assert by_name["bucket"].parent == parent.urn
    assert by_name["bucket"].provider == provider.urn
    assert by_name["policy"].dependencies == (bucket.urn,)
    assert by_name["artifacts"].parent is None


def test_an_unknown_part_of_a_pipeline_does_not_hide_a_missing_approval():
    stages = [stage for stage in governed_stages() if stage["name"] != "Approve"]
    broken = pipeline(stages=stages, roleArn=WIRE_UNKNOWN, artifactStores=WIRE_UNKNOWN)
    assert check(PROD_MANUAL_APPROVAL, broken).messages == [
        "prod pipeline booking-prod reaches stage Deploy with no manual approval before it"
    ]


# fidelity: the harness against the SDK's servicer


def servicer(policy, config=None):
    served = _PolicyAnalyzerServicer("cicd-platform", "0.1.0", [policy], EnforcementLevel.ADVISORY)
    if config:
        properties = json_format.ParseDict(config, struct_pb2.Struct())
        request = analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={policy.name: analyzer_pb2.PolicyConfig(properties=properties)}
        )
        served.Configure(request, None)
    return served


def wire(resource):
    return dict(
        type=resource.type,
        properties=json_format.ParseDict(dict(resource.props), struct_pb2.Struct()),
        urn=resource.urn,
        name=resource.name,
    )


def served_messages(response, policy):
    return [d.message.removeprefix(policy.description + "\n") for d in response.diagnostics]


@pytest.mark.parametrize(
    ("props", "config"),
    [
        ({"name": "/aws/codebuild/booking-build", "retentionInDays": 7}, None),
        ({"name": "/aws/codebuild/booking-build", "retentionInDays": 7}, {"minimumDays": 7}),
        ({"name": "/aws/codebuild/booking-build", "retentionInDays": WIRE_UNKNOWN}, None),
        ({"name": "/aws/codebuild/booking-build", "retentionInDays": secret(7)}, None),
    ],
)
def test_harness_reports_what_the_servicer_reports_for_a_resource(props, config):
    policy = resource_policy(LOG_RETENTION)
    resource = Resource(LOG_GROUP, props, "booking-logs")
    response = servicer(policy, config).Analyze(analyzer_pb2.AnalyzeRequest(**wire(resource)), None)
    assert check(policy, resource, config=config).messages == served_messages(response, policy)


def test_harness_reports_what_the_servicer_reports_for_a_stack():
    policy = stack_policy(S3_BUCKET_HARDENED, PolicyResource)
    parent = Resource("aws:s3/bucket:Bucket", {"bucket": "artifacts"}, "artifacts-bucket")
    companions = [
        Resource(kind, {"bucket": WIRE_UNKNOWN, **extra}, name, parent=parent.urn)
        for kind, name, extra in [
            ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", {}),
            ("aws:s3/bucketVersioning:BucketVersioning", "ver", {"versioningConfiguration": {"status": "Enabled"}}),
        ]
    ]
    lone = Resource("aws:s3/bucket:Bucket", {"bucket": "logs"}, "logs-bucket")
    resources = [parent, *companions, lone]
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[analyzer_pb2.AnalyzerResource(**wire(r), parent=r.parent or "") for r in resources]
    )
    response = servicer(policy).AnalyzeStack(request, None)
    ours = check(policy, *resources)
    assert ours.messages == served_messages(response, policy)
    assert [item.urn for item in ours.items] == [d.urn for d in response.diagnostics]
    assert ours.messages == [
        "bucket artifacts has no default encryption",
        "bucket logs has no default encryption, public access block, versioning",
    ]


def test_a_raw_policy_that_touches_an_unknown_is_skipped_like_the_server_does():
    def validate(args, report_violation):
        if args.props["enableKeyRotation"] is not True:
            report_violation("no rotation")

    raw = ResourceValidationPolicy("raw", "A user's own policy.", validate, EnforcementLevel.MANDATORY)
    reports = check(raw, Resource(KEY, {"enableKeyRotation": WIRE_UNKNOWN}))
    assert reports.skipped and reports.messages == []
    assert check(raw, Resource(KEY, {"enableKeyRotation": False})).messages == ["no rotation"]
