"""The gate's jobs: delivered twice, answered twice, cut short, crafted.

Job shape: Lambda developer guide, "Using Lambda with CodePipeline" (``id``,
``accountId``, ``data.actionConfiguration.configuration.UserParameters``);
``pipelineContext`` as the CodePipeline API reference's ``JobData`` has it.
``PutJobSuccessResult``/``PutJobFailureResult`` document
``InvalidJobStateException`` (the job was already answered),
``JobNotFoundException`` and ``ValidationException``.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from deploy_gate.handler import DeployGate, GateClosedError
from deploy_ledger.store import Ledger
from simulation.moto_world import REGION, set_health
from tests.functions.coordination.conftest import (
    ACCOUNT,
    PROD_ACCOUNT,
    Interrupting,
    LambdaTimeout,
    gate_job,
    kill,
    moment,
)
from tests.functions.coordination.test_event_delivery import ledger_items
from tests.functions.coordination.test_release_scenarios import expect_job_failure, expect_job_success, gate

FAILED_AS_ALARM = "waiting for auth in prod: alarm cicd-auth-prod-health is in ALARM"


def auth_health(fleet, state: str) -> None:
    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, state, state.lower())


def answered_twice(fleet, operation: str, code: str = "InvalidJobStateException") -> None:
    fleet.pipeline_stub.add_client_error(operation, service_error_code=code, http_status_code=400)


def test_a_second_delivery_of_an_allowed_job_changes_nothing_and_answers_the_same(fleet):
    job = gate_job("booking", "prod", job_id="j1")
    expect_job_success(fleet, job)
    assert gate(fleet, job, 0)["allowed"] is True

    auth_health(fleet, "ALARM")  # deciding again now would hold a deploy that is already running
    answered_twice(fleet, "put_job_success_result")
    verdict = gate(fleet, job, 1)
    assert verdict == {
        "allowed": True,
        "message": "booking may deploy to prod: healthy, dependencies healthy, no change freeze",
        "duplicate": "j1",
    }
    assert Ledger(fleet.aws()).hold("booking", "prod") is None


def test_a_held_job_answered_twice_does_not_crash_nor_touch_its_hold(fleet):
    auth_health(fleet, "ALARM")
    job = gate_job("booking", "prod", execution="b1", job_id="j1")
    expect_job_failure(fleet, job)
    assert gate(fleet, job, 0)["message"] == FAILED_AS_ALARM
    first = Ledger(fleet.aws()).hold("booking", "prod")

    answered_twice(fleet, "put_job_failure_result")
    assert gate(fleet, job, 3) == {"allowed": False, "message": FAILED_AS_ALARM, "duplicate": "j1"}
    assert Ledger(fleet.aws()).hold("booking", "prod") == first


@pytest.mark.parametrize("code", ["InvalidJobStateException", "JobNotFoundException"])
def test_a_job_codepipeline_no_longer_waits_for_is_not_an_error(fleet, code):
    job = gate_job("booking", "prod", job_id="j1")
    answered_twice(fleet, "put_job_success_result", code)
    assert gate(fleet, job, 0)["allowed"] is True


def test_any_other_error_answering_the_job_fails_the_invocation(fleet):
    job = gate_job("booking", "prod", job_id="j1")
    answered_twice(fleet, "put_job_success_result", "ValidationException")
    with pytest.raises(ClientError, match="ValidationException"):
        gate(fleet, job, 0)


def test_a_gate_cut_short_while_recording_the_hold_is_decided_by_the_next_delivery_after_its_lease(fleet):
    auth_health(fleet, "ALARM")
    job = gate_job("booking", "prod", execution="b1", job_id="j1")
    aws = fleet.aws()
    # The job's claim is the first write, the hold the second: the runtime stops the function there.
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    aws.clients["dynamodb"] = Interrupting(dynamodb, "put_item", kill, at=2)
    with pytest.raises(LambdaTimeout):
        DeployGate(aws, now=moment(0)).handle(job)

    # Another delivery while the lease runs does not answer (no stubbed answer: answering would fail here).
    assert gate(fleet, job, 0.5) == {"allowed": False, "message": "job j1 is being decided", "duplicate": "j1"}
    expect_job_failure(fleet, job)
    assert gate(fleet, job, 2)["message"] == FAILED_AS_ALARM
    assert Ledger(fleet.aws()).hold("booking", "prod")["status"] == "HELD"


def test_the_execution_a_job_names_is_the_one_recorded_on_its_hold(fleet):
    auth_health(fleet, "ALARM")
    job = gate_job("booking", "prod", execution="b7")
    job["CodePipeline.job"]["data"]["pipelineContext"]["pipelineArn"] = (
        f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:booking-prod"
    )
    expect_job_failure(fleet, job)
    gate(fleet, job, 0)
    assert Ledger(fleet.aws()).hold("booking", "prod")["execution_id"] == "b7"


def crafted(change) -> dict:
    job = gate_job("booking", "prod", execution="b1", job_id="j1")
    change(job["CodePipeline.job"])
    return job


def set_account(account):
    def change(job):
        if account is None:
            job.pop("accountId")
        else:
            job["accountId"] = account

    return change


def set_context(**values):
    def change(job):
        job["data"]["pipelineContext"].update(values)

    return change


IGNORED = [
    (
        "another-account",
        set_account("222222222222"),
        "job of account 222222222222, not the tooling account 123456789012",
    ),
    ("no-account", set_account(None), "job of account None, not the tooling account 123456789012"),
    (
        "another-pipeline-asks-for-booking",
        set_context(pipelineName="mobile-bff-prod"),
        "job of pipeline mobile-bff-prod asks for booking in prod",
    ),
    (
        "pipeline-of-another-account",
        set_context(pipelineArn="arn:aws:codepipeline:eu-west-1:222222222222:booking-prod"),
        "job of pipeline arn:aws:codepipeline:eu-west-1:222222222222:booking-prod, "
        "not a pipeline of the tooling account",
    ),
    (
        "pipeline-of-another-region",
        set_context(pipelineArn=f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:booking-prod"),
        f"job of pipeline arn:aws:codepipeline:us-east-1:{ACCOUNT}:booking-prod, not a pipeline of the tooling account",
    ),
    (
        "arn-of-another-pipeline",
        set_context(pipelineName=None, pipelineArn=f"arn:aws:codepipeline:eu-west-1:{ACCOUNT}:mobile-bff-prod"),
        "job of pipeline mobile-bff-prod asks for booking in prod",
    ),
    (
        # Where it comes from is checked first: a foreign job is not answered, whatever its parameters.
        "another-account-with-unreadable-parameters",
        lambda job: (set_account("222222222222")(job), set_parameters("{not json")(job)),
        "job of account 222222222222, not the tooling account 123456789012",
    ),
]


@pytest.mark.parametrize(("change", "reason"), [c[1:] for c in IGNORED], ids=[c[0] for c in IGNORED])
def test_a_job_that_is_not_this_platforms_is_ignored_neither_answered_nor_recorded(fleet, change, reason):
    auth_health(fleet, "ALARM")
    before = ledger_items(fleet)
    # No stubbed answer: a PutJob*Result call would fail the test.
    assert gate(fleet, crafted(change), 0) == {
        "allowed": False,
        "ignored": reason,
        "message": f"deploy gate ignored the job: {reason}",
    }
    assert ledger_items(fleet) == before


def set_parameters(value):
    def change(job):
        job["data"]["actionConfiguration"]["configuration"]["UserParameters"] = value

    return change


REFUSED = [
    (
        "not-json",
        set_parameters("{service: booking"),
        "deploy gate could not decide: UserParameters are not JSON: Expecting property name",
    ),
    (
        "not-an-object",
        set_parameters(json.dumps(["booking", "prod"])),
        "deploy gate could not decide: UserParameters are not a JSON object naming the service and the environment",
    ),
    (
        "service-not-text",
        set_parameters(json.dumps({"service": ["booking"], "environment": "prod"})),
        "deploy gate could not decide: UserParameters must name the service and the environment",
    ),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_job_of_this_account_with_unusable_parameters_is_refused_and_records_nothing(fleet, change, message):
    before = ledger_items(fleet)
    job = crafted(change)
    expect_job_failure(fleet, job)
    verdict = gate(fleet, job, 0)
    assert verdict["allowed"] is False and verdict["message"].startswith(message)
    assert ledger_items(fleet) == before


def test_an_invocation_without_a_job_gets_a_verdict_and_records_nothing(fleet):
    auth_health(fleet, "ALARM")
    with pytest.raises(GateClosedError, match=FAILED_AS_ALARM):
        DeployGate(fleet.aws(), now=moment(0)).handle({"UserParameters": {"service": "booking", "environment": "prod"}})
    assert Ledger(fleet.aws()).hold("booking", "prod") is None
