"""The approval auditor: release managers pass, anyone else's prod approval stops the run and alerts, once."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from delivery_ledger import DeliveryLedger
from moto import mock_aws

from tests.functions.conftest import ACCOUNT, REGION, create_ledger_table, load_handler

auditor_module = load_handler("approval_auditor")
RELEASE_MANAGER = f"arn:aws:iam::{ACCOUNT}:role/release-manager"
DEVELOPER = f"arn:aws:iam::{ACCOUNT}:role/developer"
TOKEN = "1a2b3c4d-573f-4ea7-a67e-000000000001"
EXECUTION = "0f3c1a2b-1111-2222-3333-444455556666"


def approval_event(role_arn: str = DEVELOPER, *, pipeline="booking-prod", status="Approved", event_id="ev-1", **extra):
    detail = {
        "eventSource": "codepipeline.amazonaws.com",
        "eventName": "PutApprovalResult",
        "eventID": event_id,
        "eventTime": "2026-12-01T10:00:00Z",
        "sourceIPAddress": "203.0.113.7",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.rsplit('/', 1)[1]}/alice",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn}},
        },
        "requestParameters": {
            "pipelineName": pipeline,
            "stageName": "Approve",
            "actionName": "ReleaseApproval",
            "token": TOKEN,
            "result": {"status": status, "summary": "lgtm"},
        },
        **extra,
    }
    return {"source": "aws.codepipeline", "detail-type": "AWS API Call via CloudTrail", "id": "x", "detail": detail}


def state_with_latest_token(token: str) -> dict:
    return {
        "pipelineName": "booking-prod",
        "stageStates": [
            {
                "stageName": "Build",
                "actionStates": [],
                "latestExecution": {"pipelineExecutionId": "other", "status": "Succeeded"},
            },
            {
                "stageName": "Approve",
                "latestExecution": {"pipelineExecutionId": EXECUTION, "status": "Succeeded"},
                "actionStates": [
                    {"actionName": "ReleaseApproval", "latestExecution": {"status": "Succeeded", "token": token}}
                ],
            },
        ],
    }


STOP_REQUEST = {
    "pipelineName": "booking-prod",
    "pipelineExecutionId": EXECUTION,
    "abandon": True,
    "reason": f"Approved by {DEVELOPER}, who is not a release manager",
}


@pytest.fixture
def world():
    """The auditor wired to moto (DynamoDB, SNS with an SQS subscriber to read alerts) and a stubbed CodePipeline."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="cicd-release-news-prod")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        codepipeline = boto3.client("codepipeline", region_name=REGION)
        stub = Stubber(codepipeline)
        stub.activate()
        auditor = auditor_module.ApprovalAuditor(
            codepipeline=codepipeline,
            sns=sns,
            ledger=DeliveryLedger(create_ledger_table(dynamodb), dynamodb),
            topic_arn=topic,
            release_managers=frozenset({RELEASE_MANAGER}),
            protected_suffixes=("-prod",),
        )

        def alerts() -> list[dict]:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(message["Body"]) for message in messages]

        yield auditor, stub, alerts
        stub.assert_no_pending_responses()


def test_a_release_manager_approval_is_left_alone(world):
    auditor, _stub, alerts = world
    assert auditor.audit(approval_event(RELEASE_MANAGER)) == "allowed: release manager"
    assert alerts() == []


def test_anyone_else_approving_prod_stops_the_run_and_alerts(world):
    auditor, stub, alerts = world
    stub.add_response("get_pipeline_state", state_with_latest_token(TOKEN), {"name": "booking-prod"})
    stub.add_response("stop_pipeline_execution", {"pipelineExecutionId": EXECUTION}, STOP_REQUEST)
    outcome = auditor.audit(approval_event())
    assert outcome == f"alerted: execution {EXECUTION}: stopped (abandoned)"
    (alert,) = alerts()
    assert alert["version"] == "1.0" and alert["source"] == "custom"
    assert "Unauthorized approval on booking-prod" in alert["content"]["title"]
    assert DEVELOPER in alert["content"]["description"] and "stopped (abandoned)" in alert["content"]["description"]


def test_the_same_cloudtrail_event_twice_stops_and_alerts_once(world):
    auditor, stub, alerts = world
    stub.add_response("get_pipeline_state", state_with_latest_token(TOKEN), {"name": "booking-prod"})
    stub.add_response("stop_pipeline_execution", {"pipelineExecutionId": EXECUTION}, STOP_REQUEST)
    assert auditor.audit(approval_event()).startswith("alerted")
    assert auditor.audit(approval_event()) == "duplicate"
    assert len(alerts()) == 1


