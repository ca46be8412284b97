"""The coordinator under EventBridge's delivery and against crafted events, with events shaped as AWS documents them.

Event shape: CodePipeline user guide, "Monitoring CodePipeline events" (``start-time``
in milliseconds, ``pipeline-execution-attempt`` and ``version`` as JSON numbers
``1.0``). Delivery: at least once, in any order; an invocation killed at its
timeout is retried by Lambda a minute later at the earliest (Lambda developer
guide, "How Lambda handles errors and retries with asynchronous invocation").
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import boto3
import pytest
from botocore.exceptions import ClientError

from coordinator.handler import Coordinator
from deploy_gate.handler import DeployGate
from deploy_ledger.store import Ledger
from simulation.moto_world import REGION, set_health
from tests.functions.coordination.conftest import (
    PROD_ACCOUNT,
    Interrupting,
    LambdaTimeout,
    gate_job,
    kill,
    moment,
    pipeline_event,
    stage_event,
    tick_event,
)
from tests.functions.coordination.test_events_and_actions import expect_downstream_of_booking
from tests.functions.coordination.test_release_scenarios import (
    coordinate,
    expect_job_failure,
    gate,
    received,
    subscribe,
)


def ledger_items(fleet) -> list[dict]:
    table = fleet.world.settings.ledger_table
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]


def booking_held_and_ready_to_restart(fleet) -> None:
    """booking held behind auth's alarm, which has cleared: any review of holds would restart it now."""
    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, "ALARM", "5xx")
    job = gate_job("booking", "prod", execution="b1")
    expect_job_failure(fleet, job)
    gate(fleet, job, 0)
    set_health(fleet.world.settings, "auth", "prod", PROD_ACCOUNT, "OK", "ok")


def succeeded(pipeline: str = "auth-prod", execution: str = "a1") -> dict:
    return pipeline_event(pipeline, execution, "SUCCEEDED", 10, started=0)


def with_detail(**changes) -> Callable[[dict], dict]:
    def change(event: dict) -> dict:
        event = copy.deepcopy(event)
        for key, value in changes.items():
            if value is None:
                event["detail"].pop(key, None)
            else:
                event["detail"][key] = value
        return event

    return change


def with_top(**changes) -> Callable[[dict], dict]:
    def change(event: dict) -> dict:
        event = copy.deepcopy(event)
        for key, value in changes.items():
            if value is None:
                event.pop(key, None)
            else:
                event[key.replace("_", "-")] = value
        return event

    return change


CRAFTED = [
    (
        "another-account",  # a pipeline of the same name in an environment account, forwarded to our bus
        with_top(account="222222222222"),
        "event from account 222222222222, not the tooling account 123456789012",
    ),
    ("no-account", with_top(account=None), "event from account None, not the tooling account 123456789012"),
    ("another-region", with_top(region="us-east-1"), "event from region us-east-1, not the tooling region eu-west-1"),
    (
        "not-codepipeline",  # PutEvents cannot use an aws.* source, but can copy the detail type
        with_top(source="custom.release-bot"),
        "not a CodePipeline execution event: CodePipeline Pipeline Execution State Change",
    ),
    (
        "pipeline-outside-the-platform",
        with_detail(pipeline="booking-legacy"),
        "pipeline booking-legacy is not one of this platform's",
    ),
    (
        "name-that-parses-but-is-not-in-the-graph",  # mobile-bff deploys to prod only
        with_detail(pipeline="mobile-bff-dev"),
        "pipeline mobile-bff-dev is not one of this platform's",
    ),
    (
        "resource-of-another-account",
        with_top(resources=["arn:aws:codepipeline:eu-west-1:222222222222:auth-prod"]),
        "resource arn:aws:codepipeline:eu-west-1:222222222222:auth-prod "
        "is not pipeline auth-prod of the tooling account",
    ),
    ("no-detail", with_top(detail=None), "detail is missing"),
    ("detail-not-an-object", with_top(detail=["auth-prod"]), "detail is missing"),
    ("no-execution-id", with_detail(**{"execution-id": None}), "detail.execution-id is missing"),
    ("execution-id-not-text", with_detail(**{"execution-id": 42}), "detail.execution-id is missing"),
    ("unknown-state", with_detail(state="DEPLOYED"), "detail.state 'DEPLOYED' is not a pipeline state"),
    (
        "attempt-not-a-number",
        with_detail(**{"pipeline-execution-attempt": "1"}),
        "detail.pipeline-execution-attempt is not a whole number",
    ),
    ("bad-time", with_top(time="yesterday"), "time 'yesterday' is not a timestamp"),
    ("bad-start-time", with_detail(**{"start-time": 1700000000}), "detail.start-time is not a timestamp"),
]


