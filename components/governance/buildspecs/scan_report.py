"""Turn one scanner's JSON output into a CodeBuild test report, Security Hub findings and a verdict.

Shipped inside the scan and DAST buildspecs (standard library only, Python
3.9+: it runs with whatever ``python3`` the CodeBuild image has). Every scanner speaks its own JSON;
this script maps each to one ``Finding`` shape with a severity on the
platform's scale (LOW < MEDIUM < HIGH < CRITICAL), then:

- writes a JUnit XML report: findings at or above ``--fail-on`` are failed
  test cases, the rest skipped ones, so people read them in the CodeBuild console;
- writes ASFF batches (at most 100 findings each, the BatchImportFindings limit)
  of the findings at or above the threshold, with ids that stay the same when
  the same problem is found again, so a re-run updates a finding instead of
  adding a duplicate;
- exits 1 when a finding reaches the threshold (the build fails), 2 when the
  scanner output cannot be read (fail closed), else 0.

The ``repo-suppressions`` reader reads the checkout instead of a scanner's JSON: the files a repository
committed to configure or silence the scanner about to run. The scan never applies them (the buildspec gives
each scanner the platform's configuration and sets aside what a flag cannot override); each is reported to
Security Hub whatever ``--fail-on`` says, and never fails the scan.

Secrets found by gitleaks are never copied into any output: only the rule, the
file and the line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
ASFF_BATCH_SIZE = 100
TITLE_LIMIT, DESCRIPTION_LIMIT = 256, 1024

FINDING_TYPES = {
    "sast": "Software and Configuration Checks/Vulnerabilities/SAST",
    "sca": "Software and Configuration Checks/Vulnerabilities/CVE",
    "iac": "Software and Configuration Checks/AWS Security Best Practices",
    "secrets": "Sensitive Data Identifications/Passwords",
    "licenses": "Software and Configuration Checks/Industry and Regulatory Standards/License Policy",
    "dast": "Software and Configuration Checks/Vulnerabilities/DAST",
}


class UnreadableOutputError(ValueError):
    """The scanner's output is not what this script knows how to read."""


@dataclass(frozen=True)
class Finding:
    scanner: str
    rule_id: str
    title: str
    severity: str
    path: str
    line: int | None = None
    description: str = ""
    identity: tuple[str, ...] = ()
    """What makes this finding the same one next time; defaults to rule + path + occurrence."""
    original_severity: str = ""
    references: tuple[str, ...] = field(default_factory=tuple)
    informational: bool = False
    """Reported to Security Hub whatever the threshold, never a failure (a suppression the scan set aside)."""

    def blocks(self, threshold: str) -> bool:
        return not self.informational and at_or_above(self.severity, threshold)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def cvss_band(score: float) -> str:
    """CVSS v3 qualitative bands (0.1-3.9 low ... 9.0-10 critical)."""
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    return "LOW"


def _word_severity(word: str | None, default: str) -> str:
    """Scanner words (GHSA's MODERATE, Semgrep's ERROR/WARNING/INFO, ...) on the platform scale."""
    mapped = {
        "CRITICAL": "CRITICAL",
        "HIGH": "HIGH",
        "ERROR": "HIGH",
        "MODERATE": "MEDIUM",
        "MEDIUM": "MEDIUM",
        "WARNING": "MEDIUM",
        "LOW": "LOW",
        "INFO": "LOW",
        "INFORMATIONAL": "LOW",
    }
    return mapped.get((word or "").strip().upper(), default)


def _relative(path: str) -> str:
    """Paths as the repository knows them (scanners report /codebuild/output/src123/src/... or ./x)."""
    cleaned = re.sub(r"^.*?/src/(?=[^/])", "", path) if "/codebuild/" in path else path
    return cleaned.removeprefix("./").lstrip("/") or "."


# --- one reader per scanner ------------------------------------------------------------------


def read_semgrep(doc: Any) -> list[Finding]:
    """``semgrep scan --json``: results[] with check_id, path, start.line, extra.severity/message."""
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise UnreadableOutputError("semgrep output has no 'results' list")
    findings = []
    for result in doc["results"]:
        extra = result.get("extra", {})
        metadata = extra.get("metadata", {})
        word = extra.get("severity")
        findings.append(
            Finding(
                scanner="sast",
                rule_id=result["check_id"],
                title=extra.get("message", result["check_id"]).splitlines()[0],
                severity=_word_severity(word, "MEDIUM"),
                path=_relative(result["path"]),
                line=result.get("start", {}).get("line"),
                description=extra.get("message", ""),
                original_severity=str(word or ""),
                references=tuple(str(ref) for ref in metadata.get("references", []))[:5],
            )
        )
    return findings


