"""A release manager must see a removed bake: the platform's bake is a Lambda action, not a stage rule."""

from __future__ import annotations

import json

from offline_plan.pipeline_shape import pipeline_shape, shape_changes


def deploy_stage(*, bake_parameters: object | None) -> dict:
    actions: list[dict] = [{"name": "BlueGreenDeploy", "category": "Deploy", "provider": "CodeDeployToECS"}]
    if bake_parameters is not None:
        actions.append(
            {
                "name": "BakeHealthAlarm",
                "category": "Invoke",
                "provider": "Lambda",
                "configuration": {"FunctionName": "cicd-prod-deploy-gate", "UserParameters": bake_parameters},
            }
        )
    return {"name": "Deploy", "actions": actions, "onFailure": {"result": "ROLLBACK"}}


def shape(bake_parameters: object | None):
    return pipeline_shape({"name": "auth-prod", "stages": [deploy_stage(bake_parameters=bake_parameters)]})


def test_a_lambda_action_that_watches_the_deploy_is_marked_as_its_bake():
    baked = shape(json.dumps({"service": "auth", "bakeMinutes": 10}))
    assert baked.stages[0].bakes == ("BakeHealthAlarm (Lambda)",)
    assert baked.stages[0].actions == ("BlueGreenDeploy (CodeDeployToECS)",)
    assert "bake BakeHealthAlarm (Lambda)" in baked.describe()


def test_other_lambda_actions_and_unreadable_parameters_stay_actions():
    for parameters in (json.dumps({"service": "auth"}), "{not json", json.dumps(["bakeMinutes"]), None):
        plain = pipeline_shape(
            {
                "name": "auth-prod",
                "stages": [
                    {
                        "name": "Deploy",
                        "actions": [
                            {
                                "name": "DeployToGcp",
                                "category": "Invoke",
                                "provider": "Lambda",
                                "configuration": {"UserParameters": parameters},
                            }
                        ],
                    }
                ],
            }
        )
        assert plain.stages[0].bakes == () and plain.stages[0].actions == ("DeployToGcp (Lambda)",), parameters


def test_removing_the_bake_action_is_called_out_as_a_bake_removed():
    before = shape(json.dumps({"service": "auth", "bakeMinutes": 10}))
    after = shape(None)
    assert shape_changes(before, after) == ["- Deploy: bake BakeHealthAlarm (Lambda)"]
