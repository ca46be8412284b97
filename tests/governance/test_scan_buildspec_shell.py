"""The scan buildspec's shell, run for real with stand-in scanners: syntax, exit codes, reports."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from components.governance import scans

FIXTURES = Path(__file__).parent / "fixtures"
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")


def rendered_phases(plan):
    text = scans.scan_buildspec(plan.inputs.catalog.service("booking"), plan.inputs)
    return yaml.safe_load(text)["phases"]


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def run_build(dev_plan, tmp_path, scanner, fail_on, tools, phase="build", **extra_env):
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir(exist_ok=True)
    shutil.copy(scans.SCAN_REPORT_SCRIPT, scan_dir / "scan_report.py")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in tools.items():
        fake_tool(bin_dir, name, script)
    command = rendered_phases(dev_plan)[phase]["commands"][0].replace("/tmp/scan", str(scan_dir))
    command = command.replace("/opt/", f"{tmp_path}/opt/")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SCANNER": scanner,
        "FAIL_ON": fail_on,
        "TARGET_ENVIRONMENT": "qa",
        "SERVICE_NAME": "booking",
        "SERVICE_LANGUAGE": "kotlin",
        "TOOLING_ACCOUNT_ID": "210987654321",
        "AWS_REGION": "eu-west-1",
        "AWS_PARTITION": "aws",
        "REPOSITORY": "bookwise/booking",
        "COMMIT_ID": "0a1b2c3d",
        "LICENSE_DENY_LIST": "AGPL-3.0-only",
        **extra_env,
    }
    done = subprocess.run([BASH, "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    return done, scan_dir


@pytest.mark.parametrize("phase", ["install", "build", "post_build"])
def test_every_phase_is_valid_bash(dev_plan, phase):
    for command in rendered_phases(dev_plan)[phase]["commands"]:
        checked = subprocess.run([BASH, "-n", "-c", command], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr


def test_leaked_secrets_fail_the_build_and_leave_a_report(dev_plan, tmp_path):
    gitleaks = f'while [ "$1" != "--report-path" ]; do shift; done; cp {FIXTURES / "gitleaks.json"} "$2"\n'
    done, scan_dir = run_build(dev_plan, tmp_path, "secrets", "CRITICAL", {"gitleaks": gitleaks})
    assert done.returncode == 1, done.stderr
    assert (scan_dir / "junit" / "secrets-gitleaks.xml").is_file()
    (batch,) = (scan_dir / "asff" / "gitleaks").glob("findings-*.json")
    assert len(json.loads(batch.read_text())) == 2


def test_vulnerabilities_below_the_threshold_pass(dev_plan, tmp_path):
    # Only lodash and golang.org/x/net (HIGH, MEDIUM, MEDIUM); osv-scanner exits 1 when it finds any.
    report = json.loads((FIXTURES / "osv.json").read_text())
    report["results"][0]["packages"] = report["results"][0]["packages"][:2]
    (tmp_path / "osv-out.json").write_text(json.dumps(report))
    done, _ = run_build(
        dev_plan, tmp_path, "sca", "CRITICAL", {"osv-scanner": f"cat {tmp_path / 'osv-out.json'}; exit 1\n"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 finding(s), 0 at or above CRITICAL" in done.stdout


def test_a_repository_without_manifests_passes_the_dependency_scan(dev_plan, tmp_path):
    done, _ = run_build(
        dev_plan, tmp_path, "sca", "LOW", {"osv-scanner": "echo 'No package sources found' >&2; exit 128\n"}
    )
    assert done.returncode == 0, done.stderr


def test_a_crashing_scanner_fails_the_build(dev_plan, tmp_path):
    done, _ = run_build(dev_plan, tmp_path, "sca", "CRITICAL", {"osv-scanner": "echo boom >&2; exit 127\n"})
    assert done.returncode != 0
    assert "osv-scanner failed (127)" in done.stdout


def test_iac_findings_at_the_production_threshold_fail(dev_plan, tmp_path):
    checkov = f"cat {FIXTURES / 'checkov.json'}\n"
    done, scan_dir = run_build(dev_plan, tmp_path, "iac", "HIGH", {"checkov": checkov})
    assert done.returncode == 1
    assert (scan_dir / "junit" / "iac-checkov.xml").is_file()


def test_semgrep_findings_at_the_threshold_fail(dev_plan, tmp_path):
    semgrep = f'while [ "$1" != "--output" ]; do shift; done; cp {FIXTURES / "semgrep.json"} "$2"\n'
    done, scan_dir = run_build(dev_plan, tmp_path, "sast", "HIGH", {"semgrep": semgrep})
    assert done.returncode == 1, done.stderr
    assert (scan_dir / "junit" / "sast-semgrep.xml").is_file()


def test_sonarqube_replaces_semgrep_and_its_gate_does_not_decide(dev_plan, tmp_path):
    tools = {
        "sonar": 'echo "$*" > sonar-args; [ -n "$SONAR_TOKEN" ] && exit 1\n',  # quality gate failed
        "curl": f'while [ "$1" != "-o" ]; do shift; done; cp {FIXTURES / "sonarqube.json"} "$2"\n',
        "semgrep": "echo semgrep must not run >&2; exit 99\n",
    }
    done, scan_dir = run_build(
        dev_plan,
        tmp_path,
        "sast",
        "CRITICAL",
        tools,
        SONAR_HOST_URL="https://sonar.bookwise.example",
        SONAR_PROJECT_KEY="bookwise_booking",
        SONAR_TOKEN="squ_test",
    )
    assert done.returncode == 0, done.stdout + done.stderr  # HIGH and MEDIUM issues, CRITICAL threshold
    assert (scan_dir / "junit" / "sast-sonarqube.xml").is_file()
    arguments = (tmp_path / "sonar-args").read_text()
    assert "squ_test" not in arguments
    assert "-Dsonar.java.binaries=" in arguments  # booking is Kotlin


def test_the_sbom_is_kept_next_to_the_build_by_commit_and_licenses_are_checked(dev_plan, tmp_path):
    tools = {
        "cdxgen": 'echo "$*" > cdxgen-args; while [ "$1" != "-o" ]; do shift; done; '
        f'cp {FIXTURES / "sbom.cdx.json"} "$2"\n',
        "aws": 'echo "$*" > aws-args\n',
    }
    done, _ = run_build(
        dev_plan,
        tmp_path,
        "licenses",
        "CRITICAL",
        tools,
        ARTIFACT_BUCKET="cicd-artifacts-dev",
        ARTIFACT_KEY_ARN="arn:aws:kms:eu-west-1:210987654321:key/k",
        SECURITY_REPORTS_PREFIX="security_reports/booking",
    )
    assert done.returncode == 1, done.stderr  # mongo-express-fork is AGPL-3.0-only
    upload = (tmp_path / "aws-args").read_text().split()
    assert upload[:2] == ["s3", "cp"]
    assert upload[3] == "s3://cicd-artifacts-dev/security_reports/booking/sbom/0a1b2c3d.cdx.json"
    assert upload[4:] == ["--sse", "aws:kms", "--sse-kms-key-id", "arn:aws:kms:eu-west-1:210987654321:key/k"]
    assert (tmp_path / "cdxgen-args").read_text().startswith("-t java ")  # booking is Kotlin


def test_dast_runs_the_zap_plan_against_the_target(dev_plan, tmp_path):
    zap_dir = tmp_path / "opt" / "ZAP_2.16.1"
    zap_dir.mkdir(parents=True)
    # Stand-in ZAP: keep the plan it was given, answer with a real report where the plan asks for it.
    fake_tool(
        zap_dir,
        "zap.sh",
        f'while [ "$1" != "-autorun" ]; do shift; done; cp "$2" zap-plan.yaml\n'
        f'cp {FIXTURES / "zap.json"} "$ZAP_REPORT"\n',
    )
    scan_dir = tmp_path / "scan"
    done, _ = run_build(
        dev_plan,
        tmp_path,
        "dast",
        "HIGH",
        {},
        ZAP_VERSION="2.16.1",
        TARGET_URL="https://booking.qa.bookwise.example",
        ZAP_REPORT=str(scan_dir / "zap" / "zap.json"),
    )
    assert done.returncode == 1, done.stdout + done.stderr  # a High alert (reflected XSS)
    plan = yaml.safe_load((tmp_path / "zap-plan.yaml").read_text())
    assert plan["env"]["contexts"][0]["urls"] == ["${TARGET_URL}"]  # ZAP substitutes it from the environment
    assert plan["jobs"][-1]["parameters"]["reportDir"] == str(scan_dir / "zap")
    assert (scan_dir / "junit" / "dast-zap.xml").is_file()


@pytest.mark.parametrize(("failed", "code"), [("0", 0), ("2", 1)])
def test_findings_security_hub_refuses_fail_the_build(dev_plan, tmp_path, failed, code):
    batch = tmp_path / "scan" / "asff" / "gitleaks"
    batch.mkdir(parents=True)
    (batch / "findings-0000.json").write_text("[]")
    done, _ = run_build(
        dev_plan, tmp_path, "secrets", "HIGH", {"aws": f'echo "$*" >> aws-calls; echo {failed}\n'}, phase="post_build"
    )
    assert done.returncode == code, done.stdout + done.stderr
    call = (tmp_path / "aws-calls").read_text()
    assert call.startswith("securityhub batch-import-findings --findings file://")
