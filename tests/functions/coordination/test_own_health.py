"""The gate checks the service's *own* health alarm, where the service runs, before its Deploy stage is entered.

This replaces a ``CloudWatchAlarm`` entry rule that pointed at an alarm in
another account through that account's role: AWS documents a rule's ``roleArn``
as the pipeline role (API reference, ``RuleDeclaration``) and no rule reading
another account's alarm, so the check moved into the gate, which reads it
through the environment account's alarm reader like every dependency alarm. The message
names the alarm and the account; the coordinator restarts the held deploy once
the alarm clears, by the same rules.
"""

from __future__ import annotations

import json

from coordinator.handler import Coordinator
from deploy_gate.handler import DeployGate
from deploy_ledger.store import Ledger
from simulation.moto_world import health_alarm_client, set_health
from tests.functions.coordination.conftest import (
    DEV_ACCOUNT,
    PCI_PROD_ACCOUNT,
    PROD_ACCOUNT,
    gate_job,
    moment,
    reader_arn,
    tick_event,
)
from tests.functions.coordination.test_release_scenarios import expect_job_failure, expect_job_success, gate


def declaring(job: dict, alarm: str) -> dict:
    """The gate rule as the platform declares it: ``UserParameters`` also name the alarm the gate checks."""
    configuration = job["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    parameters = json.loads(configuration["UserParameters"])
    configuration["UserParameters"] = json.dumps({**parameters, "healthAlarm": alarm})
    return job


def test_a_service_whose_own_health_alarm_is_in_alarm_is_held_naming_the_alarm_and_its_account(fleet):
    set_health(fleet.world.settings, "booking", "prod", PROD_ACCOUNT, "ALARM", "5xx above threshold")
    job = declaring(gate_job("booking", "prod", execution="b1"), "cicd-booking-prod-health")
    expect_job_failure(fleet, job)

    verdict = gate(fleet, job, 0)

    assert verdict == {
        "allowed": False,
        "message": f"booking's own health in prod: alarm cicd-booking-prod-health in account {PROD_ACCOUNT} "
        "is in ALARM",
    }
    assert Ledger(fleet.aws()).hold("booking", "prod")["status"] == "HELD"


def test_the_own_alarm_is_read_in_the_account_where_the_service_runs(fleet):
    # payments runs in its PCI account in prod: an alarm of its name in the shared prod account is not its alarm.
    health_alarm_client(PROD_ACCOUNT).put_metric_alarm(
        AlarmName="cicd-payments-prod-health",
        MetricName="HealthyHostCount",
        Namespace="AWS/ApplicationELB",
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )
    health_alarm_client(PROD_ACCOUNT).set_alarm_state(
        AlarmName="cicd-payments-prod-health", StateValue="ALARM", StateReason="planted"
    )
    job = gate_job("payments", "prod", execution="p1")
    expect_job_success(fleet, job)
    assert gate(fleet, job, 0)["allowed"] is True

    set_health(fleet.world.settings, "payments", "prod", PCI_PROD_ACCOUNT, "ALARM", "card errors")
    held = gate_job("payments", "prod", execution="p2")
    expect_job_failure(fleet, held)
    assert gate(fleet, held, 1)["message"] == (
        f"payments's own health in prod: alarm cicd-payments-prod-health in account {PCI_PROD_ACCOUNT} is in ALARM"
    )


def test_a_missing_own_alarm_holds_the_deploy_naming_account_and_role(fleet):
    health_alarm_client(DEV_ACCOUNT).delete_alarms(AlarmNames=["cicd-auth-dev-health"])
    job = gate_job("auth", "dev", execution="a1")
    expect_job_failure(fleet, job)

    assert gate(fleet, job, 0)["message"] == (
        "auth's own health in dev: health unknown: alarm cicd-auth-dev-health "
        f"in account {DEV_ACCOUNT} through role {reader_arn(DEV_ACCOUNT, 'dev')} does not exist"
    )


def test_a_rule_that_names_another_alarm_than_the_one_the_gate_reads_holds_the_deploy(fleet):
    job = declaring(gate_job("auth", "dev", execution="a1"), "cicd-auth-dev-5xx")
    expect_job_failure(fleet, job)

    assert gate(fleet, job, 0)["message"] == (
        "auth's own health in dev: the gate rule names alarm cicd-auth-dev-5xx, "
        "but auth's health alarm in dev is cicd-auth-dev-health"
    )


def test_a_healthy_service_whose_rule_declares_its_alarm_is_let_in(fleet):
    job = declaring(gate_job("auth", "dev", execution="a1"), "cicd-auth-dev-health")
    expect_job_success(fleet, job)

    verdict = gate(fleet, job, 0)

    assert verdict["allowed"] is True
    assert "healthy" in verdict["message"]


def test_the_coordinator_restarts_the_held_deploy_only_once_its_own_alarm_clears(fleet):
    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, "ALARM", "cpu")
    job = gate_job("auth", "prod", execution="a1")
    expect_job_failure(fleet, job)
    DeployGate(fleet.aws(), now=moment(0)).handle(job)

    assert Coordinator(fleet.aws(), now=moment(5)).handle(tick_event(5)) == {"holds": []}
    assert Ledger(fleet.aws()).hold("auth", "prod")["reason"].startswith("auth's own health in prod: alarm")

    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, "OK", "recovered")
    fleet.pipeline_stub.add_response(
        "retry_stage_execution",
        {"pipelineExecutionId": "a1"},
        {"pipelineName": "auth-prod", "stageName": "Deploy", "pipelineExecutionId": "a1", "retryMode": "ALL_ACTIONS"},
    )
    review = Coordinator(fleet.aws(), now=moment(10)).handle(tick_event(10))
    assert review["holds"] == ["restarted auth in prod (retried Deploy of a1)"]
