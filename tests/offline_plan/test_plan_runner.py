"""The offline plan: its JSON contract, its summary, and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
import yaml

from components.model.errors import PlatformInputError
from offline_plan.report import plan_document, render_summary, write_guardrail_scp, write_plan
from offline_plan.runner import run_plan
from offline_plan.stack_config import OFFLINE_SECRET_PLACEHOLDER, read_stack_config
from tests.conftest import PROJECT_DIR, service_entry


def write_catalog(tmp_path: Path, raw) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_plan_document_keeps_the_contract_shape(dev_plan):
    plan = plan_document(dev_plan)
    assert {"stack", "resources", "policy", "summary"} <= set(plan)
    assert plan["stack"] == "dev"
    for entry in plan["resources"]:
        # Fields are added over time, never renamed or removed.
        assert {"urn", "type", "name", "parent", "provider", "inputs"} <= set(entry)
        assert all(dependency.startswith("urn:pulumi:dev::") for dependency in entry["dependencies"])
    assert [entry["urn"] for entry in plan["resources"]] == sorted(entry["urn"] for entry in plan["resources"])
    assert all(violation["level"] == "advisory" for violation in plan["policy"]["violations"])
    assert all(
        set(violation) == {"policy", "level", "urn", "message", "remediation"}
        for violation in plan["policy"]["violations"]
    )
    summary = plan["summary"]
    assert summary["violations"]["mandatory"] == 0
    assert summary["violations"]["advisory"] == len(plan["policy"]["violations"])
    assert sum(summary["violationsByRule"]["advisory"].values()) == summary["violations"]["advisory"]
    assert summary["resourcesByType"]["aws:codepipeline/pipeline:Pipeline"] == len(summary["pipelines"]) * 4
    assert summary["pipelines"]["booking"]["prod"] == {
        "name": "booking-prod",
        "pipelineType": "V2",
        "branchFilter": ["main"],
        "stages": ["Source", "Build", "Scan", "Approve", "Deploy"],
    }
    json.dumps(plan)


# Determinism (same input, same bytes) is proven across processes in tests/test_make_plan.py.


def test_summary_lists_pipelines_per_service_and_environment(dev_plan, tmp_path):
    text = render_summary(dev_plan, plan_document(dev_plan)["summary"], tmp_path / "plan-dev.json")
    assert "booking: dev (feature/**), qa (develop), staging (release/**), prod (main)" in text
    advisory = len(dev_plan.violations)
    assert f"policy: 0 mandatory, {advisory} advisory violation(s)" in text


def test_the_prod_plan_is_written_and_summarised_as_the_command_does(prod_plan, tmp_path):
    """What `make plan STACK=prod` does after planning, on the full prod plan (the command itself is
    run end to end on a small catalog in tests/test_make_plan.py)."""
    document = plan_document(prod_plan)
    path = write_plan(document, tmp_path)
    assert json.loads(path.read_text())["stack"] == "prod"
    text = render_summary(prod_plan, document["summary"], path)
    assert text.startswith(f"offline plan of stack 'prod': {document['summary']['resourceCount']} resources")
    assert "\n  booking: " in text
    assert "policy: 0 mandatory" in text
    scp = write_guardrail_scp(document, tmp_path)
    assert scp is not None and json.loads(scp.read_text())["Statement"]


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda c: service_entry(c, "auth").update(depends_on=["booking"]), ["field 'depends_on'", "dependency cycle"]),
        (
            lambda c: service_entry(c, "booking").update(depends_on=["auth", "paymnts"]),
            ["service 'booking'", "field 'depends_on[1]'", "unknown service 'paymnts'"],
        ),
        (
            lambda c: service_entry(c, "payments").update(accounts={"prod": "4555"}),
            ["service 'payments'", "field 'accounts.prod'"],
        ),
    ],
)
def test_bad_catalog_is_refused_before_any_resource(catalog_raw, tmp_path, mutate, fragments):
    mutate(catalog_raw)
    with pytest.raises(PlatformInputError) as caught:
        run_plan(PROJECT_DIR, "dev", str(write_catalog(tmp_path, catalog_raw)))
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_credentials_for_another_account_stop_the_program(tmp_path):
    with pytest.raises(pulumi.RunError, match="credentials are for account 999999999999"):
        run_plan(PROJECT_DIR, "dev", caller_account_id="999999999999")


def test_unknown_stack_is_reported():
    with pytest.raises(PlatformInputError, match=r"Pulumi.nosuch.yaml: file not found"):
        run_plan(PROJECT_DIR, "nosuch")


def test_misspelt_project_config_key_is_refused(tmp_path):
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((PROJECT_DIR / name).read_text())
    stack_file = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_file + "  cicd-platform:slackChanel: '#typo'\n")
    with pytest.raises(PlatformInputError, match=r"Pulumi.dev.yaml: field 'cicd-platform:slackChanel': unknown key"):
        run_plan(tmp_path, "dev")


def test_stack_file_that_is_not_utf8_gets_one_located_error(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    stack_file = (PROJECT_DIR / "Pulumi.dev.yaml").read_text().replace("#platform-sandbox", "#plat\u00e9form")
    (tmp_path / "Pulumi.dev.yaml").write_bytes(stack_file.encode("latin-1"))
    with pytest.raises(PlatformInputError, match=r"^Pulumi\.dev\.yaml: is not valid UTF-8 \(line \d+"):
        run_plan(tmp_path, "dev")


def test_secure_config_values_become_marked_placeholders(tmp_path):
    (tmp_path / "Pulumi.demo.yaml").write_text(
        "config:\n  cicd-platform:slackWebhook:\n    secure: AAABAKx0\n  aws:region: eu-west-1\n  plain: 3\n"
    )
    config = read_stack_config(tmp_path, "demo", "cicd-platform")
    assert config.values["cicd-platform:slackWebhook"] == OFFLINE_SECRET_PLACEHOLDER
    assert config.secret_keys == ["cicd-platform:slackWebhook"]
    assert config.values["cicd-platform:plain"] == "3"


def test_command_line_exit_codes_and_single_error_line(catalog_raw, tmp_path):
    service_entry(catalog_raw, "auth")["depends_on"] = ["booking"]
    catalog = write_catalog(tmp_path, catalog_raw)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "offline_plan", "--stack", "dev", "--catalog", str(catalog), "--out", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "dependency cycle" in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists(), "a refused plan must not leave a plan file behind"


def test_a_wrongly_typed_policy_config_value_is_one_located_line_and_exit_2(tmp_path):
    """On today's main this crashes make plan with a TypeError deep inside log-retention."""
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"log-retention": {"minimumDays": "90"}}))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "offline_plan", "--stack", "dev", "--policy-config", str(config), "--out", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: policy 'log-retention': field 'minimumDays': '90' is not of type 'integer'"
    ]
    assert not out.exists(), "a refused plan must not leave a plan file behind"


def test_the_default_policy_config_is_named_relative_to_the_project(tmp_path):
    from offline_plan.runner import load_policy_config

    config = PROJECT_DIR / "policies" / "policy-config.json"
    assert load_policy_config(config, PROJECT_DIR).properties_of("log-retention") == {"minimumDays": 90}
    broken = tmp_path / "policies" / "policy-config.json"
    broken.parent.mkdir()
    broken.write_text('{"prod-queued": "off"}')
    with pytest.raises(PlatformInputError) as refused:
        load_policy_config(broken, tmp_path)
    assert str(refused.value) == (
        "policies/policy-config.json: policy 'prod-queued': "
        "enforcementLevel 'off' is not one of advisory, mandatory, remediate, disabled"
    )
