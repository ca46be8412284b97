"""Scenarios of a release: the gate holds a deploy behind its dependencies, the coordinator restarts or aborts it."""

from __future__ import annotations

import json

import pytest
from botocore.stub import ANY

from coordinator.handler import Coordinator
from deploy_gate.handler import DeployGate
from deploy_ledger.store import Ledger
from simulation.moto_world import set_health
from tests.functions.coordination.conftest import (
    PROD_ACCOUNT,
    gate_job,
    moment,
    pipeline_event,
    stage_event,
    tick_event,
)

RETRY_BOOKING_PROD_B1 = {
    "pipelineName": "booking-prod",
    "stageName": "Deploy",
    "pipelineExecutionId": "b1",
    "retryMode": "ALL_ACTIONS",
}


def coordinate(fleet, event, minutes):
    return Coordinator(fleet.aws(), now=moment(minutes)).handle(event)


def tick(fleet, minutes):
    return coordinate(fleet, tick_event(minutes), minutes)


def gate(fleet, job, minutes):
    return DeployGate(fleet.aws(), now=moment(minutes)).handle(job)


def expect_job_failure(fleet, job, message_part=None):
    fleet.pipeline_stub.add_response(
        "put_job_failure_result",
        {},
        {"jobId": job["CodePipeline.job"]["id"], "failureDetails": {"type": "JobFailed", "message": ANY}},
    )


def expect_job_success(fleet, job):
    fleet.pipeline_stub.add_response("put_job_success_result", {}, {"jobId": job["CodePipeline.job"]["id"]})


def subscribe(fleet, service):
    sqs, sns = fleet.client("sqs"), fleet.client("sns")
    url = sqs.create_queue(QueueName=f"{service}-deployed-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=fleet.world.topics[service], Protocol="sqs", Endpoint=arn)
    return url


def received(fleet, url):
    messages = fleet.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(json.loads(message["Body"])["Message"]) for message in messages]


def test_booking_waits_for_auth_in_the_same_environment_then_restarts_when_auth_is_deployed(fleet):
    inbox = subscribe(fleet, "auth")
    coordinate(fleet, pipeline_event("auth-prod", "a1", "STARTED", 0), 0)
    coordinate(fleet, stage_event("auth-prod", "a1", "Deploy", "STARTED", 5), 5)

    job = gate_job("booking", "prod")
    expect_job_failure(fleet, job)
    verdict = gate(fleet, job, 6)
    assert verdict == {"allowed": False, "message": "waiting for auth in prod: mid-deploy (execution a1)"}
    # The stage fails on its entry rule; the coordinator learns the execution from that event.
    coordinate(fleet, stage_event("booking-prod", "b1", "Deploy", "FAILED", 6), 6)
    coordinate(fleet, pipeline_event("booking-prod", "b1", "FAILED", 6), 6)
    ledger = Ledger(fleet.aws())
    assert ledger.hold("booking", "prod")["execution_id"] == "b1"
    assert ledger.state("booking", "prod")["deploy_state"] == "HELD"  # held is not a failed deploy

    coordinate(fleet, stage_event("auth-prod", "a1", "Deploy", "SUCCEEDED", 10), 10)
    assert ledger.hold("booking", "prod")["status"] == "HELD"  # auth's release is still running (verify)

    fleet.pipeline_stub.add_response(
        "retry_stage_execution",
        {"pipelineExecutionId": "b1"},
        RETRY_BOOKING_PROD_B1,
    )
    outcome = coordinate(fleet, pipeline_event("auth-prod", "a1", "SUCCEEDED", 12), 12)
    assert outcome["downstream"] == ["published auth deployed"]
    assert outcome["holds"] == ["restarted booking in prod (retried Deploy of b1)"]
    assert received(fleet, inbox) == [
        {
            "service": "auth",
            "environment": "prod",
            "executionId": "a1",
            "deployedAt": "2026-11-30T09:12:00Z",
            "dependents": ["booking", "payments"],
        }
    ]

    retry = gate_job("booking", "prod", execution="b1")
    expect_job_success(fleet, retry)
    assert gate(fleet, retry, 13)["allowed"] is True
    assert ledger.hold("booking", "prod")["status"] == "RELEASED"


