"""The Slack notifier: what each release-news message looks like, and that each posts exactly once."""

from __future__ import annotations

import json

import boto3
import pytest
from delivery_ledger import DeliveryLedger
from moto import mock_aws
from slack_client import RetryPolicy, SlackDeliveryError, _webhook_cache

from tests.functions.conftest import REGION, create_ledger_table, load_handler

notifier_module = load_handler("slack_notifier")
EXECUTION = "0f3c1a2b-1111-2222-3333-444455556666"
COMMIT = "9fceb02d0ae598e95dc970b74767f19372d61af8"
FAST = RetryPolicy(attempts=4, base_delay_seconds=0.25, max_delay_seconds=2, max_total_wait_seconds=10)


def approval_record(message_id: str = "msg-1") -> dict:
    custom = (
        f"Release booking to prod | owner: team-bookings | repository: bookwise/booking | commit: {COMMIT}"
        f" | execution: {EXECUTION}"
    )
    message = {
        "region": REGION,
        "consoleLink": "https://console.aws.amazon.com/codepipeline/home?region=eu-west-1#/view/booking-prod",
        "approval": {
            "pipelineName": "booking-prod",
            "stageName": "Approve",
            "actionName": "ReleaseApproval",
            "token": "1a2b3c4d-573f-4ea7-a67e-000000000001",
            "expires": "2026-12-06T10:00Z",
            "externalEntityLink": f"https://github.com/bookwise/booking/commit/{COMMIT}",
            "approvalReviewLink": "https://console.aws.amazon.com/codepipeline/home#/view/booking-prod/Approve/x",
            "customData": custom,
        },
    }
    return {"MessageId": message_id, "Subject": "APPROVAL NEEDED", "Message": json.dumps(message)}


def state_record(state: str, message_id: str = "msg-2") -> dict:
    event = {
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "source": "aws.codepipeline",
        "region": REGION,
        "detail": {"pipeline": "booking-prod", "execution-id": EXECUTION, "state": state},
    }
    return {"MessageId": message_id, "Message": json.dumps(event)}


@pytest.fixture
def ledger():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        yield DeliveryLedger(create_ledger_table(dynamodb), dynamodb)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def notifier(ledger, httpserver, sleeps):
    return notifier_module.Notifier(
        ledger=ledger, webhook_url=httpserver.url_for("/hook"), retry=FAST, sleep=sleeps.append
    )


def posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, response in httpserver.log if response.status_code == 200]


def text_of(message: dict) -> str:
    return json.dumps(message["blocks"])