@pytest.mark.parametrize(("change", "reason"), [case[1:] for case in CRAFTED], ids=[case[0] for case in CRAFTED])
def test_a_crafted_or_malformed_event_is_ignored_with_the_reason_and_changes_nothing(fleet, change, reason):
    booking_held_and_ready_to_restart(fleet)
    inbox = subscribe(fleet, "auth")
    before = ledger_items(fleet)

    # No stubbed CodePipeline or CodeBuild answer: starting or restarting anything would fail the test.
    assert coordinate(fleet, change(succeeded()), 10) == {"ignored": reason}
    assert ledger_items(fleet) == before
    assert received(fleet, inbox) == []


def test_a_stage_event_without_its_stage_is_ignored(fleet):
    event = stage_event("auth-prod", "a1", "Deploy", "STARTED", 1, started=0)
    del event["detail"]["stage"]
    assert coordinate(fleet, event, 1) == {"ignored": "detail.stage is missing from a stage event"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (with_top(account="999999999999"), "event from account 999999999999, not the tooling account 123456789012"),
        (with_top(source="custom.cron"), "not a pipeline event nor a scheduled tick: Scheduled Event"),
    ],
    ids=["another-account", "not-eventbridge"],
)
def test_a_tick_that_is_not_this_stacks_schedule_reviews_nothing(fleet, change, reason):
    booking_held_and_ready_to_restart(fleet)
    assert coordinate(fleet, change(tick_event(5)), 5) == {"ignored": reason}
    assert Ledger(fleet.aws()).hold("booking", "prod")["status"] == "HELD"


def test_an_event_shaped_as_the_user_guide_shows_it_is_recorded_with_its_start(fleet):
    event = pipeline_event("auth-prod", "a1", "STARTED", 0, started=0)
    event["detail"]["start-time"] = "2026-11-30T08:59:58.316Z"
    assert coordinate(fleet, event, 0)["advanced"] is True
    execution = Ledger(fleet.aws()).execution("auth", "prod", "a1")
    assert execution["run_started_at"] == "2026-11-30T08:59:58.316Z"
    assert Ledger(fleet.aws()).state("auth", "prod")["release_run"] == "2026-11-30T08:59:58.316Z#a1"


def test_an_older_runs_end_delivered_before_a_newer_runs_start_does_not_hide_the_newer_run(fleet):
    coordinate(fleet, pipeline_event("auth-dev", "a1", "STARTED", 0, started=0), 0)
    # a2 starts at minute 2 and supersedes a1 at minute 3; a1's end overtakes a2's start on the way.
    coordinate(fleet, pipeline_event("auth-dev", "a1", "SUPERSEDED", 3, started=0), 3)
    coordinate(fleet, pipeline_event("auth-dev", "a2", "STARTED", 2, started=2), 4)
    state = Ledger(fleet.aws()).state("auth", "dev")
    assert (state["release_state"], state["release_execution"]) == ("IN_PROGRESS", "a2")

    job = gate_job("booking", "dev", execution="b1")
    expect_job_failure(fleet, job)
    assert gate(fleet, job, 5)["message"] == "waiting for auth in dev: release in flight (execution a2)"


EVERYTHING_AFTER_BOOKING_SUCCEEDED = [
    "published booking deployed",
    "redeploy mobile-bff in prod",
    "test partner-api in prod",
]