def test_auth_failing_holds_booking_and_aborts_it_after_the_timeout_with_the_reason(fleet):
    coordinate(fleet, pipeline_event("auth-prod", "a1", "STARTED", 0), 0)
    coordinate(fleet, stage_event("auth-prod", "a1", "Deploy", "STARTED", 3), 3)
    coordinate(fleet, stage_event("auth-prod", "a1", "Deploy", "FAILED", 5), 5)
    coordinate(fleet, pipeline_event("auth-prod", "a1", "FAILED", 5), 5)

    job = gate_job("booking", "prod", execution="b1")
    expect_job_failure(fleet, job)
    assert gate(fleet, job, 7)["message"] == "waiting for auth in prod: last deploy failed (execution a1)"

    assert tick(fleet, 30)["holds"] == []  # still within the hour: waits quietly
    outcome = tick(fleet, 67)
    assert outcome["holds"] == [
        "aborted booking in prod: aborted after 60 min on hold: "
        "waiting for auth in prod: last deploy failed (execution a1)"
    ]
    hold = Ledger(fleet.aws()).hold("booking", "prod")
    assert hold["status"] == "ABORTED"
    assert hold["aborted_at"] == "2026-11-30T10:07:00Z"
    assert tick(fleet, 90)["holds"] == []  # an aborted deploy is never restarted


def test_a_dependency_whose_alarm_clears_releases_the_held_deploy(fleet):
    # auth's health alarm lives in the prod account, where auth runs; the gate reads it through the reader role.
    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, "ALARM", "5xx spike")

    job = gate_job("booking", "prod", execution="b1")
    expect_job_failure(fleet, job)
    assert gate(fleet, job, 0)["message"] == "waiting for auth in prod: alarm cicd-auth-prod-health is in ALARM"
    assert tick(fleet, 5)["holds"] == []

    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, "OK", "recovered")
    fleet.pipeline_stub.add_response(
        "retry_stage_execution",
        {"pipelineExecutionId": "b1"},
        RETRY_BOOKING_PROD_B1,
    )
    assert tick(fleet, 10)["holds"] == ["restarted booking in prod (retried Deploy of b1)"]
    assert tick(fleet, 11)["holds"] == []  # restarted once, not on every tick


@pytest.mark.parametrize("refusal", ["StageNotRetryableException", "NotLatestPipelineExecutionException"])
def test_a_stage_that_cannot_be_retried_gets_a_new_execution(fleet, refusal):
    coordinate(fleet, pipeline_event("auth-dev", "a1", "STARTED", 0), 0)
    job = gate_job("booking", "dev", execution="b1")
    expect_job_failure(fleet, job)
    assert gate(fleet, job, 1)["message"] == "waiting for auth in dev: release in flight (execution a1)"

    fleet.pipeline_stub.add_client_error("retry_stage_execution", service_error_code=refusal, http_status_code=400)
    fleet.pipeline_stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "b2"},
        # One token per restart of this hold: a restart repeated after a crash starts one execution, not two.
        {"name": "booking-dev", "clientRequestToken": "hold-dev-booking-20261130090100-1"},
    )
    assert coordinate(fleet, pipeline_event("auth-dev", "a1", "SUCCEEDED", 4), 4)["holds"] == [
        "restarted booking in dev (new execution)"
    ]


def test_payments_waits_only_for_dependencies_that_deploy_to_its_environment(fleet):
    """mobile-bff deploys to prod only: booking's dev deploy never waits for it (it depends on booking, not v.v.)."""
    coordinate(fleet, pipeline_event("mobile-bff-prod", "m1", "STARTED", 0), 0)
    job = gate_job("booking", "dev")
    expect_job_success(fleet, job)
    assert gate(fleet, job, 1)["allowed"] is True