SONAR_SEVERITIES = {"BLOCKER": "CRITICAL", "CRITICAL": "HIGH", "MAJOR": "MEDIUM", "MINOR": "LOW", "INFO": "LOW"}
SONAR_IMPACTS = {"BLOCKER": "CRITICAL", "HIGH": "HIGH", "MEDIUM": "MEDIUM", "LOW": "LOW", "INFO": "LOW"}


def read_sonarqube(doc: Any) -> list[Finding]:
    """SonarQube ``api/issues/search``: issues[] with the new ``impacts`` or the legacy ``severity``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("issues"), list):
        raise UnreadableOutputError("SonarQube answer has no 'issues' list")
    findings = []
    for issue in doc["issues"]:
        impacts = [impact.get("severity", "") for impact in issue.get("impacts", [])]
        if impacts:
            severity = max((SONAR_IMPACTS.get(word, "LOW") for word in impacts), key=SEVERITIES.index)
            original = ",".join(impacts)
        else:
            original = issue.get("severity", "")
            severity = SONAR_SEVERITIES.get(original, "MEDIUM")
        component = issue.get("component", "")
        findings.append(
            Finding(
                scanner="sast",
                rule_id=issue["rule"],
                title=issue.get("message", issue["rule"]),
                severity=severity,
                path=component.split(":", 1)[1] if ":" in component else component,
                line=issue.get("line"),
                description=f"{issue.get('type', 'ISSUE')}: {issue.get('message', '')}",
                identity=(issue["rule"], issue.get("key", "")),
                original_severity=original,
            )
        )
    return findings


def _osv_severity(vulnerability: dict[str, Any], group_score: str | None) -> tuple[str, str]:
    """Prefer OSV-Scanner's computed max CVSS score, then the database's word; unscored is MEDIUM."""
    if group_score:
        try:
            return cvss_band(float(group_score)), f"CVSS {group_score}"
        except ValueError:
            pass
    word = vulnerability.get("database_specific", {}).get("severity")
    if word:
        return _word_severity(word, "MEDIUM"), str(word)
    return "MEDIUM", "unscored"


def read_osv(doc: Any) -> list[Finding]:
    """``osv-scanner scan source --format json``: results[].packages[].vulnerabilities[] + groups[]."""
    if not isinstance(doc, dict):
        raise UnreadableOutputError("osv-scanner output is not an object")
    findings = []
    for result in doc.get("results") or []:
        source = _relative(result.get("source", {}).get("path", ""))
        for entry in result.get("packages", []):
            package = entry.get("package", {})
            scores = {}
            for group in entry.get("groups", []):
                for vuln_id in group.get("ids", []):
                    scores[vuln_id] = group.get("max_severity") or None
            for vulnerability in entry.get("vulnerabilities", []):
                vuln_id = vulnerability["id"]
                severity, original = _osv_severity(vulnerability, scores.get(vuln_id))
                aliases = ", ".join(vulnerability.get("aliases", []))
                name = f"{package.get('name')}@{package.get('version')}"
                findings.append(
                    Finding(
                        scanner="sca",
                        rule_id=vuln_id,
                        title=f"{vuln_id} in {name}: {vulnerability.get('summary', '')}".rstrip(": "),
                        severity=severity,
                        path=source,
                        description=f"{name} ({package.get('ecosystem')}) {aliases}".strip(),
                        identity=(vuln_id, str(package.get("ecosystem")), str(package.get("name")), source),
                        original_severity=original,
                        references=(f"https://osv.dev/vulnerability/{vuln_id}",),
                    )
                )
    return findings


def read_snyk(doc: Any) -> list[Finding]:
    """``snyk test --json`` (one project) or ``--all-projects`` (a list of them)."""
    projects = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(project, dict) for project in projects):
        raise UnreadableOutputError("snyk output is not an object or a list of objects")
    findings = []
    for project in projects:
        if "vulnerabilities" not in project and project.get("ok") is not True:
            raise UnreadableOutputError(f"snyk reported an error: {project.get('error', 'no vulnerabilities list')}")
        target = _relative(project.get("displayTargetFile") or project.get("path") or ".")
        seen = set()
        for vulnerability in project.get("vulnerabilities", []):
            key = (vulnerability["id"], vulnerability.get("packageName"))
            if key in seen:  # Snyk repeats a vulnerability once per dependency path
                continue
            seen.add(key)
            name = f"{vulnerability.get('packageName')}@{vulnerability.get('version')}"
            findings.append(
                Finding(
                    scanner="sca",
                    rule_id=vulnerability["id"],
                    title=f"{vulnerability['id']} in {name}: {vulnerability.get('title', '')}",
                    severity=_word_severity(vulnerability.get("severity"), "MEDIUM"),
                    path=target,
                    description=", ".join(vulnerability.get("identifiers", {}).get("CVE", [])),
                    identity=("snyk", vulnerability["id"], str(vulnerability.get("packageName")), target),
                    original_severity=str(vulnerability.get("severity", "")),
                    references=(f"https://security.snyk.io/vuln/{vulnerability['id']}",),
                )
            )
    return findings


CHECKOV_UNRATED = "HIGH"
"""Open-source Checkov rates nothing (severity null without a Prisma Cloud key); a failed check is HIGH."""


def read_checkov(doc: Any) -> list[Finding]:
    """``checkov -o json``: one report object per framework (a list when several ran)."""
    reports = doc if isinstance(doc, list) else [doc]
    findings = []
    for report in reports:
        if not isinstance(report, dict):
            raise UnreadableOutputError("checkov output is not an object or a list of objects")
        if "results" not in report:
            if "passed" in report and "failed" in report:  # nothing to scan: checkov prints only a summary
                continue
            raise UnreadableOutputError("checkov report has no 'results'")
        # An inline ``checkov:skip`` comment moves a failed check to skipped_checks; the repository does not
        # decide what its mandatory scan skips (the platform's config skips nothing), so it counts as failed.
        results = report["results"]
        for check in [*results.get("failed_checks", []), *results.get("skipped_checks", [])]:
            word = check.get("severity")
            path = _relative(check.get("file_path", ""))
            lines = check.get("file_line_range") or [None]
            findings.append(
                Finding(
                    scanner="iac",
                    rule_id=check["check_id"],
                    title=f"{check['check_id']}: {check.get('check_name', '')} ({check.get('resource', '')})",
                    severity=_word_severity(word, CHECKOV_UNRATED),
                    path=path,
                    line=lines[0],
                    description=f"{report.get('check_type', '')} resource {check.get('resource', '')}",
                    identity=(check["check_id"], path, str(check.get("resource", ""))),
                    original_severity=str(word or "unrated"),
                    references=tuple(filter(None, [check.get("guideline")])),
                )
            )
    return findings


def read_gitleaks(doc: Any) -> list[Finding]:
    """``gitleaks dir --report-format json``: a list of leaks. A leaked secret is always CRITICAL."""
    if not isinstance(doc, list):
        raise UnreadableOutputError("gitleaks report is not a list")
    return [
        Finding(
            scanner="secrets",
            rule_id=leak["RuleID"],
            title=f"{leak.get('Description') or leak['RuleID']} in {_relative(leak['File'])}",
            severity="CRITICAL",
            path=_relative(leak["File"]),
            line=leak.get("StartLine"),
            description=f"gitleaks rule {leak['RuleID']}; rotate the secret, then remove it from the history",
            original_severity="secret",
        )
        for leak in doc
    ]


def _license_ids(component: dict[str, Any]) -> list[str]:
    ids = []
    for choice in component.get("licenses", []):
        if "expression" in choice:
            ids.append(choice["expression"])
        license_ = choice.get("license", {})
        if license_.get("id") or license_.get("name"):
            ids.append(license_.get("id") or license_.get("name"))
    return ids


def denied_by(expression: str, deny: set[str]) -> bool:
    """``A OR B`` is denied only if every choice is; ``A AND B`` / ``A WITH X`` if any part is."""
    text = expression.replace("(", " ").replace(")", " ")
    choices = re.split(r"\s+OR\s+", text.strip())
    return all(any(part in deny for part in re.split(r"\s+(?:AND|WITH)\s+", choice.strip())) for choice in choices)


def read_cyclonedx_licenses(doc: Any, deny_list: Sequence[str]) -> list[Finding]:
    """A CycloneDX SBOM's components whose license is on the deny list; CRITICAL wherever it applies."""
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise UnreadableOutputError("not a CycloneDX SBOM")
    deny = set(deny_list)
    findings = []
    for component in doc.get("components", []):
        for expression in _license_ids(component):
            if deny and denied_by(expression, deny):
                name = f"{component.get('name')}@{component.get('version')}"
                findings.append(
                    Finding(
                        scanner="licenses",
                        rule_id=f"license:{expression}",
                        title=f"{name} is licensed {expression}, which this environment denies",
                        severity="CRITICAL",
                        path=component.get("purl") or name,
                        description=f"{component.get('purl', name)}: {expression}",
                        identity=("license", component.get("purl") or name, expression),
                        original_severity="denied",
                    )
                )
    return findings


