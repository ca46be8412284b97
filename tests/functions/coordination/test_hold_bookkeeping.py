"""How long a deploy has been held, and when it counts as restarted: the hold bookkeeping of the gate and coordinator.

A hold measures how long one deploy has waited; it is marked RESTARTED only
after CodePipeline accepted the restart; and every change of a hold is a
conditional write on the revision read, so a scheduled tick and an event
reviewing one hold at once act on it once. The hold timeout is 60 minutes here.
"""

from __future__ import annotations

import boto3
import pytest

from coordinator.handler import Coordinator
from deploy_ledger.store import Ledger
from simulation.moto_world import REGION, set_health
from tests.functions.coordination.conftest import (
    PROD_ACCOUNT,
    Interrupting,
    LambdaTimeout,
    at,
    gate_job,
    kill,
    moment,
    pipeline_event,
    stage_event,
    tick_event,
)
from tests.functions.coordination.test_release_scenarios import (
    RETRY_BOOKING_PROD_B1,
    coordinate,
    expect_job_failure,
    gate,
    tick,
)

RESTARTED_B1 = "restarted booking in prod (retried Deploy of b1)"


def hold(fleet):
    return Ledger(fleet.aws()).hold("booking", "prod")


def hold_booking(fleet, execution, minutes, gate_knows_the_execution=True, attempt=1):
    """The gate holds booking's deploy; without the execution in the job, the stage's FAILED event names it."""
    job = gate_job("booking", "prod", execution=execution if gate_knows_the_execution else None)
    expect_job_failure(fleet, job)
    verdict = gate(fleet, job, minutes)
    assert verdict["allowed"] is False
    if not gate_knows_the_execution:
        failed = stage_event("booking-prod", execution, "Deploy", "FAILED", minutes, started=minutes - 9)
        failed["detail"]["pipeline-execution-attempt"] = float(attempt)
        coordinate(fleet, failed, minutes)
    return verdict


def unhealthy(fleet, state="ALARM"):
    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, state, "5xx" if state == "ALARM" else "ok")


def expect_retry_of_b1(fleet):
    fleet.pipeline_stub.add_response("retry_stage_execution", {"pipelineExecutionId": "b1"}, RETRY_BOOKING_PROD_B1)


@pytest.mark.parametrize("gate_knows_the_execution", [True, False], ids=["job-names-execution", "documented-job"])
def test_a_new_deploy_held_after_an_older_restarted_one_waits_from_its_own_hold(fleet, gate_knows_the_execution):
    # b1 is held behind auth's release and restarted when auth is done, but never comes back to the gate
    # (its retried stage was superseded): its hold stays RESTARTED.
    coordinate(fleet, pipeline_event("auth-prod", "a1", "STARTED", 0, started=0), 0)
    hold_booking(fleet, "b1", 1, gate_knows_the_execution)
    expect_retry_of_b1(fleet)
    assert coordinate(fleet, pipeline_event("auth-prod", "a1", "SUCCEEDED", 4, started=0), 4)["holds"] == [RESTARTED_B1]
    assert hold(fleet)["status"] == "RESTARTED"

    # Two hours later a new change of booking meets a new release of auth: a new deploy, held three minutes.
    coordinate(fleet, pipeline_event("auth-prod", "a2", "STARTED", 120, started=120), 120)
    hold_booking(fleet, "b2", 122, gate_knows_the_execution)
    assert hold(fleet)["held_since"] == at(122)
    assert tick(fleet, 125)["holds"] == []  # not "aborted after 60 min on hold"
    assert (hold(fleet)["status"], hold(fleet)["execution_id"]) == ("HELD", "b2")


@pytest.mark.parametrize("gate_knows_the_execution", [True, False], ids=["job-names-execution", "documented-job"])
def test_the_same_deploy_held_again_after_its_restart_keeps_waiting_since_its_first_hold(
    fleet, gate_knows_the_execution
):
    unhealthy(fleet)
    hold_booking(fleet, "b1", 0, gate_knows_the_execution)
    unhealthy(fleet, "OK")
    expect_retry_of_b1(fleet)
    assert tick(fleet, 5)["holds"] == [RESTARTED_B1]

    unhealthy(fleet)  # flaps back before the retried stage reaches the gate
    hold_booking(fleet, "b1", 6, gate_knows_the_execution, attempt=2)
    assert (hold(fleet)["status"], hold(fleet)["held_since"]) == ("HELD", at(0))
    assert tick(fleet, 61)["holds"] == [
        "aborted booking in prod: aborted after 60 min on hold: "
        "waiting for auth in prod: alarm cicd-auth-prod-health is in ALARM"
    ]


