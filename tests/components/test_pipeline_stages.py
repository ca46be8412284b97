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
