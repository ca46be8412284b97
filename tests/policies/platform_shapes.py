"""Resources shaped like the platform's own (as the offline plan records them), for rule scenarios.

Each builder returns the legitimate shape; scenarios change one thing.
"""

from __future__ import annotations

import json
from typing import Any

from policies.testing import Resource

TOOLING = "123456789012"
PROD_ACCOUNT = "444444444444"
DEV_ACCOUNT = "411111111111"
ACCOUNTS = {"dev": DEV_ACCOUNT, "prod": PROD_ACCOUNT}
KEY_ARN = f"arn:aws:kms:eu-west-1:{TOOLING}:key/39ca3e57-6777-3b34-7b5b-e9ba3bb7a7c5"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
PROJECT = "aws:codebuild/project:Project"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DEPLOYMENT_GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"


def tags(service: str = "booking", environment: str = "prod") -> dict[str, str]:
    return {"managed-by": "cicd-platform", "owner": "team-booking", "environment": environment, "service": service}


def action(name: str, category: str, provider: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "category": category, "owner": "AWS", "provider": provider, "version": "1", **extra}


def source_stage(service: str = "booking", branch: str = "main") -> dict[str, Any]:
    configuration = {
        "ConnectionArn": f"arn:aws:codestar-connections:eu-west-1:{TOOLING}:connection/0841",
        "FullRepositoryId": f"bookwise/{service}",
        "BranchName": branch,
        "OutputArtifactFormat": "CODE_ZIP",
    }
    source = action("Source", "Source", "CodeStarSourceConnection", configuration=configuration)
    return {"name": "Source", "actions": [{**source, "outputArtifacts": ["source_output"]}]}


def codebuild_variables(**variables: str) -> str:
    return json.dumps([{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in sorted(variables.items())])


def build_stage(service: str = "booking", environment: str = "prod") -> dict[str, Any]:
    build = action(
        "BuildAndUnitTest",
        "Build",
        "CodeBuild",
        inputArtifacts=["source_output"],
        outputArtifacts=["build_output"],
        configuration={
            "ProjectName": f"{service}-build",
            "EnvironmentVariables": codebuild_variables(TARGET_ENVIRONMENT=environment),
        },
    )
    return {"name": "Build", "actions": [build]}


def scan_action(kind: str, service: str = "booking") -> dict[str, Any]:
    return action(
        f"{kind.capitalize()}Scan",
        "Test",
        "CodeBuild",
        inputArtifacts=["source_output"],
        configuration={
            "ProjectName": f"{service}-{kind}-scan",
            "EnvironmentVariables": codebuild_variables(SCANNER=kind),
        },
    )


def scan_stage(*kinds: str) -> dict[str, Any]:
    return {"name": "Scan", "actions": [scan_action(kind) for kind in kinds]}


def rule(provider: str, **configuration: Any) -> dict[str, Any]:
    return {
        "name": provider,
        "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"},
        "configuration": configuration,
    }


WINDOW = rule("DeploymentWindow", Cron="* * 9-15 ? * MON-THU", TimeZone="Europe/Dublin")
ALARM_GATE = rule("CloudWatchAlarm", AlarmName="booking-prod-5xx")
"""A native alarm check in the pipeline's own account (no role of another account): the documented form."""


def gate_parameters(service: str = "booking", environment: str = "prod", **extra: Any) -> str:
    alarm = f"cicd-{service}-{environment}-health"
    return json.dumps({"service": service, "environment": environment, "healthAlarm": alarm, **extra})


def health_gate(service: str = "booking", environment: str = "prod") -> dict[str, Any]:
    """The platform's deploy gate: a LambdaInvoke rule whose parameters name the health alarm it reads."""
    return {
        **rule(
            "LambdaInvoke", FunctionName="cicd-prod-deploy-gate", UserParameters=gate_parameters(service, environment)
        ),
        "name": "DeployGate",
    }


HEALTH_GATE = health_gate()


def bake_action(service: str = "booking", environment: str = "prod", minutes: Any = 10, run_order: int = 2):
    """The platform's bake: the gate's function as the stage's last action, watching the health alarm."""
    return action(
        "BakeHealthAlarm",
        "Invoke",
        "Lambda",
        runOrder=run_order,
        configuration={
            "FunctionName": "cicd-prod-deploy-gate",
            "UserParameters": gate_parameters(service, environment, bakeMinutes=minutes),
        },
    )


def approval_stage(service: str = "booking", environment: str = "prod", window: bool = True) -> dict[str, Any]:
    """The approval, held until the deployment window opens (the platform holds it on the stage before Deploy)."""
    approval = action("ReleaseApproval", "Approval", "Manual", configuration={"CustomData": f"Release {service}"})
    stage: dict[str, Any] = {"name": "Approve", "actions": [approval]}
    if window:
        stage["onSuccess"] = {"condition": {"result": "FAIL", "rules": [WINDOW]}}
    return stage


