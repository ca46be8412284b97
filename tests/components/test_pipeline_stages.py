"""Stage builders and conditions: the pieces every feature adds to a pipeline through."""

from __future__ import annotations

import pytest

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
    bake = conditions.rule("Bake", "CloudWatchAlarm", {"AlarmName": "a", "WaitTime": "10"})
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


def test_alarm_gate_fails_entry_only_on_alarm_and_reads_it_in_the_environment_account():
    rule = conditions.alarm_gate_rule("cicd-booking-prod-health", "arn:aws:iam::444444444444:role/r", "eu-west-1")
    assert rule["rule_type_id"]["provider"] == "CloudWatchAlarm"
    assert rule["configuration"] == {"AlarmName": "cicd-booking-prod-health", "AlarmStates": "ALARM"}
    assert (rule["role_arn"], rule["region"]) == ("arn:aws:iam::444444444444:role/r", "eu-west-1")


def test_alarm_bake_watches_for_the_configured_minutes_and_needs_at_least_one():
    rule = conditions.alarm_bake_rule("cicd-booking-prod-health", 10, "arn:aws:iam::1:role/r", "eu-west-1")
    assert rule["configuration"]["WaitTime"] == "10"
    with pytest.raises(ValueError, match="at least one minute"):
        conditions.alarm_bake_rule("cicd-booking-prod-health", 0, "arn:aws:iam::1:role/r", "eu-west-1")


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
