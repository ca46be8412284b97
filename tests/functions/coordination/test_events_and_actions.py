"""The coordinator under at-least-once, unordered delivery, and the actions a successful release starts."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from coordinator.handler import Coordinator
from deploy_gate.handler import DeployGate
from deploy_ledger.store import Ledger
from tests.functions.coordination.conftest import gate_job, moment, pipeline_event, stage_event
from tests.functions.coordination.test_release_scenarios import received, subscribe


def coordinate(fleet, event, minutes=0):
    return Coordinator(fleet.aws(), now=moment(minutes)).handle(event)


def expect_downstream_of_booking(fleet, execution="b1"):
    fleet.build_stub.add_response(
        "start_build",
        {"build": {"id": "partner-api-integration-tests:1"}},
        {
            "projectName": "partner-api-integration-tests",
            "idempotencyToken": f"booking-{execution}",
            "environmentVariablesOverride": [
                {"name": "TARGET_ENVIRONMENT", "value": "prod", "type": "PLAINTEXT"},
                {"name": "UPSTREAM_SERVICE", "value": "booking", "type": "PLAINTEXT"},
                {"name": "UPSTREAM_EXECUTION_ID", "value": execution, "type": "PLAINTEXT"},
            ],
        },
    )
    fleet.pipeline_stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "m1"},
        {"name": "mobile-bff-prod", "clientRequestToken": f"booking-{execution}"},
    )


def test_booking_deployed_to_prod_tests_partner_api_and_redeploys_mobile_bff(fleet):
    expect_downstream_of_booking(fleet)
    outcome = coordinate(fleet, pipeline_event("booking-prod", "b1", "SUCCEEDED", 10), 10)
    assert outcome["downstream"] == [
        "published booking deployed",
        "redeploy mobile-bff in prod",
        "test partner-api in prod",
    ]


def test_in_dev_only_the_dependents_that_deploy_there_are_acted_on(fleet):
    fleet.build_stub.add_response("start_build", {"build": {"id": "partner-api-integration-tests:2"}}, None)
    outcome = coordinate(fleet, pipeline_event("booking-dev", "b9", "SUCCEEDED", 10), 10)
    assert outcome["downstream"] == ["published booking deployed", "test partner-api in dev"]


def test_a_duplicated_success_event_starts_nothing_twice(fleet):
    expect_downstream_of_booking(fleet)
    event = pipeline_event("booking-prod", "b1", "SUCCEEDED", 10)
    coordinate(fleet, event, 10)
    replay = coordinate(fleet, event, 11)
    assert replay["duplicate"] == "SEEN#b1#1#PIPELINE#SUCCEEDED"
    assert "downstream" not in replay
    # The stubs hold exactly one start_build and one start_pipeline_execution: a second call would fail here.


def test_a_retry_after_a_failed_action_does_what_is_left_and_publishes_and_records_once(fleet):
    inbox = subscribe(fleet, "booking")
    fleet.pipeline_stub.add_client_error("start_pipeline_execution", service_error_code="PipelineNotFoundException")
    event = pipeline_event("booking-prod", "b1", "SUCCEEDED", 10, started=0)
    with pytest.raises(ClientError, match="PipelineNotFoundException"):
        coordinate(fleet, event, 10)  # published, then the redeploy failed: Lambda retries the event
    # On redelivery the actions that did not happen go out; the announcement does not go out again.
    expect_downstream_of_booking(fleet)
    outcome = coordinate(fleet, event, 11)
    assert outcome["downstream"] == ["redeploy mobile-bff in prod", "test partner-api in prod"]
    assert [message["executionId"] for message in received(fleet, inbox)] == ["b1"]
    assert Ledger(fleet.aws()).execution("booking", "prod", "b1")["events"] == [
        "2026-11-30T09:10:00Z PIPELINE SUCCEEDED"
    ]
    assert coordinate(fleet, event, 12)["duplicate"] == "SEEN#b1#1#PIPELINE#SUCCEEDED"


def test_late_and_reordered_events_never_move_the_picture_back(fleet):
    ledger = Ledger(fleet.aws())
    coordinate(fleet, stage_event("auth-prod", "a1", "Deploy", "SUCCEEDED", 8), 20)
    coordinate(fleet, pipeline_event("auth-prod", "a1", "SUCCEEDED", 9), 21)
    coordinate(fleet, stage_event("auth-prod", "a1", "Deploy", "STARTED", 5), 22)  # arrives last
    coordinate(fleet, pipeline_event("auth-prod", "a1", "STARTED", 0), 23)
    state = ledger.state("auth", "prod")
    assert (state["release_state"], state["deploy_state"]) == ("SUCCEEDED", "SUCCEEDED")
    assert state["last_deployed_at"] == "2026-11-30T09:08:00Z"
    execution = ledger.execution("auth", "prod", "a1")
    assert execution["started_at"] == "2026-11-30T09:00:00Z"
    assert execution["ended_at"] == "2026-11-30T09:09:00Z"
    assert len(execution["events"]) == 4

    fleet.pipeline_stub.add_response("put_job_success_result", {}, None)
    assert DeployGate(fleet.aws(), now=moment(24)).handle(gate_job("booking", "prod"))["allowed"] is True


def test_a_superseded_run_ending_late_does_not_hide_its_successor_in_flight(fleet):
    coordinate(fleet, pipeline_event("auth-dev", "a1", "STARTED", 0))
    coordinate(fleet, pipeline_event("auth-dev", "a2", "STARTED", 2))
    coordinate(fleet, pipeline_event("auth-dev", "a1", "SUPERSEDED", 3))
    state = Ledger(fleet.aws()).state("auth", "dev")
    assert (state["release_state"], state["release_execution"]) == ("IN_PROGRESS", "a2")


def test_events_of_pipelines_outside_the_platform_are_ignored(fleet):
    outcome = coordinate(fleet, pipeline_event("someone-elses-pipeline", "x1", "SUCCEEDED", 1))
    assert outcome["ignored"] == "pipeline someone-elses-pipeline is not one of this platform's"


def test_a_queued_execution_is_recorded_but_not_taken_for_a_release_in_flight(fleet):
    coordinate(fleet, pipeline_event("auth-prod", "a1", "QUEUED", 0))
    assert "release_state" not in Ledger(fleet.aws()).state("auth", "prod")
    assert Ledger(fleet.aws()).execution("auth", "prod", "a1")["events"] == ["2026-11-30T09:00:00Z PIPELINE QUEUED"]


def test_a_retried_stage_repeats_its_states_without_being_taken_for_a_duplicate(fleet):
    first = stage_event("booking-dev", "b1", "Deploy", "FAILED", 1)
    retried = stage_event("booking-dev", "b1", "Deploy", "FAILED", 9)
    retried["detail"]["pipeline-execution-attempt"] = 2
    coordinate(fleet, first, 1)
    assert "duplicate" not in coordinate(fleet, retried, 9)
    assert Ledger(fleet.aws()).state("booking", "dev")["deploy_order"].startswith("2026-11-30T09:09:00Z")


def test_a_run_that_ended_before_its_deploy_stage_reported_still_counts_as_mid_deploy(fleet):
    coordinate(fleet, pipeline_event("auth-prod", "a1", "STARTED", 0))
    coordinate(fleet, stage_event("auth-prod", "a1", "Deploy", "STARTED", 5))
    coordinate(fleet, pipeline_event("auth-prod", "a1", "FAILED", 9))  # overtook the stage's FAILED event
    fleet.pipeline_stub.add_response("put_job_failure_result", {}, None)
    verdict = DeployGate(fleet.aws(), now=moment(10)).handle(gate_job("booking", "prod"))
    assert verdict["message"] == "waiting for auth in prod: mid-deploy (execution a1)"


def test_a_missing_integration_test_project_is_reported_and_the_other_dependents_still_act(fleet):
    fleet.build_stub.add_client_error("start_build", service_error_code="ResourceNotFoundException")
    fleet.pipeline_stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "m1"},
        {"name": "mobile-bff-prod", "clientRequestToken": "booking-b1"},
    )
    outcome = coordinate(fleet, pipeline_event("booking-prod", "b1", "SUCCEEDED", 10), 10)
    assert outcome["downstream"] == [
        "published booking deployed",
        "redeploy mobile-bff in prod",
        "no test project for partner-api (partner-api-integration-tests not found)",
    ]
