"""The bake: the Deploy stage's last action watches the service's health alarm for ``bakeMinutes``.

Events take the shape of the Lambda invoke action's job event (CodePipeline
user guide, "AWS Lambda invoke action reference", example JSON event: job id,
account, action configuration, artifacts and their credentials, and a
``continuationToken`` on the invocations after an "in progress" answer).
CodePipeline's job calls go through ``botocore.stub.Stubber`` (moto lacks
them): every test states the answers it expects, and the stub refuses any
other, so "no answer" is checked as strictly as an answer. Alarms are read in
moto, in the account where the service runs, through its alarm reader.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber

import deploy_gate.handler as gate_handler
from deploy_ledger.bake import Bake, MalformedJobError, is_bake_job
from deploy_ledger.job_claims import JobClaims
from simulation.moto_world import REGION, health_alarm_client, set_health
from tests.functions.coordination.conftest import (
    ACCOUNT,
    DEV_ACCOUNT,
    PCI_PROD_ACCOUNT,
    PROD_ACCOUNT,
    gate_job,
    moment,
    reader_arn,
)

EXECUTION = "0b5a4f2e-7c1d-4e8a-9f3b-2d6c8e1a4b7f"
ROLLBACK = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


def bake_job(
    service: str = "booking",
    environment: str = "prod",
    minutes: object = 10,
    token: str | None = None,
    job_id: str | None = None,
    alarm: str | None = "",
    execution: str | None = EXECUTION,
) -> dict:
    parameters = {"service": service, "environment": environment, "bakeMinutes": minutes}
    if alarm is not None:
        parameters["healthAlarm"] = alarm or f"cicd-{service}-{environment}-health"
    data: dict = {
        "actionConfiguration": {
            "configuration": {"FunctionName": "cicd-sim-deploy-gate", "UserParameters": json.dumps(parameters)}
        },
        "inputArtifacts": [],
        "outputArtifacts": [],
        "artifactCredentials": {
            "accessKeyId": "ASIAEXAMPLE",
            "secretAccessKey": "example",
            "sessionToken": "example",
            "expirationTime": 1_575_493_418_000,
        },
    }
    if execution is not None:  # JobData.pipelineContext (API reference)
        data["pipelineContext"] = {
            "pipelineName": f"{service}-{environment}",
            "stage": {"name": "Deploy"},
            "action": {"name": "BakeHealthAlarm"},
            "pipelineExecutionId": execution,
        }
    if token is not None:
        data["continuationToken"] = token
    return {"CodePipeline.job": {"id": job_id or str(uuid.uuid4()), "accountId": ACCOUNT, "data": data}}


def job_id(job: dict) -> str:
    return job["CodePipeline.job"]["id"]


class Pipeline:
    """What CodePipeline received: the answers the stub was told to expect, and their arguments."""

    def __init__(self, fleet) -> None:
        self.fleet = fleet
        self.sent: list[tuple[str, dict]] = []
        fleet.pipeline_stub.activate()
        fleet.codepipeline.meta.events.register(
            "provide-client-params.codepipeline.*", lambda params, model, **_: self.sent.append((model.name, params))
        )

    def execution_type(self, job: dict, execution_type: str = "STANDARD") -> None:
        """The first invocation asks which kind of execution runs it (``ListPipelineExecutions``)."""
        context = job["CodePipeline.job"]["data"]["pipelineContext"]
        self.fleet.pipeline_stub.add_response(
            "list_pipeline_executions",
            {
                "pipelineExecutionSummaries": [
                    {
                        "pipelineExecutionId": context["pipelineExecutionId"],
                        "status": "InProgress",
                        "executionType": execution_type,
                    },
                    {"pipelineExecutionId": str(uuid.uuid4()), "status": "Succeeded", "executionType": "STANDARD"},
                ]
            },
            {"pipelineName": context["pipelineName"], "maxResults": 20},
        )

    def _first_look(self, job: dict) -> None:
        data = job["CodePipeline.job"]["data"]
        if "continuationToken" not in data and "pipelineContext" in data:
            self.execution_type(job)

    def expect_continue(self, job: dict, first_look: bool = True) -> None:
        if first_look:
            self._first_look(job)
        self.fleet.pipeline_stub.add_response(
            "put_job_success_result",
            {},
            {"jobId": job_id(job), "continuationToken": ANY, "executionDetails": ANY},
        )

    def expect_success(self, job: dict, first_look: bool = True) -> None:
        if first_look:
            self._first_look(job)
        self.fleet.pipeline_stub.add_response(
            "put_job_success_result", {}, {"jobId": job_id(job), "executionDetails": ANY}
        )

    def expect_failure(self, job: dict, failure_type: str = "JobFailed", first_look: bool = True) -> None:
        if first_look:
            self._first_look(job)
        self.fleet.pipeline_stub.add_response(
            "put_job_failure_result",
            {},
            {"jobId": job_id(job), "failureDetails": {"type": failure_type, "message": ANY}},
        )

    def answers(self) -> list[dict]:
        return [params for operation, params in self.sent if operation.startswith("PutJob")]

    def last(self) -> dict:
        return self.answers()[-1]

    def next_token(self) -> str:
        return self.last()["continuationToken"]


@pytest.fixture
def pipeline(fleet) -> Pipeline:
    return Pipeline(fleet)


def bake(fleet, job: dict, minutes: float) -> dict:
    return Bake(fleet.aws().for_invocation(), now=moment(minutes)).handle(job)


def test_an_alarm_that_stays_ok_continues_until_bake_minutes_have_passed_then_succeeds(fleet, pipeline):
    first = bake_job(minutes=10)
    pipeline.expect_continue(first)
    assert bake(fleet, first, 0)["answer"] == "continue"
    assert pipeline.last()["executionDetails"]["summary"] == (
        f"baking booking in prod: health alarm cicd-booking-prod-health in account {PROD_ACCOUNT} is OK; "
        "10 of 10 min to go"
    )
    # CodePipeline invokes again with a new job and the token, at a cadence of its own.
    for minutes in (3, 9.5):
        later = bake_job(minutes=10, token=pipeline.next_token())
        pipeline.expect_continue(later)
        assert bake(fleet, later, minutes)["answer"] == "continue"
    done = bake_job(minutes=10, token=pipeline.next_token())
    pipeline.expect_success(done)

    result = bake(fleet, done, 10)

    assert result["answer"] == "succeed"
    assert "continuationToken" not in pipeline.last()  # the action completes
    assert pipeline.last()["executionDetails"] == {
        "summary": f"health alarm cicd-booking-prod-health in account {PROD_ACCOUNT} stayed out of ALARM for the "
        "10-min bake of booking in prod (4 checks)",
        "percentComplete": 100,
    }


def test_the_bake_counts_time_from_its_first_invocation_not_invocations(fleet, pipeline):
    first = bake_job(minutes=5)
    pipeline.expect_continue(first)
    bake(fleet, first, 0)
    late = bake_job(minutes=5, token=pipeline.next_token())
    pipeline.expect_success(late)
    assert bake(fleet, late, 6)["answer"] == "succeed"  # one slow re-invocation is enough once the time is up


def test_alarm_mid_bake_fails_the_job_naming_the_alarm_and_its_account(fleet, pipeline):
    first = bake_job(minutes=10)
    pipeline.expect_continue(first)
    bake(fleet, first, 0)
    set_health(fleet.world.settings, "booking", "prod", PROD_ACCOUNT, "ALARM", "Threshold Crossed: 5xx")
    later = bake_job(minutes=10, token=pipeline.next_token())
    pipeline.expect_failure(later)

    result = bake(fleet, later, 4)

    assert result["answer"] == "fail"
    assert pipeline.last()["failureDetails"]["message"] == (
        f"health alarm cicd-booking-prod-health in account {PROD_ACCOUNT} is in ALARM 4 min into the 10-min bake "
        "of booking in prod (Threshold Crossed: 5xx); the Deploy stage fails and rolls back to the last successful "
        "execution"
    )


def test_alarm_at_the_first_look_fails_at_once(fleet, pipeline):
    set_health(fleet.world.settings, "payments", "prod", PCI_PROD_ACCOUNT, "ALARM", "card errors")
    job = bake_job("payments", "prod", minutes=10)
    pipeline.expect_failure(job)

    bake(fleet, job, 0)

    assert (
        f"cicd-payments-prod-health in account {PCI_PROD_ACCOUNT} is in ALARM 0 min"
        in (pipeline.last()["failureDetails"]["message"])
    )


def test_an_alarm_that_went_into_alarm_and_back_between_two_looks_fails_the_bake(fleet, pipeline):
    first = bake_job(minutes=10)
    pipeline.expect_continue(first)
    bake(fleet, first, 0)
    set_health(fleet.world.settings, "booking", "prod", PROD_ACCOUNT, "ALARM", "spike")
    set_health(fleet.world.settings, "booking", "prod", PROD_ACCOUNT, "OK", "recovered")
    later = bake_job(minutes=10, token=pipeline.next_token())
    pipeline.expect_failure(later)

    bake(fleet, later, 2)

    message = pipeline.last()["failureDetails"]["message"]
    assert message.startswith(
        f"health alarm cicd-booking-prod-health in account {PROD_ACCOUNT} left OK and came back between two checks"
    )


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException"])
def test_a_reader_that_cannot_be_assumed_fails_the_bake_closed_naming_account_and_role(fleet, pipeline, code):
    sts = boto3.client("sts", region_name=REGION)
    aws = fleet.aws()
    aws.clients["sts"] = sts
    job = bake_job(minutes=10)
    pipeline.expect_failure(job)
    with Stubber(sts) as stub:
        stub.add_client_error("assume_role", service_error_code=code, http_status_code=403)
        Bake(aws, now=moment(0)).handle(job)

    assert pipeline.last()["failureDetails"]["message"] == (
        "bake of booking in prod failed closed: health unknown: cannot read alarm cicd-booking-prod-health "
        f"in account {PROD_ACCOUNT} through role {reader_arn(PROD_ACCOUNT, 'prod')}: {code}"
    )


def test_a_missing_alarm_fails_the_bake_closed(fleet, pipeline):
    health_alarm_client(DEV_ACCOUNT).delete_alarms(AlarmNames=["cicd-auth-dev-health"])
    job = bake_job("auth", "dev", minutes=5)
    pipeline.expect_failure(job)

    bake(fleet, job, 0)

    assert pipeline.last()["failureDetails"]["message"] == (
        "bake of auth in dev failed closed: health unknown: alarm cicd-auth-dev-health "
        f"in account {DEV_ACCOUNT} through role {reader_arn(DEV_ACCOUNT, 'dev')} does not exist"
    )


def test_a_duplicate_delivery_of_an_answered_job_sends_nothing(fleet, pipeline):
    job = bake_job(minutes=10)
    pipeline.expect_continue(job)
    assert bake(fleet, job, 0)["answer"] == "continue"

    again = bake(fleet, job, 0.2)  # the stub holds no second answer: any call would fail the test

    assert again == {"job": job_id(job), "answer": None, "claim": "answered"}
    assert len(pipeline.answers()) == 1


def test_a_delivery_that_died_is_answered_by_lambdas_retry_and_a_concurrent_duplicate_stays_silent(fleet, pipeline):
    job = bake_job(minutes=10)
    # The first delivery claimed the job, then was killed at the function's timeout before it answered.
    assert JobClaims(fleet.aws(), moment(0)).claim(job_id(job), None) == "claimed"

    duplicate = bake(fleet, job, 0.5)  # another delivery of the same event, while the claim is live
    assert duplicate["claim"] == "busy" and pipeline.sent == []  # not even a look at the pipeline

    pipeline.expect_continue(job)
    retry = bake(fleet, job, 2)  # Lambda retries a timed-out asynchronous invocation about a minute later

    assert retry["answer"] == "continue"
    assert bake(fleet, job, 2.1)["claim"] == "answered"
    assert len(pipeline.answers()) == 1


def test_a_result_codepipeline_throttles_releases_the_claim_for_lambdas_retry(fleet, pipeline):
    job = bake_job(minutes=10)
    pipeline.execution_type(job)
    for _ in range(fleet.world.settings.retry_attempts):
        fleet.pipeline_stub.add_client_error("put_job_success_result", service_error_code="ThrottlingException")
    with pytest.raises(Exception, match="ThrottlingException"):
        bake(fleet, job, 0)

    pipeline.expect_continue(job)
    assert bake(fleet, job, 0.1)["answer"] == "continue"  # released: the retry need not wait for the lease


def test_a_job_codepipeline_already_closed_is_left_as_it_is(fleet, pipeline):
    job = bake_job(minutes=10)
    pipeline.execution_type(job)
    fleet.pipeline_stub.add_client_error("put_job_success_result", service_error_code="InvalidJobStateException")

    assert bake(fleet, job, 0)["answer"] == "continue"
    assert bake(fleet, job, 0.1)["claim"] == "answered"


@pytest.mark.parametrize(
    ("minutes", "reason"),
    [
        ("ten", "bakeMinutes must be a whole number from 1 to 1380"),
        (0, "bakeMinutes must be a whole number from 1 to 1380"),
        (True, "bakeMinutes must be a whole number from 1 to 1380"),
        (24 * 60, "bakeMinutes must be a whole number from 1 to 1380"),
    ],
)
def test_a_malformed_bake_fails_with_a_configuration_error(fleet, pipeline, minutes, reason):
    job = bake_job(minutes=minutes)
    pipeline.expect_failure(job, "ConfigurationError", first_look=False)

    bake(fleet, job, 0)

    assert pipeline.last()["failureDetails"]["message"] == f"bake: malformed job: {reason}"


def test_user_parameters_that_are_not_an_object_fail_the_job(fleet, pipeline):
    job = bake_job()
    job["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = '{"bakeMinutes": 5'
    assert is_bake_job(job) is False  # not recognisably a bake: the gate answers it, and fails closed

    job = bake_job()
    job["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = json.dumps(
        {"bakeMinutes": 5}
    )
    pipeline.expect_failure(job, "ConfigurationError", first_look=False)
    bake(fleet, job, 0)
    assert pipeline.last()["failureDetails"]["message"] == (
        "bake: malformed job: UserParameters must name the service and the environment"
    )


@pytest.mark.parametrize(
    "token",
    [
        "not json",
        json.dumps({"v": 2, "alarm": "cicd-booking-prod-health"}),
        json.dumps({"v": 1, "alarm": "cicd-auth-prod-health", "startedAt": "2026-11-30T09:00:00+00:00"}),
        json.dumps({"v": 1, "alarm": "cicd-booking-prod-health", "startedAt": "yesterday", "seen": "OK"}),
    ],
    ids=["not-json", "other-version", "other-alarm", "bad-time"],
)
def test_a_continuation_token_that_is_not_this_bakes_fails_the_job(fleet, pipeline, token):
    job = bake_job(minutes=10, token=token)
    pipeline.expect_failure(job, "ConfigurationError")

    bake(fleet, job, 1)

    assert pipeline.last()["failureDetails"]["message"].startswith("bake: malformed job: continuation token")


def test_an_action_that_names_another_alarm_fails_instead_of_watching_the_wrong_one(fleet, pipeline):
    job = bake_job(minutes=10, alarm="cicd-booking-prod-cpu")
    pipeline.expect_failure(job, "ConfigurationError")

    bake(fleet, job, 0)

    assert (
        "names alarm cicd-booking-prod-cpu, but the service's health alarm is cicd-booking-prod-health"
        in (pipeline.last()["failureDetails"]["message"])
    )


def test_an_event_without_a_job_id_cannot_be_answered_and_goes_to_the_dead_letter_queue(fleet, pipeline):
    job = bake_job()
    del job["CodePipeline.job"]["id"]
    with pytest.raises(MalformedJobError, match="without a CodePipeline job id"):
        bake(fleet, job, 0)


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("another account", lambda job: job["CodePipeline.job"].update(accountId="999999999999")),
        (
            "another pipeline",
            lambda job: job["CodePipeline.job"]["data"]["pipelineContext"].update(pipelineName="payments-prod"),
        ),
    ],
)
def test_a_bake_job_from_elsewhere_is_neither_answered_nor_claimed(fleet, pipeline, where, change):
    """A crafted invocation (another account's job, or one whose pipeline is not the one it names) reads no alarm."""
    job = bake_job()
    change(job)

    answer = bake(fleet, job, 0)  # the stub holds no answer: any CodePipeline call would fail the test

    assert answer["answer"] is None and answer["ignored"]
    assert pipeline.answers() == []


def test_the_entry_point_sends_bake_jobs_to_the_bake_and_rule_jobs_to_the_gate(fleet, pipeline, monkeypatch):
    monkeypatch.setattr(gate_handler, "_AWS", fleet.aws())
    job = bake_job("auth", "dev", minutes=5)
    pipeline.expect_continue(job)
    assert gate_handler.handle(job, None)["answer"] == "continue"

    rule_job = gate_job("auth", "dev")
    fleet.pipeline_stub.add_response("put_job_success_result", {}, {"jobId": job_id(rule_job)})
    assert gate_handler.handle(rule_job, None)["allowed"] is True
    assert is_bake_job(rule_job) is False


def test_percent_complete_follows_the_clock(fleet, pipeline):
    first = bake_job(minutes=10)
    pipeline.expect_continue(first)
    bake(fleet, first, 0)
    later = bake_job(minutes=10, token=pipeline.next_token())
    pipeline.expect_continue(later)
    Bake(fleet.aws().for_invocation(), now=moment(0) + timedelta(minutes=5)).handle(later)
    assert pipeline.last()["executionDetails"]["percentComplete"] == 50


def test_the_bake_of_a_rollback_execution_succeeds_at_once_even_while_the_alarm_is_in_alarm(fleet, pipeline):
    # The bake failed, the stage rolled back on failure: the rollback execution re-runs the stage, bake included.
    set_health(fleet.world.settings, "booking", "prod", PROD_ACCOUNT, "ALARM", "still recovering")
    job = bake_job(minutes=10, execution=ROLLBACK)
    pipeline.execution_type(job, "ROLLBACK")
    pipeline.expect_success(job, first_look=False)

    assert bake(fleet, job, 0)["answer"] == "succeed"
    assert pipeline.last()["executionDetails"]["summary"].startswith(
        f"rollback execution {ROLLBACK} of booking in prod: not baked"
    )


def test_without_a_pipeline_context_the_deploy_stages_running_execution_is_the_one_asked_about(fleet, pipeline):
    job = bake_job(minutes=10, execution=None)
    fleet.pipeline_stub.add_response(
        "get_pipeline_state",
        {
            "pipelineName": "booking-prod",
            "stageStates": [
                {"stageName": "Approve", "latestExecution": {"pipelineExecutionId": EXECUTION, "status": "Succeeded"}},
                {"stageName": "Deploy", "latestExecution": {"pipelineExecutionId": ROLLBACK, "status": "InProgress"}},
            ],
        },
        {"name": "booking-prod"},
    )
    fleet.pipeline_stub.add_response(
        "list_pipeline_executions",
        {
            "pipelineExecutionSummaries": [
                {"pipelineExecutionId": ROLLBACK, "status": "InProgress", "executionType": "ROLLBACK"}
            ]
        },
        {"pipelineName": "booking-prod", "maxResults": 20},
    )
    pipeline.expect_success(job, first_look=False)

    assert bake(fleet, job, 0)["answer"] == "succeed"


def test_an_execution_type_that_cannot_be_read_is_taken_as_standard_and_baked(fleet, pipeline):
    job = bake_job(minutes=10)
    fleet.pipeline_stub.add_client_error("list_pipeline_executions", service_error_code="AccessDeniedException")
    pipeline.expect_continue(job, first_look=False)

    assert bake(fleet, job, 0)["answer"] == "continue"
