"""The scan buildspec, run for real the way CodeBuild runs it, with stand-in tools and a stand-in web.

Each scenario takes the buildspec and the variables exactly as the dev plan deploys them (the
``<service>-scan`` project and the pipeline's scan action), runs every phase through
``tests/governance/codebuild.py`` (CodeBuild's documented phase transitions, so a failed scan
still reaches ``post_build``), and serves the scanners' releases from a local web: the install
phase downloads, verifies and installs them for real. What reaches Security Hub is what the
stand-in ``aws`` CLI accepted.

Two guards keep the suite honest about the shell itself:
- every line of every phase where a shell command starts runs in some scenario (keep each
  branch's body on a line of its own, so a line is a branch);
- the check that the findings that blocked a release reached Security Hub is shown to fail on
  the realistic ways of skipping the import (``on-failure: ABORT`` on ``build``, a
  ``CODEBUILD_BUILD_SUCCEEDING`` guard, no ``post_build``).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from components.governance import scans
from components.model import naming
from components.model.platform_inputs import PlatformInputs
from components.model.scan_policy import Snyk, SonarQube
from tests.governance import codebuild

FIXTURES = Path(__file__).parent / "fixtures"
BASH = shutil.which("bash")
# make test distributes whole files (--dist loadfile): each scan scenario is run once.
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")
COMMIT = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
SONAR_URL = "https://sonar.bookwise.example"
SONAR_SECRET, SONAR_TOKEN = "cicd/sonarqube-token", "squ_0123456789abcdef"
SNYK_SECRET, SNYK_TOKEN = "cicd/snyk-token", "snyk-0123-4567"
VERSIONS = yaml.safe_load(scans.SCAN_BUILDSPEC.read_text())["env"]["variables"]


# --- the deployed scan: buildspec and variables, read from the plan -------------------------


@dataclass(frozen=True)
class DeployedScan:
    """What CodeBuild is given for one scan action: the project's buildspec and variables, the action's."""

    spec: dict[str, Any]
    project_variables: dict[str, str]
    action_variables: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict)


def _project(plan, service: str):
    name = naming.scan_project_name(service)
    return next(r for r in plan.resources if r.type == "aws:codebuild/project:Project" and r.inputs["name"] == name)


def _action_variables(plan, pipeline: str, action: str) -> dict[str, str]:
    resource = next(
        r for r in plan.resources if r.type == "aws:codepipeline/pipeline:Pipeline" and r.inputs["name"] == pipeline
    )
    for stage in resource.inputs["stages"]:
        for candidate in stage["actions"]:
            if candidate["name"] == action:
                variables = json.loads(candidate["configuration"]["EnvironmentVariables"])
                # CodePipeline resolves the source variable before it starts the build.
                return {v["name"]: v["value"].replace("#{SourceVariables.CommitId}", COMMIT) for v in variables}
    raise AssertionError(f"{pipeline} has no action {action}")


def deployed_scan(plan, service: str, environment: str, action: str, **overrides: str | None) -> DeployedScan:
    project = _project(plan, service)
    variables = {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]}
    action_variables = _action_variables(plan, naming.pipeline_name(service, environment), action)
    for name, value in overrides.items():
        if value is None:
            action_variables.pop(name, None)
        else:
            action_variables[name] = value
    return DeployedScan(yaml.safe_load(project.inputs["source"]["buildspec"]), variables, action_variables)


def with_sonarqube_and_snyk(plan, scan: DeployedScan, service: str) -> DeployedScan:
    """The same scan in a stack that configures SonarQube and Snyk (neither stack file does)."""
    settings = plan.inputs.settings.model_copy(
        update={
            "sonarqube": SonarQube(url=SONAR_URL, token_secret_name=SONAR_SECRET),
            "snyk": Snyk(token_secret_name=SNYK_SECRET),
        }
    )
    inputs = PlatformInputs(plan.inputs.stack, settings, plan.inputs.catalog)
    catalog_service = inputs.catalog.service(service)
    spec = yaml.safe_load(scans.scan_buildspec(catalog_service, inputs))
    project_variables = {
        **scan.project_variables,  # and what ServiceScans adds for a SonarQube server:
        "SONAR_HOST_URL": SONAR_URL,
        "SONAR_PROJECT_KEY": catalog_service.repository.replace("/", "_"),
    }
    secrets = {SONAR_SECRET: SONAR_TOKEN, SNYK_SECRET: SNYK_TOKEN}
    return DeployedScan(spec, project_variables, scan.action_variables, secrets)


# --- the sandbox: stand-in tools, a stand-in web, a stand-in Security Hub ----------------------

CURL = r"""#!/usr/bin/env python3
# Stand-in curl: answers from a local web (WEB/<host>/<path>), 404 (curl -f: exit 22) for anything else.
import sys
from pathlib import Path
from urllib.parse import urlsplit
args, out, url = sys.argv[1:], None, None
i = 0
while i < len(args):
    if args[i] in ("-o", "-u"):
        out = args[i + 1] if args[i] == "-o" else out
        i += 2
        continue
    if args[i].startswith("http"):
        url = args[i]
    i += 1
with open("@CALLS@/curl.log", "a") as log:
    log.write(url + "\n")
parts = urlsplit(url)
page = Path("@WEB@") / parts.netloc / parts.path.lstrip("/")
if not page.is_file():
    print(f"curl: (22) The requested URL returned error: 404 ({url})", file=sys.stderr)
    sys.exit(22)
if out:
    Path(out).write_bytes(page.read_bytes())
else:
    sys.stdout.buffer.write(page.read_bytes())
