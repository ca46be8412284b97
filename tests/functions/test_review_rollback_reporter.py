"""Review: the rollback reporter under transient AWS errors and a crash early in an invocation.

Reuses the world of ``test_rollback_reporter_scenarios`` (moto ledger and graph,
stubbed CodePipeline, Slack on a local server).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError, StubResponseError
from delivery_ledger import DeliveryLedger, invocation_lease

from tests.functions.aws_events import alarm_state_change
from tests.functions.lambda_runtime import FIRST_RETRY_DELAY_SECONDS, Clock, LambdaContext
from tests.functions.test_rollback_reporter_scenarios import (  # noqa: F401 - fixtures
    DEPLOY_FINISHED,
    HISTORY,
    OK,
    PROD,
    REGION,
    TABLE,
    aws,
    deploy_state,
    expect_rollback,
    health,
    revision,
    slack,
    world,
)

REPORTER_TIMEOUT_SECONDS = 120
"""``components/governance/rollback_reporter.py``: the function's timeout."""


@pytest.mark.parametrize("throttled", ["get_pipeline_state", "rollback_stage"])
def test_a_throttled_codepipeline_call_is_retried_not_reported_as_no_rollback(world, slack, throttled):  # noqa: F811
    """CodePipeline answers bursts with ``ThrottlingException`` (API reference, common errors), which succeeds a
    moment later. Today a throttled ``GetPipelineState`` becomes the final outcome "could not read pipeline …;
    no rollback", and a throttled ``RollbackStage`` becomes "Rollback … was REFUSED … Act manually": either is
    noted, reported and completed, so Lambda never retries, and a bad deploy that the alarm caught stays live.
    A transient error must fail the invocation (Lambda retries a minute later), like any other it cannot judge.
    """
    pipeline = "booking-prod"
    event = alarm_state_change(health("booking"), account=PROD, region=REGION)
    if throttled == "get_pipeline_state":
        world.stub.add_client_error(
            "get_pipeline_state", service_error_code="ThrottlingException", http_status_code=400
        )
    else:
        world.expect("get_pipeline_state", deploy_state(pipeline), {"name": pipeline})
        world.expect("list_pipeline_executions", HISTORY, {"pipelineName": pipeline, "maxResults": 25})
        world.stub.add_client_error("rollback_stage", service_error_code="ThrottlingException", http_status_code=400)
        world.expect("get_pipeline_execution", revision(pipeline))  # the commit, should the report go out
    slack.answers(OK)

    try:
        outcome = world.handle(event)
    except ClientError:
        outcome = None  # failed: Lambda retries the event

    assert outcome is None, f"a throttled {throttled} was final: {outcome}; posted: {slack.posts()}"


def test_a_crash_early_in_an_invocation_is_redone_by_lambdas_retry(world, slack):  # noqa: F811
    """Lambda docs, "How Lambda handles errors and retries with asynchronous invocation": after a function error
    (a runtime error such as running out of memory is one) Lambda retries one minute later. The reporter's
    claim lasts until its invocation's deadline (120 s), so a crash 5 s in leaves a live claim when the retry
    comes at 65 s: the retry answers "duplicate", succeeds, and the alarm is neither acted on nor reported nor
    dead-lettered. DESIGN.md ("Trust boundaries"): a claim ends before Lambda's first retry could arrive.
    """
    clock = Clock(world.clock)
    event = alarm_state_change(health("booking"), account=PROD, region=REGION)

    class RuntimeCrash(BaseException):
        """The process dies (out of memory): no ``except Exception`` runs, nothing is released."""

    def crash(**_):
        raise RuntimeCrash

    first = LambdaContext(clock, REPORTER_TIMEOUT_SECONDS)
    ledger = DeliveryLedger(TABLE, world.dynamodb, lease_seconds=invocation_lease(first), clock=clock)
    clock.advance(5)

    class CrashingPipeline:
        def __getattr__(self, name):
            return crash if name == "get_pipeline_state" else getattr(world.codepipeline, name)

    with pytest.raises(RuntimeCrash):
        world.handle(event, ledger=ledger, codepipeline=CrashingPipeline())

    clock.advance(FIRST_RETRY_DELAY_SECONDS)
    world.clock = clock.now
    retry = LambdaContext(clock, REPORTER_TIMEOUT_SECONDS)
    ledger = DeliveryLedger(TABLE, world.dynamodb, lease_seconds=invocation_lease(retry), clock=clock)
    slack.answers(OK)
    expect_rollback(world, "booking-prod")

    result = world.handle(event, ledger=ledger)

    assert result.get("status") == "reported", f"Lambda's retry was taken for a duplicate: {result}"
    world.done()


def test_the_rollback_window_is_judged_by_when_the_alarm_fired_not_when_the_event_was_processed(world, slack):  # noqa: F811
    """rollback.py: "the alarm's own state timestamp, not its arrival, decides" — but the window is measured
    from the deploy to *now*. An alarm that fired 50 min after the deploy (inside the 60 min window) and reaches
    the function 15 min later — Lambda's asynchronous queue may hold events "for hours" when the function is
    throttled (Lambda developer guide, "How Lambda handles errors and retries with asynchronous invocation"; the
    reporter's concurrency is reserved and small, and its event age allows an hour), or its first attempt
    failed — is judged "outside the window" and rolls nothing back.
    """
    fired = DEPLOY_FINISHED + timedelta(minutes=50)
    world.clock = (DEPLOY_FINISHED + timedelta(minutes=65)).timestamp()
    event = alarm_state_change(
        health("booking"), account=PROD, region=REGION, stamp=fired.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    )
    slack.answers(OK)
    expect_rollback(world, "booking-prod")

    try:
        result = world.handle(event)
    except StubResponseError as error:  # it asked for the commit (to report) where it should have rolled back
        pytest.fail(f"no rollback for an alarm that fired 50 min after the deploy: {error}")

    assert result.get("rolledBack") is True, result.get("outcome")
