"""Secrets in the offline plan: judged by their plain value (as over the CLI's gRPC protocol), never written or shown.

The policy server hands a policy every secret unwrapped (``deserialize_properties``),
so on the real path a secret-valued trust policy is judged by what it says. The
offline plan must judge it the same way, while its plan file and its printed
summary keep showing ``"[secret]"``.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.model.platform_inputs import load_platform_inputs
from offline_plan.mocks import AwsMocks
from offline_plan.policy_check import evaluate
from offline_plan.recorder import REDACTED, RecordedResource, RecordingMonitor, mask_secrets
from offline_plan.report import plan_document, render_summary, write_plan
from offline_plan.runner import Plan
from tests.conftest import PROJECT_DIR, stack_settings

WIDE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AnyoneAtAll", "Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
        ],
    }
)
RETIRED_RUNTIME = "python3.8"


def fragment() -> None:
    """A careless edit: a role whose trust policy came from a secret, and a function whose runtime did."""
    aws.iam.Role("wide-trust", name="cicd-wide-trust", assume_role_policy=pulumi.Output.secret(WIDE_TRUST))
    aws.lambda_.Function(
        "secret-runtime",
        name="cicd-secret-runtime",
        role="arn:aws:iam::210987654321:role/cicd-secret-runtime",
        runtime=pulumi.Output.secret(RETIRED_RUNTIME),
        handler="handler.handler",
        code=pulumi.AssetArchive({}),
        environment={"variables": {"SLACK_TOKEN": pulumi.Output.secret("xoxb-0000-secret-token")}},
    )


@pytest.fixture(scope="module")
def recorded() -> list[RecordedResource]:
    mocks = AwsMocks(tooling_account_id="210987654321", region="eu-west-1")
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="cicd-platform", stack="dev", preview=False, monitor=monitor)
    _sync_await(run_pulumi_func(fragment))
    return list(monitor.recorded)


def by_name(recorded: list[RecordedResource], name: str) -> RecordedResource:
    return next(resource for resource in recorded if resource.name == name)


def test_the_recorded_inputs_redact_the_secret_but_the_pack_sees_it(recorded):
    role = by_name(recorded, "wide-trust")
    assert role.inputs["assumeRolePolicy"] == REDACTED
    assert role.policy_inputs["assumeRolePolicy"] == WIDE_TRUST
    assert WIDE_TRUST not in repr(role), "the plain value must not leak through repr either"


def test_a_secret_valued_trust_policy_open_to_everyone_fires_iam_trust_scoped(recorded):
    """On today's main the pack saw only "[secret]" here and said nothing."""
    findings = [v for v in evaluate(recorded) if v.policy == "iam-trust-scoped"]
    # The message names the statement by its Sid, which is part of the secret document: masked too.
    assert [(v.urn.rsplit("::", 1)[-1], v.message) for v in findings] == [
        ("wide-trust", f"trust statement {REDACTED} lets any AWS principal assume the role")
    ]


def test_a_secret_in_a_lambda_environment_is_judged_too(recorded):
    assert any(v.policy == "lambda-env-secrets" and "SLACK_TOKEN" in v.message for v in evaluate(recorded))


def test_a_finding_that_would_quote_a_secret_is_masked(recorded):
    (runtime,) = [v for v in evaluate(recorded) if v.policy == "lambda-runtime"]
    assert runtime.message == f"function cicd-secret-runtime uses the deprecated runtime {REDACTED}"


def test_the_plan_file_and_the_summary_show_only_the_redacted_value(recorded, tmp_path):
    inputs = load_platform_inputs(stack_settings("dev"), "dev", PROJECT_DIR)
    plan = Plan(
        stack="dev",
        project="cicd-platform",
        inputs=inputs,
        resources=recorded,
        outputs={},
        violations=evaluate(recorded),
        seconds=0.0,
    )
    document = plan_document(plan)
    path = write_plan(document, tmp_path)
    written = path.read_text(encoding="utf-8")
    printed = render_summary(plan, document["summary"], path)
    for text in (written, printed):
        for secret in ("AnyoneAtAll", RETIRED_RUNTIME, "xoxb-0000-secret-token"):
            assert secret not in text
    role = next(entry for entry in json.loads(written)["resources"] if entry["name"] == "wide-trust")
    assert role["inputs"]["assumeRolePolicy"] == REDACTED
    assert any(v["policy"] == "iam-trust-scoped" for v in json.loads(written)["policy"]["violations"])
    assert "[mandatory] iam-trust-scoped: 1 finding(s)" in printed


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("runtime python3.8 is retired", ["python3.8"], f"runtime {REDACTED} is retired"),
        # As the CLI's filter: too short to mask without masking ordinary words.
        ("port 22 is open", ["22"], "port 22 is open"),
        ("enabled is true", ["true"], "enabled is true"),
        # A secret quoted inside JSON text is caught in its escaped form.
        ('{"doc": "say \\"hi\\""}', ['say "hi"'], f'{{"doc": "{REDACTED}"}}'),
        # The longer secret wins over one it contains.
        ("token abc-123-xyz", ["abc", "abc-123-xyz"], f"token {REDACTED}"),
    ],
)
def test_masking_follows_the_cli_filter(text, secrets, expected):
    assert mask_secrets(text, secrets) == expected
