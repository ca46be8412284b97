"""Runtime twins under mocks: with ``configRules`` the tooling account gets AWS Config managed rules, else none."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import yaml

from components.governance.config_rules import (
    LOG_RETENTION_DAYS,
    SECRET_ROTATION_DAYS,
    privileged_build_projects,
    privileged_exemption,
    runtime_twins,
)
from tests.conftest import PROJECT_DIR, inputs_of, with_dependencies
from tests.shared_plans import shared_plan

RULE = "aws:cfg/rule:Rule"
# The resource rules of the policy catalogue (shared POLICIES.md), which the pack is growing to match.
CATALOGUE_RESOURCE_RULES = frozenset(
    [
        "codebuild-artifact-encryption",
        "codebuild-no-privileged",
        "codebuild-logging",
        "codebuild-no-plaintext-creds",
        "codebuild-source-no-creds",
        "pipeline-artifact-cmk",
        "pipeline-source-connection",
        "codedeploy-auto-rollback",
        "codedeploy-safe-shift",
        "s3-kms",
        "s3-versioning",
        "s3-no-public",
        "s3-tls-only",
        "s3-lifecycle",
        "kms-rotation",
        "kms-key-policy",
        "iam-no-admin",
        "iam-no-wildcards",
        "iam-no-privesc",
        "iam-trust-scoped",
        "iam-github-oidc",
        "sns-hardening",
        "lambda-access",
        "lambda-runtime",
        "lambda-env-secrets",
        "lambda-ops",
        "log-retention",
        "alarm-actions",
        "secret-rotation",
        "required-tags",
    ]
)

# Verified against AWS Config's managed-rule pages: identifier → (resource types, parameter names it accepts,
# trigger type). Each page states "Trigger type: Configuration changes" or "Periodic" (also listed in the
# developer guide's "List of AWS Config Managed Rules by Trigger Type"); a new twin must say which.
CHANGES, PERIODIC_TRIGGER = "Configuration changes", "Periodic"
VERIFIED = {
    "CODEBUILD_PROJECT_ENVVAR_AWSCRED_CHECK": ({"AWS::CodeBuild::Project"}, set(), CHANGES),
    "CODEBUILD_PROJECT_SOURCE_REPO_URL_CHECK": ({"AWS::CodeBuild::Project"}, set(), CHANGES),
    "CODEBUILD_PROJECT_LOGGING_ENABLED": (
        {"AWS::CodeBuild::Project"},
        {"s3BucketNames", "cloudWatchGroupNames"},
        CHANGES,
    ),
    "CODEBUILD_PROJECT_S3_LOGS_ENCRYPTED": ({"AWS::CodeBuild::Project"}, {"exemptedProjects"}, CHANGES),
    "CODEBUILD_PROJECT_ARTIFACT_ENCRYPTION": ({"AWS::CodeBuild::Project"}, set(), CHANGES),
    "CODEBUILD_PROJECT_ENVIRONMENT_PRIVILEGED_CHECK": ({"AWS::CodeBuild::Project"}, {"exemptedProjects"}, CHANGES),
    "S3_DEFAULT_ENCRYPTION_KMS": ({"AWS::S3::Bucket", "AWS::KMS::Key"}, {"kmsKeyArns"}, CHANGES),
    "S3_BUCKET_VERSIONING_ENABLED": ({"AWS::S3::Bucket"}, {"isMfaDeleteEnabled"}, CHANGES),
    "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED": ({"AWS::S3::Bucket"}, {"excludedPublicBuckets"}, CHANGES),
    "S3_BUCKET_SSL_REQUESTS_ONLY": ({"AWS::S3::Bucket"}, set(), CHANGES),
    "CMK_BACKING_KEY_ROTATION_ENABLED": ({"AWS::KMS::Key"}, set(), PERIODIC_TRIGGER),
    "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS": ({"AWS::IAM::Policy"}, {"excludePermissionBoundaryPolicy"}, CHANGES),
    "IAM_POLICY_NO_STATEMENTS_WITH_FULL_ACCESS": ({"AWS::IAM::Policy"}, {"excludePermissionBoundaryPolicy"}, CHANGES),
    "SNS_ENCRYPTED_KMS": ({"AWS::SNS::Topic"}, {"kmsKeyIds"}, CHANGES),
    "LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED": ({"AWS::Lambda::Function"}, set(), CHANGES),
    "CW_LOGGROUP_RETENTION_PERIOD_CHECK": (
        {"AWS::Logs::LogGroup"},
        {"LogGroupNames", "MinRetentionTime"},
        PERIODIC_TRIGGER,
    ),
    "CLOUDWATCH_LOG_GROUP_ENCRYPTED": ({"AWS::Logs::LogGroup"}, {"KmsKeyId"}, PERIODIC_TRIGGER),
    "SECRETSMANAGER_ROTATION_ENABLED_CHECK": (
        {"AWS::SecretsManager::Secret"},
        {"maximumAllowedRotationFrequency", "maximumAllowedRotationFrequencyInHours"},
        CHANGES,
    ),
}
PERIODIC = {identifier for identifier, (*_, trigger) in VERIFIED.items() if trigger == PERIODIC_TRIGGER}


@pytest.fixture(scope="module")
def twins_plan(tmp_path_factory):
    """The dev stack with ``configRules: true``, planned from a copy of the project files."""
    project = tmp_path_factory.mktemp("config-rules")
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((PROJECT_DIR / name).read_text())
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    stack["config"]["cicd-platform:settings"]["configRules"] = True
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    # The twins are the stack's; one service of each platform (two container builds) shows what they exempt.
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    catalog = project / "services.yaml"
    catalog.write_text(yaml.safe_dump(with_dependencies(raw, ["auth", "inventory", "currency-rates", "ledger"])))
    return shared_plan(project, "dev", str(catalog))


def rules_by_identifier(plan) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for rule in inputs_of(plan, RULE):
        found.setdefault(rule["source"]["sourceIdentifier"], []).append(rule)
    return found


@pytest.mark.parametrize("plan_name", ["dev_plan", "prod_plan"])
def test_without_the_flag_no_config_rule_is_declared(request, plan_name):
    plan = request.getfixturevalue(plan_name)
    assert not plan.inputs.settings.config_rules
    assert not [r for r in plan.resources if r.type == RULE or "ConfigRuleTwins" in r.type]


def test_every_twin_uses_a_verified_managed_rule_scoped_to_what_it_evaluates(twins_plan):
    rules = rules_by_identifier(twins_plan)
    assert set(rules) == set(VERIFIED)
    for identifier, [rule] in rules.items():
        scope, accepted, _trigger = VERIFIED[identifier]
        assert rule["source"]["owner"] == "AWS"
        if identifier not in PERIODIC:
            assert set(rule["scope"]["complianceResourceTypes"]) == scope, identifier
        parameters = json.loads(rule.get("inputParameters") or "{}")
        assert set(parameters) <= accepted, identifier
        # Periodic rules run daily; AWS refuses a frequency on change-triggered rules.
        assert rule.get("maximumExecutionFrequency") == ("TwentyFour_Hours" if identifier in PERIODIC else None)


def test_no_periodic_managed_rule_is_declared_with_a_scope(twins_plan):
    """PutConfigRule refuses a Scope on a periodic rule: `configRules: true` would fail at `pulumi up`.

    AWS Config API Reference, ``Scope``: it "defines which resources trigger an evaluation"; a periodic
    rule is triggered by its frequency, never by a resource change.
    """
    rules = rules_by_identifier(twins_plan)
    assert set(rules) >= PERIODIC
    scoped = sorted(identifier for identifier in PERIODIC for rule in rules[identifier] if rule.get("scope"))
    assert scoped == []


def test_a_twin_is_periodic_exactly_where_aws_lists_the_managed_rule_as_periodic(twins_plan):
    for twin in runtime_twins(twins_plan.inputs):
        assert twin.periodic == (twin.identifier in PERIODIC), twin.identifier
        assert (twin.scope() is None) == twin.periodic, twin.identifier


def test_twins_carry_the_platforms_own_parameters(twins_plan):
    rules = {
        identifier: json.loads(rule.get("inputParameters") or "{}")
        for identifier, [rule] in rules_by_identifier(twins_plan).items()
    }
    assert rules["CW_LOGGROUP_RETENTION_PERIOD_CHECK"] == {"MinRetentionTime": str(LOG_RETENTION_DAYS)}
    assert rules["SECRETSMANAGER_ROTATION_ENABLED_CHECK"] == {
        "maximumAllowedRotationFrequency": str(SECRET_ROTATION_DAYS)
    }
    exempted = rules["CODEBUILD_PROJECT_ENVIRONMENT_PRIVILEGED_CHECK"]["exemptedProjects"].split(",")
    privileged = sorted(
        p["name"] for p in inputs_of(twins_plan, "aws:codebuild/project:Project") if p["environment"]["privilegedMode"]
    )
    assert exempted == privileged == privileged_build_projects(twins_plan.inputs)
    assert privileged  # the catalog has container services, so the exemption is not vacuous
    assert all(name.endswith("-image-build") for name in exempted)


def test_the_privileged_twin_exempts_nothing_rather_than_exceed_aws_configs_parameter_limit():
    """AWS Config API Reference, ConfigRule.InputParameters: at most 1,024 characters."""
    fits = [f"service-{index:02d}-image-build" for index in range(40)]
    assert privileged_exemption(fits) == {"exemptedProjects": ",".join(fits)}
    assert privileged_exemption([*fits, *(f"other-{index:02d}-image-build" for index in range(20))]) == {}
    assert privileged_exemption([]) == {}


def test_the_platforms_own_tooling_resources_satisfy_the_periodic_and_encryption_twins(twins_plan):
    def tooling(resource_type):
        return [r.inputs for r in twins_plan.resources if r.type == resource_type and r.provider is None]

    log_groups = tooling("aws:cloudwatch/logGroup:LogGroup")
    assert log_groups
    assert min(group["retentionInDays"] for group in log_groups) >= LOG_RETENTION_DAYS
    assert all(group.get("kmsKeyId") for group in log_groups)  # CLOUDWATCH_LOG_GROUP_ENCRYPTED
    assert all(topic.get("kmsMasterKeyId") for topic in tooling("aws:sns/topic:Topic"))  # SNS_ENCRYPTED_KMS
    assert all(key.get("enableKeyRotation") for key in tooling("aws:kms/key:Key"))  # CMK_BACKING_KEY_ROTATION_ENABLED


def test_twins_are_named_tagged_described_and_in_the_tooling_account(twins_plan):
    rules = [r for r in twins_plan.resources if r.type == RULE]
    assert len(rules) == len(runtime_twins(twins_plan.inputs))
    for rule in rules:
        assert rule.provider is None  # the default provider is the tooling account
        assert "cicd:governance:ConfigRuleTwins" in rule.urn
        assert re.fullmatch(r"cicd-dev-[a-z0-9-]+", rule.inputs["name"]) and len(rule.inputs["name"]) <= 128
        assert rule.inputs["tags"]["managed-by"] == "cicd-platform"
        assert rule.inputs["tags"]["platform-stack"] == "dev"
        assert rule.inputs["description"].startswith("Runtime twin of policy rule '")
    assert len({r.inputs["name"] for r in rules}) == len(rules)
    assert not twins_plan.mandatory_violations


def test_each_twin_mirrors_a_rule_of_the_policy_catalogue(twins_plan):
    for twin in runtime_twins(twins_plan.inputs):
        assert twin.twin_of in CATALOGUE_RESOURCE_RULES, twin
        assert f"'{twin.twin_of}'" in twin.description()


def test_a_catalog_without_docker_builds_exempts_no_project(twins_plan):
    inputs = twins_plan.inputs
    without_ecs = dataclasses.replace(
        inputs,
        catalog=inputs.catalog.model_copy(
            update={"services": tuple(s for s in inputs.catalog.services if s.aws.platform != "ECS")}
        ),
    )
    (privileged,) = [t for t in runtime_twins(without_ecs) if t.control == "codebuild-no-privileged"]
    assert privileged.parameters == {}
