"""The StackSet template: generated from the one permission definition, committed, and valid CloudFormation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from bootstrap.boundary import boundary_policy
from bootstrap.permissions import bootstrap_policy
from bootstrap.template import TEMPLATE_FILE, _substituted, render_template, template

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_committed_template_is_what_make_bootstrap_template_prints():
    committed = (PROJECT_DIR / TEMPLATE_FILE).read_text()
    assert committed == render_template(), "run `make bootstrap-template > bootstrap/environment-account.yaml`"


def test_make_bootstrap_template_prints_the_template():
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "bootstrap-template"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == render_template()


def test_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(PROJECT_DIR / TEMPLATE_FILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_would_catch_a_broken_template(tmp_path):
    broken = template()
    broken["Resources"]["BootstrapRole"]["Properties"]["MaxSessionDuration"] = "an hour"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(path)], capture_output=True, text=True, check=False)
    assert result.returncode != 0


def test_template_takes_the_stackset_parameters_with_the_default_role_name():
    parameters = template()["Parameters"]
    assert set(parameters) == {
        "ToolingAccountId",
        "OrganizationId",
        "RoleName",
        "DeployerRoleName",
        "BoundaryPolicyName",
    }
    assert parameters["RoleName"]["Default"] == "cicd-platform-bootstrap"
    assert parameters["BoundaryPolicyName"]["Default"] == "cicd-platform-boundary"


def test_template_creates_the_boundary_and_the_role_requires_exactly_it():
    resources = template()["Resources"]
    boundary = resources["PermissionsBoundary"]
    assert boundary["Type"] == "AWS::IAM::ManagedPolicy"
    assert boundary["Properties"]["ManagedPolicyName"] == {"Ref": "BoundaryPolicyName"}
    assert boundary["Properties"]["PolicyDocument"] == _substituted(boundary_policy("${ToolingAccountId}"))
    (policy,) = resources["BootstrapRole"]["Properties"]["Policies"]
    assert policy["PolicyDocument"] == _substituted(bootstrap_policy("${BoundaryPolicyName}"))
    required = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/${BoundaryPolicyName}"}
    creating = next(s for s in policy["PolicyDocument"]["Statement"] if "iam:CreateRole" in s["Action"])
    assert creating["Effect"] == "Allow"
    assert creating["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": required}}
    assert template()["Outputs"]["PermissionsBoundaryArn"]["Value"] == {"Ref": "PermissionsBoundary"}


def test_role_trusts_only_the_tooling_deployer_from_inside_the_organization():
    trust = template()["Resources"]["BootstrapRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${ToolingAccountId}:root"}}
    assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": {"Fn::Sub": "${OrganizationId}"}}
    assert statement["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::${ToolingAccountId}:role/${DeployerRoleName}"}
    }


def test_every_placeholder_string_is_substituted_by_cloudformation():
    def raw_placeholders(value, inside_sub=False):
        if isinstance(value, dict):
            return [p for key, item in value.items() for p in raw_placeholders(item, key == "Fn::Sub")]
        if isinstance(value, list):
            return [p for item in value for p in raw_placeholders(item, inside_sub)]
        return [value] if isinstance(value, str) and "${" in value and not inside_sub else []

    assert raw_placeholders(template()["Resources"]) == []
