"""AWS throttling is retried with backoff; every other error is an answer and surfaces at once."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from coordinator.handler import Coordinator
from deploy_ledger.retry import THROTTLING_CODES, with_backoff
from tests.functions.coordination.conftest import commit_of, expect_last_deployed_lookup, moment, pipeline_event


def test_a_throttled_redeploy_is_retried_until_codepipeline_accepts_it(fleet):
    expect_last_deployed_lookup(fleet, "mobile-bff-prod", "m0", commit_of("m0"))
    for _ in range(2):
        fleet.pipeline_stub.add_client_error("start_pipeline_execution", service_error_code="ThrottlingException")
    fleet.pipeline_stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "m1"}, None)
    fleet.build_stub.add_client_error("start_build", service_error_code="TooManyRequestsException")
    fleet.build_stub.add_response("start_build", {"build": {"id": "partner-api-integration-tests:1"}}, None)
    outcome = Coordinator(fleet.aws(), now=moment(1)).handle(pipeline_event("booking-prod", "b1", "SUCCEEDED", 1))
    assert outcome["downstream"][1:] == ["redeploy mobile-bff in prod", "test partner-api in prod"]
    assert len(fleet.sleeps) == 3


@pytest.mark.parametrize("code", sorted(THROTTLING_CODES))
def test_each_throttling_code_from_dynamodb_is_retried(code):
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    sleeps: list[float] = []
    with Stubber(client) as stub:
        stub.add_client_error("get_item", service_error_code=code)
        stub.add_response("get_item", {"Item": {"pk": {"S": "auth#prod"}}})
        answer = with_backoff(client.get_item, TableName="t", Key={"pk": {"S": "auth#prod"}}, sleep=sleeps.append)
    assert answer["Item"]["pk"] == {"S": "auth#prod"}
    assert len(sleeps) == 1


def test_backoff_grows_and_gives_up_after_the_last_attempt():
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    sleeps: list[float] = []
    with Stubber(client) as stub:
        for _ in range(4):
            stub.add_client_error("get_item", service_error_code="ProvisionedThroughputExceededException")
        with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
            with_backoff(client.get_item, TableName="t", Key={}, attempts=4, base_seconds=1.0, sleep=sleeps.append)
    assert len(sleeps) == 3
    assert all(0 <= delay <= cap for delay, cap in zip(sleeps, (2.0, 4.0, 5.0), strict=True))


def test_an_error_that_is_not_throttling_is_raised_at_once():
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    sleeps: list[float] = []
    with Stubber(client) as stub:
        stub.add_client_error("get_item", service_error_code="ResourceNotFoundException")
        with pytest.raises(ClientError, match="ResourceNotFound"):
            with_backoff(client.get_item, TableName="t", Key={}, sleep=sleeps.append)
    assert sleeps == []
