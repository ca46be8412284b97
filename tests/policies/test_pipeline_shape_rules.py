"""Stack rules on the shape of pipelines, scenario by scenario."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from policies.rules.pipeline_shape import (
    ARTIFACT_FLOW,
    DEPLOY_GATES,
    PROD_BRANCH_LITERAL,
    PROD_MANUAL_APPROVAL,
    PROD_QUEUED,
    QUOTAS,
    SCAN_BEFORE_DEPLOY,
)
from policies.testing import UNKNOWN

from .platform_shapes import (
    ALARM_GATE,
    HEALTH_GATE,
    PROD_ACCOUNT,
    TOOLING,
    WINDOW,
    action,
    approval_stage,
    bake_action,
    build_project,
    build_stage,
    deploy_stage,
    governed_stages,
    lambda_release_stage,
    pipeline,
    scan_action,
    scan_stage,
    source_stage,
)
from .rule_cases import fires, quiet, unknown


def without(stage_name, service="booking", environment="prod"):
    return [s for s in governed_stages(service, environment) if s["name"] != stage_name]


def replaced(stage, service="booking", environment="prod"):
    return [stage if s["name"] == stage["name"] else s for s in governed_stages(service, environment)]


LAMBDA_PROD = [
    source_stage("image-resizer"),
    build_stage("image-resizer"),
    scan_stage("sast", "sca", "iac"),
    lambda_release_stage(),
]
SCAN_IN_DEPLOY_STAGE = {
    **deploy_stage(),
    "actions": [{**scan_action("iac"), "runOrder": 1}, {**deploy_stage()["actions"][0], "runOrder": 2}],
}
GATE_WITHOUT_HEALTH = {
    **HEALTH_GATE,
    "configuration": {"FunctionName": "gate", "UserParameters": json.dumps({"service": "booking"})},
}
CROSS_ACCOUNT_ALARM = {
    **ALARM_GATE,
    "configuration": {"AlarmName": "cicd-booking-prod-health", "AlarmStates": "ALARM"},
    "roleArn": f"arn:aws:iam::{PROD_ACCOUNT}:role/cicd-alarm-reader-prod",
    "region": "eu-west-1",
}
NATIVE_BAKE = {
    "condition": {
        "result": "ROLLBACK",
        "rules": [
            {
                **ALARM_GATE,
                "name": "AlarmBake",
                "configuration": {"AlarmName": "booking-prod-5xx", "AlarmStates": "ALARM", "WaitTime": "10"},
            }
        ],
    }
}
DISPATCH = action(
    "DeployToGcp",
    "Invoke",
    "Lambda",
    runOrder=2,
    configuration={"FunctionName": "cicd-prod-github-dispatch", "UserParameters": json.dumps({"cloud": "gcp"})},
)


def with_bake(*after_deploy):
    """The Deploy stage: the AWS deploy, then the given actions (a dispatch, a bake)."""
    stage = deploy_stage(bake=False)
    return {**stage, "actions": [*stage["actions"], *after_deploy]}


def limited_project(service, limit):
    """A service's build project on an on-demand queue with a per-project concurrent-build limit."""
    project = build_project(service)
    return replace(project, props={**project.props, "concurrentBuildLimit": limit})


def fleet_project(service, limit):
    """A build project on a reserved fleet: a limit there does not draw on on-demand capacity."""
    project = limited_project(service, limit)
    fleet = f"arn:aws:codebuild:eu-west-1:{TOOLING}:fleet/cicd-prod-payments:0c7e0f8e-1b2c-4d5e-8f90-123456789abc"
    return replace(project, props={**project.props, "environment": {"fleet": {"fleetArn": fleet}}})


MANY_ACTIONS = {"name": "Scan", "actions": [{**scan_action("sast"), "name": f"Scan{i}"} for i in range(51)]}

