"""The Slack notifier: what each release-news message looks like, and that each posts exactly once."""

from __future__ import annotations

import json
import os
import time

import boto3
import pytest
from delivery_ledger import DeliveryLedger
from moto import mock_aws
from slack_client import RetryPolicy, SlackDeliveryError, _webhook_cache, chatbot_notification

from tests.functions.conftest import ACCOUNT, REGION, create_ledger_table, load_handler
from tests.functions.lambda_runtime import (
    Clock,
    InvocationTimedOut,
    LambdaContext,
    lambda_retry_after_timeout,
    time_out,
)
from tests.functions.slack_limits import assert_inert, assert_within_slack_limits

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


# --- realistic deliveries: the SNS envelope around an EventBridge event or a CodePipeline approval -----------------

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:cicd-release-news-prod"
CRAFTED = "<!channel> <https://evil.example|Re-approve here>"


def sns_envelope(message: str, message_id: str, subject: str | None = None) -> dict:
    """One record as SNS hands it to Lambda (Amazon SNS developer guide, "Fanout to Lambda functions")."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": TOPIC,
            "Subject": subject,
            "Message": message,
            "Timestamp": "2026-12-01T10:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
            "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {},
        },
    }


def pipeline_event(event_id: str = "01234567-0123-0123-0123-012345678901", pipeline: str = "booking-prod") -> str:
    """A CodePipeline Pipeline Execution State Change (EventBridge event reference), as the rule sends it to SNS."""
    return json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "CodePipeline Pipeline Execution State Change",
            "source": "aws.codepipeline",
            "account": ACCOUNT,
            "time": "2026-12-01T10:00:00Z",
            "region": REGION,
            "resources": [f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{pipeline}"],
            "detail": {"pipeline": pipeline, "execution-id": EXECUTION, "state": "FAILED", "version": 3.0},
        }
    )


def approval_notification(token: str = "1a2b3c4d-573f-4ea7-a67e-000000000001", **custom: str) -> str:
    """CodePipeline's own approval notification ("JSON data format for manual approval notifications")."""
    fields = {"owner": "team-bookings", "repository": "bookwise/booking", "commit": COMMIT, "execution": EXECUTION}
    fields.update(custom)
    custom_data = " | ".join(["Release booking to prod", *(f"{key}: {value}" for key, value in fields.items())])
    return json.dumps(
        {
            "region": REGION,
            "consoleLink": f"https://console.aws.amazon.com/codepipeline/home?region={REGION}#/view/booking-prod",
            "approval": {
                "pipelineName": "booking-prod",
                "stageName": "Approve",
                "actionName": "ReleaseApproval",
                "token": token,
                "expires": "2026-12-08T10:00Z",
                "externalEntityLink": f"https://github.com/bookwise/booking/commit/{COMMIT}",
                "approvalReviewLink": f"https://console.aws.amazon.com/codepipeline/home?region={REGION}#/view/"
                f"booking-prod/Approve/ReleaseApproval/approve/{token}",
                "customData": custom_data,
            },
        }
    )


