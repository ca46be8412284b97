"""Small plan documents built by hand, shaped like ``out/plan-<stack>.json``, for review tests.

The tree mirrors the program's: a Platform component, one ServicePipeline per service, an
EnvironmentPipeline per environment holding the CodePipeline, roles under the service.
"""

from __future__ import annotations

import copy
import json
from typing import Any

STACK = "dev"
HEAD = f"urn:pulumi:{STACK}::cicd-platform"
PLATFORM = f"{HEAD}::cicd:platform:Platform::platform"
ENVIRONMENTS = ("dev", "prod")


def chain_of(urn: str) -> str:
    return urn.split("::")[2]


def resource(
    type_: str,
    name: str,
    parent: str | None,
    inputs: dict[str, Any] | None = None,
    *,
    provider: str | None = None,
    aliases: tuple[str, ...] = (),
) -> dict[str, Any]:
    parent_chain = chain_of(parent) if parent else ""
    qualified = f"{parent_chain}${type_}" if parent_chain else type_
    return {
        "urn": f"{HEAD}::{qualified}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "provider": provider,
        "inputs": inputs or {},
        "dependencies": [],
        "aliases": list(aliases),
    }


def service(name: str) -> dict[str, Any]:
    return resource("cicd:service:ServicePipeline", name, PLATFORM)


def stage(name: str, *actions: dict[str, Any], **guards: Any) -> dict[str, Any]:
    return {"name": name, "actions": list(actions), **guards}


def action(name: str, provider: str, category: str = "Build") -> dict[str, Any]:
    return {"name": name, "provider": provider, "category": category, "owner": "AWS", "version": "1"}


def rule(name: str, provider: str) -> dict[str, Any]:
    return {"name": name, "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"}}


def pipeline_stages(environment: str) -> list[dict[str, Any]]:
    stages = [
        stage("Source", action("Source", "CodeStarSourceConnection", "Source")),
        stage("Build", action("BuildAndUnitTest", "CodeBuild")),
    ]
    if environment == "prod":
        stages.append(stage("Approve", action("ReleaseApproval", "Manual", "Approval")))
    stages.append(
        stage(
            "Deploy",
            action("BlueGreenDeploy", "CodeDeployToECS", "Deploy"),
            beforeEntry={"condition": {"result": "FAIL", "rules": [rule("DeployGate", "LambdaInvoke")]}},
            onFailure={"result": "ROLLBACK"},
        )
    )
    if environment != "prod":
        stages.append(stage("Verify", action("DAST", "CodeBuild", "Test")))
    return stages


def service_resources(name: str, environments: tuple[str, ...] = ENVIRONMENTS) -> list[dict[str, Any]]:
    """A service as the program declares it, in miniature: its role and policy, a pipeline per environment."""
    component = service(name)
    role = resource(
        "aws:iam/role:Role",
        f"{name}-pipeline-role",
        component["urn"],
        {"name": f"cicd-pipeline-{name}", "assumeRolePolicy": json.dumps(trust_policy())},
    )
    policy = resource(
        "aws:iam/rolePolicy:RolePolicy",
        f"{name}-pipeline-policy",
        role["urn"],
        {"role": f"cicd-pipeline-{name}", "policy": json.dumps(artifact_policy())},
    )
    found = [component, role, policy]
    for environment in environments:
        holder = resource("cicd:pipeline:EnvironmentPipeline", f"{name}-{environment}", component["urn"])
        pipeline = resource(
            "aws:codepipeline/pipeline:Pipeline",
            f"{name}-{environment}-pipeline",
            holder["urn"],
            {
                "name": f"{name}-{environment}",
                "pipelineType": "V2",
                "tags": {"environment": environment, "service": name},
                "stages": pipeline_stages(environment),
            },
        )
        found += [holder, pipeline]
    return found


def trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }


def artifact_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadArtifacts",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": "arn:aws:s3:::cicd-artifacts/*",
            },
            {"Sid": "UseKey", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:eu-west-1:1:key/k"},
        ],
    }


def plan(*resources: dict[str, Any], violations: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    platform = {
        "urn": PLATFORM,
        "type": "cicd:platform:Platform",
        "name": "platform",
        "parent": None,
        "provider": None,
        "inputs": {},
        "dependencies": [],
        "aliases": [],
    }
    return {
        "formatVersion": 1,
        "stack": STACK,
        "project": "cicd-platform",
        "resources": sorted([platform, *copy.deepcopy(list(resources))], key=lambda r: r["urn"]),
        "outputs": {},
        "policy": {"violations": list(violations)},
        "summary": {"deployWaves": {environment: [] for environment in ENVIRONMENTS}},
    }


def finding(policy: str, level: str, urn: str | None, message: str, remediation: str = "") -> dict[str, Any]:
    return {"policy": policy, "level": level, "urn": urn, "message": message, "remediation": remediation}


def named(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in document["resources"] if r["name"] == name)