def test_when_a_newer_run_holds_the_stage_the_token_is_found_among_past_action_executions(world):
    auditor, stub, alerts = world
    stub.add_response("get_pipeline_state", state_with_latest_token("ffffffff-0000-0000-0000-000000000000"))
    stub.add_response(
        "list_action_executions",
        {
            "actionExecutionDetails": [
                {
                    "pipelineExecutionId": "someone-else",
                    "stageName": "Approve",
                    "actionName": "ReleaseApproval",
                    "output": {"executionResult": {"externalExecutionId": "ffffffff-0000-0000-0000-000000000000"}},
                },
            ],
            "nextToken": "page-2",
        },
        {"pipelineName": "booking-prod", "maxResults": 100},
    )
    stub.add_response(
        "list_action_executions",
        {
            "actionExecutionDetails": [
                {
                    "pipelineExecutionId": EXECUTION,
                    "stageName": "Approve",
                    "actionName": "ReleaseApproval",
                    "output": {"executionResult": {"externalExecutionId": TOKEN}},
                },
            ]
        },
        {"pipelineName": "booking-prod", "maxResults": 100, "nextToken": "page-2"},
    )
    stub.add_response("stop_pipeline_execution", {"pipelineExecutionId": EXECUTION}, STOP_REQUEST)
    assert auditor.audit(approval_event()) == f"alerted: execution {EXECUTION}: stopped (abandoned)"
    assert len(alerts()) == 1


def test_a_run_that_already_finished_is_still_reported(world):
    auditor, stub, alerts = world
    stub.add_response("get_pipeline_state", state_with_latest_token(TOKEN))
    stub.add_client_error("stop_pipeline_execution", "PipelineExecutionNotStoppableException", "finished")
    assert "not stoppable" in auditor.audit(approval_event())
    (alert,) = alerts()
    assert "not stoppable" in alert["content"]["description"]


def test_a_token_that_matches_no_run_asks_for_a_manual_stop(world):
    auditor, stub, alerts = world
    stub.add_response("get_pipeline_state", state_with_latest_token("ffffffff-0000-0000-0000-000000000000"))
    stub.add_response("list_action_executions", {"actionExecutionDetails": []})
    assert auditor.audit(approval_event()) == "alerted: run not found from the approval token: stop it by hand"
    assert len(alerts()) == 1


def test_a_rejection_by_someone_else_is_reported_but_nothing_is_stopped(world):
    auditor, _stub, alerts = world
    assert auditor.audit(approval_event(status="Rejected")) == "alerted: no run to stop (rejected)"
    (alert,) = alerts()
    assert "`Rejected`" in alert["content"]["description"]


def test_a_call_aws_refused_changed_nothing_and_is_only_logged(world):
    auditor, _stub, alerts = world
    event = approval_event(errorCode="AccessDenied", errorMessage="explicit deny in a service control policy")
    assert auditor.audit(event) == "ignored: AWS refused the call"
    assert alerts() == []


def test_approvals_outside_production_are_not_the_auditors_business(world):
    auditor, _stub, alerts = world
    assert auditor.audit(approval_event(pipeline="booking-staging")) == "ignored: not a protected pipeline"
    assert alerts() == []


def test_when_the_alert_cannot_be_published_the_event_is_retried_not_lost(world):
    auditor, stub, alerts = world
    good_topic = auditor.topic_arn
    auditor.topic_arn = good_topic.replace("cicd-release-news-prod", "missing")
    stub.add_response("get_pipeline_state", state_with_latest_token(TOKEN))
    stub.add_response("stop_pipeline_execution", {"pipelineExecutionId": EXECUTION}, STOP_REQUEST)
    with pytest.raises(Exception, match=r"NotFound|does not exist"):
        auditor.audit(approval_event())
    auditor.topic_arn = good_topic
    stub.add_response("get_pipeline_state", state_with_latest_token(TOKEN))
    stub.add_client_error("stop_pipeline_execution", "DuplicatedStopRequestException", "stopping")
    assert auditor.audit(approval_event()) == f"alerted: execution {EXECUTION}: already being stopped"
    assert len(alerts()) == 1


def test_an_iam_user_is_identified_by_its_own_arn():
    identity = {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob"}
    assert auditor_module.caller_arn(identity) == f"arn:aws:iam::{ACCOUNT}:user/bob"


def test_handler_reads_its_settings_from_the_environment(monkeypatch):
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="t")["TopicArn"]
        monkeypatch.setenv("LEDGER_TABLE", create_ledger_table(dynamodb))
        monkeypatch.setenv("TOPIC_ARN", topic)
        monkeypatch.setenv("RELEASE_MANAGERS", json.dumps([RELEASE_MANAGER]))
        monkeypatch.setenv("PROTECTED_SUFFIXES", json.dumps(["-prod"]))
        assert auditor_module.handler(approval_event(RELEASE_MANAGER), None) == {"outcome": "allowed: release manager"}
