"""Stage builders and conditions: the pieces every feature adds to a pipeline through."""

from __future__ import annotations

import json

import pytest

from components.coordination.gate_rule import DeployGateRule
from components.model.settings import DeployWindow
from components.pipeline import conditions, stages


def test_a_misspelt_rule_provider_fails_at_plan_time_not_at_pulumi_up():
    with pytest.raises(ValueError, match="unknown CodePipeline rule provider 'CloudwatchAlarm'"):
        conditions.rule("Alarms", "CloudwatchAlarm", {"AlarmName": "x"})


def test_deployment_window_rule_uses_the_native_provider():
    rule = conditions.deployment_window_rule(DeployWindow(cron="* * 9-17 ? * MON-FRI", timezone="Europe/Dublin"))
    assert rule["rule_type_id"] == {"category": "Rule", "owner": "AWS", "provider": "DeploymentWindow", "version": "1"}
    assert rule["configuration"] == {"Cron": "* * 9-17 ? * MON-FRI", "TimeZone": "Europe/Dublin"}


@pytest.mark.parametrize("count", [0, 6])
def test_a_condition_holds_one_to_five_rules_as_the_api_requires(count):
    rules = [conditions.rule(f"Gate{i}", "VariableCheck", {}) for i in range(count)]
    with pytest.raises(ValueError, match="1 to 5 rules"):
        conditions.condition(rules, "FAIL")


def test_deploy_stage_folds_gates_into_one_entry_condition_and_rolls_back():
    gate = conditions.rule("Gate", "LambdaInvoke", {"FunctionName": "gate"})
    bake = conditions.rule("Check", "VariableCheck", {"Variable": "#{v.x}", "Value": "1", "Operator": "EQ"})
    stage = stages.deploy_stage(
        [{"name": "Deploy"}], entry_rules=[gate], success_rules=[bake], rollback_on_failure=True
    )
    assert stage["before_entry"] == {"condition": {"result": "FAIL", "rules": [gate]}}
    assert stage["on_success"] == {"condition": {"result": "ROLLBACK", "rules": [bake]}}
    assert stage["on_failure"] == {"result": "ROLLBACK"}


def test_deploy_stage_without_gates_has_no_conditions():
    assert stages.deploy_stage([{"name": "Deploy"}]) == {"name": "Deploy", "actions": [{"name": "Deploy"}]}


def test_optional_stages_are_absent_when_nothing_contributes_to_them():
    assert stages.scan_stage([]) is None
    assert stages.verify_stage([]) is None
    assert stages.scan_stage([{"name": "Sast"}]) == {"name": "Scan", "actions": [{"name": "Sast"}]}


def test_the_gate_rule_names_the_service_its_environment_and_the_health_alarm_it_reads():
    rule = DeployGateRule("cicd-prod-deploy-gate", "arn").for_deploy("booking", "prod")
    assert rule["rule_type_id"]["provider"] == "LambdaInvoke"
    assert "role_arn" not in rule  # no role in another account: the function reads the alarm through the reader
    assert json.loads(rule["configuration"]["UserParameters"]) == {
        "service": "booking",
        "environment": "prod",
        "healthAlarm": "cicd-booking-prod-health",
    }


def test_the_bake_is_a_lambda_invoke_action_of_the_gate_that_needs_at_least_one_minute():
    action = DeployGateRule("cicd-prod-deploy-gate", "arn").bake_after("booking", "prod", 10, run_order=3)
    assert {k: action[k] for k in ("category", "owner", "provider", "version", "run_order")} == {
        "category": "Invoke",
        "owner": "AWS",
        "provider": "Lambda",
        "version": "1",
        "run_order": 3,
    }
    assert action["configuration"]["FunctionName"] == "cicd-prod-deploy-gate"
    assert json.loads(action["configuration"]["UserParameters"])["bakeMinutes"] == 10
    with pytest.raises(ValueError, match="at least one minute"):
        DeployGateRule("cicd-prod-deploy-gate", "arn").bake_after("booking", "prod", 0, run_order=2)


def test_no_cloudwatch_alarm_rule_helper_is_left_for_alarms_in_other_accounts():
    # AWS documents a rule's roleArn as the pipeline role (RuleDeclaration), not as a way into another account.
    assert not [name for name in dir(conditions) if "alarm" in name.lower()]


def test_a_container_service_cannot_get_a_build_stage_without_the_platforms_image_build():
    from components.model.platform_inputs import load_platform_inputs
    from tests.conftest import PROJECT_DIR, stack_settings

    inputs = load_platform_inputs(stack_settings("prod"), "prod", PROJECT_DIR)
    booking, prod = inputs.catalog.service("booking"), inputs.settings.environment("prod")
    with pytest.raises(ValueError, match="booking is a container service but has no image build project"):
        stages.build_stage(booking, prod, "booking-build")
    built = stages.build_stage(booking, prod, "booking-build", "booking-image-build")
    assert [a["name"] for a in built["actions"]] == ["BuildAndUnitTest", "BuildImage"]
    invoicing = inputs.catalog.service("invoicing")
    assert [a["name"] for a in stages.build_stage(invoicing, prod, "invoicing-build")["actions"]] == [
        "BuildAndUnitTest"
    ]
