"""Security scans of one service: a scan project, its report group, and the actions pipelines run.

One CodeBuild project per service runs every scanner; the pipeline picks the
scanner per action through the ``SCANNER`` environment variable, so the Scan
stage is five parallel actions against one project, and the Verify stage's
DAST is a sixth. Why one project per service and not one per scanner for the
fleet: a CodeBuild project has exactly one role, and a role shared by all
services could read every service's artifacts. Why not the service's build
project and role: the build runs the team's own buildspec and may write
artifacts and push images; a scan that could write artifacts could change
what it just vetted, and the build must not read the scanner tokens or write
Security Hub findings. So the scan gets a role of its own (``iam.scan_role_policy``).

The SBOM is made by the ``licenses`` scan (cdxgen) and kept in the artifact
bucket under ``security_reports/<service>/sbom/<commit>.cdx.json``: same key
and retention as the build artifact, but outside the pipeline's artifact
space, so the scan role never needs to write pipeline artifacts.
"""

from __future__ import annotations

import base64
import functools
import gzip
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from .. import iam
from ..aws.codebuild_project import CodeBuildProject, CodeBuildProjectArgs
from ..model import naming
from ..model.catalog import Service
from ..model.platform_inputs import PlatformInputs
from ..model.settings import Environment
from ..pipeline.stages import SOURCE_ARTIFACT, Action, codebuild_variables

BUILDSPECS = Path(__file__).parent / "buildspecs"
SCAN_BUILDSPEC = BUILDSPECS / "scan.yml"
SCAN_REPORT_SCRIPT = BUILDSPECS / "scan_report.py"

SCANNERS: dict[str, str] = {
    "sast": "SAST",
    "sca": "Dependencies",
    "iac": "IaC",
    "secrets": "Secrets",
    "licenses": "LicensesAndSBOM",
}
"""Scanner (the SCANNER value) → the action's name in the Scan stage."""
DAST_ACTION = "DAST"
DAST_FAIL_ON = "HIGH"
"""ZAP's top risk is High; environments' thresholds (CRITICAL outside prod) would never fail a DAST run."""

LANGUAGE_RUNTIMES: dict[str, dict[str, str]] = {
    "java": {"java": "corretto21"},
    "kotlin": {"java": "corretto21"},
    "python": {},
    "node": {},
    "go": {"golang": "1.23"},
    "dotnet": {"dotnet": "8.0"},
    "ruby": {"ruby": "3.3"},
}
"""What the service's own ecosystem needs (package managers for SBOM, Snyk, Sonar) on the standard 5.0 image."""
SCANNER_RUNTIMES = {"python": "3.12", "nodejs": "22"}
"""Semgrep, Checkov and scan_report.py need Python; cdxgen, Snyk and the Sonar scanner need Node.js."""
DAST_RUNTIMES = {"java": "corretto21"}
"""ZAP 2.16 needs Java 17 or newer."""


def _embedded_script() -> str:
    """scan_report.py, gzip (no timestamp, so plans are stable) and base64, to travel inside the buildspec."""
    compressed = gzip.compress(SCAN_REPORT_SCRIPT.read_bytes(), compresslevel=9, mtime=0)
    return base64.b64encode(compressed).decode("ascii")


class _BlockStrings(yaml.SafeDumper):
    """Multi-line commands stay readable literal blocks in the rendered buildspec."""


_BlockStrings.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


def scan_buildspec(service: Service, inputs: PlatformInputs) -> str:
    """The scan buildspec for one service: its language's runtimes, token secrets, its report group."""
    settings = inputs.settings
    secrets: dict[str, str] = {}
    variables: dict[str, str] = {}
    # A rotated secret holds JSON (the rotation function's shape): CodeBuild reads one key with ``name:key``.
    if settings.sonarqube:
        sonar = settings.sonarqube
        secrets["SONAR_TOKEN"] = f"{sonar.token_secret_name}:token" if sonar.rotated else sonar.token_secret_name
    if settings.snyk and settings.snyk.rotated:
        secrets["SNYK_CLIENT_ID"] = f"{settings.snyk.token_secret_name}:client_id"
        secrets["SNYK_CLIENT_SECRET"] = f"{settings.snyk.token_secret_name}:client_secret"
        variables["SNYK_API_URL"] = settings.snyk.api_url
    elif settings.snyk:
        secrets["SNYK_TOKEN"] = settings.snyk.token_secret_name
    report_group = naming.report_group_arn(
        settings.region, settings.tooling_account_id, naming.security_report_group_name(service.name)
    )
    rendered, key = _rendered_buildspec(service.language, tuple(secrets.items()), tuple(variables.items()))
    return rendered.replace(key, report_group, 1)