def _cwe_reference(cwe: Any) -> tuple[str, ...]:
    return () if str(cwe) in ("None", "", "-1", "0") else (f"https://cwe.mitre.org/data/definitions/{cwe}.html",)


ZAP_RISKS = {"3": "HIGH", "2": "MEDIUM", "1": "LOW", "0": "LOW"}


def read_zap(doc: Any) -> list[Finding]:
    """ZAP's traditional JSON report: site[].alerts[] with riskcode 0-3 (High is the top)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("site"), list):
        raise UnreadableOutputError("ZAP report has no 'site' list")
    findings = []
    for site in doc["site"]:
        for alert in site.get("alerts", []):
            uris = sorted({instance.get("uri", "") for instance in alert.get("instances", [])})
            reference = alert.get("alertRef") or alert.get("pluginid", "")
            findings.append(
                Finding(
                    scanner="dast",
                    rule_id=f"zap-{reference}",
                    title=alert.get("alert") or alert.get("name", reference),
                    severity=ZAP_RISKS.get(str(alert.get("riskcode")), "MEDIUM"),
                    path=site.get("@name", ""),
                    description=re.sub(r"<[^>]+>", "", alert.get("desc", ""))
                    + (f" Seen at: {', '.join(uris[:5])}" if uris else ""),
                    identity=(reference, site.get("@name", "")),
                    original_severity=alert.get("riskdesc", ""),
                    references=_cwe_reference(alert.get("cweid")),
                )
            )
    return findings


REPO_SUPPRESSIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # scanner: (glob in the checkout, what it would do, how the scan overrides it)
    "sast": ((".semgrepignore", "excludes paths from Semgrep", "set aside before the scan"),),
    "sca": (("osv-scanner.toml", "ignores vulnerabilities or packages in OSV-Scanner", "--config overrides it"),),
    "iac": (
        (".checkov.yaml", "configures Checkov (skip-check, soft-fail, skip-path)", "set aside before the scan"),
        (".checkov.yml", "configures Checkov (skip-check, soft-fail, skip-path)", "set aside before the scan"),
    ),
    "secrets": (
        (".gitleaks.toml", "replaces gitleaks' rules and allowlists", "--config overrides it"),
        (".gitleaksignore", "ignores gitleaks findings by fingerprint", "--gitleaks-ignore-path overrides it"),
    ),
}
"""Files a repository may commit that would configure or silence its scanner, by scanner (each tool's docs:
Semgrep "Ignore files, folders, and code", OSV-Scanner "Configuration", Checkov "CLI Command Reference",
gitleaks v8.2.0 config precedence)."""


def read_repo_suppressions(checkout: Path, scanner: str) -> list[Finding]:
    """One informational finding per committed file that would configure or silence ``scanner``."""
    findings = []
    for pattern, effect, override in REPO_SUPPRESSIONS.get(scanner, ()):
        # Semgrep and OSV-Scanner read theirs in every directory; Checkov and gitleaks at the root only.
        paths = sorted(checkout.glob(f"**/{pattern}")) if scanner in ("sast", "sca") else [checkout / pattern]
        for path in (path for path in paths if path.is_file()):
            relative = path.relative_to(checkout).as_posix()
            findings.append(
                Finding(
                    scanner=scanner,
                    rule_id=f"repo-suppression/{pattern.lstrip('.')}",
                    title=f"{relative} {effect}; not applied ({override})",
                    severity="LOW",
                    path=relative,
                    description=(
                        f"The repository committed {relative}, which {effect}. The platform's scan does not "
                        f"apply it ({override}); if a finding is a false positive, ask the platform team."
                    ),
                    original_severity="suppression",
                    informational=True,
                )
            )
    return findings


READERS: dict[str, Callable[[Any], list[Finding]]] = {
    "semgrep": read_semgrep,
    "sonarqube": read_sonarqube,
    "osv": read_osv,
    "snyk": read_snyk,
    "checkov": read_checkov,
    "gitleaks": read_gitleaks,
    "zap": read_zap,
}


# --- outputs ---------------------------------------------------------------------------------


def stable_ids(service: str, findings: Sequence[Finding]) -> list[str]:
    """Ids that survive re-runs: the finding's identity, or rule + path + its rank among equals.

    Line numbers move whenever code above a finding changes; the rank of a
    finding among the same rule's findings in one file does not, so a re-run
    updates the Security Hub finding instead of opening a second one.
    """
    ranks: dict[tuple[str, str, str], int] = defaultdict(int)
    ids = []
    for finding in findings:
        if finding.identity:
            key = (finding.scanner, *finding.identity)
        else:
            group = (finding.scanner, finding.rule_id, finding.path)
            key = (*group, str(ranks[group]))
            ranks[group] += 1
        digest = hashlib.sha256("\x1f".join(key).encode()).hexdigest()[:32]
        ids.append(f"cicd-platform/{service}/{finding.scanner}/{digest}")
    return ids


def _in_line_order(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.scanner, f.rule_id, f.path, f.line or 0, f.title))


def junit_report(findings: Sequence[Finding], suite: str, fail_on: str) -> str:
    """One test case per finding: failed at or above ``fail_on``, skipped below; one passing case if clean."""
    failing = [f for f in findings if f.blocks(fail_on)]
    suites = ElementTree.Element("testsuites", name="security-findings")
    element = ElementTree.SubElement(
        suites,
        "testsuite",
        name=suite,
        tests=str(max(len(findings), 1)),
        failures=str(len(failing)),
        skipped=str(len(findings) - len(failing)),
        errors="0",
    )
    for finding in findings:
        case = ElementTree.SubElement(
            element,
            "testcase",
            classname=f"{finding.scanner}.{finding.path}",
            name=f"[{finding.severity}] {finding.rule_id} at {finding.location}",
        )
        text = f"{finding.title}\n{finding.description}\n" + "\n".join(finding.references)
        if finding.blocks(fail_on):
            failure = ElementTree.SubElement(
                case, "failure", message=f"{finding.severity}: {finding.title}"[:TITLE_LIMIT], type=finding.severity
            )
            failure.text = text
        elif finding.informational:
            ElementTree.SubElement(case, "skipped", message="set aside by the platform; reported to Security Hub")
        else:
            ElementTree.SubElement(case, "skipped", message=f"{finding.severity} is below failOn {fail_on}")
    if not findings:
        ElementTree.SubElement(element, "testcase", classname=suite, name="no findings")
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)


@dataclass(frozen=True)
class Context:
    service: str
    environment: str
    account: str
    region: str
    repository: str = ""
    commit: str = ""
    partition: str = "aws"

    @property
    def product_arn(self) -> str:
        return f"arn:{self.partition}:securityhub:{self.region}:{self.account}:product/{self.account}/default"


def asff_findings(findings: Sequence[Finding], context: Context, fail_on: str, now: datetime) -> list[dict[str, Any]]:
    """Security Hub findings (ASFF) for the findings at or above the threshold."""
    timestamp = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    documents = []
    ids = stable_ids(context.service, findings)
    for finding, finding_id in zip(findings, ids):  # noqa: B905 (strict= needs 3.10)
        if not (finding.informational or at_or_above(finding.severity, fail_on)):
            continue
        severity = {"Label": finding.severity, "Original": finding.original_severity or finding.severity}
        types = [FINDING_TYPES[finding.scanner]]
        if finding.scanner == "dast":
            resource = {"Type": "Other", "Id": finding.path}
        else:
            resource = {"Type": "Other", "Id": f"github.com/{context.repository}/{finding.path}"[:512]}
        document: dict[str, Any] = {
            "SchemaVersion": "2018-10-08",
            "Id": finding_id,
            "ProductArn": context.product_arn,
            "GeneratorId": f"cicd-platform/{finding.scanner}/{finding.rule_id}"[:512],
            "AwsAccountId": context.account,
            "Types": types,
            "CreatedAt": timestamp,
            "UpdatedAt": timestamp,
            # Severity/Types only count on the first import; FindingProviderFields carry later changes.
            "Severity": severity,
            "FindingProviderFields": {"Severity": severity, "Types": types},
            "Title": finding.title[:TITLE_LIMIT],
            "Description": (finding.description or finding.title)[:DESCRIPTION_LIMIT],
            "Resources": [resource],
            "ProductFields": {
                "cicd-platform/Service": context.service,
                "cicd-platform/Environment": context.environment,
                "cicd-platform/Scanner": finding.scanner,
                "cicd-platform/Location": finding.location[:2048],
                "cicd-platform/Commit": context.commit or "unknown",
                "cicd-platform/Blocking": "false" if finding.informational else "true",
            },
            "RecordState": "ACTIVE",
        }
        if context.repository and context.commit and finding.scanner not in ("dast", "licenses"):
            anchor = f"#L{finding.line}" if finding.line else ""
            document["SourceUrl"] = (
                f"https://github.com/{context.repository}/blob/{context.commit}/{finding.path}{anchor}"
            )
        documents.append(document)
    return documents


def asff_batches(documents: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [list(documents[start : start + ASFF_BATCH_SIZE]) for start in range(0, len(documents), ASFF_BATCH_SIZE)]


def run(argv: Sequence[str], now: datetime | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reader", choices=[*READERS, "cyclonedx-licenses", "repo-suppressions"])
    parser.add_argument("scanner_output", type=Path)
    parser.add_argument("--fail-on", choices=SEVERITIES, required=True)
    parser.add_argument("--junit", type=Path, required=True)
    parser.add_argument("--asff-dir", type=Path, required=True)
    parser.add_argument("--suite", default="")
    parser.add_argument("--deny-licenses", default="", help="comma-separated SPDX ids")
    parser.add_argument("--service", required=True)
    parser.add_argument("--environment", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--partition", default="aws")
    parser.add_argument("--repository", default="")
    parser.add_argument("--commit", default="")
    parser.add_argument("--scanner", default="", help="repo-suppressions: the scanner about to run")
    args = parser.parse_args(argv)
    try:
        if args.reader == "repo-suppressions":
            findings = read_repo_suppressions(args.scanner_output, args.scanner)
        else:
            findings = _read_scanner_output(args)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        print(f"scan_report: cannot read {args.reader} output {args.scanner_output}: {error}", file=sys.stderr)
        return 2
    return _report(args, findings, now)


def _read_scanner_output(args: argparse.Namespace) -> list[Finding]:
    document = json.loads(args.scanner_output.read_text(encoding="utf-8") or "null")
    if args.reader == "cyclonedx-licenses":
        deny = [item.strip() for item in args.deny_licenses.split(",") if item.strip()]
        return read_cyclonedx_licenses(document, deny)
    return READERS[args.reader](document)


def _report(args: argparse.Namespace, findings: list[Finding], now: datetime | None) -> int:
    findings = _in_line_order(findings)
    suite = args.suite or f"{args.reader} ({args.environment}, failOn {args.fail_on})"
    args.junit.parent.mkdir(parents=True, exist_ok=True)
    args.junit.write_text(junit_report(findings, suite, args.fail_on), encoding="utf-8")
    context = Context(
        args.service, args.environment, args.account, args.region, args.repository, args.commit, args.partition
    )
    documents = asff_findings(findings, context, args.fail_on, now or datetime.now(timezone.utc))
    args.asff_dir.mkdir(parents=True, exist_ok=True)
    for stale in args.asff_dir.glob("findings-*.json"):  # never import a previous run's batches
        stale.unlink()
    for index, batch in enumerate(asff_batches(documents)):
        (args.asff_dir / f"findings-{index:04d}.json").write_text(json.dumps(batch), encoding="utf-8")
    failing = [f for f in findings if f.blocks(args.fail_on)]
    for finding in failing:
        print(f"  {finding.severity:8} {finding.rule_id} at {finding.location}: {finding.title}")
    for finding in findings:
        if finding.informational:
            print(f"  reported {finding.rule_id} at {finding.location}: {finding.title}")
    print(f"scan_report: {len(findings)} finding(s), {len(failing)} at or above {args.fail_on}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
