"""Review (final review, finding 3): the digest of a failed attempt describes whichever run of the action started last.

``pipeline_facts.failed_run`` takes the latest ``ListActionExecutions`` record of the stage/action by
``startTime``, and ``handler._digest`` prefers its external id over the event's. When the stage is retried
(``RetryStageExecution``: same execution id, new attempt) before attempt 1's event is processed — a Lambda
retry after a Slack outage or timeout, EventBridge's retries for up to an hour, reserved concurrency 5
during a broken-main burst — the digest keyed ``…#1`` quotes attempt 2's build (a running or different
build, its log, its tests), and its recurrence fingerprint is computed from the wrong log.

The event names its run: ``detail.action-execution-id`` and ``execution-result.external-execution-id``
(CodePipeline User Guide, action-level events); ``ActionExecutionDetail.actionExecutionId`` matches it.
Smallest fix: pick the run whose ``actionExecutionId`` is the event's, else the event's external id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from functions.failure_digest.pipeline_facts import failed_run
from tests.functions.test_failure_digest import (
    BUILD_ID,
    COMMIT,
    EXECUTION,
    FAILED_CASE,
    OK,
    PIPELINE,
    PIPELINE_ARN,
    TAGS,
    action_run,
    aws,  # noqa: F401 (fixture)
    build,
    failed_event,
    slack,  # noqa: F401 (fixture)
    text_of,
    world,  # noqa: F401 (fixture)
)
from tests.functions.test_failure_digest_evidence import log_lines, put_log

RETRY_BUILD = "pricing-build:9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


def test_a_late_digest_of_attempt_one_quotes_attempt_ones_build_not_the_retrys(world, slack):  # noqa: F811
    slack.answers(OK)
    event = failed_event()  # attempt 1, external id BUILD_ID
    first = action_run()["actionExecutionDetails"][0]
    first["actionExecutionId"] = event["detail"]["action-execution-id"]
    retry = action_run(external=RETRY_BUILD)["actionExecutionDetails"][0]
    retry.update(
        actionExecutionId="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        startTime=datetime(2026, 12, 1, 9, 15, tzinfo=UTC),
        status="InProgress",
    )
    world.pipeline_stub.add_response("list_tags_for_resource", TAGS, {"resourceArn": PIPELINE_ARN})
    world.pipeline_stub.add_response("list_action_executions", {"actionExecutionDetails": [first, retry]})
    world.pipeline_stub.add_response("get_pipeline_execution", COMMIT)
    read = []

    def batch_get_builds(ids):
        read.extend(ids)
        answer = build()
        answer["builds"][0]["id"] = ids[0]
        return answer

    world.codebuild.batch_get_builds = batch_get_builds  # whichever build is asked for, answer it
    world.build_stub.add_response("describe_test_cases", FAILED_CASE)
    put_log(world.logs, "/aws/codebuild/pricing-build", "2b1e9c44-58f4-4c55-a0e5-1a7d3a0b4c11", log_lines("pytest.log"))
    world.handle(event)
    assert read == [BUILD_ID], f"the digest of {EXECUTION}#1 read {read}"
    assert RETRY_BUILD.split(":")[1] not in text_of(slack.posts()[0])
    assert PIPELINE in text_of(slack.posts()[0])


class Executions:
    """ListActionExecutions of one execution: the run of attempt 1 (failed) and of the retry (still running)."""

    def __init__(self):
        first = action_run()["actionExecutionDetails"][0]
        retry = action_run(external=RETRY_BUILD)["actionExecutionDetails"][0]
        retry.update(
            actionExecutionId="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", startTime=datetime(2026, 12, 1, 9, 15, tzinfo=UTC)
        )
        self.runs = [first, retry]

    def list_action_executions(self, **_request):
        return {"actionExecutionDetails": self.runs}


def run_named(**named):
    return failed_run(Executions(), PIPELINE, EXECUTION, "Build", "BuildAndUnitTest", **named)


def test_without_an_action_execution_id_the_run_is_found_by_the_events_build():
    assert run_named(external_id=BUILD_ID).external_id == BUILD_ID


def test_a_run_the_event_names_but_the_listing_lacks_is_none_rather_than_another_attempts_run():
    assert (
        run_named(action_execution_id="ffffffff-0000-4000-8000-000000000000", external_id="pricing-build:gone") is None
    )


def test_an_event_naming_no_run_takes_the_latest():
    assert run_named().external_id == RETRY_BUILD