REPORT_GROUP_KEY = "cicd-report-group-of-this-service"
"""Where the service's report group goes in a rendered buildspec: a plain YAML scalar, as its ARN is."""


def _report_group_key(values: tuple[str, ...]) -> str:
    """``REPORT_GROUP_KEY``, lengthened until no settings value contains it.

    A secret name or a Snyk URL may be any text its pattern admits, the key's own included: the
    replace must find the key under ``reports:`` and nowhere else.
    """
    key = REPORT_GROUP_KEY
    while any(key in value for value in values):
        key += "-x"
    return key


@functools.cache
def _rendered_buildspec(
    language: str, secrets: tuple[tuple[str, str], ...], variables: tuple[tuple[str, str], ...]
) -> tuple[str, str]:
    """The buildspec of every service with this language and these settings, and the key its report group is.

    Rendered once per kind, not per service: YAML's emitter over the embedded script is a tenth of a
    service's plan time. The ARN then takes the key's place: both are plain scalars (an ARN has no
    ``": "`` and starts with a letter), so the text is what dumping the ARN would have given. The key
    occurs in no settings value (``_report_group_key``), and once in the text, or this raises.
    """
    key = _report_group_key(tuple(value for _, value in (*secrets, *variables)))
    spec: dict[str, Any] = yaml.safe_load(SCAN_BUILDSPEC.read_text(encoding="utf-8"))
    spec["env"]["variables"]["SCAN_REPORT_PY_GZ"] = _embedded_script()
    spec["env"]["variables"].update(variables)
    spec["phases"]["install"]["runtime-versions"] = {**SCANNER_RUNTIMES, **DAST_RUNTIMES, **LANGUAGE_RUNTIMES[language]}
    if secrets:
        spec["env"]["secrets-manager"] = dict(secrets)
    (placeholder,) = spec["reports"]
    spec["reports"] = {key: spec["reports"][placeholder]}
    header = "".join(line + "\n" for line in SCAN_BUILDSPEC.read_text().splitlines() if line.startswith("#"))
    rendered = header + yaml.dump(spec, Dumper=_BlockStrings, sort_keys=False, width=120)
    if rendered.count(key) != 1:
        raise RuntimeError(f"the report group key {key!r} occurs {rendered.count(key)} times in the scan buildspec")
    return rendered, key


def scan_actions(service: Service, environment: Environment, project_name: pulumi.Input[str]) -> list[Action]:
    """The Scan stage: every scanner at once (same run order) on the source, at the environment's threshold."""
    policy = environment.scan
    return [
        _scan_action(
            action_name,
            project_name,
            {
                "SCANNER": scanner,
                "FAIL_ON": policy.fail_on,
                "LICENSE_DENY_LIST": ",".join(policy.license_deny_list),
                "TARGET_ENVIRONMENT": environment.name,
                "COMMIT_ID": "#{SourceVariables.CommitId}",
            },
        )
        for scanner, action_name in SCANNERS.items()
    ]


def verify_actions(
    service: Service, environment: Environment, inputs: PlatformInputs, project_name: pulumi.Input[str]
) -> list[Action]:
    """The Verify stage: a ZAP baseline scan of the deployed service, where the environment runs DAST."""
    url = inputs.settings.service_url(service, environment.name)
    if not environment.scan.dast or url is None:
        return []
    return [
        _scan_action(
            DAST_ACTION,
            project_name,
            {
                "SCANNER": "dast",
                "FAIL_ON": DAST_FAIL_ON,
                "TARGET_URL": url,
                "TARGET_ENVIRONMENT": environment.name,
                "COMMIT_ID": "#{SourceVariables.CommitId}",
            },
        )
    ]


