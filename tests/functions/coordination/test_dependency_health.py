"""A dependency's health is its ``cicd-<dependency>-<env>-health`` alarm, read in the account where it runs.

The gate and the coordinator assume that account's ``cicd-alarm-reader-<env>``
role (moto files alarms under the assumed role's account, so each test's
alarm sits in a different account than the functions). Health that cannot be
read holds the deploy, naming the account and the role.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from coordinator.handler import Coordinator
from deploy_gate.handler import DeployGate
from deploy_ledger.aws import Aws
from deploy_ledger.store import Ledger
from simulation.moto_world import REGION, health_alarm_client, set_health
from tests.functions.coordination.conftest import (
    GRAPH,
    PCI_PROD_ACCOUNT,
    PROD_ACCOUNT,
    gate_job,
    moment,
    reader_arn,
    tick_event,
)
from tests.functions.coordination.test_release_scenarios import expect_job_failure, gate


class CountingSts:
    """The moto STS client, counting AssumeRole calls and answering the first ``throttle`` of them with throttling."""

    def __init__(self, throttle: int = 0) -> None:
        self.client = boto3.client("sts", region_name=REGION)
        self.assumed: list[str] = []
        self.throttle = throttle

    def assume_role(self, **kwargs: Any) -> dict:
        if self.throttle:
            self.throttle -= 1
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "AssumeRole")
        self.assumed.append(kwargs["RoleArn"])
        return self.client.assume_role(**kwargs)


def aws_with_sts(fleet, sts) -> Aws:
    aws = fleet.aws()
    aws.clients["sts"] = sts
    return aws


def test_a_dependency_in_alarm_holds_its_dependent_with_the_health_alarm_named(fleet):
    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, "ALARM", "5xx spike")
    job = gate_job("booking", "prod", execution="b1")
    expect_job_failure(fleet, job)

    verdict = gate(fleet, job, 0)

    assert verdict == {
        "allowed": False,
        "message": "waiting for auth in prod: alarm cicd-auth-prod-health is in ALARM",
    }
    assert Ledger(fleet.aws()).hold("booking", "prod")["status"] == "HELD"


def test_the_alarm_is_read_in_the_account_where_the_dependency_runs(fleet):
    # payments runs in the PCI account in prod: an alarm of the same name in the shared prod account is not its.
    set_health(fleet.world.settings, "payments", "prod", PCI_PROD_ACCOUNT, "ALARM", "card errors")
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
    sts = CountingSts()
    job = gate_job("booking", "prod", execution="b1")
    expect_job_failure(fleet, job)

    verdict = DeployGate(aws_with_sts(fleet, sts), now=moment(0)).handle(job)

    assert verdict["message"] == "waiting for payments in prod: alarm cicd-payments-prod-health is in ALARM"
    assert sorted(set(sts.assumed)) == [reader_arn(PROD_ACCOUNT, "prod"), reader_arn(PCI_PROD_ACCOUNT, "prod")]


def test_each_reader_is_assumed_once_per_invocation_and_afresh_for_the_next(fleet):
    # In dev, auth and payments both run in the dev account: one session serves both alarms.
    sts = CountingSts()
    aws = aws_with_sts(fleet, sts)
    for minutes, job_id in ((0, "j1"), (1, "j2")):
        job = gate_job("booking", "dev", job_id=job_id)
        fleet.pipeline_stub.add_response("put_job_success_result", {}, {"jobId": job_id})
        assert DeployGate(aws.for_invocation(), now=moment(minutes)).handle(job)["allowed"] is True
    assert sts.assumed == [reader_arn("111111111111", "dev")] * 2


def test_reading_through_assumed_roles_loads_no_service_description_again(fleet, monkeypatch):
    """A new boto3 session per assumed role re-read botocore's JSON descriptions every invocation (~0.1 s each).

    Clients for an assumed role now come from the container's session, credentials passed as parameters.
    """
    from botocore.loaders import JSONFileLoader

    sts = CountingSts()
    aws = aws_with_sts(fleet, sts)
    warm = gate_job("booking", "prod", job_id="warm", execution="w1")
    fleet.pipeline_stub.add_response("put_job_success_result", {}, {"jobId": "warm"})
    DeployGate(aws.for_invocation(), now=moment(0)).handle(warm)  # the container's first (cold) invocation
    loaded: list[str] = []
    original = JSONFileLoader.load_file
    monkeypatch.setattr(JSONFileLoader, "load_file", lambda self, path: loaded.append(path) or original(self, path))
    job = gate_job("booking", "prod", job_id="j1", execution="b1")
    fleet.pipeline_stub.add_response("put_job_success_result", {}, {"jobId": "j1"})

    assert DeployGate(aws.for_invocation(), now=moment(1)).handle(job)["allowed"] is True
    assert sorted(sts.assumed[-2:]) == sorted([reader_arn(PROD_ACCOUNT, "prod"), reader_arn(PCI_PROD_ACCOUNT, "prod")])
    assert loaded == []


def test_a_throttled_assume_role_is_retried_with_backoff(fleet):
    sts = CountingSts(throttle=2)
    job = gate_job("booking", "dev", job_id="j1")
    fleet.pipeline_stub.add_response("put_job_success_result", {}, {"jobId": "j1"})

    assert DeployGate(aws_with_sts(fleet, sts), now=moment(0)).handle(job)["allowed"] is True
    assert len(fleet.sleeps) == 2


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException"])
def test_a_reader_that_cannot_be_assumed_fails_the_gate_closed_naming_account_and_role(fleet, code):
    sts = boto3.client("sts", region_name=REGION)
    with Stubber(sts) as stub:
        for _ in range(6):  # booking's own, auth's and payments' readers, for the gate and the coordinator's review
            stub.add_client_error("assume_role", service_error_code=code, http_status_code=403)
        job = gate_job("booking", "prod", execution="b1")
        expect_job_failure(fleet, job)
        verdict = DeployGate(aws_with_sts(fleet, sts), now=moment(0)).handle(job)
        review = Coordinator(aws_with_sts(fleet, sts), now=moment(5)).handle(tick_event(5))

    assert verdict["allowed"] is False
    assert verdict["message"] == (
        "booking's own health in prod: health unknown: cannot read alarm cicd-booking-prod-health "
        f"in account {PROD_ACCOUNT} through role {reader_arn(PROD_ACCOUNT, 'prod')}: {code}; "
        "waiting for auth in prod: health unknown: cannot read alarm cicd-auth-prod-health "
        f"in account {PROD_ACCOUNT} through role {reader_arn(PROD_ACCOUNT, 'prod')}: {code}; "
        "waiting for payments in prod: health unknown: cannot read alarm cicd-payments-prod-health "
        f"in account {PCI_PROD_ACCOUNT} through role {reader_arn(PCI_PROD_ACCOUNT, 'prod')}: {code}"
    )
    assert review["holds"] == []  # the coordinator cannot read the alarm either: it does not restart booking
    assert Ledger(fleet.aws()).hold("booking", "prod")["status"] == "HELD"


def test_a_missing_health_alarm_holds_the_deploy(fleet):
    health_alarm_client(PROD_ACCOUNT).delete_alarms(AlarmNames=["cicd-auth-prod-health"])
    job = gate_job("booking", "prod", execution="b1")
    expect_job_failure(fleet, job)

    assert gate(fleet, job, 0)["message"].startswith(
        "waiting for auth in prod: health unknown: alarm cicd-auth-prod-health "
        f"in account {PROD_ACCOUNT} through role {reader_arn(PROD_ACCOUNT, 'prod')} does not exist"
    )


def test_a_graph_without_the_dependency_placement_holds_the_deploy(fleet):
    old_shape = json.loads(json.dumps(GRAPH))
    del old_shape["alarmReaders"]
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=fleet.world.settings.graph_parameter, Value=json.dumps(old_shape), Type="String", Overwrite=True
    )
    job = gate_job("booking", "prod", execution="b1")
    expect_job_failure(fleet, job)

    message = gate(fleet, job, 0)["message"]
    assert message.startswith(
        "booking's own health in prod: health unknown: "
        "the dependency graph names no account and alarm reader for alarm cicd-booking-prod-health; "
    )
    assert (
        "waiting for auth in prod: health unknown: "
        "the dependency graph names no account and alarm reader for alarm cicd-auth-prod-health"
    ) in message
