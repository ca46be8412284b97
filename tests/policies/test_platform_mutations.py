"""Break the platform's own prod plan one thing at a time: exactly the rule(s) about that thing fire.

The prod plan meets every rule (test_platform_plans.py); each mutation below
changes one resource the way a careless edit would, and the pack must name
that change through the rule that owns the concern, and through no other.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from offline_plan.policy_check import evaluate
from offline_plan.recorder import RecordedResource
from policies import pack_config

Inputs = dict[str, Any]


def policy_of(inputs: Inputs) -> dict[str, Any]:
    return json.loads(inputs["policy"])


def stage(inputs: Inputs, name: str) -> dict[str, Any]:
    return next(s for s in inputs["stages"] if s["name"] == name)


def drop_stage(name: str) -> Callable[[Inputs], None]:
    def mutate(inputs: Inputs) -> None:
        inputs["stages"] = [s for s in inputs["stages"] if s["name"] != name]

    return mutate


def drop_approval_keeping_the_window(inputs: Inputs) -> None:
    """What ``approval: false`` does: no Approve stage; the window moves to the stage before Deploy."""
    names = [s["name"] for s in inputs["stages"]]
    index = names.index("Approve")
    window = inputs["stages"][index].get("onSuccess")
    del inputs["stages"][index]
    if window:
        inputs["stages"][index - 1]["onSuccess"] = window


def add_statement(statement: dict[str, Any]) -> Callable[[Inputs], None]:
    def mutate(inputs: Inputs) -> None:
        document = policy_of(inputs)
        document["Statement"].append(statement)
        inputs["policy"] = json.dumps(document)

    return mutate


def without_org_condition(inputs: Inputs) -> None:
    trust = json.loads(inputs["assumeRolePolicy"])
    for statement in trust["Statement"]:
        statement.pop("Condition", None)
    inputs["assumeRolePolicy"] = json.dumps(trust)


def without_tls_deny(inputs: Inputs) -> None:
    document = policy_of(inputs)
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "DenyInsecureTransport"]
    inputs["policy"] = json.dumps(document)


def gate_parameters_without_health(inputs: Inputs) -> None:
    """The gate rule as before this issue: it names the service and environment, not the alarm it reads."""
    (gate,) = stage(inputs, "Deploy")["beforeEntry"]["condition"]["rules"]
    parameters = json.loads(gate["configuration"]["UserParameters"])
    del parameters["healthAlarm"]
    gate["configuration"]["UserParameters"] = json.dumps(parameters)


def cross_account_alarm_rule_instead_of_the_gate(inputs: Inputs) -> None:
    """What the platform did before this issue: a CloudWatchAlarm rule reading the alarm through the reader."""
    stage(inputs, "Deploy")["beforeEntry"]["condition"]["rules"] = [
        {
            "name": "NoAlarmBeforeDeploy",
            "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm", "version": "1"},
            "configuration": {"AlarmName": "cicd-booking-prod-health", "AlarmStates": "ALARM"},
            "roleArn": "arn:aws:iam::444444444444:role/cicd-alarm-reader-prod",
            "region": "eu-west-1",
        }
    ]


def bake(inputs: Inputs) -> dict[str, Any]:
    return next(a for a in stage(inputs, "Deploy")["actions"] if a["name"] == "BakeHealthAlarm")


def without_bake(inputs: Inputs) -> None:
    deploy = stage(inputs, "Deploy")
    deploy["actions"] = [a for a in deploy["actions"] if a["name"] != "BakeHealthAlarm"]


def set_path(*path: Any, value: Any) -> Callable[[Inputs], None]:
    def mutate(inputs: Inputs) -> None:
        target = inputs
        for step in path[:-1]:
            target = target[step]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


DELETE = object()
PROD_DEPLOY_ROLE = "arn:aws:iam::444444444444:role/cicd-deploy-booking-prod"

# (resource name, mutation, the rules that must fire — and only they)
MUTATIONS: list[tuple[str, str, Callable[[Inputs], None], set[str]]] = [
    ("remove the prod approval", "booking-prod-pipeline", drop_approval_keeping_the_window, {"prod-manual-approval"}),
    ("remove the scans", "booking-prod-pipeline", drop_stage("Scan"), {"scan-before-deploy"}),
    (
        "trigger prod on a glob",
        "booking-prod-pipeline",
        set_path("triggers", 0, "gitConfiguration", "pushes", 0, "branches", "includes", value=["release/**"]),
        {"prod-branch-literal"},
    ),
    (
        "let a newer commit overtake prod",
        "booking-prod-pipeline",
        set_path("executionMode", value="SUPERSEDED"),
        {"prod-queued"},
    ),
    (
        "stop declaring the health alarm the gate reads",
        "booking-prod-pipeline",
        gate_parameters_without_health,
        {"deploy-gates"},
    ),
    (
        "read the health alarm through another account's role again",
        "booking-prod-pipeline",
        cross_account_alarm_rule_instead_of_the_gate,
        {"deploy-gates"},
    ),
    ("drop the prod bake", "booking-prod-pipeline", without_bake, {"deploy-gates"}),
    ("bake alongside the deploy", "booking-prod-pipeline", lambda i: bake(i).update(runOrder=1), {"deploy-gates"}),
    (
        "stop rolling back a failed prod deploy",
        "booking-prod-pipeline",
        lambda i: stage(i, "Deploy").pop("onFailure"),
        {"prod-rollback"},
    ),
    (
        "drop the artifact key",
        "booking-prod-pipeline",
        set_path("artifactStores", 0, "encryptionKey", value=DELETE),
        {"pipeline-artifact-cmk"},
    ),
    (
        "go back to a V1 pipeline",
        "booking-dev-pipeline",
        set_path("pipelineType", value="V1"),
        {"pipeline-source-connection"},
    ),
    (
        "deploy dev into the prod account",
        "booking-dev-pipeline",
        lambda i: stage(i, "Deploy")["actions"][0].update(roleArn=PROD_DEPLOY_ROLE.replace("prod", "dev")),
        {"account-isolation"},
    ),
    (
        "enable privileged mode on the scan project",
        "booking-security-scan-project",
        set_path("environment", "privilegedMode", value=True),
        {"codebuild-no-privileged"},
    ),
    (
        "run the team's own buildspec privileged",
        "booking-build-project",
        set_path("environment", "privilegedMode", value=True),
        {"codebuild-no-privileged"},
    ),
    (
        "add a command to the pinned image build",
        "booking-image-build-project",
        lambda i: i["source"].update(buildspec=i["source"]["buildspec"] + "      - env | sort\n"),
        {"codebuild-no-privileged"},
    ),
    (
        "let the image build push to another service's repository",
        "booking-image-build-policy",
        add_statement(
            {
                "Sid": "PushElsewhere",
                "Effect": "Allow",
                "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"],
                "Resource": "arn:aws:ecr:eu-west-1:123456789012:repository/payments",
            }
        ),
        {"codebuild-no-privileged"},
    ),
    (
        "put a GCP image registry back on a Google-managed key",
        "pricing-prod-gcp-images",
        set_path("kmsKeyName", value=DELETE),
        {"gcp-artifact-registry-cmek"},
    ),
    (
        "hand the image build a BASH_ENV",
        "booking-image-build-project",
        lambda i: i["environment"]["environmentVariables"].append(
            {"name": "BASH_ENV", "value": "./prelude.sh", "type": "PLAINTEXT"}
        ),
        {"codebuild-no-privileged"},
    ),
    (
        "put a password in a build variable",
        "booking-build-project",
        lambda i: i["environment"]["environmentVariables"].append(
            {"name": "DB_PASSWORD", "value": "hunter2", "type": "PLAINTEXT"}
        ),
        {"codebuild-no-plaintext-creds"},
    ),
    (
        "build without the artifact key",
        "booking-build-project",
        set_path("encryptionKey", value=DELETE),
        {"codebuild-artifact-encryption"},
    ),
    ("drop key rotation", "artifacts-key", set_path("enableKeyRotation", value=False), {"kms-rotation"}),
    (
        "create a prod deploy role without the bootstrap's boundary",
        "booking-prod-target-deploy-role",
        set_path("permissionsBoundary", value=DELETE),
        {"permissions-boundary"},
    ),
    (
        "bound the PCI account's alarm reader by another account's boundary",
        "env-prod-455555555555-alarm-reader",
        set_path("permissionsBoundary", value="arn:aws:iam::444444444444:policy/cicd-platform-boundary"),
        {"permissions-boundary"},
    ),
    (
        "open the key to everyone",
        "artifacts-key",
        add_statement({"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}),
        {"kms-key-policy"},
    ),
    ("widen a deploy role's trust", "booking-prod-target-deploy-role", without_org_condition, {"iam-trust-scoped"}),
    (
        "add a wildcard action to the build role",
        "booking-build-policy",
        add_statement({"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::cicd-*"}),
        {"iam-no-wildcards"},
    ),
    (
        "add a wildcard action to a deploy role",
        "booking-prod-target-deploy-policy",
        add_statement(
            {
                "Sid": "All",
                "Effect": "Allow",
                "Action": "codedeploy:*",
                "Resource": "arn:aws:codedeploy:eu-west-1:444444444444:*",
            }
        ),
        {"iam-no-wildcards-deploy"},
    ),
    (
        "let the build role pass any role",
        "booking-build-policy",
        add_statement(
            {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/*"}
        ),
        {"iam-no-privesc"},
    ),
    (
        "let the build role assume the prod deploy role",
        "booking-build-policy",
        add_statement({"Sid": "Hop", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": PROD_DEPLOY_ROLE}),
        {"role-separation"},
    ),
    (
        "let the pipeline role approve its own release",
        "booking-pipeline-policy",
        add_statement(
            {
                "Sid": "Approve",
                "Effect": "Allow",
                "Action": "codepipeline:PutApprovalResult",
                "Resource": "arn:aws:codepipeline:eu-west-1:123456789012:booking-prod/Approve/*",
            }
        ),
        {"approval-restricted"},
    ),
    (
        "give the pipeline role admin",
        "booking-pipeline-policy",
        add_statement({"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}),
        {"iam-no-admin", "iam-no-wildcards", "iam-no-privesc", "approval-restricted"},
    ),
    ("accept plain HTTP on the artifact bucket", "artifacts-policy", without_tls_deny, {"s3-tls-only"}),
    ("let public ACLs in", "artifacts-public-access", set_path("ignorePublicAcls", value=False), {"s3-no-public"}),
    (
        "encrypt artifacts with SSE-S3",
        "artifacts-encryption",
        lambda i: i["rules"][0].update(applyServerSideEncryptionByDefault={"sseAlgorithm": "AES256"}),
        {"s3-kms"},
    ),
    (
        "suspend versioning",
        "artifacts-versioning",
        set_path("versioningConfiguration", "status", value="Suspended"),
        {"s3-versioning", "s3-bucket-hardened"},
    ),
    (
        "keep noncurrent artifacts forever",
        "artifacts-lifecycle",
        lambda i: [r.pop("noncurrentVersionExpiration", None) for r in i["rules"]],
        {"s3-lifecycle"},
    ),
    ("shorten build log retention", "booking-build-logs", set_path("retentionInDays", value=14), {"log-retention"}),
    ("stop encrypting build logs", "booking-build-logs", set_path("kmsKeyId", value=DELETE), {"log-encryption"}),
    ("drop the owner tag", "booking-build-logs", lambda i: i["tags"].pop("owner"), {"required-tags"}),
    (
        "roll back prod on failure only",
        "booking-prod-target-group",
        set_path("autoRollbackConfiguration", "events", value=["DEPLOYMENT_FAILURE"]),
        {"codedeploy-auto-rollback"},
    ),
    (
        "shift prod traffic all at once",
        "booking-prod-target-group",
        set_path("deploymentConfigName", value="CodeDeployDefault.ECSAllAtOnce"),
        {"codedeploy-safe-shift"},
    ),
    ("silence an alarm", "booking-prod-alarms-cpu", set_path("actionsEnabled", value=False), {"alarm-actions"}),
    (
        "watch an alarm nobody declares",
        "booking-prod-target-group",
        lambda i: i["alarmConfiguration"]["alarms"].append("cicd-booking-prod-typo"),
        {"prod-rollback"},
    ),
    (
        "unencrypt the dev alarm topic",
        "env-dev-alarms-topic",
        set_path("kmsMasterKeyId", value=DELETE),
        {"sns-hardening"},
    ),
    (
        "move the reporter to a retired runtime",
        "rollback-reporter-function",
        set_path("runtime", value="python3.8"),
        {"lambda-runtime"},
    ),
    (
        "put the webhook in the environment",
        "rollback-reporter-function",
        lambda i: i["environment"]["variables"].update(SLACK_WEBHOOK_TOKEN="xoxb-123"),
        {"lambda-env-secrets"},
    ),
    (
        "let any account's rule invoke the failure digest",
        "failure-digest-failed-actions-invoke",
        lambda i: [i.pop("sourceArn"), i.pop("sourceAccount")],
        {"lambda-access"},
    ),
    (
        "drop the reporter's dead-letter queue",
        "rollback-reporter-function",
        set_path("deadLetterConfig", value=DELETE),
        {"lambda-ops"},
    ),
    (
        # CodePipeline invokes the bake action asynchronously: its deliveries need the queue.
        "drop the deploy gate's dead-letter queue",
        "coordination-deploy_gate",
        set_path("deadLetterConfig", value=DELETE),
        {"lambda-ops"},
    ),
    (
        "put the release-news ledger back on DynamoDB's AWS-managed key",
        "release-news-ledger",
        set_path("serverSideEncryption", value={"enabled": True}),
        {"data-stores-encrypted"},
    ),
    (
        "drop the dispatch claims' point-in-time recovery",
        "github-dispatch-claims",
        set_path("pointInTimeRecovery", value=DELETE),
        {"data-stores-encrypted"},
    ),
    (
        "move the release-news dead letters to SQS-managed encryption",
        "release-news-dead-letters",
        lambda i: [i.pop("kmsMasterKeyId"), i.update(sqsManagedSseEnabled=True)],
        {"data-stores-encrypted"},
    ),
    (
        "let any branch of the qa repositories sign in to GCP",
        "gcp-qa-github",
        lambda i: i.update(attributeCondition=i["attributeCondition"].split(" && ")[0]),
        {"identity-pinned-environment"},
    ),
    (
        "trust a branch instead of the qa environment in Azure",
        "partner-api-qa-azure-github",
        set_path("subject", value="repo:bookwise/partner-api:ref:refs/heads/develop"),
        {"identity-pinned-environment"},
    ),
]


@pytest.fixture(scope="module")
def strict_config():
    """The platform's knobs at the catalogue's levels."""
    return pack_config.PackConfig(levels={}, properties=pack_config.load().properties)


@pytest.fixture(scope="module")
def baseline(prod_plan, strict_config):
    """What the unbroken plan already reports (known advisories), so only new findings count."""
    return {(v.policy, v.urn, v.message) for v in evaluate(prod_plan.resources, config=strict_config)}


def new_rules(resources, config, baseline) -> set[str]:
    return {v.policy for v in evaluate(resources, config=config) if (v.policy, v.urn, v.message) not in baseline}


def mutated(plan, name: str, mutate: Callable[[Inputs], None]) -> list[RecordedResource]:
    return mutated_with_change(plan, name, mutate)[0]


def mutated_with_change(
    plan, name: str, mutate: Callable[[Inputs], None]
) -> tuple[list[RecordedResource], RecordedResource]:
    """The plan's resources with one changed, and that changed resource."""
    matches = [r for r in plan.resources if r.name == name]
    assert len(matches) == 1, f"{name}: {len(matches)} resources"
    inputs = copy.deepcopy(matches[0].inputs)
    mutate(inputs)
    changed = dataclasses.replace(matches[0], inputs=inputs)
    return [changed if r is matches[0] else r for r in plan.resources], changed


