"""CodePipeline and CodeDeploy resource rules, scenario by scenario."""

from __future__ import annotations

import pytest

from policies.rules.codedeploy import CODEDEPLOY_AUTO_ROLLBACK, CODEDEPLOY_SAFE_SHIFT
from policies.rules.codepipeline import PIPELINE_ARTIFACT_CMK, PIPELINE_SOURCE_CONNECTION
from policies.testing import UNKNOWN

from .platform_shapes import action, build_stage, deployment_group, pipeline

GITHUB_V1 = action(
    "Source", "Source", "GitHub", owner="ThirdParty", outputArtifacts=["source_output"], configuration={"Repo": "x"}
)
from .rule_cases import fires, quiet, unknown  # noqa: E402

CASES = [
    # pipeline-artifact-cmk
    fires(
        PIPELINE_ARTIFACT_CMK,
        "store without key",
        pipeline(artifactStores=[{"location": "cicd-artifacts", "type": "S3"}]),
        "artifact store cicd-artifacts has no customer-managed KMS key",
    ),
    fires(PIPELINE_ARTIFACT_CMK, "no store at all", pipeline(artifactStores=[]), "pipeline has no artifact store"),
    quiet(PIPELINE_ARTIFACT_CMK, "platform store with the artifact key", pipeline()),
    unknown(
        PIPELINE_ARTIFACT_CMK,
        "key id not known yet",
        pipeline(artifactStores=[{"location": "a", "type": "S3", "encryptionKey": {"id": UNKNOWN, "type": "KMS"}}]),
    ),
    # pipeline-source-connection
    fires(
        PIPELINE_SOURCE_CONNECTION,
        "V1 pipeline",
        pipeline(pipelineType="V1"),
        "pipeline type is V1, not V2: no git triggers, branch filters or stage conditions",
    ),
    fires(
        PIPELINE_SOURCE_CONNECTION,
        "GitHub v1 OAuth source",
        pipeline(stages=[{"name": "Source", "actions": [GITHUB_V1]}, build_stage()]),
        "action Source/Source uses the GitHub v1 OAuth source (deprecated by AWS)",
    ),
    quiet(PIPELINE_SOURCE_CONNECTION, "V2 with a connection source", pipeline()),
    unknown(PIPELINE_SOURCE_CONNECTION, "pipeline type not known", pipeline(pipelineType=UNKNOWN)),
    # codedeploy-auto-rollback
    fires(
        CODEDEPLOY_AUTO_ROLLBACK,
        "prod group rolls back on failure only, watching no alarm (the platform today)",
        deployment_group(
            autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}, alarmConfiguration=None
        ),
        "deployment group booking-prod does not roll back on DEPLOYMENT_STOP_ON_ALARM",
        "deployment group booking-prod watches no CloudWatch alarm (alarm_configuration)",
    ),
    fires(
        CODEDEPLOY_AUTO_ROLLBACK,
        "rollback disabled",
        deployment_group(autoRollbackConfiguration={"enabled": False}),
        "deployment group booking-prod does not roll back automatically",
    ),
    quiet(CODEDEPLOY_AUTO_ROLLBACK, "both events and an alarm", deployment_group()),
    quiet(
        CODEDEPLOY_AUTO_ROLLBACK,
        "dev group may skip alarm rollback",
        deployment_group(environment="dev", autoRollbackConfiguration=None, alarmConfiguration=None),
    ),
    quiet(
        CODEDEPLOY_AUTO_ROLLBACK,
        "another prod environment name, configured",
        deployment_group(environment="dev", alarmConfiguration=None),
        config={"prodEnvironments": ["production"]},
    ),
    unknown(
        CODEDEPLOY_AUTO_ROLLBACK,
        "events and alarms not known",
        deployment_group(
            autoRollbackConfiguration={"enabled": True, "events": UNKNOWN},
            alarmConfiguration={"enabled": True, "alarms": UNKNOWN},
        ),
    ),
    unknown(
        CODEDEPLOY_AUTO_ROLLBACK, "environment tag not known", deployment_group(tags=UNKNOWN, alarmConfiguration=None)
    ),
    # codedeploy-safe-shift
    fires(
        CODEDEPLOY_SAFE_SHIFT,
        "ECS all at once in prod",
        deployment_group(deploymentConfigName="CodeDeployDefault.ECSAllAtOnce"),
        "deployment group booking-prod shifts all traffic at once (CodeDeployDefault.ECSAllAtOnce); "
        "use a canary or linear configuration",
    ),
    fires(
        CODEDEPLOY_SAFE_SHIFT,
        "ECS group naming no configuration (CodeDeploy's default is all at once)",
        deployment_group(deploymentConfigName=None),
        "deployment group booking-prod shifts all traffic at once (CodeDeployDefault.ECSAllAtOnce); "
        "use a canary or linear configuration",
    ),
    quiet(CODEDEPLOY_SAFE_SHIFT, "canary in prod", deployment_group()),
    quiet(
        CODEDEPLOY_SAFE_SHIFT,
        "all at once in dev",
        deployment_group(environment="dev", deploymentConfigName="CodeDeployDefault.ECSAllAtOnce"),
    ),
    unknown(CODEDEPLOY_SAFE_SHIFT, "configuration not known", deployment_group(deploymentConfigName=UNKNOWN)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_pipeline_resource_rule(case):
    case.verify()