def test_one_eventbridge_event_reaching_the_topic_twice_posts_once(notifier, httpserver):
    """Two SNS messages (two MessageIds) carrying one EventBridge event: the event's own id decides."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    first = sns_envelope(pipeline_event(), "95df01b4-ee98-5cb9-9903-4c221d41eb5e")["Sns"]
    second = sns_envelope(pipeline_event(), "a1c0e5e8-5b2c-5c2b-8a9b-0f0e4a5b6c7d")["Sns"]
    assert [notifier.deliver(first), notifier.deliver(second)] == ["posted", "duplicate"]
    other = sns_envelope(pipeline_event(event_id="99999999-0123-0123-0123-012345678901"), "m-3")["Sns"]
    assert notifier.deliver(other) == "posted"  # another event of the same pipeline is news again
    assert len(posted(httpserver)) == 2


@pytest.mark.parametrize(
    ("sns", "key"),
    [
        (sns_envelope(pipeline_event(), "m-1")["Sns"], "slack#event#01234567-0123-0123-0123-012345678901"),
        (sns_envelope(approval_notification(), "m-2")["Sns"], "slack#approval#1a2b3c4d-573f-4ea7-a67e-000000000001"),
        (sns_envelope(chatbot_notification("t", "d"), "m-3")["Sns"], "slack#message#m-3"),
        (sns_envelope("plain text", "m-4", subject="Hi")["Sns"], "slack#message#m-4"),
        (
            sns_envelope(json.dumps({"detail-type": "x", "source": "y", "id": "i" * 300}), "m-5")["Sns"],
            "slack#message#m-5",
        ),
    ],
)
def test_the_delivery_key_is_what_the_message_is_not_how_it_travelled(sns, key):
    assert notifier_module.delivery_key(sns) == key


def test_an_approval_request_published_twice_posts_once_and_a_new_request_posts_again(notifier, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    results = [
        notifier.deliver(sns_envelope(approval_notification(), "m-1", subject="APPROVAL NEEDED")["Sns"]),
        notifier.deliver(sns_envelope(approval_notification(), "m-2", subject="APPROVAL NEEDED")["Sns"]),
        notifier.deliver(
            sns_envelope(approval_notification(token="ffffffff-0000-0000-0000-000000000002"), "m-3")["Sns"]
        ),
    ]
    assert results == ["posted", "duplicate", "posted"]


# --- attacker text cannot ping, link or break out; every field fits Slack's limits ---------------------------------


def test_a_crafted_plain_message_is_posted_as_literal_text(notifier, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    notifier.deliver(sns_envelope(CRAFTED + " @here", "m-1", subject="<!here> urgent")["Sns"])
    (message,) = posted(httpserver)
    assert message == {
        "text": "&lt;!here&gt; urgent",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*&lt;!here&gt; urgent*\n"
                    "&lt;!channel&gt; &lt;https://evil.example|Re-approve here&gt; @\u200bhere",
                    "verbatim": True,
                },
            }
        ],
    }


@pytest.mark.parametrize(
    "custom",
    [
        {"owner": CRAFTED},
        {"owner": "@channel"},
        {"repository": "evil/x>|<!channel>"},
        {"owner": "o" * 2000},
        {"execution": f"{EXECUTION}|<!here>"},
    ],
)
def test_crafted_approval_custom_data_cannot_ping_link_or_overflow(notifier, httpserver, custom):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    notifier.deliver(sns_envelope(approval_notification(**custom), "m-1", subject="APPROVAL NEEDED")["Sns"])
    (message,) = posted(httpserver)
    assert_inert(message)
    assert_within_slack_limits(message)


def test_crafted_pipeline_and_region_in_an_event_give_no_foreign_link(notifier, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    event = json.loads(pipeline_event(pipeline="<!channel>"))
    event["region"] = "evil.example/#"
    notifier.deliver(sns_envelope(json.dumps(event), "m-1")["Sns"])
    (message,) = posted(httpserver)
    assert message["blocks"][0]["text"]["text"] == ":x: *&lt;!channel&gt;* failed"
    assert_inert(message)


def test_a_huge_message_is_clipped_to_slacks_limits_instead_of_rejected(notifier, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    notifier.deliver(sns_envelope("<" * 10_000, "m-1", subject="s" * 2000)["Sns"])
    (message,) = posted(httpserver)
    assert_within_slack_limits(message)
    assert message["blocks"][0]["text"]["text"].endswith("&lt;…")


# --- a timeout mid-post, then Lambda's retry ------------------------------------------------------------------------


@pytest.fixture
def deployed(httpserver, monkeypatch):
    """The notifier's AWS as its entry point finds it: the ledger table and the webhook secret."""
    _webhook_cache.clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        monkeypatch.setenv("LEDGER_TABLE", create_ledger_table(dynamodb))
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="cicd-platform/slack-webhook", SecretString=httpserver.url_for("/hook")
        )
        monkeypatch.setenv("WEBHOOK_SECRET_ID", "cicd-platform/slack-webhook")
        yield dynamodb
    _webhook_cache.clear()