def new_findings_of_one_change(resources, changed, config, baseline) -> set[tuple[str, str | None, str]]:
    """What ``evaluate`` of the changed plan reports beyond the baseline, without re-judging what did not change.

    ``evaluate`` runs a resource rule on each resource alone (a pure function of that resource and the
    rule's settings), so on the ~1,600 unchanged resources it reports exactly the baseline's findings and
    none can be new: only the changed resource goes through the resource rules. Stack rules judge the plan
    as a whole and still run over all of it. Messages are masked with the stack's secrets, which prod has
    none of (asserted), so a message reads the same whichever resources are passed.
    ``test_judging_only_the_changed_resource_finds_what_the_whole_plan_does`` checks both against each other.
    """
    assert not any(r.secret_values for r in resources), "masking would depend on the other resources"
    found = evaluate([changed], stack_rules=(), config=config) + evaluate(resources, resource_rules=(), config=config)
    return {(v.policy, v.urn, v.message) for v in found} - baseline


@pytest.mark.parametrize(("scenario", "name", "mutate", "expected"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_breaking_one_thing_fires_exactly_its_rule(
    prod_plan, strict_config, baseline, scenario, name, mutate, expected
):
    resources, changed = mutated_with_change(prod_plan, name, mutate)
    fired = {policy for policy, _, _ in new_findings_of_one_change(resources, changed, strict_config, baseline)}
    assert fired == expected, scenario


# Mutations that fire both a resource rule and a stack rule.
CROSS_CHECKED = ("give the pipeline role admin", "suspend versioning")


@pytest.mark.parametrize("scenario", CROSS_CHECKED)
def test_judging_only_the_changed_resource_finds_what_the_whole_plan_does(prod_plan, strict_config, baseline, scenario):
    """The shortcut of the test above is exact: the same findings, message for message, as ``evaluate`` of all."""
    _, name, mutate, expected = next(m for m in MUTATIONS if m[0] == scenario)
    resources, changed = mutated_with_change(prod_plan, name, mutate)
    whole = {(v.policy, v.urn, v.message) for v in evaluate(resources, config=strict_config)} - baseline
    assert whole == new_findings_of_one_change(resources, changed, strict_config, baseline)
    assert {policy for policy, _, _ in whole} == expected


def test_every_mutation_is_still_there():
    """Each mutation is a mutant the pack must kill: the table may grow, never silently shrink."""
    assert len(MUTATIONS) >= 54
    assert len({scenario for scenario, *_ in MUTATIONS}) == len(MUTATIONS)


def test_exempting_the_dev_dispatch_token_without_a_reason_or_an_age_fires_secret_rotation(dev_plan, strict_config):
    """prod holds no secret at all (the GitHub App's key lives in KMS), so this case runs on dev's token."""
    dev_baseline = {(v.policy, v.urn, v.message) for v in evaluate(dev_plan.resources, config=strict_config)}
    no_reason = mutated(dev_plan, "github-dispatch-token", lambda i: i["tags"].update({"rotation-exempt": ""}))
    no_age = mutated(dev_plan, "github-dispatch-token", lambda i: i["tags"].pop("rotation-exempt-max-age-days"))
    assert new_rules(no_reason, strict_config, dev_baseline) == {"secret-rotation"}
    assert new_rules(no_age, strict_config, dev_baseline) == {"secret-rotation"}


def test_an_added_access_key_fires_keyless_federation(prod_plan, strict_config, baseline):
    key = RecordedResource(
        urn="urn:pulumi:prod::cicd-platform::aws:iam/accessKey:AccessKey::ci-key",
        type="aws:iam/accessKey:AccessKey",
        name="ci-key",
        parent=None,
        provider=None,
        custom=True,
        inputs={"user": "ci"},
    )
    assert new_rules([*prod_plan.resources, key], strict_config, baseline) == {"keyless-federation"}


def test_the_mutations_cover_most_of_the_pack():
    covered = set().union(*(expected for *_, expected in MUTATIONS)) | {"keyless-federation", "secret-rotation"}
    assert len(covered) >= 40
