"""The dispatch component in the GitHub App mode: no secret, a KMS signing key only its function may use."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.github.dispatch_function import GitHubDispatch, GitHubDispatchArgs
from components.model.credentials import EXEMPT_TAG, MAX_AGE_TAG
from components.model.platform_inputs import PlatformInputs, load_platform_inputs
from offline_plan.mocks import AwsMocks
from offline_plan.policy_check import evaluate
from offline_plan.recorder import RecordedResource, RecordingMonitor
from tests.conftest import PROJECT_DIR, document, stack_settings

APP = {"mode": "app", "appId": 424242, "installationId": 77}
ROLE = "arn:aws:iam::210987654321:role/cicd-github-dispatch-dev"


def record(inputs: PlatformInputs) -> list[RecordedResource]:
    mocks = AwsMocks(tooling_account_id=inputs.settings.tooling_account_id, region=inputs.settings.region)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="cicd-platform", stack="dev", preview=False, monitor=monitor)
    _sync_await(run_pulumi_func(lambda: GitHubDispatch("github-dispatch", GitHubDispatchArgs(inputs=inputs))))
    return [r for r in monitor.recorded if r.type != "pulumi:pulumi:Stack"]


@pytest.fixture(scope="module")
def recorded() -> list[RecordedResource]:
    settings = {**stack_settings("dev"), "githubCredentials": APP}
    return record(load_platform_inputs(settings, "dev", PROJECT_DIR))


def only(recorded: list[RecordedResource], resource_type: str) -> dict[str, Any]:
    found = [r.inputs for r in recorded if r.type == resource_type]
    assert len(found) == 1, (resource_type, len(found))
    return found[0]


def test_no_secret_holds_a_github_credential(recorded) -> None:
    assert not [r for r in recorded if r.type.startswith("aws:secretsmanager/")]
    variables = only(recorded, "aws:lambda/function:Function")["environment"]["variables"]
    assert "GITHUB_TOKEN_SECRET_ARN" not in variables
    assert variables["GITHUB_AUTH_MODE"] == "app"
    assert variables["GITHUB_APP_ID"] == "424242"
    assert variables["GITHUB_APP_INSTALLATION_ID"] == "77"
    assert variables["GITHUB_APP_KEY_ARN"].startswith("arn:aws:kms:eu-west-1:210987654321:key/")


def test_the_app_key_is_an_rsa_2048_signing_key_awaiting_imported_material(recorded) -> None:
    key = only(recorded, "aws:kms/externalKey:ExternalKey")
    assert (key["keySpec"], key["keyUsage"]) == ("RSA_2048", "SIGN_VERIFY")
    assert "keyMaterialBase64" not in key, "Pulumi never holds the App's private key"
    aliases = [r.inputs["name"] for r in recorded if r.type == "aws:kms/alias:Alias"]
    assert "alias/cicd-github-app-dev" in aliases


def test_only_the_dispatch_role_may_sign_and_administrators_may_not(recorded) -> None:
    statements = document(only(recorded, "aws:kms/externalKey:ExternalKey")["policy"])["Statement"]

    def actions(statement: dict[str, Any]) -> list[str]:
        action = statement["Action"]
        return [action] if isinstance(action, str) else action

    signers = [s for s in statements if any(a in ("kms:Sign", "kms:*", "*") for a in actions(s))]
    assert [s["Principal"] for s in signers] == [{"AWS": ROLE}]
    assert signers[0]["Condition"]["StringEquals"]["kms:SigningAlgorithm"] == "RSASSA_PKCS1_V1_5_SHA_256"
    admin = next(s for s in statements if s["Sid"] == "KeyAdministration")
    assert not any(a.startswith("kms:Sign") or a == "kms:*" for a in actions(admin))
    importer = next(s for s in statements if s["Sid"] == "ImportGitHubAppKey")
    assert importer["Action"] == "kms:ImportKeyMaterial"


def test_the_role_signs_with_that_key_and_reads_no_secret(recorded) -> None:
    policy = document(only(recorded, "aws:iam/rolePolicy:RolePolicy")["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert "ReadGitHubToken" not in statements
    assert statements["SignGitHubAppJwt"]["Action"] == "kms:Sign"
    assert statements["SignGitHubAppJwt"]["Resource"].startswith("arn:aws:kms:eu-west-1:210987654321:key/")
    assert '"secretsmanager:' not in json.dumps(statements), "no Secrets Manager action at all"


def test_the_policy_pack_finds_no_mandatory_violation(recorded) -> None:
    assert [v for v in evaluate(recorded) if v.level == "mandatory"] == []


def test_the_token_mode_secret_carries_its_reason_and_its_maximum_age() -> None:
    settings = {**stack_settings("dev"), "githubCredentials": {"mode": "token", "maxAgeDays": 60}}
    secret = only(record(load_platform_inputs(settings, "dev", PROJECT_DIR)), "aws:secretsmanager/secret:Secret")
    assert "personal access token" in secret["tags"][EXEMPT_TAG]
    assert secret["tags"][MAX_AGE_TAG] == "60"
