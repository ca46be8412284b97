"""The approval auditor: release managers pass, anyone else's prod approval stops the run and alerts, once."""

from __future__ import annotations

import json
import os
import time

import boto3
import pytest
from botocore.stub import Stubber
from delivery_ledger import DeliveryLedger
from moto import mock_aws

from tests.functions.conftest import ACCOUNT, REGION, create_ledger_table, load_handler
from tests.functions.lambda_runtime import (
    Clock,
    InvocationTimedOut,
    LambdaContext,
    lambda_retry_after_timeout,
    time_out,
)
from tests.functions.slack_limits import assert_inert, assert_within_slack_limits, code_fences

auditor_module = load_handler("approval_auditor")
notifier_module = load_handler("slack_notifier")
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


# --- what the caller wrote is quoted, never obeyed --------------------------------------------------------------------

CRAFTED = "<!channel> <https://evil.example|Re-approve here> ```"


def crafted_rejection() -> dict:
    """An IAM user may be named ``@channel`` (IAM allows ``+=,.@_-``); the approval comment is free text."""
    event = approval_event(status="Rejected")
    event["detail"]["userIdentity"] = {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/@channel",
        "accountId": ACCOUNT,
        "userName": "@channel",
    }
    event["detail"]["requestParameters"]["result"]["summary"] = CRAFTED
    return event


def test_a_crafted_caller_and_comment_are_quoted_as_literal_text(world):
    auditor, _stub, alerts = world
    assert auditor.audit(crafted_rejection()) == "alerted: no run to stop (rejected)"
    (alert,) = alerts()
    assert alert["content"]["description"] == "\n".join(
        [
            f"*arn:aws:iam::{ACCOUNT}:user/@\u200bchannel* answered `Rejected` on `booking-prod` "
            "(Approve/ReleaseApproval) but is not a release manager.",
            # The fence is broken (a zero-width space after each backtick): in Chatbot's one-text description it
            # would open a code block swallowing the lines after it (slack_client.escape, review finding 11).
            "Their comment: &lt;!channel&gt; &lt;https://evil.example|Re-approve here&gt; `\u200b`\u200b`\u200b",
            "Run: no run to stop (rejected).",
            "When: 2026-12-01T10:00:00Z · from 203.0.113.7",
            "CloudTrail event: ev-1",
        ]
    )
    assert_inert(alert["content"]["title"])
    assert_inert(alert["content"]["description"])
    assert code_fences(alert["content"]["description"]) == 0


def test_the_alert_stays_inert_when_the_webhook_notifier_posts_it(world, httpserver):
    """Webhook stacks: the notifier renders the auditor's Chatbot notification as Block Kit."""
    auditor, _stub, alerts = world
    auditor.audit(crafted_rejection())
    (alert,) = alerts()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    notifier = notifier_module.Notifier(
        ledger=DeliveryLedger(create_ledger_table(dynamodb, "notifier-ledger"), dynamodb),
        webhook_url=httpserver.url_for("/hook"),
    )
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    assert notifier.deliver({"MessageId": "m-1", "Message": json.dumps(alert)}) == "posted"
    (posted,) = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert_inert(posted)
    assert_within_slack_limits(posted)


def test_the_alert_subject_stays_under_snss_limit_for_the_longest_pipeline_name(world):
    """SNS Publish: a subject must be less than 100 characters; CodePipeline allows 100-character pipeline names."""
    auditor, _stub, alerts = world
    subjects = []
    auditor.sns.meta.events.register(
        "provide-client-params.sns.Publish", lambda params, **_: subjects.append(params.get("Subject"))
    )
    pipeline = "p" * 95 + "-prod"
    assert auditor.audit(approval_event(pipeline=pipeline, status="Rejected")).startswith("alerted")
    assert len(subjects[0]) < 100 and len(alerts()) == 1


# --- a timeout mid-work, then Lambda's retry -------------------------------------------------------------------------


@pytest.fixture
def deployed(monkeypatch):
    """The auditor's AWS as its entry point finds it: ledger table, release-news topic (read through a queue)."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="cicd-release-news-prod")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        monkeypatch.setenv("LEDGER_TABLE", create_ledger_table(dynamodb))
        monkeypatch.setenv("TOPIC_ARN", topic)
        monkeypatch.setenv("RELEASE_MANAGERS", json.dumps([RELEASE_MANAGER]))
        monkeypatch.setenv("PROTECTED_SUFFIXES", json.dumps(["-prod"]))

        def alerts() -> list[dict]:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(message["Body"]) for message in messages]

        yield dynamodb, alerts


def test_a_timeout_after_stopping_the_run_still_alerts_once_through_lambdas_retry(deployed):
    """Killed at its timeout between the stop and the alert: the retry alerts, once; a copy meanwhile does not."""
    _dynamodb, alerts = deployed
    clock = Clock(1_800_000_000.0)
    first = LambdaContext(clock, 60)
    copies = []

    def killed_before_the_alert(**_):
        clock.advance(20)  # meanwhile EventBridge delivers the CloudTrail event again
        copies.append(
            auditor_module.auditor_from_environment(LambdaContext(clock, 60), clock=clock).audit(approval_event())
        )
        time_out(clock, first)

    killed = auditor_module.auditor_from_environment(first, clock=clock)
    killed.sns.meta.events.register("before-call.sns.Publish", killed_before_the_alert)
    with Stubber(killed.codepipeline) as stub:
        stub.add_response("get_pipeline_state", state_with_latest_token(TOKEN), {"name": "booking-prod"})
        stub.add_response("stop_pipeline_execution", {"pipelineExecutionId": EXECUTION}, STOP_REQUEST)
        with pytest.raises(InvocationTimedOut):
            killed.audit(approval_event())
    assert copies == ["duplicate"] and alerts() == []

    retry = auditor_module.auditor_from_environment(lambda_retry_after_timeout(clock, first, 60), clock=clock)
    with Stubber(retry.codepipeline) as stub:
        stub.add_response("get_pipeline_state", state_with_latest_token(TOKEN))
        stub.add_client_error("stop_pipeline_execution", "PipelineExecutionNotStoppableException", "stopping")
        outcome = retry.audit(approval_event())
    assert outcome == f"alerted: execution {EXECUTION}: not stoppable (already finished or stopping)"
    (alert,) = alerts()
    assert DEVELOPER in alert["content"]["description"]


def test_the_entry_point_holds_an_event_only_as_long_as_the_invocation_may_run(deployed):
    dynamodb, alerts = deployed
    context = LambdaContext(Clock(time.time()), 60)
    assert auditor_module.handler(approval_event(status="Rejected"), context)["outcome"].startswith("alerted")
    (item,) = dynamodb.scan(TableName=os.environ["LEDGER_TABLE"])["Items"]
    assert item["state"]["S"] == "done"
    assert int(item["lease_until"]["N"]) - time.time() <= 60 + 3
    assert len(alerts()) == 1