def _scan_action(name: str, project_name: pulumi.Input[str], variables: Mapping[str, str]) -> Action:
    return {
        "name": name,
        "category": "Test",
        "owner": "AWS",
        "provider": "CodeBuild",
        "version": "1",
        "run_order": 1,
        "input_artifacts": [SOURCE_ARTIFACT],
        "configuration": {"ProjectName": project_name, "EnvironmentVariables": codebuild_variables(variables)},
    }


@dataclass(frozen=True)
class ServiceScansArgs:
    inputs: PlatformInputs
    service: Service
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    tags: Mapping[str, str]


class ServiceScans(pulumi.ComponentResource):
    """The scan project of one service (own role, logs) and its encrypted report group."""

    project_arn: pulumi.Output[str]
    project_name: pulumi.Output[str]
    report_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceScansArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:ServiceScans", name, None, opts)
        service, settings = args.service, args.inputs.settings
        region, tooling = settings.region, settings.tooling_account_id
        prefix = naming.security_reports_prefix(service.name)
        report_group = aws.codebuild.ReportGroup(
            f"{name}-findings",
            name=naming.security_report_group_name(service.name),
            type="TEST",
            export_config={
                "type": "S3",
                "s3_destination": {
                    "bucket": args.bucket_name,
                    "path": f"{prefix}/reports",
                    "packaging": "NONE",
                    "encryption_disabled": False,
                    "encryption_key": args.key_arn,
                },
            },
            delete_reports=True,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        secret_arns = [
            naming.secret_arn_pattern(region, tooling, server.token_secret_name)
            for server in (settings.sonarqube, settings.snyk)
            if server is not None
        ]
        variables: dict[str, pulumi.Input[str]] = {
            "SERVICE_NAME": service.name,
            "SERVICE_LANGUAGE": service.language,
            "REPOSITORY": service.repository,
            "TOOLING_ACCOUNT_ID": tooling,
            "AWS_PARTITION": naming.partition_of(region),
            "ARTIFACT_BUCKET": args.bucket_name,
            "ARTIFACT_KEY_ARN": args.key_arn,
            "SECURITY_REPORTS_PREFIX": prefix,
        }
        if settings.sonarqube:
            variables["SONAR_HOST_URL"] = settings.sonarqube.url
            variables["SONAR_PROJECT_KEY"] = service.repository.replace("/", "_")
        project_name = naming.scan_project_name(service.name)
        project = CodeBuildProject(
            f"{name}-scan",
            CodeBuildProjectArgs(
                project_name=project_name,
                role_name=naming.scan_role_name(service.name),
                role_path=naming.tooling_role_path(args.inputs.stack),
                log_group_name=naming.scan_log_group_name(service.name),
                description=f"Security scans of {service.name}: SAST, dependencies, IaC, secrets, licenses, DAST",
                account_id=tooling,
                buildspec=scan_buildspec(service, args.inputs),
                key_arn=args.key_arn,
                policy_inputs={
                    "bucket_arn": args.bucket_arn,
                    "key_arn": args.key_arn,
                    "report_group_arn": report_group.arn,
                },
                policy_for=lambda resolved: iam.scan_role_policy(
                    resolved["log_group_arn"],
                    resolved["bucket_arn"],
                    resolved["key_arn"],
                    resolved["report_group_arn"],
                    prefix,
                    naming.security_hub_product_arn(region, tooling),
                    list(args.inputs.artifact_prefixes(service).values()),
                    secret_arns,
                ),
                tags=args.tags,
                timeout_minutes=settings.build_timeout_minutes,
                environment_variables=variables,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.project_arn = project.arn
        self.project_name = project.name
        self.report_group_arn = report_group.arn
        self.register_outputs(
            {"projectArn": project.arn, "projectName": project.name, "reportGroupArn": report_group.arn}
        )