def test_a_late_failed_event_of_an_older_deploy_is_not_taken_for_the_held_one(fleet):
    unhealthy(fleet)
    hold_booking(fleet, "b1", 0)
    unhealthy(fleet, "OK")
    expect_retry_of_b1(fleet)
    assert tick(fleet, 5)["holds"] == [RESTARTED_B1]
    unhealthy(fleet)
    job = gate_job("booking", "prod")  # the documented job: no execution id
    expect_job_failure(fleet, job)
    gate(fleet, job, 30)
    # b1's stage failed back at minute 0; its event, delivered only now, names another deploy than the held one.
    coordinate(fleet, stage_event("booking-prod", "b1", "Deploy", "FAILED", 0, started=-9), 31)
    assert (hold(fleet)["held_since"], hold(fleet).get("execution_id")) == (at(30), None)
    coordinate(fleet, stage_event("booking-prod", "b2", "Deploy", "FAILED", 30, started=21), 31)
    assert (hold(fleet)["held_since"], hold(fleet)["execution_id"]) == (at(30), "b2")


def test_a_throttled_restart_leaves_the_deploy_held_and_is_tried_again_on_the_next_review(fleet):
    unhealthy(fleet)
    hold_booking(fleet, "b1", 0)
    unhealthy(fleet, "OK")
    for _ in range(fleet.world.settings.retry_attempts):  # throttled beyond the backoff
        fleet.pipeline_stub.add_client_error("retry_stage_execution", service_error_code="ThrottlingException")
    assert tick(fleet, 5)["holds"] == [
        "could not restart booking in prod: ThrottlingException; it stays held and is tried again"
    ]
    held = hold(fleet)
    assert held["status"] == "HELD" and "restart_lease_until" not in held
    assert held["last_restart_error"] == "ThrottlingException at 2026-11-30T09:05:00Z"

    expect_retry_of_b1(fleet)
    assert tick(fleet, 10)["holds"] == [RESTARTED_B1]
    assert hold(fleet)["status"] == "RESTARTED"


def test_a_restart_codepipeline_keeps_refusing_is_aborted_after_the_hold_timeout(fleet):
    unhealthy(fleet)
    hold_booking(fleet, "b1", 0)
    unhealthy(fleet, "OK")
    fleet.pipeline_stub.add_client_error("retry_stage_execution", service_error_code="AccessDeniedException")
    fleet.pipeline_stub.add_client_error("retry_stage_execution", service_error_code="AccessDeniedException")
    assert tick(fleet, 30)["holds"][0].startswith("could not restart booking in prod: AccessDeniedException")
    assert tick(fleet, 61)["holds"] == [
        "aborted booking in prod: aborted after 60 min on hold: "
        "CodePipeline refused to restart it: AccessDeniedException"
    ]
    assert hold(fleet)["status"] == "ABORTED"


def test_a_restart_cut_short_by_the_function_timeout_is_redone_once_its_lease_ends(fleet):
    unhealthy(fleet)
    hold_booking(fleet, "b1", 0)
    unhealthy(fleet, "OK")
    aws = fleet.aws()
    aws.clients["codepipeline"] = Interrupting(fleet.codepipeline, "retry_stage_execution", kill)
    with pytest.raises(LambdaTimeout):
        Coordinator(aws, now=moment(5)).handle(tick_event(5))
    assert hold(fleet)["status"] == "HELD"  # never marked restarted: CodePipeline was not asked
    assert tick(fleet, 5.5)["holds"] == []  # the killed invocation's lease still runs: nobody doubles it

    expect_retry_of_b1(fleet)
    assert tick(fleet, 7)["holds"] == [RESTARTED_B1]  # the lease ended after 90 s: restarted once


def test_a_tick_and_an_event_reviewing_one_hold_at_once_restart_it_once(fleet):
    unhealthy(fleet)
    hold_booking(fleet, "b1", 0)
    unhealthy(fleet, "OK")
    expect_retry_of_b1(fleet)  # exactly one restart: a second RetryStageExecution would find no stubbed answer
    event_outcomes = []

    def an_event_overtakes_the_tick() -> None:
        event = pipeline_event("partner-api-prod", "p1", "STARTED", 5, started=5)
        event_outcomes.append(coordinate(fleet, event, 5))

    # The tick has read the hold (HELD) and found nothing blocking; before it claims the restart, an event's
    # invocation reviews the same hold from start to end.
    aws = fleet.aws()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    aws.clients["dynamodb"] = Interrupting(dynamodb, "update_item", an_event_overtakes_the_tick)
    tick_outcome = Coordinator(aws, now=moment(5)).handle(tick_event(5))

    assert event_outcomes[0]["holds"] == [RESTARTED_B1]
    assert tick_outcome["holds"] == []  # its claim was on the revision it read: the hold had moved on
    assert hold(fleet)["status"] == "RESTARTED"