def test_approval_request_names_service_environment_owner_and_links_commit_diff_and_execution(notifier, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    assert notifier.deliver(approval_record()) == "posted"
    (message,) = posted(httpserver)
    text = text_of(message)
    assert "Approval needed" in message["text"]
    for expected in (
        "*booking*",
        "*prod*",
        "team-bookings",
        f"https://github.com/bookwise/booking/tree/{COMMIT}|commit 9fceb02",
        f"https://github.com/bookwise/booking/commit/{COMMIT}|diff",
        f"https://{REGION}.console.aws.amazon.com/codesuite/codepipeline/pipelines/booking-prod/executions/{EXECUTION}/timeline",
        "approve or reject",
    ):
        assert expected in text, expected


@pytest.mark.parametrize(
    ("state", "emoji"), [("STARTED", ":arrow_forward:"), ("FAILED", ":x:"), ("SUCCEEDED", ":white_check_mark:")]
)
def test_pipeline_state_changes_post_the_state_and_the_execution(notifier, httpserver, state, emoji):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    notifier.deliver(state_record(state))
    (message,) = posted(httpserver)
    assert emoji in text_of(message) and f"booking-prod* {state.lower()}" in text_of(message)
    assert f"/executions/{EXECUTION}/timeline" in text_of(message)


def test_auditor_alerts_in_chatbot_custom_format_are_rendered(notifier, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    alert = {"version": "1.0", "source": "custom", "content": {"title": "Unauthorized approval", "description": "who"}}
    notifier.deliver({"MessageId": "m3", "Message": json.dumps(alert)})
    (message,) = posted(httpserver)
    assert message["text"] == "Unauthorized approval" and "who" in text_of(message)


def test_an_unknown_message_is_posted_as_text_rather_than_dropped(notifier, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    notifier.deliver({"MessageId": "m4", "Subject": "Hello", "Message": "not json"})
    (message,) = posted(httpserver)
    assert "*Hello*\\nnot json" in text_of(message)


def test_slack_throttling_waits_for_retry_after_and_posts_once(notifier, httpserver, sleeps):
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "3"}
    )
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    assert notifier.deliver(approval_record()) == "posted"
    assert sleeps == [3.0]
    assert len(httpserver.log) == 2 and len(posted(httpserver)) == 1


def test_slack_server_errors_back_off_exponentially_then_post(notifier, httpserver, sleeps):
    for _ in range(2):
        httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    notifier.deliver(state_record("FAILED"))
    assert sleeps == [0.25, 0.5]
    assert len(posted(httpserver)) == 1


def test_slack_down_raises_so_the_message_is_retried_and_then_posted_once(notifier, httpserver, sleeps):
    httpserver.expect_request("/hook", method="POST").respond_with_data("down", status=503)
    with pytest.raises(SlackDeliveryError, match="after 4 attempt"):
        notifier.deliver(approval_record())
    assert len(httpserver.log) == 4 and sum(sleeps) <= FAST.max_total_wait_seconds
    # Lambda retries the same SNS message once Slack is back: it must post, exactly once.
    httpserver.clear()
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    assert notifier.deliver(approval_record()) == "posted"
    assert notifier.deliver(approval_record()) == "duplicate"
    assert len(posted(httpserver)) == 1


def test_a_retry_after_beyond_the_budget_fails_now_instead_of_outliving_the_function(notifier, httpserver, sleeps):
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=429, headers={"Retry-After": "60"})
    with pytest.raises(SlackDeliveryError, match="429"):
        notifier.deliver(approval_record())
    assert sleeps == [] and len(httpserver.log) == 1


def test_a_rejected_message_is_not_retried_and_still_raises(notifier, httpserver, sleeps):
    httpserver.expect_request("/hook", method="POST").respond_with_data("invalid_blocks", status=400)
    with pytest.raises(SlackDeliveryError, match="HTTP 400 invalid_blocks"):
        notifier.deliver(approval_record())
    assert len(httpserver.log) == 1 and sleeps == []


def test_the_same_sns_message_delivered_twice_posts_once(notifier, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    assert [notifier.deliver(approval_record("dup")) for _ in range(2)] == ["posted", "duplicate"]
    assert len(posted(httpserver)) == 1


def test_a_claim_left_by_a_crashed_invocation_is_taken_over_after_its_lease(ledger):
    now = [1_000_000.0]
    crashed = DeliveryLedger(ledger._table, ledger._client, lease_seconds=60, clock=lambda: now[0])
    assert crashed.claim("slack#x")
    assert not crashed.claim("slack#x")
    now[0] += 61
    assert crashed.claim("slack#x")
    crashed.complete("slack#x")
    now[0] += 3600
    assert not crashed.claim("slack#x")


def test_handler_reads_the_webhook_from_secrets_manager_and_posts(httpserver, monkeypatch):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    _webhook_cache.clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = create_ledger_table(dynamodb)
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="cicd-platform/slack-webhook", SecretString=json.dumps({"url": httpserver.url_for("/hook")})
        )
        monkeypatch.setenv("LEDGER_TABLE", table)
        monkeypatch.setenv("WEBHOOK_SECRET_ID", "cicd-platform/slack-webhook")
        event = {"Records": [{"Sns": approval_record("a")}, {"Sns": state_record("STARTED", "b")}]}
        assert notifier_module.handler(event, None) == {"results": ["posted", "posted"]}
        assert notifier_module.handler(event, None) == {"results": ["duplicate", "duplicate"]}
    _webhook_cache.clear()
    assert len(posted(httpserver)) == 2