CASES = [
    # prod-manual-approval
    fires(
        PROD_MANUAL_APPROVAL,
        "prod without the Approve stage",
        pipeline(stages=without("Approve")),
        "prod pipeline booking-prod reaches stage Deploy with no manual approval before it",
    ),
    fires(
        PROD_MANUAL_APPROVAL,
        "approval after the Lambda release",
        pipeline("image-resizer", stages=[*LAMBDA_PROD, approval_stage("image-resizer")]),
        "prod pipeline image-resizer-prod reaches stage Deploy with no manual approval before it",
    ),
    quiet(PROD_MANUAL_APPROVAL, "approval before deploy", pipeline()),
    quiet(
        PROD_MANUAL_APPROVAL,
        "dev needs no approval",
        pipeline(environment="dev", stages=without("Approve", environment="dev")),
    ),
    unknown(PROD_MANUAL_APPROVAL, "stages not known", pipeline(stages=UNKNOWN)),
    unknown(
        PROD_MANUAL_APPROVAL,
        "an action's category not known",
        pipeline(
            stages=[
                *without("Approve")[:3],
                {"name": "Gate", "actions": [{**action("Maybe", UNKNOWN, "Manual")}]},
                without("Approve")[3],
            ]
        ),
    ),
    # scan-before-deploy
    fires(
        SCAN_BEFORE_DEPLOY,
        "no scans at all (the platform today)",
        pipeline(stages=without("Scan")),
        "pipeline booking-prod deploys (Deploy/BlueGreenDeploy) without a sast, sca, iac scan before it",
    ),
    fires(
        SCAN_BEFORE_DEPLOY,
        "one kind missing",
        pipeline(stages=replaced(scan_stage("sast", "sca"))),
        "pipeline booking-prod deploys (Deploy/BlueGreenDeploy) without a iac scan before it",
    ),
    fires(
        SCAN_BEFORE_DEPLOY,
        "scan after the deploy",
        pipeline(
            environment="dev",
            stages=[source_stage(), build_stage(), deploy_stage(environment="dev"), scan_stage("sast", "sca", "iac")],
        ),
        "pipeline booking-dev deploys (Deploy/BlueGreenDeploy) without a sast, sca, iac scan before it",
    ),
    quiet(SCAN_BEFORE_DEPLOY, "Scan stage before deploy", pipeline()),
    quiet(
        SCAN_BEFORE_DEPLOY,
        "scan earlier in the deploy stage's run order",
        pipeline(stages=[*without("Deploy")[:2], scan_stage("sast", "sca"), SCAN_IN_DEPLOY_STAGE]),
    ),
    quiet(SCAN_BEFORE_DEPLOY, "Lambda release after scans", pipeline("image-resizer", stages=LAMBDA_PROD)),
    unknown(
        SCAN_BEFORE_DEPLOY,
        "scanner variables not known yet",
        pipeline(
            stages=replaced(
                {
                    "name": "Scan",
                    "actions": [
                        {**scan_action("sast"), "configuration": {"ProjectName": "s", "EnvironmentVariables": UNKNOWN}}
                    ],
                }
            )
        ),
    ),
    # deploy-gates
    fires(
        DEPLOY_GATES,
        "deployment window held before Deploy, no health check on entry",
        pipeline(stages=replaced(deploy_stage(gates=()))),
        "prod deploy stage booking-prod/Deploy does not check the service's health alarm on entry (a LambdaInvoke "
        "rule whose UserParameters name healthAlarm, or a CloudWatchAlarm rule in the pipeline's own account)",
    ),
    fires(
        DEPLOY_GATES,
        "no gate at all",
        pipeline(stages=[*governed_stages()[:3], approval_stage(window=False), deploy_stage(gates=())]),
        "prod deploy stage booking-prod/Deploy is not gated by a DeploymentWindow rule "
        "(on its entry or on the success of the stage before it)",
        "prod deploy stage booking-prod/Deploy does not check the service's health alarm on entry (a LambdaInvoke "
        "rule whose UserParameters name healthAlarm, or a CloudWatchAlarm rule in the pipeline's own account)",
    ),
    fires(
        DEPLOY_GATES,
        "a gate rule that does not say it reads the health alarm",
        pipeline(stages=replaced(deploy_stage(gates=(GATE_WITHOUT_HEALTH,)))),
        "prod deploy stage booking-prod/Deploy does not check the service's health alarm on entry (a LambdaInvoke "
        "rule whose UserParameters name healthAlarm, or a CloudWatchAlarm rule in the pipeline's own account)",
    ),
    fires(
        DEPLOY_GATES,
        "the alarm read through another account's role (undocumented for CloudWatchAlarm)",
        pipeline(stages=replaced(deploy_stage(gates=(CROSS_ACCOUNT_ALARM,)))),
        "prod deploy stage booking-prod/Deploy does not check the service's health alarm on entry (a LambdaInvoke "
        "rule whose UserParameters name healthAlarm, or a CloudWatchAlarm rule in the pipeline's own account)",
        "prod deploy stage booking-prod/Deploy: CloudWatchAlarm rule CloudWatchAlarm reads cicd-booking-prod-health "
        "through role arn:aws:iam::444444444444:role/cicd-alarm-reader-prod, not the pipeline's: AWS documents "
        "a rule's roleArn as the pipeline role",
    ),
    fires(
        DEPLOY_GATES,
        "no bake",
        pipeline(stages=replaced(deploy_stage(bake=False))),
        "prod deploy stage booking-prod/Deploy does not bake: no action watches the service's health alarm for 1 "
        "min after its deploys (a Lambda invoke action whose UserParameters name healthAlarm and bakeMinutes, "
        "last in the stage)",
    ),
    fires(
        DEPLOY_GATES,
        "the bake runs alongside the deploy",
        pipeline(stages=replaced(with_bake(bake_action(run_order=1)))),
        "prod deploy stage booking-prod/Deploy: bake BakeHealthAlarm (run order 1) does not run after every action "
        "of the stage",
    ),
    fires(
        DEPLOY_GATES,
        "a bake shorter than the configured minimum",
        pipeline(stages=replaced(with_bake(bake_action(minutes=5)))),
        "prod deploy stage booking-prod/Deploy: bake BakeHealthAlarm watches cicd-booking-prod-health for 5 min, "
        "less than 10",
        config={"minimumBakeMinutes": 10.0},
    ),
    quiet(DEPLOY_GATES, "window held on the approval, the gate on Deploy's entry, the bake last", pipeline()),
    quiet(
        DEPLOY_GATES,
        "window and a native alarm rule in the pipeline's own account on Deploy's entry",
        pipeline(
            stages=[*governed_stages()[:3], approval_stage(window=False), deploy_stage(gates=(WINDOW, ALARM_GATE))]
        ),
    ),
    quiet(
        DEPLOY_GATES,
        "a native bake: on-success CloudWatchAlarm rule in the pipeline's own account, rolling back",
        pipeline(stages=replaced({**deploy_stage(bake=False), "onSuccess": NATIVE_BAKE})),
    ),
    quiet(
        DEPLOY_GATES,
        "bake after a GitHub dispatch",
        pipeline(stages=replaced(with_bake(DISPATCH, bake_action(run_order=3)))),
    ),
    quiet(
        DEPLOY_GATES,
        "no bake required by the config",
        pipeline(stages=replaced(deploy_stage(bake=False))),
        config={"minimumBakeMinutes": 0},
    ),
    quiet(
        DEPLOY_GATES,
        "dev is not gated",
        pipeline(
            environment="dev",
            stages=replaced(deploy_stage(environment="dev", gates=(), bake=False), environment="dev"),
        ),
    ),
    unknown(
        DEPLOY_GATES,
        "rules not known",
        pipeline(
            stages=replaced({**deploy_stage(), "beforeEntry": {"condition": {"result": "FAIL", "rules": UNKNOWN}}})
        ),
    ),
    unknown(
        DEPLOY_GATES,
        "the gate's parameters not known",
        pipeline(stages=replaced(deploy_stage(gates=({**HEALTH_GATE, "configuration": UNKNOWN},)))),
    ),
    unknown(
        DEPLOY_GATES,
        "the parameters of a Lambda action that may be the bake not known",
        pipeline(stages=replaced(with_bake({**bake_action(), "configuration": {"UserParameters": UNKNOWN}}))),
    ),
    # artifact-flow
    fires(
        ARTIFACT_FLOW,
        "deploy reads an artifact nobody produces",
        pipeline(
            stages=replaced(
                {**deploy_stage(), "actions": [{**deploy_stage()["actions"][0], "inputArtifacts": ["image_output"]}]}
            )
        ),
        "pipeline booking-prod: Deploy/BlueGreenDeploy reads image_output, which no earlier action produces",
    ),
    fires(
        ARTIFACT_FLOW,
        "two actions produce build_output",
        pipeline(
            stages=[
                *governed_stages()[:2],
                {"name": "Build2", "actions": [{**build_stage()["actions"][0], "name": "Again"}]},
                *governed_stages()[2:],
            ]
        ),
        "pipeline booking-prod: artifact build_output is produced by 2 actions",
    ),
    fires(
        ARTIFACT_FLOW,
        "build in the source stage",
        pipeline(
            stages=[
                {
                    "name": "Source",
                    "actions": [*source_stage()["actions"], {**build_stage()["actions"][0], "runOrder": 2}],
                },
                *governed_stages()[2:],
            ]
        ),
        "pipeline booking-prod: the first stage holds non-source actions",
    ),
    quiet(ARTIFACT_FLOW, "the platform's flow", pipeline()),
    unknown(
        ARTIFACT_FLOW,
        "input artifacts not known",
        pipeline(
            stages=replaced(
                {**deploy_stage(), "actions": [{**deploy_stage()["actions"][0], "inputArtifacts": UNKNOWN}]}
            )
        ),
    ),
    # prod-branch-literal
    fires(
        PROD_BRANCH_LITERAL,
        "prod on a glob",
        pipeline(branch="release/**"),
        "prod pipeline booking-prod triggers on the glob(s) release/**",
    ),
    fires(
        PROD_BRANCH_LITERAL,
        "prod on two branches",
        pipeline(triggers=[{"gitConfiguration": {"pushes": [{"branches": {"includes": ["main", "hotfix"]}}]}}]),
        "prod pipeline booking-prod triggers on several branches: main, hotfix",
    ),
    quiet(PROD_BRANCH_LITERAL, "prod on main", pipeline()),
    quiet(PROD_BRANCH_LITERAL, "dev on a glob", pipeline(environment="dev", branch="feature/**")),
    unknown(PROD_BRANCH_LITERAL, "branch not known", pipeline(branch=UNKNOWN)),
    # prod-queued
    fires(
        PROD_QUEUED,
        "prod superseded",
        pipeline(executionMode="SUPERSEDED"),
        "prod pipeline booking-prod runs in SUPERSEDED mode, not QUEUED",
    ),
    fires(
        PROD_QUEUED,
        "prod with the default mode",
        pipeline(executionMode=None),
        "prod pipeline booking-prod runs in SUPERSEDED (default) mode, not QUEUED",
    ),
    quiet(PROD_QUEUED, "prod queued", pipeline()),
    quiet(PROD_QUEUED, "dev superseded", pipeline(environment="dev", executionMode="SUPERSEDED")),
    unknown(PROD_QUEUED, "mode not known", pipeline(executionMode=UNKNOWN)),
    # quotas
    fires(
        QUOTAS,
        "51 actions in a stage",
        pipeline(stages=replaced(MANY_ACTIONS)),
        "pipeline booking-prod stage Scan has 51 actions (quota 50)",
    ),
    fires(
        QUOTAS,
        "a lowered pipelines-per-region limit",
        [pipeline("booking"), pipeline("search")],
        f"2 pipelines in account {TOOLING} in eu-west-1 (quota 1)",
        config={"maxPipelinesPerRegion": 1},
    ),
    quiet(
        QUOTAS,
        "pipelines in two tooling accounts count separately",
        [pipeline("booking"), pipeline("search", roleArn="arn:aws:iam::222222222222:role/cicd-pipeline-search")],
        config={"maxPipelinesPerRegion": 1},
    ),
    fires(
        QUOTAS,
        "a pipeline whose role is not known yet counts with its stack's default provider",
        [pipeline("booking", roleArn=UNKNOWN), pipeline("search", roleArn=UNKNOWN)],
        "2 pipelines in the default provider's account and region (stack test) (quota 1)",
        config={"maxPipelinesPerRegion": 1},
    ),
    quiet(QUOTAS, "the platform's five stages", pipeline()),
    unknown(QUOTAS, "stages not known", pipeline(stages=UNKNOWN)),
    # quotas: build queues' concurrent-build limits against the account's (Quotas for AWS CodeBuild: 20 by default)
    fires(
        QUOTAS,
        "three queues promising 24 builds where the account runs 20",
        [limited_project("booking", 8), limited_project("search", 8), limited_project("payments", 8)],
        f"3 build projects in account {TOOLING} in eu-west-1 may run 24 builds at once by their build queues' "
        "concurrentBuildLimit, more than the account's 20 concurrent builds",
    ),
    fires(
        QUOTAS,
        "one project limited at the account's own limit",
        limited_project("booking", 20),
        "build project booking-build may run 20 builds at once, not below the account's 20 concurrent builds",
        config={"maxConcurrentBuilds": 20.0},
    ),
    quiet(
        QUOTAS,
        "limits that fit, and a fleet's projects, which do not draw on on-demand capacity",
        [
            limited_project("booking", 8),
            limited_project("search", 8),
            fleet_project("payments", 8),
        ],
    ),
    quiet(QUOTAS, "unlimited projects (the standard queue)", [build_project("booking"), build_project("search")]),
    unknown(QUOTAS, "a limit not known yet", [limited_project("booking", 8), limited_project("search", UNKNOWN)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_pipeline_shape_rule(case):
    case.verify()
