"""What CodeBuild knows about a failed build: the phase that failed, its exit code, where the log is, its reports.

``BatchGetBuilds`` gives each phase's status and ``contexts`` (CodeBuild writes
``Error while executing command: <command>. Reason: exit status <n>`` there for
a failed command), the log's group and stream, the build's environment
variables (PLAINTEXT values as set, only the names of Parameter Store and
Secrets Manager ones) and ``reportArns``: the test reports the build wrote.
``DescribeTestCases`` with status ``FAILED`` names the failed tests; for the
scan project's report group (``<service>-security-findings``,
``components/governance/scans.py``) each failed case is one finding at or above
the environment's threshold (``scan_report.py`` writes them so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

FAILED_PHASE_STATES = frozenset({"FAILED", "FAULT", "TIMED_OUT", "CLIENT_ERROR", "STOPPED"})
EXIT_STATUS = re.compile(r"exit status (\d+)")
SECURITY_REPORT_GROUP = "-security-findings"
MAX_REPORTS = 5
MAX_CASES = 25


@dataclass(frozen=True)
class BuildFacts:
    build_id: str
    project: str
    phase: str = ""
    exit_code: int | None = None
    reason: str = ""
    log_group: str = ""
    log_stream: str = ""
    report_arns: tuple[str, ...] = ()
    environment: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class ReportFindings:
    failed_tests: tuple[str, ...] = ()
    scan_findings: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict)
    """Failed case → its message (the assertion, the finding's title)."""


def build_facts(codebuild: Any, build_id: str) -> BuildFacts | None:
    builds = codebuild.batch_get_builds(ids=[build_id]).get("builds", [])
    if not builds:
        return None
    build = builds[0]
    phase, reason = "", ""
    for entry in build.get("phases", []):
        if entry.get("phaseStatus") in FAILED_PHASE_STATES:
            phase = str(entry.get("phaseType", ""))
            reason = " ".join(str(c.get("message", "")) for c in entry.get("contexts", []) if c.get("message"))
            break
    code = EXIT_STATUS.search(reason)
    logs = build.get("logs") or {}
    return BuildFacts(
        build_id=build_id,
        project=str(build.get("projectName", "")),
        phase=phase,
        exit_code=int(code.group(1)) if code else None,
        reason=reason,
        log_group=str(logs.get("groupName", "")),
        log_stream=str(logs.get("streamName", "")),
        report_arns=tuple(str(arn) for arn in build.get("reportArns", [])),
        environment=tuple((build.get("environment") or {}).get("environmentVariables", [])),
    )


def report_findings(codebuild: Any, report_arns: tuple[str, ...]) -> ReportFindings:
    """Failed test cases of the build's reports; a report that cannot be read is left out, not an error."""
    tests: list[str] = []
    findings: list[str] = []
    details: dict[str, str] = {}
    for arn in report_arns[:MAX_REPORTS]:
        try:
            cases = codebuild.describe_test_cases(reportArn=arn, filter={"status": "FAILED"}, maxResults=MAX_CASES).get(
                "testCases", []
            )
        except ClientError:
            continue
        scan = _report_group(arn).endswith(SECURITY_REPORT_GROUP)
        for case in cases:
            name = str(case.get("name", ""))
            prefix = str(case.get("prefix", ""))
            # A test is named with its prefix (its class or file, as the framework reports it); a finding's name
            # already says rule and location.
            shown = name if scan or not prefix else f"{prefix}.{name}"
            into = findings if scan else tests
            if shown and shown not in into:
                into.append(shown)
                if case.get("message"):
                    details[shown] = str(case["message"]).strip().splitlines()[0]
    return ReportFindings(tuple(tests), tuple(findings), details)


def _report_group(report_arn: str) -> str:
    """``arn:aws:codebuild:<region>:<account>:report/<report group>:<id>`` → the report group's name."""
    resource = report_arn.split(":", 5)[-1]
    return resource.removeprefix("report/").rsplit(":", 1)[0]