def test_a_timeout_while_slack_throttles_is_posted_once_by_lambdas_retry(deployed, httpserver):
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "5"}
    )
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    record = sns_envelope(pipeline_event(), "m-1")["Sns"]
    clock = Clock(1_800_000_000.0)
    first = LambdaContext(clock, 60)
    copies = []

    def slack_wait_outlives_the_function(_seconds):
        clock.advance(30)  # meanwhile SNS delivers the same message again: the first still holds it
        copies.append(notifier_module.notifier_from_environment(LambdaContext(clock, 60), clock=clock).deliver(record))
        time_out(clock, first)

    notifier = notifier_module.notifier_from_environment(first, clock=clock)
    notifier.sleep = slack_wait_outlives_the_function
    with pytest.raises(InvocationTimedOut):
        notifier.deliver(record)
    assert copies == ["duplicate"]

    retry = lambda_retry_after_timeout(clock, first, 60)
    assert notifier_module.notifier_from_environment(retry, clock=clock).deliver(record) == "posted"
    assert [response.status_code for _, response in httpserver.log] == [429, 200]
    clock.advance(3600)
    late = notifier_module.notifier_from_environment(LambdaContext(clock, 60), clock=clock)
    assert late.deliver(record) == "duplicate"


def test_the_entry_point_holds_a_message_only_as_long_as_the_invocation_may_run(deployed, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("invalid_blocks", status=400)
    context = LambdaContext(Clock(time.time()), 60)
    with pytest.raises(SlackDeliveryError):
        notifier_module.handler({"Records": [sns_envelope(pipeline_event(), "m-1")]}, context)
    (item,) = deployed.scan(TableName=os.environ["LEDGER_TABLE"])["Items"]
    assert item["state"]["S"] == "released"
    assert int(item["lease_until"]["N"]) - time.time() <= 60 + 3


# --- with a bot token: the Web API, and the message each execution's digest replies under --------------------------

BOT_TOKEN = "xoxb-2087654321-5098765432109-TeStToKeNfOrThEnOtIfIeR"


def test_with_a_bot_token_release_news_keeps_each_executions_first_message_for_its_replies(ledger, httpserver):
    for ts in ("1764579000.000100", "1764579900.000300"):
        httpserver.expect_ordered_request("/api/chat.postMessage", method="POST").respond_with_json(
            {"ok": True, "channel": "C0DEPLOYS1", "ts": ts}
        )
    bot = notifier_module.BotChannel(BOT_TOKEN, "C0DEPLOYS1", httpserver.url_for("/api"))
    notifier = notifier_module.Notifier(ledger=ledger, retry=FAST, bot=bot)
    assert notifier.deliver(state_record("STARTED", "m-1")) == "posted"
    assert notifier.deliver(state_record("FAILED", "m-2")) == "posted"
    requests = [request for request, _ in httpserver.log]
    assert [json.loads(r.get_data())["channel"] for r in requests] == ["C0DEPLOYS1", "C0DEPLOYS1"]
    assert requests[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    # The STARTED message, not the later FAILED one, is the thread a failure digest of this execution replies in.
    assert ledger.recall(f"news-thread#booking-prod#{EXECUTION}") == {
        "channel": "C0DEPLOYS1",
        "ts": "1764579000.000100",
    }


def test_an_approval_request_through_the_bot_keeps_no_thread(ledger, httpserver):
    httpserver.expect_request("/api/chat.postMessage").respond_with_json({"ok": True, "channel": "C0D", "ts": "1.2"})
    bot = notifier_module.BotChannel(BOT_TOKEN, "C0D", httpserver.url_for("/api"))
    notifier_module.Notifier(ledger=ledger, retry=FAST, bot=bot).deliver(approval_record())
    assert ledger.recall(f"news-thread#booking-prod#{EXECUTION}") == {}


def test_the_entry_point_uses_the_bot_token_when_the_stack_has_one(httpserver, monkeypatch):
    import slack_client

    httpserver.expect_request("/api/chat.postMessage").respond_with_json({"ok": True, "channel": "C0D", "ts": "1.2"})
    slack_client._bot_token_cache.clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = create_ledger_table(dynamodb)
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="cicd-platform/slack-bot-token", SecretString=BOT_TOKEN
        )
        for name, value in {
            "LEDGER_TABLE": table,
            "BOT_TOKEN_SECRET_ID": "cicd-platform/slack-bot-token",
            "SLACK_CHANNEL_ID": "C0D",
            "SLACK_API_URL": httpserver.url_for("/api"),
        }.items():
            monkeypatch.setenv(name, value)
        assert notifier_module.handler({"Records": [{"Sns": state_record("STARTED")}]}, None) == {"results": ["posted"]}
        kept = DeliveryLedger(table, dynamodb).recall(f"news-thread#booking-prod#{EXECUTION}")
    slack_client._bot_token_cache.clear()
    assert kept == {"channel": "C0D", "ts": "1.2"}
