"""The scan report script against realistic output of each scanner: severities, verdicts, reports, ASFF."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.conftest import PROJECT_DIR

FIXTURES = Path(__file__).parent / "fixtures"
SCRIPT = PROJECT_DIR / "components" / "governance" / "buildspecs" / "scan_report.py"
NOW = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)

_spec = importlib.util.spec_from_file_location("scan_report", SCRIPT)
scan_report = importlib.util.module_from_spec(_spec)
sys.modules["scan_report"] = scan_report  # dataclasses look their module up by name
_spec.loader.exec_module(scan_report)


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def by_rule(findings):
    return {finding.rule_id: finding for finding in findings}


def argv(tmp_path, reader, output_path, fail_on):
    """A minimal command line, as the DAST or scan buildspec would pass it."""
    return [
        *(reader, str(output_path), "--fail-on", fail_on, "--junit", str(tmp_path / "j.xml")),
        *("--asff-dir", str(tmp_path / "asff"), "--service", "booking", "--environment", "dev"),
        *("--account", "123456789012", "--region", "eu-west-1"),
    ]


def run(tmp_path, reader, output, fail_on, *extra):
    code = scan_report.run(
        [
            reader,
            str(FIXTURES / output),
            "--fail-on",
            fail_on,
            "--junit",
            str(tmp_path / "junit.xml"),
            "--asff-dir",
            str(tmp_path / "asff"),
            "--service",
            "booking",
            "--environment",
            "prod",
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
            "--repository",
            "bookwise/booking",
            "--commit",
            "0a1b2c3d",
            *extra,
        ],
        now=NOW,
    )
    batches = [json.loads(path.read_text()) for path in sorted((tmp_path / "asff").glob("*.json"))]
    return code, ElementTree.parse(tmp_path / "junit.xml").getroot(), [f for batch in batches for f in batch]


def test_semgrep_rule_levels_map_onto_the_platform_scale():
    findings = by_rule(scan_report.read_semgrep(fixture("semgrep.json")))
    shell = findings["python.lang.security.audit.subprocess-shell-true.subprocess-shell-true"]
    assert (shell.severity, shell.path, shell.line) == ("HIGH", "app/export.py", 42)
    assert findings["python.flask.security.audit.debug-enabled.debug-enabled"].severity == "MEDIUM"
    assert findings["python.lang.best-practice.open-never-closed.open-never-closed"].severity == "LOW"


def test_sonarqube_prefers_the_new_impact_severity_over_the_legacy_one():
    findings = by_rule(scan_report.read_sonarqube(fixture("sonarqube.json")))
    assert findings["java:S3649"].severity == "HIGH"
    assert findings["java:S3649"].path == "src/main/java/com/bookwise/booking/SearchDao.java"
    assert findings["java:S2068"].severity == "MEDIUM"


def test_osv_uses_the_cvss_score_then_the_database_word_and_rates_unscored_medium():
    findings = by_rule(scan_report.read_osv(fixture("osv.json")))
    assert findings["GHSA-p6mc-m468-83gw"].severity == "HIGH"
    assert findings["GHSA-29mw-wpgm-hmr9"].severity == "MEDIUM"
    assert findings["GHSA-xvch-5gv4-984h"].severity == "CRITICAL"
    assert findings["GO-2024-2687"].severity == "MEDIUM"
    assert findings["GO-2024-2687"].original_severity == "unscored"
    assert findings["GHSA-p6mc-m468-83gw"].path == "package-lock.json"


def test_snyk_reports_a_vulnerability_once_however_many_paths_lead_to_it():
    findings = scan_report.read_snyk(fixture("snyk.json"))
    assert [(f.rule_id, f.severity) for f in findings] == [("SNYK-JS-LODASH-567746", "HIGH")]


def test_snyk_errors_fail_closed():
    with pytest.raises(scan_report.UnreadableOutputError, match="authentication"):
        scan_report.read_snyk({"ok": False, "error": "authentication failed"})


def test_checkov_rates_unrated_checks_high_and_keeps_rated_ones():
    findings = by_rule(scan_report.read_checkov(fixture("checkov.json")))
    assert findings["CKV_AWS_18"].severity == "HIGH"
    assert findings["CKV_AWS_18"].original_severity == "unrated"
    assert findings["CKV_AWS_20"].severity == "CRITICAL"
    assert findings["CKV_DOCKER_3"].path == "Dockerfile"


def test_checkov_with_nothing_to_scan_finds_nothing():
    assert scan_report.read_checkov(fixture("checkov-nothing.json")) == []


def test_every_leaked_secret_is_critical():
    findings = scan_report.read_gitleaks(fixture("gitleaks.json"))
    assert {f.severity for f in findings} == {"CRITICAL"}
    assert {f.path for f in findings} == {"config/settings.ini", "scripts/notify.sh"}


def test_denied_licenses_respect_or_and_and():
    findings = scan_report.read_cyclonedx_licenses(fixture("sbom.cdx.json"), ["AGPL-3.0-only", "SSPL-1.0"])
    denied = {f.path: f for f in findings}
    assert set(denied) == {"pkg:npm/mongo-express-fork@1.2.0", "pkg:npm/combined@0.3.1"}
    assert {f.severity for f in findings} == {"CRITICAL"}


def test_an_empty_deny_list_denies_nothing():
    assert scan_report.read_cyclonedx_licenses(fixture("sbom.cdx.json"), []) == []


def test_zap_risk_codes_map_high_medium_low():
    findings = by_rule(scan_report.read_zap(fixture("zap.json")))
    assert findings["zap-40012"].severity == "HIGH"
    assert findings["zap-10038-1"].severity == "MEDIUM"
    assert findings["zap-10020-1"].severity == "LOW"
    assert "<p>" not in findings["zap-10038-1"].description


@pytest.mark.parametrize(
    ("reader", "output"),
    [("semgrep", "osv.json"), ("osv", "gitleaks.json"), ("gitleaks", "semgrep.json"), ("zap", "sbom.cdx.json")],
)
def test_output_of_another_scanner_is_refused(tmp_path, reader, output):
    # Either shape check refuses it; run() turns both into exit code 2.
    with pytest.raises((scan_report.UnreadableOutputError, KeyError)):
        scan_report.READERS[reader](fixture(output))


def test_unreadable_output_fails_the_build_with_code_2(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code = scan_report.run(argv(tmp_path, "semgrep", broken, "HIGH"))
    assert code == 2


def test_findings_at_the_threshold_fail_the_build_and_the_rest_are_skipped(tmp_path):
    code, junit, asff = run(tmp_path, "osv", "osv.json", "HIGH")
    assert code == 1
    suite = junit.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "2")
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert all(name.startswith(("[HIGH]", "[CRITICAL]")) for name in failed)
    assert {f["Severity"]["Label"] for f in asff} == {"HIGH", "CRITICAL"}


def test_a_laxer_threshold_passes_the_same_findings(tmp_path):
    code, junit, asff = run(tmp_path, "osv", "osv.json", "CRITICAL")
    assert code == 1  # minimist is CRITICAL
    code, junit, asff = run(tmp_path, "semgrep", "semgrep.json", "CRITICAL")
    assert (code, asff) == (0, [])
    assert junit.find("testsuite").get("skipped") == "3"


def test_a_clean_scan_still_shows_a_passing_case(tmp_path):
    (tmp_path / "clean.json").write_text(json.dumps({"results": [], "errors": []}))
    code = scan_report.run(argv(tmp_path, "semgrep", tmp_path / "clean.json", "LOW"))
    cases = list(ElementTree.parse(tmp_path / "j.xml").getroot().iter("testcase"))
    assert code == 0
    assert [case.get("name") for case in cases] == ["no findings"]
    assert list((tmp_path / "asff").glob("*.json")) == []


def test_asff_findings_carry_what_security_hub_requires(tmp_path):
    _, _, asff = run(tmp_path, "semgrep", "semgrep.json", "HIGH")
    (finding,) = asff
    required = {"SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt"}
    required |= {"UpdatedAt", "Severity", "Title", "Description", "Resources"}
    assert required <= set(finding)
    assert finding["ProductArn"] == "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
    assert finding["AwsAccountId"] == "123456789012"
    assert finding["FindingProviderFields"]["Severity"] == finding["Severity"]
    assert finding["CreatedAt"] == "2026-11-29T15:30:00.000Z"
    assert finding["SourceUrl"] == "https://github.com/bookwise/booking/blob/0a1b2c3d/app/export.py#L42"
    assert finding["ProductFields"]["cicd-platform/Environment"] == "prod"
    assert len(finding["Title"]) <= 256 and len(finding["Description"]) <= 1024


def test_finding_ids_survive_a_rerun_and_code_moving_down_the_file():
    first = scan_report.read_semgrep(fixture("semgrep.json"))
    moved = fixture("semgrep.json")
    for result in moved["results"]:
        result["start"]["line"] += 30
    second = scan_report.read_semgrep(moved)
    assert scan_report.stable_ids("booking", first) == scan_report.stable_ids("booking", second)
    assert len(set(scan_report.stable_ids("booking", first))) == len(first)


def test_two_findings_of_one_rule_in_one_file_get_two_ids():
    doc = fixture("semgrep.json")
    doc["results"].append(json.loads(json.dumps(doc["results"][0])))
    doc["results"][-1]["start"]["line"] = 99
    findings = scan_report._in_line_order(scan_report.read_semgrep(doc))
    ids = scan_report.stable_ids("booking", findings)
    assert len(set(ids)) == len(ids)


def test_ids_differ_between_services():
    findings = scan_report.read_gitleaks(fixture("gitleaks.json"))
    assert not set(scan_report.stable_ids("booking", findings)) & set(scan_report.stable_ids("search", findings))


def test_a_vulnerable_package_keeps_its_finding_across_versions():
    doc = fixture("osv.json")
    before = {
        f.rule_id: i
        for f, i in zip(scan_report.read_osv(doc), scan_report.stable_ids("b", scan_report.read_osv(doc)), strict=True)
    }
    doc["results"][0]["packages"][0]["package"]["version"] = "4.17.16"
    after_findings = scan_report.read_osv(doc)
    after = dict(zip([f.rule_id for f in after_findings], scan_report.stable_ids("b", after_findings), strict=True))
    assert before["GHSA-p6mc-m468-83gw"] == after["GHSA-p6mc-m468-83gw"]


def test_leaked_secrets_never_reach_a_report(tmp_path):
    code, _, asff = run(tmp_path, "gitleaks", "gitleaks.json", "LOW")
    everything = (tmp_path / "junit.xml").read_text() + json.dumps(asff)
    assert code == 1
    for leak in fixture("gitleaks.json"):
        assert leak["Secret"] not in everything
        assert leak["Match"] not in everything


def test_asff_is_written_in_batches_of_at_most_100(tmp_path):
    leaks = [dict(fixture("gitleaks.json")[0], File=f"config/f{i}.ini") for i in range(230)]
    (tmp_path / "many.json").write_text(json.dumps(leaks))
    scan_report.run(argv(tmp_path, "gitleaks", tmp_path / "many.json", "HIGH"))
    sizes = [len(json.loads(path.read_text())) for path in sorted((tmp_path / "asff").glob("*.json"))]
    assert sizes == [100, 100, 30]


def test_license_deny_list_comes_from_the_command_line(tmp_path):
    code, _, asff = run(
        tmp_path, "cyclonedx-licenses", "sbom.cdx.json", "CRITICAL", "--deny-licenses", "AGPL-3.0-only, SSPL-1.0"
    )
    assert code == 1
    assert {f["Resources"][0]["Id"] for f in asff} == {
        "github.com/bookwise/booking/pkg:npm/mongo-express-fork@1.2.0",
        "github.com/bookwise/booking/pkg:npm/combined@0.3.1",
    }
    assert all("SourceUrl" not in f for f in asff)


def test_dast_findings_point_at_the_site(tmp_path):
    code, _, asff = run(tmp_path, "zap", "zap.json", "HIGH")
    (finding,) = asff
    assert code == 1
    assert finding["Resources"] == [{"Type": "Other", "Id": "https://booking.dev.bookwise.example"}]
    assert finding["Types"] == ["Software and Configuration Checks/Vulnerabilities/DAST"]


EVERY_READER = [
    ("semgrep", "semgrep.json"),
    ("sonarqube", "sonarqube.json"),
    ("osv", "osv.json"),
    ("snyk", "snyk.json"),
    ("checkov", "checkov.json"),
    ("gitleaks", "gitleaks.json"),
    ("zap", "zap.json"),
    ("cyclonedx-licenses", "sbom.cdx.json"),
]


@pytest.mark.parametrize(("reader", "output"), EVERY_READER)
@pytest.mark.parametrize("threshold", scan_report.SEVERITIES)
def test_security_hub_gets_exactly_the_findings_that_fail_the_scan(tmp_path, reader, output, threshold):
    # The scan buildspec imports what this writes; the release is blocked by what the JUnit report fails.
    code, junit, asff = run(tmp_path, reader, output, threshold, "--deny-licenses", "AGPL-3.0-only,SSPL-1.0")
    failures = [case.find("failure") for case in junit.iter("testcase") if case.find("failure") is not None]
    assert code == (1 if failures else 0)
    assert sorted(failure.get("message") for failure in failures) == sorted(
        f"{finding['Severity']['Label']}: {finding['Title']}"[: scan_report.TITLE_LIMIT] for finding in asff
    )
    assert len({finding["Id"] for finding in asff}) == len(asff), "one Security Hub finding per blocking finding"


def test_a_repositorys_scanner_files_are_reported_whatever_the_threshold_and_never_fail(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "lib").mkdir(parents=True)
    (checkout / ".gitleaks.toml").write_text("[allowlist]\npaths = ['.*']\n")
    (checkout / "lib" / ".gitleaks.toml").write_text("")  # gitleaks reads only <source>/.gitleaks.toml
    (checkout / "lib" / "osv-scanner.toml").write_text("")
    assert [f.path for f in scan_report.read_repo_suppressions(checkout, "secrets")] == [".gitleaks.toml"]
    assert [f.path for f in scan_report.read_repo_suppressions(checkout, "sca")] == ["lib/osv-scanner.toml"]
    assert scan_report.read_repo_suppressions(checkout, "licenses") == []
    code = scan_report.run([*argv(tmp_path, "repo-suppressions", checkout, "LOW"), "--scanner", "secrets"], now=NOW)
    assert code == 0  # reported at failOn LOW, yet not a failure
    (sent,) = [f for path in (tmp_path / "asff").glob("*.json") for f in json.loads(path.read_text())]
    assert sent["GeneratorId"] == "cicd-platform/secrets/repo-suppression/gitleaks.toml"
    assert sent["ProductFields"]["cicd-platform/Blocking"] == "false"
    (case,) = ElementTree.parse(tmp_path / "j.xml").getroot().iter("testcase")
    assert case.find("failure") is None and case.find("skipped") is not None


def test_a_check_the_repository_skipped_inline_counts_as_failed():
    (finding,) = scan_report.read_checkov(fixture("checkov-skipped.json"))
    assert (finding.rule_id, finding.severity) == ("CKV_AWS_20", "CRITICAL")