"""

AWS = r"""#!/usr/bin/env python3
# Stand-in AWS CLI: S3 uploads land in S3/<bucket>/<key>; Security Hub answers from ANSWERS, one per call.
import json, shutil, sys
from pathlib import Path
args = sys.argv[1:]
with open("@CALLS@/aws.jsonl", "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:2] == ["s3", "cp"]:
    bucket, _, key = args[3].removeprefix("s3://").partition("/")
    target = Path("@S3@") / bucket / key
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(args[2], target)
    sys.exit(0)
if args[:2] == ["securityhub", "batch-import-findings"]:
    assert args[args.index("--query") + 1] == "FailedCount" and args[args.index("--output") + 1] == "text"
    batch = json.loads(Path(args[args.index("--findings") + 1].removeprefix("file://")).read_text())
    answers = Path("@ANSWERS@")
    queue = json.loads(answers.read_text()) if answers.exists() else []
    answer = queue.pop(0) if queue else 0
    answers.write_text(json.dumps(queue))
    if answer == "AccessDenied":
        print("An error occurred (AccessDeniedException) when calling BatchImportFindings", file=sys.stderr)
        sys.exit(254)
    with open("@SECURITY_HUB@", "a") as hub:
        for index, finding in enumerate(batch):
            hub.write(json.dumps({"accepted": index >= answer, "finding": finding}) + "\n")
    print(answer)
    sys.exit(0)
print(f"unexpected aws call: {args}", file=sys.stderr)
sys.exit(2)
"""

RECORDER = '#!/usr/bin/env bash\necho "$(basename "$0") $*" >> "@CALLS@/installers.log"\n'
"""pip and npm: the scanners they would install are already on PATH as stand-ins."""
MISSING = '#!/usr/bin/env bash\necho "$(basename "$0") has no stand-in in this scenario" >&2\nexit 127\n'
SCANNERS = ("semgrep", "sonar", "osv-scanner", "snyk", "checkov", "gitleaks", "cdxgen")


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC | stat.S_IXGRP | stat.S_IXOTH)


def _tarball(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Sandbox:
    """One build's world: bin (on PATH, and where /usr/local/bin goes), web, S3, Security Hub."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin, self.web, self.calls = root / "bin", root / "web", root / "calls"
        for directory in (self.bin, self.web, self.calls, root / "s3", root / "opt"):
            directory.mkdir(parents=True, exist_ok=True)
        self.answers, self.security_hub = root / "security-hub-answers.json", root / "security-hub.jsonl"
        places = {
            "@CALLS@": str(self.calls),
            "@WEB@": str(self.web),
            "@S3@": str(root / "s3"),
            "@ANSWERS@": str(self.answers),
            "@SECURITY_HUB@": str(self.security_hub),
        }
        for name, template in {"curl": CURL, "aws": AWS, "pip": RECORDER, "npm": RECORDER}.items():
            for marker, value in places.items():
                template = template.replace(marker, value)
            _executable(self.bin / name, template)
        for scanner in SCANNERS:
            _executable(self.bin / scanner, MISSING)
        # python3 for scan_report.py and the stand-ins: the real interpreter, not a version-manager shim.
        (self.bin / "python3").symlink_to(os.path.realpath(sys.executable))

    def tool(self, name: str, script: str) -> None:
        """A stand-in scanner already on PATH (what pip or npm would have installed)."""
        _executable(self.bin / name, "#!/usr/bin/env bash\n" + script)

    def serve(self, url: str, content: bytes | str) -> None:
        page = self.web / url.removeprefix("https://")
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_bytes(content.encode() if isinstance(content, str) else content)

    def release(self, repo: str, tag: str, asset: str, content: bytes, checksums: str, *, tampered=False) -> None:
        """A GitHub release asset and its checksum file (``sha256sum`` format)."""
        base = f"https://github.com/{repo}/releases/download/{tag}"
        digest = hashlib.sha256(content + (b"tampered" if tampered else b"")).hexdigest()
        self.serve(f"{base}/{asset}", content)
        self.serve(f"{base}/{checksums}", f"{'0' * 64}  other_asset.zip\n{digest}  {asset}\n")

    def security_hub_answers(self, *answers: int | str) -> None:
        """FailedCount per BatchImportFindings call, in order ('AccessDenied' for a refused call)."""
        self.answers.write_text(json.dumps(list(answers)))

    def calls_to(self, log: str) -> list[str]:
        path = self.calls / log
        return path.read_text().splitlines() if path.exists() else []

    def run(self, scan: DeployedScan, mutate: Callable[[dict[str, Any]], None] | None = None) -> ScanRun:
        spec = copy.deepcopy(scan.spec)
        if mutate:
            mutate(spec)
        variables = codebuild.build_environment(spec, scan.project_variables, scan.action_variables, scan.secrets)
        variables |= {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
        variables["CODEBUILD_RESOLVED_SOURCE_VERSION"] = COMMIT
        build = codebuild.run_buildspec(
            spec,
            sandbox=self.root,
            variables=variables,
            moves={
                "/tmp/scan": str(self.root / "scan"),
                "/opt": str(self.root / "opt"),
                "/usr/local/bin": str(self.bin),
            },
            path=[self.bin],
        )
        return ScanRun(self, build, scan)


@dataclass
class ScanRun:
    sandbox: Sandbox
    build: codebuild.Build
    scan: DeployedScan

    @property
    def scan_dir(self) -> Path:
        return self.sandbox.root / "scan"

    def blocking_findings(self) -> list[str]:
        """Ids of the findings that failed the scan: the ASFF the scan wrote, one per failed JUnit case."""
        written = [
            f["Id"]
            for path in sorted(self.scan_dir.glob("asff/*/findings-*.json"))
            for f in _json(path)
            if f["ProductFields"]["cicd-platform/Blocking"] == "true"  # not a suppression the scan set aside
        ]
        failed_cases = [
            case
            for path in self.scan_dir.glob("junit/*.xml")
            for case in ElementTree.parse(path).iter("testcase")
            if case.find("failure") is not None
        ]
        assert len(written) == len(failed_cases), "every failed test case has its Security Hub finding"
        return written

    def in_security_hub(self) -> list[dict[str, Any]]:
        if not self.sandbox.security_hub.exists():
            return []
        entries = [json.loads(line) for line in self.sandbox.security_hub.read_text().splitlines()]
        return [entry["finding"] for entry in entries if entry["accepted"]]

    def sent_to_security_hub(self) -> int:
        return sum(1 for call in self.sandbox.calls_to("aws.jsonl") if "batch-import-findings" in call)


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def blocking_findings_not_in_security_hub(run: ScanRun) -> list[str]:
    """What the release process promises: the findings that blocked a release are in Security Hub."""
    accepted = {finding["Id"] for finding in run.in_security_hub()}
    return [finding for finding in run.blocking_findings() if finding not in accepted]


# --- scenarios: every branch of the shell, each with what it proves -----------------------------

SCENARIOS: dict[str, Callable[[Any, Sandbox], ScanRun]] = {}


def scenario(function: Callable[[Any, Sandbox], ScanRun]) -> Callable[[Any, Sandbox], ScanRun]:
    SCENARIOS[function.__name__] = function
    return function


def copies_fixture_after(flag: str, fixture: str) -> str:
    return f'while [ "$1" != "{flag}" ]; do shift; done; cp {FIXTURES / fixture} "$2"\n'


def osv_release(sandbox: Sandbox, script: str, *, tampered=False) -> None:
    version = VERSIONS["OSV_SCANNER_VERSION"]
    content = ("#!/usr/bin/env bash\n" + script).encode()
    sandbox.release(
        "google/osv-scanner",
        f"v{version}",
        "osv-scanner_linux_amd64",
        content,
        "osv-scanner_SHA256SUMS",
        tampered=tampered,
    )


def gitleaks_release(sandbox: Sandbox, script: str) -> None:
    version = VERSIONS["GITLEAKS_VERSION"]
    archive = _tarball({"gitleaks": "#!/usr/bin/env bash\n" + script, "LICENSE": "MIT\n"})
    sandbox.release(
        "gitleaks/gitleaks",
        f"v{version}",
        f"gitleaks_{version}_linux_x64.tar.gz",
        archive,
        f"gitleaks_{version}_checksums.txt",
    )


ZAP_STAND_IN = f"""#!/usr/bin/env bash
# Keeps the automation plan it was given, writes a real report where the plan asks for it.
while [ "$1" != "-autorun" ]; do shift; done
cp "$2" "$(dirname "$0")/../../calls/zap-plan.yaml"
dir=$(sed -n 's/.*reportDir: \\([^,}}]*\\),.*/\\1/p' "$2")
cp {FIXTURES / "zap.json"} "$dir/zap.json"
"""


def zap_release(sandbox: Sandbox, *, wrong_digest=False) -> None:
    version = VERSIONS["ZAP_VERSION"]
    asset = f"ZAP_{version}_Linux.tar.gz"
    archive = _tarball({f"ZAP_{version}/zap.sh": ZAP_STAND_IN, f"ZAP_{version}/zap-{version}.jar": "jar"})
    sandbox.serve(f"https://github.com/zaproxy/zaproxy/releases/download/v{version}/{asset}", archive)
    digest = hashlib.sha256(archive + (b"x" if wrong_digest else b"")).hexdigest()
    release = {"tag_name": f"v{version}", "assets": [{"name": "ZAP_WEEKLY.zip", "digest": "sha256:" + "0" * 64}]}
    release["assets"].append({"name": asset, "digest": f"sha256:{digest}"})
    sandbox.serve(f"https://api.github.com/repos/zaproxy/zaproxy/releases/tags/v{version}", json.dumps(release))


@scenario
def semgrep_blocks_a_prod_release(plan, sandbox):
    sandbox.tool("semgrep", copies_fixture_after("--output", "semgrep.json"))
    return sandbox.run(deployed_scan(plan, "booking", "prod", "SAST"))


@scenario
def semgrep_finds_nothing(plan, sandbox):
    sandbox.tool("semgrep", 'while [ "$1" != "--output" ]; do shift; done; echo \'{"results": []}\' > "$2"\n')
    return sandbox.run(deployed_scan(plan, "booking", "qa", "SAST"))


@scenario
def sonarqube_gate_fails_for_kotlin(plan, sandbox):
    sandbox.tool("sonar", 'echo "$*" > "$CODEBUILD_SRC_DIR/../calls/sonar-args"; [ -n "$SONAR_TOKEN" ] && exit 1\n')
    sandbox.serve(f"{SONAR_URL}/api/issues/search", (FIXTURES / "sonarqube.json").read_text())
    return sandbox.run(with_sonarqube_and_snyk(plan, deployed_scan(plan, "booking", "qa", "SAST"), "booking"))


@scenario
def sonarqube_for_python(plan, sandbox):
    sandbox.tool("sonar", 'echo "$*" > "$CODEBUILD_SRC_DIR/../calls/sonar-args"\n')
    sandbox.serve(f"{SONAR_URL}/api/issues/search", json.dumps({"issues": [], "paging": {"total": 0}}))
    return sandbox.run(with_sonarqube_and_snyk(plan, deployed_scan(plan, "pricing", "qa", "SAST"), "pricing"))


@scenario
def dependencies_below_the_threshold_pass(plan, sandbox):
    report = _json(FIXTURES / "osv.json")
    report["results"][0]["packages"] = report["results"][0]["packages"][:2]  # HIGH, MEDIUM, MEDIUM
    (sandbox.root / "osv-out.json").write_text(json.dumps(report))
    osv_release(sandbox, f"cat {sandbox.root / 'osv-out.json'}; exit 1\n")  # osv-scanner exits 1 on any finding
    return sandbox.run(deployed_scan(plan, "booking", "qa", "Dependencies"))


@scenario
def dependencies_block_a_prod_release(plan, sandbox):
    osv_release(sandbox, f"cat {FIXTURES / 'osv.json'}; exit 1\n")
    return sandbox.run(deployed_scan(plan, "booking", "prod", "Dependencies"))


@scenario
def a_repository_without_manifests(plan, sandbox):
    osv_release(sandbox, "echo 'No package sources found' >&2; exit 128\n")
    return sandbox.run(deployed_scan(plan, "booking", "prod", "Dependencies"))


@scenario
def osv_scanner_crashes(plan, sandbox):
    osv_release(sandbox, "echo boom >&2; exit 127\n")
    return sandbox.run(deployed_scan(plan, "booking", "prod", "Dependencies"))


@scenario
def a_tampered_osv_scanner_release(plan, sandbox):
    osv_release(sandbox, "echo 'I am not osv-scanner'\n", tampered=True)
    return sandbox.run(deployed_scan(plan, "booking", "prod", "Dependencies"))


@scenario
def snyk_blocks_beside_a_clean_osv(plan, sandbox):
    osv_release(sandbox, "echo '{\"results\": []}'\n")
    sandbox.tool("snyk", f"cat {FIXTURES / 'snyk.json'}; exit 1\n")
    return sandbox.run(with_sonarqube_and_snyk(plan, deployed_scan(plan, "booking", "prod", "Dependencies"), "booking"))


SNYK_API = "https://api.eu.snyk.io"


@scenario
def snyk_service_account_trades_its_rotated_client_secret(plan, sandbox):
    """A rotated Snyk secret is JSON: the scan reads its two keys and buys an OAuth token with them."""
    osv_release(sandbox, "echo '{\"results\": []}'\n")
    sandbox.serve(f"{SNYK_API}/oauth2/token", json.dumps({"access_token": "oauth-access", "expires_in": 3600}))
    sandbox.tool("snyk", f'[ "$SNYK_OAUTH_TOKEN" = oauth-access ] || exit 3; cat {FIXTURES / "snyk.json"}; exit 1\n')
    scan = with_sonarqube_and_snyk(plan, deployed_scan(plan, "booking", "prod", "Dependencies"), "booking")
    settings = plan.inputs.settings.model_copy(
        update={
            "snyk": Snyk(
                token_secret_name=SNYK_SECRET,
                token_kind="service-account-client-secret",
                org_id="0b4c1e2a-8f7d-4c3b-9a6e-5d2f1e0c9b8a",
                service_account_id="5d2f1e0c-9b8a-4c3b-8f7d-0b4c1e2a9a6e",
                api_url=SNYK_API,
            )
        }
    )
    inputs = PlatformInputs(plan.inputs.stack, settings, plan.inputs.catalog)
    spec = yaml.safe_load(scans.scan_buildspec(inputs.catalog.service("booking"), inputs))
    secrets = {f"{SNYK_SECRET}:client_id": "sa-client", f"{SNYK_SECRET}:client_secret": "s3cr&t+"}
    return sandbox.run(DeployedScan(spec, scan.project_variables, scan.action_variables, secrets))


@scenario
def snyk_crashes_after_osv_blocked(plan, sandbox):
    osv_release(sandbox, f"cat {FIXTURES / 'osv.json'}; exit 1\n")
    sandbox.tool("snyk", 'echo \'{"ok": false, "error": "Authentication failed"}\'; exit 2\n')
    return sandbox.run(with_sonarqube_and_snyk(plan, deployed_scan(plan, "booking", "prod", "Dependencies"), "booking"))


@scenario
def iac_findings_block_a_prod_release(plan, sandbox):
    sandbox.tool("checkov", f"cat {FIXTURES / 'checkov.json'}\n")
    return sandbox.run(deployed_scan(plan, "booking", "prod", "IaC"))


@scenario
def unreadable_scanner_output(plan, sandbox):
    sandbox.tool("checkov", "echo 'Traceback (most recent call last):'\n")
    return sandbox.run(deployed_scan(plan, "booking", "prod", "IaC"))


@scenario
def leaked_secrets(plan, sandbox):
    gitleaks_release(sandbox, copies_fixture_after("--report-path", "gitleaks.json"))
    return sandbox.run(deployed_scan(plan, "booking", "qa", "Secrets"))


@scenario
def gitleaks_crashes(plan, sandbox):
    gitleaks_release(sandbox, "echo 'failed to read .gitleaks.toml' >&2; exit 1\n")
    return sandbox.run(deployed_scan(plan, "booking", "qa", "Secrets"))


CDXGEN = 'echo "$*" > "$CODEBUILD_SRC_DIR/../calls/cdxgen-args"\n' + copies_fixture_after("-o", "sbom.cdx.json")


@scenario
def kotlin_sbom_with_a_denied_license(plan, sandbox):
    sandbox.tool("cdxgen", CDXGEN)
    return sandbox.run(deployed_scan(plan, "booking", "qa", "LicensesAndSBOM"))


@scenario
def node_sbom_outside_the_pipeline(plan, sandbox):
    sandbox.tool("cdxgen", CDXGEN)  # started by hand (start-build): no COMMIT_ID, no deny list
    return sandbox.run(deployed_scan(plan, "reviews", "qa", "LicensesAndSBOM", COMMIT_ID=None, LICENSE_DENY_LIST=""))


@scenario
def python_sbom(plan, sandbox):
    sandbox.tool("cdxgen", CDXGEN)
    return sandbox.run(deployed_scan(plan, "pricing", "qa", "LicensesAndSBOM", LICENSE_DENY_LIST=""))


@scenario
def dast_finds_a_high_alert(plan, sandbox):
    zap_release(sandbox)
    return sandbox.run(deployed_scan(plan, "booking", "qa", "DAST"))


@scenario
def dast_release_digest_mismatch(plan, sandbox):
    zap_release(sandbox, wrong_digest=True)
    return sandbox.run(deployed_scan(plan, "booking", "qa", "DAST"))


@scenario
def dast_without_a_target(plan, sandbox):
    zap_release(sandbox)
    return sandbox.run(deployed_scan(plan, "booking", "qa", "DAST", TARGET_URL=None))


@scenario
def an_unknown_scanner(plan, sandbox):
    return sandbox.run(deployed_scan(plan, "booking", "qa", "SAST", SCANNER="fuzzing"))


@scenario
def no_scanner_chosen(plan, sandbox):
    return sandbox.run(deployed_scan(plan, "booking", "qa", "SAST", SCANNER=None))


def many_leaks(sandbox: Sandbox) -> None:
    leaks = [dict(_json(FIXTURES / "gitleaks.json")[0], File=f"config/f{i}.ini") for i in range(230)]
    (sandbox.root / "many.json").write_text(json.dumps(leaks))
    gitleaks_release(sandbox, f'while [ "$1" != "--report-path" ]; do shift; done; cp {sandbox.root}/many.json "$2"\n')


@scenario
def security_hub_refuses_a_finding(plan, sandbox):
    many_leaks(sandbox)  # three batches: 100, 100, 30
    sandbox.security_hub_answers(1, 0, 0)
    return sandbox.run(deployed_scan(plan, "booking", "qa", "Secrets"))


@scenario
def security_hub_denies_the_call(plan, sandbox):
    many_leaks(sandbox)
    sandbox.security_hub_answers("AccessDenied", 0, 0)
    return sandbox.run(deployed_scan(plan, "booking", "qa", "Secrets"))


REPOSITORY_SUPPRESSIONS = {
    ".gitleaks.toml": "[allowlist]\npaths = ['.*']\n",
    ".gitleaksignore": "src/config.py:aws-access-token:3\n",
    ".checkov.yaml": "skip-check: [CKV_AWS_20]\nsoft-fail: true\n",
    ".semgrepignore": "src/\n",
    "lib/.semgrepignore": "*.py\n",
    "osv-scanner.toml": "[[IgnoredVulns]]\nid = 'GHSA-h452-7996-h45h'\n",
    "lib/osv-scanner.toml": "[[IgnoredVulns]]\nid = 'GHSA-776f-qx25-q3cc'\n",
}
"""What a repository might commit to silence its scans (each tool's documented file and place)."""


def with_repository_suppressions(sandbox: Sandbox) -> None:
    for name, text in REPOSITORY_SUPPRESSIONS.items():
        (sandbox.root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (sandbox.root / "src" / name).write_text(text)


def records_its_run(tool: str, output_flag: str, output: str) -> str:
    """A stand-in that keeps its arguments and which dot-files of the checkout it could see, then writes output."""
    return (
        f'echo "$*" > "$CODEBUILD_SRC_DIR/../calls/{tool}-args"\n'
        f'find . -name ".*" -type f | sort > "$CODEBUILD_SRC_DIR/../calls/{tool}-saw"\n'
        f'while [ "$1" != "{output_flag}" ]; do shift; done; echo \'{output}\' > "$2"\n'
    )


@scenario
def gitleaks_in_a_repository_that_silences_it(plan, sandbox):
    with_repository_suppressions(sandbox)
    gitleaks_release(sandbox, records_its_run("gitleaks", "--report-path", "[]"))
    return sandbox.run(deployed_scan(plan, "booking", "prod", "Secrets"))


@scenario
def checkov_in_a_repository_that_silences_it(plan, sandbox):
    with_repository_suppressions(sandbox)
    sandbox.tool(
        "checkov",
        'echo "$*" > "$CODEBUILD_SRC_DIR/../calls/checkov-args"\n'
        'find . -name ".*" -type f | sort > "$CODEBUILD_SRC_DIR/../calls/checkov-saw"\n'
        f"cat {FIXTURES / 'checkov-skipped.json'}\n",
    )
    return sandbox.run(deployed_scan(plan, "booking", "prod", "IaC"))


@scenario
def semgrep_in_a_repository_that_silences_it(plan, sandbox):
    with_repository_suppressions(sandbox)
    sandbox.tool("semgrep", records_its_run("semgrep", "--output", '{"results": []}'))
    return sandbox.run(deployed_scan(plan, "booking", "prod", "SAST"))


@scenario
def osv_in_a_repository_that_silences_it(plan, sandbox):
    with_repository_suppressions(sandbox)
    osv_release(sandbox, 'echo "$*" > "$CODEBUILD_SRC_DIR/../calls/osv-args"; echo \'{"results": []}\'\n')
    return sandbox.run(deployed_scan(plan, "booking", "prod", "Dependencies"))


class Runs(dict):
    """Each scenario runs once, on first use, in a sandbox of its own."""

    def __init__(self, plan, factory: pytest.TempPathFactory) -> None:
        super().__init__()
        self.plan, self.factory = plan, factory

    def __missing__(self, name: str) -> ScanRun:
        self[name] = SCENARIOS[name](self.plan, Sandbox(self.factory.mktemp(name)))
        return self[name]

    def all(self) -> Iterator[ScanRun]:
        return (self[name] for name in SCENARIOS)


@pytest.fixture(scope="module")
def runs(dev_plan, tmp_path_factory) -> Runs:
    return Runs(dev_plan, tmp_path_factory)


def statuses(run: ScanRun) -> tuple[str, str, str]:
    return tuple(run.build.phases[name].status for name in ("install", "build", "post_build"))


FAILED_SCAN = ("SUCCEEDED", "FAILED", "SUCCEEDED")
"""The scan fails the build; post_build still runs (and succeeds: its findings reached Security Hub)."""


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["install", "build", "post_build"])
def test_every_phase_is_valid_bash(dev_plan, phase):
    for command in deployed_scan(dev_plan, "booking", "qa", "SAST").spec["phases"][phase]["commands"]:
        checked = subprocess.run([BASH, "-n", "-c", command], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr


def test_the_findings_that_blocked_a_release_reach_security_hub(runs):
    run = runs["semgrep_blocks_a_prod_release"]
    assert statuses(run) == FAILED_SCAN, run.build.log
    (finding,) = run.in_security_hub()
    assert finding["GeneratorId"].endswith("python.lang.security.audit.subprocess-shell-true.subprocess-shell-true")
    assert blocking_findings_not_in_security_hub(run) == []


@pytest.mark.parametrize(
    "scenario_name",
    [
        "semgrep_blocks_a_prod_release",
        "dependencies_block_a_prod_release",
        "snyk_blocks_beside_a_clean_osv",
        "iac_findings_block_a_prod_release",
        "leaked_secrets",
        "kotlin_sbom_with_a_denied_license",
        "dast_finds_a_high_alert",
    ],
)
def test_every_scanner_that_fails_a_release_sends_exactly_its_blocking_findings(runs, scenario_name):
    run = runs[scenario_name]
    assert statuses(run) == FAILED_SCAN, run.build.log
    blocking = run.blocking_findings()
    assert blocking, "a failed scan names what failed it"
    assert sorted(f["Id"] for f in run.in_security_hub()) == sorted(blocking)


def skip_post_build_on_a_failed_build(spec):
    spec["phases"]["build"]["on-failure"] = "ABORT"


def import_only_when_the_build_succeeds(spec):
    (command,) = spec["phases"]["post_build"]["commands"]
    guard = '[ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ] || exit 0\n'
    spec["phases"]["post_build"]["commands"] = [command.replace("shopt -s nullglob\n", guard + "shopt -s nullglob\n")]
    assert guard in spec["phases"]["post_build"]["commands"][0]


def import_inside_the_build_phase(spec):
    post_build = spec["phases"].pop("post_build")
    spec["phases"]["build"]["commands"] += post_build["commands"]


@pytest.mark.parametrize(
    "skip_the_import",
    [skip_post_build_on_a_failed_build, import_only_when_the_build_succeeds, import_inside_the_build_phase],
)
def test_the_security_hub_check_catches_every_way_of_skipping_the_import(dev_plan, tmp_path, skip_the_import):
    # The mutations a reviewer could wave through: each keeps the shell valid and a passing scan unchanged.
    sandbox = Sandbox(tmp_path)
    sandbox.tool("semgrep", copies_fixture_after("--output", "semgrep.json"))
    run = sandbox.run(deployed_scan(dev_plan, "booking", "prod", "SAST"), mutate=skip_the_import)
    assert not run.build.succeeded
    assert blocking_findings_not_in_security_hub(run) != []


def test_the_scanners_are_installed_at_their_pinned_versions(runs):
    installed = {
        "semgrep_blocks_a_prod_release": f"pip install --quiet semgrep=={VERSIONS['SEMGREP_VERSION']}",
        "sonarqube_for_python": f"npm install -g --no-fund @sonar/scan@{VERSIONS['SONAR_SCANNER_NPM_VERSION']}",
        "snyk_blocks_beside_a_clean_osv": f"npm install -g --no-fund snyk@{VERSIONS['SNYK_VERSION']}",
        "iac_findings_block_a_prod_release": f"pip install --quiet checkov=={VERSIONS['CHECKOV_VERSION']}",
        "leaked_secrets": None,
        "kotlin_sbom_with_a_denied_license": f"npm install -g --no-fund @cyclonedx/cdxgen@{VERSIONS['CDXGEN_VERSION']}",
    }
    for name, command in installed.items():
        assert runs[name].sandbox.calls_to("installers.log") == ([command] if command else []), name
    assert runs["dependencies_block_a_prod_release"].sandbox.calls_to("installers.log") == []  # no Snyk token


def test_release_downloads_are_verified_before_they_run(runs):
    tampered = runs["a_tampered_osv_scanner_release"]
    assert statuses(tampered) == ("FAILED", "NOT_RUN", "NOT_RUN"), tampered.build.log
    assert "FAILED" in tampered.build.stdout + tampered.build.stderr  # sha256sum -c
    assert "I am not osv-scanner" not in tampered.build.stdout
    wrong_zap = runs["dast_release_digest_mismatch"]
    assert statuses(wrong_zap) == ("FAILED", "NOT_RUN", "NOT_RUN"), wrong_zap.build.log
    assert not (wrong_zap.sandbox.root / "opt" / f"ZAP_{VERSIONS['ZAP_VERSION']}").exists()


def test_a_build_without_its_settings_stops_in_install(runs):
    for name, message in [
        ("no_scanner_chosen", "SCANNER must be sast, sca, iac, secrets, licenses or dast"),
        ("an_unknown_scanner", "unknown SCANNER 'fuzzing'"),
        ("dast_without_a_target", "DAST needs TARGET_URL"),
    ]:
        run = runs[name]
        assert statuses(run) == ("FAILED", "NOT_RUN", "NOT_RUN"), name
        assert message in run.build.stdout + run.build.stderr, name
    assert runs["an_unknown_scanner"].build.phases["install"].exit_codes == [2]


def test_a_clean_scan_passes_and_sends_nothing(runs):
    run = runs["semgrep_finds_nothing"]
    assert statuses(run) == ("SUCCEEDED", "SUCCEEDED", "SUCCEEDED"), run.build.log
    assert run.sent_to_security_hub() == 0


def test_vulnerabilities_below_the_threshold_pass(runs):
    run = runs["dependencies_below_the_threshold_pass"]
    assert run.build.succeeded, run.build.log
    assert "3 finding(s), 0 at or above CRITICAL" in run.build.stdout
    assert run.sent_to_security_hub() == 0


def test_dependencies_at_the_prod_threshold_block_and_the_rest_stay_out_of_security_hub(runs):
    run = runs["dependencies_block_a_prod_release"]
    assert {f["Severity"]["Label"] for f in run.in_security_hub()} == {"HIGH", "CRITICAL"}
    assert len(run.in_security_hub()) == 2  # the two MEDIUM advisories are not sent


def test_a_repository_without_manifests_passes_the_dependency_scan(runs):
    run = runs["a_repository_without_manifests"]
    assert run.build.succeeded, run.build.log


def test_a_crashing_scanner_fails_the_build_with_nothing_to_send(runs):
    osv = runs["osv_scanner_crashes"]
    assert statuses(osv) == FAILED_SCAN and osv.build.phases["build"].exit_codes == [127]
    assert "osv-scanner failed (127)" in osv.build.stdout
    gitleaks = runs["gitleaks_crashes"]
    assert statuses(gitleaks) == FAILED_SCAN and "gitleaks failed (1)" in gitleaks.build.stdout
    assert osv.sent_to_security_hub() == gitleaks.sent_to_security_hub() == 0


def test_unreadable_scanner_output_fails_closed(runs):
    run = runs["unreadable_scanner_output"]
    assert statuses(run) == FAILED_SCAN and run.build.phases["build"].exit_codes == [2]
    assert "cannot read checkov output" in run.build.stderr


def test_a_snyk_failure_still_sends_what_osv_found(runs):
    run = runs["snyk_crashes_after_osv_blocked"]
    assert statuses(run) == FAILED_SCAN and "snyk failed (2)" in run.build.stdout
    assert len(run.in_security_hub()) == 2
    assert blocking_findings_not_in_security_hub(run) == []


def test_a_rotated_snyk_service_account_scans_with_an_oauth_token_it_bought(runs):
    run = runs["snyk_service_account_trades_its_rotated_client_secret"]
    assert statuses(run) == FAILED_SCAN, run.build.log  # the fixture's findings block: snyk ran, authenticated
    assert f"{SNYK_API}/oauth2/token" in run.sandbox.calls_to("curl.log")
    assert "s3cr&t+" not in run.build.log, "the client secret never reaches a command line or the log"


def test_sonarqube_replaces_semgrep_and_its_gate_does_not_decide(runs):
    kotlin = runs["sonarqube_gate_fails_for_kotlin"]
    assert kotlin.build.succeeded, kotlin.build.log  # HIGH and MEDIUM issues, CRITICAL threshold
    assert "SonarQube quality gate did not pass" in kotlin.build.stdout
    arguments = (kotlin.sandbox.calls / "sonar-args").read_text()
    assert SONAR_TOKEN not in arguments and "-Dsonar.projectKey=bookwise_booking" in arguments
    assert "-Dsonar.java.binaries=" in arguments  # booking is Kotlin
    (issues,) = kotlin.sandbox.calls_to("curl.log")
    assert issues.startswith(f"{SONAR_URL}/api/issues/search?componentKeys=bookwise_booking&")
    python = runs["sonarqube_for_python"]
    assert python.build.succeeded and "-Dsonar.java.binaries" not in (python.sandbox.calls / "sonar-args").read_text()


def test_the_sbom_is_kept_next_to_the_build_by_commit(runs):
    run = runs["kotlin_sbom_with_a_denied_license"]
    (upload,) = [json.loads(call) for call in run.sandbox.calls_to("aws.jsonl") if '"s3"' in call]
    bucket, key = run.scan.project_variables["ARTIFACT_BUCKET"], run.scan.project_variables["ARTIFACT_KEY_ARN"]
    assert upload[3] == f"s3://{bucket}/security_reports/booking/sbom/{COMMIT}.cdx.json"
    assert upload[4:] == ["--sse", "aws:kms", "--sse-kms-key-id", key]
    stored = run.sandbox.root / "s3" / bucket / "security_reports/booking/sbom" / f"{COMMIT}.cdx.json"
    assert _json(stored)["bomFormat"] == "CycloneDX"
    assert (run.sandbox.calls / "cdxgen-args").read_text().startswith("-t java ")  # booking is Kotlin


def test_an_sbom_made_outside_the_pipeline_is_kept_by_the_resolved_commit(runs):
    node = runs["node_sbom_outside_the_pipeline"]
    assert node.build.succeeded, node.build.log
    (upload,) = [json.loads(c) for c in node.sandbox.calls_to("aws.jsonl")]
    assert upload[3].endswith(f"/security_reports/reviews/sbom/{COMMIT}.cdx.json")
    assert (node.sandbox.calls / "cdxgen-args").read_text().startswith("-t js ")
    python = runs["python_sbom"]
    assert (python.sandbox.calls / "cdxgen-args").read_text().startswith("-t python ")


def test_dast_runs_the_zap_plan_against_the_target(runs):
    run = runs["dast_finds_a_high_alert"]
    plan = yaml.safe_load((run.sandbox.calls / "zap-plan.yaml").read_text())
    assert plan["env"]["contexts"][0]["urls"] == ["${TARGET_URL}"]  # ZAP substitutes it from the environment
    assert plan["jobs"][-1]["parameters"]["reportDir"] == str(run.scan_dir / "zap")
    (finding,) = run.in_security_hub()
    assert finding["Resources"] == [{"Type": "Other", "Id": "https://booking.dev.bookwise.example"}]


def test_leaked_secret_values_never_reach_security_hub(runs):
    run = runs["leaked_secrets"]
    sent = json.dumps(run.in_security_hub())
    for leak in _json(FIXTURES / "gitleaks.json"):
        assert leak["Secret"] not in sent and leak["Match"] not in sent


def test_a_refused_finding_fails_the_scan_but_every_other_batch_is_still_sent(runs):
    run = runs["security_hub_refuses_a_finding"]
    assert statuses(run) == ("SUCCEEDED", "FAILED", "FAILED"), run.build.log
    assert run.sent_to_security_hub() == 3
    assert len(run.in_security_hub()) == 229
    assert "Security Hub refused 1 finding(s)" in run.build.stdout
    assert blocking_findings_not_in_security_hub(run) == [run.blocking_findings()[0]]


def test_a_denied_import_call_fails_the_scan_but_the_other_batches_are_still_sent(runs):
    run = runs["security_hub_denies_the_call"]
    assert statuses(run) == ("SUCCEEDED", "FAILED", "FAILED"), run.build.log
    assert run.sent_to_security_hub() == 3 and len(run.in_security_hub()) == 130
    assert "1 batch(es) of findings did not fully reach Security Hub" in run.build.stdout


def test_every_line_of_the_buildspec_shell_runs_in_some_scenario(runs, dev_plan):
    spec = deployed_scan(dev_plan, "booking", "qa", "SAST").spec
    traced: dict[codebuild.CommandKey, set[int]] = {}
    for run in runs.all():
        for key, lines in run.build.traced.items():
            traced.setdefault(key, set()).update(lines)
    missing = []
    for phase_name, phase in spec["phases"].items():
        for block in ("commands", "finally"):
            for index, command in enumerate(phase.get(block) or []):
                text, ran = command.splitlines(), traced.get((phase_name, block, index), set())
                for start, span in sorted(codebuild.command_lines(command).items()):
                    if not span & ran:
                        missing.append(f"{phase_name} line {start}: {text[start - 1].strip()}")
    assert missing == [], "no scenario runs these lines of scan.yml; add one:\n" + "\n".join(missing)


# --- the repository does not configure its own scan -------------------------------------------------


def reported_suppressions(run: ScanRun) -> list[tuple[str, str]]:
    return sorted(
        (f["ProductFields"]["cicd-platform/Location"], f["ProductFields"]["cicd-platform/Blocking"])
        for f in run.in_security_hub()
        if f["GeneratorId"].split("/")[2] == "repo-suppression"
    )


def test_gitleaks_runs_on_the_platforms_rules_and_reports_the_repositorys_files(runs):
    """gitleaks: --config precedes <source>/.gitleaks.toml (v8.2.0 release notes); --gitleaks-ignore-path and
    --ignore-gitleaks-allow (gitleaks --help) keep .gitleaksignore and gitleaks:allow comments out."""
    run = runs["gitleaks_in_a_repository_that_silences_it"]
    assert run.build.succeeded, run.build.log
    args = run.sandbox.calls_to("gitleaks-args")[0].split()
    assert (run.scan_dir / "gitleaks.toml").read_text() == "[extend]\nuseDefault = true\n"
    assert args[args.index("--config") + 1].endswith("/scan/gitleaks.toml")
    ignore_dir = Path(args[args.index("--gitleaks-ignore-path") + 1])
    assert ignore_dir.is_dir() and not any(ignore_dir.iterdir())
    assert "--ignore-gitleaks-allow" in args
    # Reported, not blocking: the scan itself passed.
    assert reported_suppressions(run) == [(".gitleaks.toml", "false"), (".gitleaksignore", "false")]


def test_checkov_never_sees_the_repositorys_config_and_inline_skips_fail(runs):
    run = runs["checkov_in_a_repository_that_silences_it"]
    assert ".checkov.yaml" not in "".join(run.sandbox.calls_to("checkov-saw"))
    assert "--config-file" in run.sandbox.calls_to("checkov-args")[0].split()
    assert reported_suppressions(run) == [(".checkov.yaml", "false")]
    # The fixture's only result is a check the repository skipped inline: it blocks the prod release.
    assert statuses(run) == FAILED_SCAN, run.build.log
    blocking = [f for f in run.in_security_hub() if f["ProductFields"]["cicd-platform/Blocking"] == "true"]
    assert [f["GeneratorId"] for f in blocking] == ["cicd-platform/iac/CKV_AWS_20"]
    assert blocking_findings_not_in_security_hub(run) == []


def test_semgrep_counts_nosemgrep_findings_and_never_sees_a_semgrepignore(runs):
    """Semgrep honours nosemgrep comments unless --disable-nosem, and .semgrepignore files in any folder
    (Semgrep docs, "Ignore files, folders, and code"); no flag overrides those, so they are removed first."""
    run = runs["semgrep_in_a_repository_that_silences_it"]
    assert run.build.succeeded, run.build.log
    assert "--disable-nosem" in run.sandbox.calls_to("semgrep-args")[0].split()
    assert ".semgrepignore" not in "".join(run.sandbox.calls_to("semgrep-saw"))
    assert reported_suppressions(run) == [(".semgrepignore", "false"), ("lib/.semgrepignore", "false")]


def test_osv_scanner_replaces_every_osv_scanner_toml_with_the_platforms(runs):
    """OSV-Scanner docs, "Configuration": --config applies to all files and ignores osv-scanner.toml everywhere."""
    run = runs["osv_in_a_repository_that_silences_it"]
    assert run.build.succeeded, run.build.log
    args = run.sandbox.calls_to("osv-args")[0].split()
    assert (run.scan_dir / "osv-scanner.toml").read_text() == ""
    assert args[args.index("--config") + 1].endswith("/scan/osv-scanner.toml")
    assert reported_suppressions(run) == [("lib/osv-scanner.toml", "false"), ("osv-scanner.toml", "false")]
