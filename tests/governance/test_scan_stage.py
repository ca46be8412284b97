"""The Scan and Verify stages under mocks: what runs where, at which threshold, with which rights."""

from __future__ import annotations

import base64
import gzip
import json
import re

import pytest
import yaml

from components import iam
from components.governance import scans
from components.model import naming
from components.model.platform_inputs import PlatformInputs
from components.model.settings import parse_settings
from offline_plan.report import summary
from tests.conftest import document, inputs_of

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
PROJECT = "aws:codebuild/project:Project"
REPORT_GROUP = "aws:codebuild/reportGroup:ReportGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SCANNERS = {"sast", "sca", "iac", "secrets", "licenses"}


def stage(pipeline, name):
    return next((s for s in pipeline["stages"] if s["name"] == name), None)


def variables(action):
    return {v["name"]: v["value"] for v in json.loads(action["configuration"]["EnvironmentVariables"])}


def service_and_environment(plan, pipeline):
    for service in plan.inputs.catalog.services:
        for environment in plan.inputs.environments_for(service):
            if naming.pipeline_name(service.name, environment.name) == pipeline["name"]:
                return service, environment
    raise AssertionError(pipeline["name"])


def scan_policy_statements(plan, service):
    role = next(r for r in plan.resources if r.type == ROLE and r.inputs["name"] == naming.scan_role_name(service))
    (policy,) = [r for r in plan.resources if r.type == ROLE_POLICY and r.parent == role.urn]
    return document(policy.inputs["policy"])["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_every_pipeline_scans_after_build_and_before_approval_or_deploy(stack, request):
    plan = request.getfixturevalue(stack)
    for pipeline in inputs_of(plan, PIPELINE):
        service, _ = service_and_environment(plan, pipeline)
        names = [s["name"] for s in pipeline["stages"]]
        assert names.index("Build") + 1 == names.index("Scan"), pipeline["name"]
        assert names.index("Scan") < names.index("Deploy")
        if "Approve" in names:
            assert names.index("Scan") < names.index("Approve")
        actions = stage(pipeline, "Scan")["actions"]
        assert {variables(a)["SCANNER"] for a in actions} == SCANNERS
        assert len(actions) == len(SCANNERS)
        assert {a["runOrder"] for a in actions} == {1}, "scanners run in parallel"
        for action in actions:
            assert (action["category"], action["owner"], action["provider"]) == ("Test", "AWS", "CodeBuild")
            assert action["configuration"]["ProjectName"] == naming.scan_project_name(service.name)
            assert action["inputArtifacts"] == ["source_output"]
            assert not action.get("outputArtifacts")


@pytest.mark.parametrize(("stack", "strictest"), [("dev_plan", "HIGH"), ("prod_plan", "HIGH")])
def test_thresholds_follow_the_environment(stack, strictest, request):
    plan = request.getfixturevalue(stack)
    for pipeline in inputs_of(plan, PIPELINE):
        _, environment = service_and_environment(plan, pipeline)
        expected = strictest if environment.production else "CRITICAL"
        for action in stage(pipeline, "Scan")["actions"]:
            settings = variables(action)
            assert settings["FAIL_ON"] == expected, pipeline["name"]
            assert settings["TARGET_ENVIRONMENT"] == environment.name
            assert settings["LICENSE_DENY_LIST"] == "AGPL-3.0-only,AGPL-3.0-or-later,SSPL-1.0"
            assert settings["COMMIT_ID"] == "#{SourceVariables.CommitId}"


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_dast_runs_after_deploy_outside_production_only(stack, request):
    plan = request.getfixturevalue(stack)
    for pipeline in inputs_of(plan, PIPELINE):
        service, environment = service_and_environment(plan, pipeline)
        verify = stage(pipeline, "Verify")
        if environment.production:
            assert verify is None, pipeline["name"]
            continue
        assert [s["name"] for s in pipeline["stages"]][-1] == "Verify"
        (dast,) = verify["actions"]
        settings = variables(dast)
        assert settings["SCANNER"] == "dast"
        assert settings["FAIL_ON"] == "HIGH"
        assert settings["TARGET_URL"] == f"https://{service.name}.{environment.name}.bookwise.example"
        assert dast["configuration"]["ProjectName"] == naming.scan_project_name(service.name)


def test_scan_role_reads_artifacts_but_writes_only_its_own_reports(prod_plan):
    bucket = prod_plan.outputs["artifactBucket"]
    for service in prod_plan.inputs.catalog.services:
        statements = scan_policy_statements(prod_plan, service.name)
        writes = [s for s in statements if "s3:PutObject" in as_list(s["Action"])]
        assert [w["Resource"] for w in writes] == [f"arn:aws:s3:::{bucket}/security_reports/{service.name}/*"]
        reads = next(s for s in statements if s["Sid"] == "ReadArtifacts")
        assert set(as_list(reads["Action"])) == {"s3:GetObject", "s3:GetObjectVersion"}
        own = prod_plan.inputs.artifact_prefixes(service)
        assert reads["Resource"] == sorted(f"arn:aws:s3:::{bucket}/{prefix}/*" for prefix in set(own.values()))
        every_action = {a for s in statements for a in as_list(s["Action"])}
        assert not {a for a in every_action if a.startswith(("sts:", "iam:", "ecr:", "codedeploy:", "codepipeline:"))}
        assert "s3:DeleteObject" not in every_action


def test_scan_report_prefix_cannot_be_a_pipeline_artifact_prefix(prod_plan):
    # CodePipeline keys artifacts by pipeline name; ours are <service>-<env>, never with an underscore.
    for service in prod_plan.inputs.catalog.services:
        prefix = naming.security_reports_prefix(service.name).split("/")[0]
        assert all(
            naming.pipeline_name(service.name, env.name) != prefix for env in prod_plan.inputs.settings.environments
        )
        assert "_" in prefix and "_" not in service.name


def test_scan_role_reports_only_to_its_report_group_and_imports_only_its_own_findings(prod_plan):
    for service in ("booking", "invoicing"):
        statements = {s["Sid"]: s for s in scan_policy_statements(prod_plan, service)}
        assert statements["Reports"]["Resource"] == (
            f"arn:aws:codebuild:eu-west-1:123456789012:report-group/{service}-security-findings"
        )
        assert set(statements["Reports"]["Action"]) == {
            "codebuild:BatchPutTestCases",
            "codebuild:CreateReport",
            "codebuild:UpdateReport",
        }
        assert statements["SecurityHubFindings"] == {
            "Sid": "SecurityHubFindings",
            "Effect": "Allow",
            "Action": "securityhub:BatchImportFindings",
            "Resource": "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default",
        }
        assert "ScannerTokens" not in statements  # neither stack configures SonarQube or Snyk


def test_scan_role_is_not_the_build_role_and_trusts_only_codebuild(prod_plan):
    project = next(p for p in inputs_of(prod_plan, PROJECT) if p["name"] == "booking-scan")
    assert project["serviceRole"] == "arn:aws:iam::123456789012:role/cicd/prod/cicd-scan-booking"  # under its path
    role = next(r for r in prod_plan.resources if r.type == ROLE and r.inputs["name"] == "cicd-scan-booking")
    (trust,) = document(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}


def test_report_groups_are_per_service_encrypted_and_match_the_buildspec(dev_plan):
    groups = {g["name"]: g for g in inputs_of(dev_plan, REPORT_GROUP)}
    assert set(groups) == {naming.security_report_group_name(s.name) for s in dev_plan.inputs.catalog.services}
    for service in dev_plan.inputs.catalog.services:
        group = groups[naming.security_report_group_name(service.name)]
        assert group["type"] == "TEST" and group["deleteReports"] is True
        destination = group["exportConfig"]["s3Destination"]
        assert group["exportConfig"]["type"] == "S3"
        assert destination["bucket"] == dev_plan.outputs["artifactBucket"]
        assert destination["encryptionKey"] == dev_plan.outputs["artifactKeyArn"]
        assert destination["encryptionDisabled"] is False
        assert destination["path"].startswith(f"security_reports/{service.name}/")
        project = next(p for p in inputs_of(dev_plan, PROJECT) if p["name"] == naming.scan_project_name(service.name))
        (reported_to,) = yaml.safe_load(project["source"]["buildspec"])["reports"]
        assert reported_to == f"arn:aws:codebuild:eu-west-1:210987654321:report-group/{group['name']}"


def test_artifact_key_lets_every_scan_role_decrypt(prod_plan):
    key = next(
        k for k in inputs_of(prod_plan, "aws:kms/key:Key") if k["description"].startswith("Encrypts CI/CD artifacts")
    )
    statement = next(s for s in document(key["policy"])["Statement"] if s["Sid"] == "PipelineRolesUseKey")
    # Every per-service tooling role by its path (a list per service outgrows the key policy's 32 KB).
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/cicd/prod/*"}}
    scan_roles = [r for r in prod_plan.resources if r.type == ROLE and r.inputs["name"].startswith("cicd-scan-")]
    assert len(scan_roles) == len(prod_plan.inputs.catalog.services)
    assert all(r.inputs["path"] == "/cicd/prod/" for r in scan_roles)


def test_scans_add_five_resources_per_service(dev_plan):
    facts = summary(dev_plan)
    scan_children = {
        r.urn for r in dev_plan.resources if "cicd:governance:ServiceScans" in r.urn and r.type.startswith("aws:")
    }
    assert len(scan_children) == 5 * len(dev_plan.inputs.catalog.services)
    kinds = {r.type for r in dev_plan.resources if r.urn in scan_children}
    assert kinds == {REPORT_GROUP, PROJECT, ROLE, ROLE_POLICY, "aws:cloudwatch/logGroup:LogGroup"}
    assert all(count >= 5 for service, count in facts["resourcesByService"].items() if service != "(shared)")


# --- the rendered buildspec -------------------------------------------------------------------


def inputs_with(dev_plan, **extra):
    raw = json.loads(json.dumps(dev_plan.inputs.settings.model_dump(by_alias=True)))
    raw.update(extra)
    return PlatformInputs(stack="dev", settings=parse_settings(raw, "Pulumi.dev.yaml"), catalog=dev_plan.inputs.catalog)


def test_buildspec_carries_the_report_script_verbatim(dev_plan):
    spec = yaml.safe_load(scans.scan_buildspec(dev_plan.inputs.catalog.service("booking"), dev_plan.inputs))
    embedded = gzip.decompress(base64.b64decode(spec["env"]["variables"]["SCAN_REPORT_PY_GZ"]))
    assert embedded == scans.SCAN_REPORT_SCRIPT.read_bytes()


def test_buildspec_pins_every_tool_version(dev_plan):
    spec = yaml.safe_load(scans.scan_buildspec(dev_plan.inputs.catalog.service("booking"), dev_plan.inputs))
    versions = {k: v for k, v in spec["env"]["variables"].items() if k.endswith("_VERSION")}
    assert set(versions) == {
        "SEMGREP_VERSION",
        "SONAR_SCANNER_NPM_VERSION",
        "OSV_SCANNER_VERSION",
        "SNYK_VERSION",
        "CHECKOV_VERSION",
        "GITLEAKS_VERSION",
        "CDXGEN_VERSION",
        "ZAP_VERSION",
    }
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", str(v)) for v in versions.values()), versions
    install = spec["phases"]["install"]["commands"][0]
    assert "@latest" not in install and "sha256sum -c" in install


@pytest.mark.parametrize(
    ("service", "runtime"),
    [("booking", {"java": "corretto21"}), ("inventory", {"golang": "1.23"}), ("customer-support", {"ruby": "3.3"})],
)
def test_buildspec_installs_the_service_language_runtime(dev_plan, service, runtime):
    entry = dev_plan.inputs.catalog.service(service)
    spec = yaml.safe_load(scans.scan_buildspec(entry, dev_plan.inputs))
    runtimes = spec["phases"]["install"]["runtime-versions"]
    assert runtimes["python"] == "3.12" and runtimes["nodejs"] == "22"
    assert runtime.items() <= runtimes.items()
    assert runtimes == {**scans.SCANNER_RUNTIMES, **scans.DAST_RUNTIMES, **scans.LANGUAGE_RUNTIMES[entry.language]}


def test_zap_plan_heredoc_survives_rendering(dev_plan):
    spec = yaml.safe_load(scans.scan_buildspec(dev_plan.inputs.catalog.service("booking"), dev_plan.inputs))
    build = spec["phases"]["build"]["commands"][0]
    plan_text = build.split("<<'PLAN'\n", 1)[1].split("\nPLAN\n", 1)[0]
    plan = yaml.safe_load(plan_text)
    assert [job["type"] for job in plan["jobs"]] == ["spider", "passiveScan-wait", "report"]
    assert plan["jobs"][-1]["parameters"]["template"] == "traditional-json"


def test_scanner_tokens_come_from_secrets_manager_by_name(dev_plan):
    inputs = inputs_with(
        dev_plan,
        sonarqube={"url": "https://sonar.bookwise.example", "tokenSecretName": "cicd/sonarqube"},
        snyk={"tokenSecretName": "cicd/snyk"},
    )
    spec = yaml.safe_load(scans.scan_buildspec(inputs.catalog.service("booking"), inputs))
    assert spec["env"]["secrets-manager"] == {"SONAR_TOKEN": "cicd/sonarqube", "SNYK_TOKEN": "cicd/snyk"}
    assert (
        "secrets-manager"
        not in yaml.safe_load(scans.scan_buildspec(inputs.catalog.service("booking"), dev_plan.inputs))["env"]
    )


def test_scan_role_may_read_exactly_the_configured_token_secrets():
    secrets = [naming.secret_arn_pattern("eu-west-1", "123456789012", name) for name in ("cicd/sonarqube", "cicd/snyk")]
    policy = iam.scan_role_policy(
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/booking-scan",
        "arn:aws:s3:::bucket",
        "arn:aws:kms:eu-west-1:123456789012:key/k",
        "arn:aws:codebuild:eu-west-1:123456789012:report-group/booking-security-findings",
        "security_reports/booking",
        naming.security_hub_product_arn("eu-west-1", "123456789012"),
        ["booking-dev", "booking-prod"],
        secrets,
    )
    tokens = next(s for s in policy["Statement"] if s["Sid"] == "ScannerTokens")
    assert tokens["Action"] == "secretsmanager:GetSecretValue"
    assert tokens["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cicd/snyk-??????",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cicd/sonarqube-??????",
    ]


def test_no_dast_action_without_dast(dev_plan):
    inputs = dev_plan.inputs
    service = inputs.catalog.service("booking")
    prod = inputs.settings.environment("prod")
    dev = inputs.settings.environment("dev")
    assert scans.verify_actions(service, prod, inputs, "booking-scan") == []
    quiet_dev = dev.model_copy(update={"scan": dev.scan.model_copy(update={"dast": False})})
    assert scans.verify_actions(service, quiet_dev, inputs, "booking-scan") == []
    assert len(scans.verify_actions(service, dev, inputs, "booking-scan")) == 1


def test_services_of_one_language_share_a_rendering_but_each_keeps_its_own_report_group(dev_plan):
    """The buildspec is rendered once per language and settings; the report group is each service's own."""
    catalog, inputs = dev_plan.inputs.catalog, dev_plan.inputs
    by_language: dict[str, list] = {}
    for service in catalog.services:
        by_language.setdefault(service.language, []).append(service)
    first, second = next(services for services in by_language.values() if len(services) > 1)[:2]
    texts = [scans.scan_buildspec(service, inputs) for service in (first, second)]
    arns = [
        naming.report_group_arn(
            inputs.settings.region, inputs.settings.tooling_account_id, naming.security_report_group_name(service.name)
        )
        for service in (first, second)
    ]
    for text, arn in zip(texts, arns, strict=True):
        assert list(yaml.safe_load(text)["reports"]) == [arn]
        assert scans.REPORT_GROUP_KEY not in text
    # Apart from the report group, the two texts are the same bytes: the shared rendering.
    assert texts[0].replace(arns[0], "ARN") == texts[1].replace(arns[1], "ARN")


@pytest.mark.parametrize("where", ["token secret name", "api url"])
def test_a_settings_value_containing_the_report_group_key_keeps_its_text_and_the_report_group_its_place(
    dev_plan, where
):
    """The report group replaces the key under ``reports:``, never a secret name or URL that contains it.

    Both values are user-controlled and their patterns admit the key's text; the first occurrence used
    to be ``env:``'s, so ``SNYK_CLIENT_ID`` read a secret named after an ARN and every service reported
    to one shared group named after the key.
    """
    key = scans.REPORT_GROUP_KEY
    snyk = {
        "tokenSecretName": key if where == "token secret name" else "cicd/snyk",
        "tokenKind": "service-account-client-secret",
        "orgId": "0b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091",
        "serviceAccountId": "1c2d3e4f-5061-4728-8a9b-0c1d2e3f4a5b",
        "apiUrl": f"https://api.snyk.io/{key}" if where == "api url" else "https://api.snyk.io",
    }
    inputs = inputs_with(dev_plan, snyk=snyk)
    service = inputs.catalog.service("booking")
    spec = yaml.safe_load(scans.scan_buildspec(service, inputs))
    secret = snyk["tokenSecretName"]
    assert spec["env"]["secrets-manager"] == {
        "SNYK_CLIENT_ID": f"{secret}:client_id",
        "SNYK_CLIENT_SECRET": f"{secret}:client_secret",
    }
    assert spec["env"]["variables"]["SNYK_API_URL"] == snyk["apiUrl"]
    settings = inputs.settings
    arn = naming.report_group_arn(
        settings.region, settings.tooling_account_id, naming.security_report_group_name(service.name)
    )
    assert list(spec["reports"]) == [arn]