def deploy_role_arn(service: str = "booking", environment: str = "prod") -> str:
    return f"arn:aws:iam::{ACCOUNTS.get(environment, PROD_ACCOUNT)}:role/cicd-deploy-{service}-{environment}"


def deploy_stage(
    service: str = "booking", environment: str = "prod", gates=None, rollback=True, bake=True
) -> dict[str, Any]:
    """The AWS deploy, then (``bake``) the bake action; entry through ``gates`` (default: the health gate)."""
    gates = (health_gate(service, environment),) if gates is None else gates
    deploy = action(
        "BlueGreenDeploy",
        "Deploy",
        "CodeDeployToECS",
        inputArtifacts=["build_output"],
        roleArn=deploy_role_arn(service, environment),
        region="eu-west-1",
        configuration={
            "ApplicationName": f"{service}-{environment}",
            "DeploymentGroupName": f"{service}-{environment}",
        },
    )
    stage: dict[str, Any] = {
        "name": "Deploy",
        "actions": [deploy, *([bake_action(service, environment)] if bake else [])],
    }
    if gates:
        stage["beforeEntry"] = {"condition": {"result": "FAIL", "rules": list(gates)}}
    if rollback:
        stage["onFailure"] = {"result": "ROLLBACK"}
    return stage


def lambda_release_stage(service: str = "image-resizer", environment: str = "prod", **stage_extra: Any):
    release = action(
        "ReleaseFunction",
        "Build",
        "CodeBuild",
        inputArtifacts=["build_output"],
        configuration={
            "ProjectName": f"{service}-lambda-release",
            "EnvironmentVariables": codebuild_variables(DEPLOY_ROLE_ARN=deploy_role_arn(service, environment)),
        },
    )
    return {"name": "Deploy", "actions": [release], **stage_extra}


def governed_stages(service: str = "booking", environment: str = "prod") -> list[dict[str, Any]]:
    """Source → Build → Scan (sast, sca, iac) → Approve → gated Deploy that bakes and rolls back."""
    return [
        source_stage(service),
        build_stage(service, environment),
        scan_stage("sast", "sca", "iac"),
        approval_stage(service, environment),
        deploy_stage(service, environment),
    ]


def pipeline(service="booking", environment="prod", stages=None, branch="main", **overrides) -> Resource:
    props: dict[str, Any] = {
        "name": f"{service}-{environment}",
        "pipelineType": "V2",
        "executionMode": "QUEUED",
        "roleArn": f"arn:aws:iam::{TOOLING}:role/cicd-pipeline-{service}",
        "artifactStores": [
            {"location": "cicd-artifacts", "type": "S3", "encryptionKey": {"id": KEY_ARN, "type": "KMS"}}
        ],
        "stages": stages if stages is not None else governed_stages(service, environment),
        "triggers": [
            {
                "providerType": "CodeStarSourceConnection",
                "gitConfiguration": {"sourceActionName": "Source", "pushes": [{"branches": {"includes": [branch]}}]},
            }
        ],
        "tags": tags(service, environment),
    }
    props.update(overrides)
    return Resource(PIPELINE, props, f"{service}-{environment}-pipeline")


def build_project(service="booking", role=None) -> Resource:
    props = {
        "name": f"{service}-build",
        "serviceRole": role or f"arn:aws:iam::{TOOLING}:role/cicd-build-{service}",
        "encryptionKey": KEY_ARN,
        "tags": tags(service, "tooling"),
    }
    return Resource(PROJECT, props, f"{service}-build-project")


def role(name: str, trust: dict[str, Any], account: str = TOOLING, **extra: Any) -> Resource:
    props = {"name": name, "assumeRolePolicy": json.dumps(trust), **extra}
    return Resource(ROLE, props, f"{name}-role")


def role_policy(role_name: str, *statements: dict[str, Any]) -> Resource:
    policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return Resource(ROLE_POLICY, {"role": role_name, "policy": policy}, f"{role_name}-policy")


def deployment_group(service="booking", environment="prod", **overrides) -> Resource:
    props: dict[str, Any] = {
        "appName": f"{service}-{environment}",
        "deploymentGroupName": f"{service}-{environment}",
        "deploymentConfigName": "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "serviceRoleArn": f"arn:aws:iam::{PROD_ACCOUNT}:role/cicd-codedeploy-{environment}",
        "ecsService": {"clusterName": "bookwise-core", "serviceName": service},
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
        "alarmConfiguration": {"enabled": True, "alarms": [f"{service}-{environment}-5xx"]},
        "tags": tags(service, environment),
    }
    props.update(overrides)
    return Resource(DEPLOYMENT_GROUP, props, f"{service}-{environment}-target-group")
