"""Review: a held deploy restarted by CodePipeline, then the invocation dies before it marks the hold RESTARTED.

When a freeze lifts, every held deploy of the environment is restarted by one
tick, one after another, each after reading its own and its dependencies'
health through assumed roles: the tick can reach the function's 60 s timeout
(or a DynamoDB write can stay throttled past the backoff) right after
``RetryStageExecution`` succeeded and before the hold is marked RESTARTED. The
hold stays HELD with a restart lease; once that lease ends, the next review
restarts it again. ``RetryStageExecution`` on a stage that is running again
is refused (API reference: ``StageNotRetryableException``, "the stage is not
in a retryable state"), which the coordinator takes as "start a new
execution": the same deploy then runs twice — the retried stage and a new
execution of the branch's latest commit.

CodePipeline is a small fake here (not a Stubber) so that any way of checking
before restarting again is accepted; it answers as the API reference says.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from coordinator.handler import Coordinator
from simulation.moto_world import REGION
from tests.functions.coordination.conftest import LambdaTimeout, kill, moment, tick_event
from tests.functions.coordination.test_hold_bookkeeping import hold_booking, unhealthy


class RetriedPipeline:
    """booking-prod whose execution b1 had its Deploy stage retried once and is deploying again."""

    def __init__(self) -> None:
        self.retries: list[str] = []
        self.started: list[dict[str, Any]] = []

    def retry_stage_execution(self, **request: Any) -> dict[str, Any]:
        if self.retries:
            raise ClientError(
                {"Error": {"Code": "StageNotRetryableException", "Message": "Stage is not in a retryable state"}},
                "RetryStageExecution",
            )
        self.retries.append(request["pipelineExecutionId"])
        return {"pipelineExecutionId": request["pipelineExecutionId"]}

    def start_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        self.started.append(request)
        return {"pipelineExecutionId": f"new-{len(self.started)}"}

    def get_pipeline_state(self, **_: Any) -> dict[str, Any]:
        running = {"pipelineExecutionId": "b1", "status": "InProgress"}
        return {"pipelineName": "booking-prod", "stageStates": [{"stageName": "Deploy", "latestExecution": running}]}

    def list_pipeline_executions(self, **_: Any) -> dict[str, Any]:
        return {"pipelineExecutionSummaries": [{"pipelineExecutionId": "b1", "status": "InProgress"}]}

    def get_pipeline_execution(self, **_: Any) -> dict[str, Any]:
        return {
            "pipelineExecution": {"pipelineName": "booking-prod", "pipelineExecutionId": "b1", "status": "InProgress"}
        }


class DiesAfterTheRestart:
    """DynamoDB as seen by an invocation that reaches its timeout as soon as CodePipeline accepted the restart."""

    def __init__(self, client: Any, codepipeline: RetriedPipeline) -> None:
        self._client, self._codepipeline = client, codepipeline

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in ("update_item", "put_item", "delete_item", "transact_write_items"):
            return attribute

        def write(**kwargs: Any) -> Any:
            if self._codepipeline.retries or self._codepipeline.started:
                kill()
            return attribute(**kwargs)

        return write


def test_a_restart_accepted_just_before_the_invocation_died_is_not_started_a_second_time(fleet):
    unhealthy(fleet)
    hold_booking(fleet, "b1", 0)
    unhealthy(fleet, "OK")
    codepipeline = RetriedPipeline()

    aws = fleet.aws()
    aws.clients["codepipeline"] = codepipeline
    aws.clients["dynamodb"] = DiesAfterTheRestart(boto3.client("dynamodb", region_name=REGION), codepipeline)
    with pytest.raises(LambdaTimeout):  # the first write after CodePipeline accepted the restart never happens
        Coordinator(aws, now=moment(5)).handle(tick_event(5))
    assert codepipeline.retries == ["b1"], "CodePipeline accepted the restart"

    later = fleet.aws()
    later.clients["codepipeline"] = codepipeline
    Coordinator(later, now=moment(7)).handle(tick_event(7))  # the restart lease (60 s) is over

    assert codepipeline.started == [], (
        f"b1's Deploy stage was already retried and running, yet a new execution was started: {codepipeline.started}"
    )