@pytest.mark.parametrize(
    ("killed_at", "client", "done_before_the_kill"),
    [
        ("publish", "sns", []),
        ("start_pipeline_execution", "codepipeline", ["published booking deployed"]),
        ("start_build", "codebuild", ["published booking deployed", "redeploy mobile-bff in prod"]),
    ],
)
def test_an_invocation_killed_at_its_timeout_is_finished_by_lambdas_retry_doing_each_thing_once(
    fleet, killed_at, client, done_before_the_kill
):
    inbox = subscribe(fleet, "booking")
    event = pipeline_event("booking-prod", "b1", "SUCCEEDED", 10, started=0)
    clients = {"sns": boto3.client("sns", region_name=REGION), "codepipeline": fleet.codepipeline}
    clients["codebuild"] = fleet.codebuild
    aws = fleet.aws()
    aws.clients[client] = Interrupting(clients[client], killed_at, kill)
    if killed_at == "start_build":  # the redeploy goes out before the test run is killed
        fleet.pipeline_stub.add_response(
            "start_pipeline_execution",
            {"pipelineExecutionId": "m1"},
            {"name": "mobile-bff-prod", "clientRequestToken": "booking-b1"},
        )
    with pytest.raises(LambdaTimeout):
        Coordinator(aws, now=moment(10)).handle(event)

    # A second copy of the event arrives while the killed invocation's lease still runs: it does nothing.
    assert "duplicate" in coordinate(fleet, event, 10.5)

    # Lambda retries a minute after the timeout: what the killed invocation did is not done again.
    left = [line for line in EVERYTHING_AFTER_BOOKING_SUCCEEDED if line not in done_before_the_kill]
    if "test partner-api in prod" in left:
        fleet.build_stub.add_response(
            "start_build",
            {"build": {"id": "partner-api-integration-tests:1"}},
            {
                "projectName": "partner-api-integration-tests",
                "idempotencyToken": "booking-b1",
                "environmentVariablesOverride": [
                    {"name": "TARGET_ENVIRONMENT", "value": "prod", "type": "PLAINTEXT"},
                    {"name": "UPSTREAM_SERVICE", "value": "booking", "type": "PLAINTEXT"},
                    {"name": "UPSTREAM_EXECUTION_ID", "value": "b1", "type": "PLAINTEXT"},
                ],
            },
        )
    if "redeploy mobile-bff in prod" in left:
        fleet.pipeline_stub.add_response(
            "start_pipeline_execution",
            {"pipelineExecutionId": "m1"},
            {"name": "mobile-bff-prod", "clientRequestToken": "booking-b1"},
        )
    assert coordinate(fleet, event, 12)["downstream"] == left
    assert [message["executionId"] for message in received(fleet, inbox)] == ["b1"]
    assert Ledger(fleet.aws()).execution("booking", "prod", "b1")["events"] == [
        "2026-11-30T09:10:00Z PIPELINE SUCCEEDED"
    ]
    assert "duplicate" in coordinate(fleet, event, 13)


def test_a_throttled_announcement_is_retried_and_announced_once(fleet):
    inbox = subscribe(fleet, "booking")

    class ThrottledSns:
        def __init__(self) -> None:
            self.sns, self.throttled = boto3.client("sns", region_name=REGION), 0

        def publish(self, **kwargs):
            if self.throttled < 2:
                self.throttled += 1
                raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")
            return self.sns.publish(**kwargs)

    aws = fleet.aws()
    aws.clients["sns"] = ThrottledSns()
    expect_downstream_of_booking(fleet)
    outcome = Coordinator(aws, now=moment(10)).handle(pipeline_event("booking-prod", "b1", "SUCCEEDED", 10, started=0))
    assert outcome["downstream"] == EVERYTHING_AFTER_BOOKING_SUCCEEDED
    assert len(received(fleet, inbox)) == 1 and len(fleet.sleeps) == 2


def test_a_duplicate_of_a_stage_event_with_the_documented_number_types_is_recognised(fleet):
    first = stage_event("auth-prod", "a1", "Deploy", "STARTED", 5, started=0)
    again = copy.deepcopy(first)
    again["id"] = "another-event-id"  # a re-emitted state change may carry a new event id
    again["detail"]["pipeline-execution-attempt"] = 1  # and an integer where the guide shows 1.0
    assert coordinate(fleet, first, 5)["advanced"] is True
    assert coordinate(fleet, again, 6)["duplicate"] == "SEEN#a1#1#STAGE#Deploy#STARTED"
    assert DeployGate(fleet.aws(), now=moment(7)).decide("booking", "prod", None, record=False) == (
        False,
        "waiting for auth in prod: mid-deploy (execution a1)",
    )
