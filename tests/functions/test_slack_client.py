"""The shared Slack client on its own: what it retries, how long it waits, and when it gives up."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
import slack_client
from moto import mock_aws
from slack_client import (
    RetryPolicy,
    SlackDeliveryError,
    _webhook_cache,
    chatbot_notification,
    post_message,
    webhook_url_from_secret,
)

from tests.functions.conftest import REGION
from tests.functions.slack_limits import assert_inert, assert_within_slack_limits, code_fences, mrkdwn_texts

POLICY = RetryPolicy(attempts=3, base_delay_seconds=1, max_delay_seconds=4, max_total_wait_seconds=10)


def test_throttling_without_retry_after_backs_off_exponentially(httpserver):
    sleeps: list[float] = []
    for _ in range(2):
        httpserver.expect_ordered_request("/hook").respond_with_data("", status=429)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    assert post_message(httpserver.url_for("/hook"), {"text": "hi"}, policy=POLICY, sleep=sleeps.append) == 3
    assert sleeps == [1, 2]


def test_an_unreadable_retry_after_falls_back_to_the_backoff(httpserver):
    sleeps: list[float] = []
    httpserver.expect_ordered_request("/hook").respond_with_data("", status=429, headers={"Retry-After": "soon"})
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    post_message(httpserver.url_for("/hook"), {"text": "hi"}, policy=POLICY, sleep=sleeps.append)
    assert sleeps == [1]


def test_an_unreachable_slack_is_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(SlackDeliveryError, match=r"after 3 attempt.*network error"):
        post_message(f"http://127.0.0.1:{port}/hook", {"text": "hi"}, policy=POLICY, sleep=sleeps.append)
    assert sleeps == [1, 2]


def test_only_http_urls_are_posted_to():
    with pytest.raises(SlackDeliveryError, match="http"):
        post_message("file:///etc/passwd", {"text": "hi"})


def test_the_payload_is_posted_as_json(httpserver):
    httpserver.expect_request("/hook", method="POST", json={"text": "hi", "blocks": []}).respond_with_data("ok")
    assert post_message(httpserver.url_for("/hook"), {"text": "hi", "blocks": []}) == 1


def test_a_plain_webhook_secret_is_read_once_per_container():
    _webhook_cache.clear()
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name="hook", SecretString=" https://hooks.slack.com/services/T/B/x \n")
        assert webhook_url_from_secret("hook", secrets) == "https://hooks.slack.com/services/T/B/x"
        secrets.put_secret_value(SecretId="hook", SecretString="https://changed")
        assert webhook_url_from_secret("hook", secrets) == "https://hooks.slack.com/services/T/B/x"
    _webhook_cache.clear()


@pytest.mark.parametrize("url", ["http://hooks.slack.com/services/T/B/x", "file:///etc/passwd", "ftp://example.com/x"])
def test_a_webhook_url_travels_over_tls_only(url):
    # The URL is a credential: plain http only for a test server on this machine.
    with pytest.raises(SlackDeliveryError, match="must be an https:// URL"):
        post_message(url, {"text": "hi"})


def test_an_empty_webhook_secret_is_refused_and_not_remembered():
    _webhook_cache.clear()
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name="hook", SecretString='{"url": " "}')
        with pytest.raises(SlackDeliveryError, match="holds no Slack webhook URL yet"):
            webhook_url_from_secret("hook", secrets)
        # The operator stores the URL; a warm container picks it up on the next event.
        secrets.put_secret_value(SecretId="hook", SecretString="https://hooks.slack.com/services/T/B/y")
        assert webhook_url_from_secret("hook", secrets) == "https://hooks.slack.com/services/T/B/y"
    _webhook_cache.clear()


@pytest.mark.parametrize(("status", "forgotten"), [(404, True), (410, True), (403, True), (400, False)])
def test_a_webhook_slack_refuses_as_gone_is_read_again_from_the_secret_by_the_next_invocation(
    httpserver, status, forgotten
):
    """Slack answers a removed webhook 404 ``no_service``, an archived channel 410, a revoked token 403
    ("Sending messages using incoming webhooks", Handling errors): the fix is a new URL in the secret, which the
    notifier's retry (a new invocation, same warm container) must read instead of the cached one."""
    _webhook_cache.clear()
    old = httpserver.url_for("/old")
    httpserver.expect_request("/old", method="POST").respond_with_data("refused", status=status)
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name="hook", SecretString=old)
        with pytest.raises(SlackDeliveryError) as refused:
            post_message(webhook_url_from_secret("hook", secrets), {"text": "hi"})
        assert refused.value.status == status
        secrets.put_secret_value(SecretId="hook", SecretString="https://hooks.slack.com/services/T/B/new")
        expected = "https://hooks.slack.com/services/T/B/new" if forgotten else old
        assert webhook_url_from_secret("hook", secrets) == expected
    _webhook_cache.clear()


def test_a_chatbot_custom_notification_carries_title_and_description_in_slack_markdown():
    notification = json.loads(chatbot_notification("*Title*", "line 1\nline 2"))
    assert notification == {
        "version": "1.0",
        "source": "custom",
        "content": {"textType": "client-markdown", "title": "*Title*", "description": "line 1\nline 2"},
    }


# --- attacker text made safe, and Slack's limits ------------------------------------------------------------------
# Slack, "Formatting text / Escaping text": &, < and > are control characters, sent as &amp; &lt; &gt; when literal.

ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("crafted", "sent"),
    [
        ("<!channel> deploy now", "&lt;!channel&gt; deploy now"),
        ("<https://evil.example|Re-approve here>", "&lt;https://evil.example|Re-approve here&gt;"),
        ("<@U024BE7LH> <#C024BE7LR> <!subteam^S012>", "&lt;@U024BE7LH&gt; &lt;#C024BE7LR&gt; &lt;!subteam^S012&gt;"),
        ("fish & chips", "fish &amp; chips"),
        ("&lt;!here&gt; (pre-escaped)", "&amp;lt;!here&amp;gt; (pre-escaped)"),
        ("ping @here and @Channel", f"ping @{ZWSP}here and @{ZWSP}Channel"),
        ("Fix *bold* _claims_ in README", "Fix *bold* _claims_ in README"),
    ],
)
def test_escape_turns_every_control_character_into_literal_text(crafted, sent):
    assert slack_client.escape(crafted) == sent
    assert_inert(slack_client.escape(crafted))


def test_a_code_block_holds_crafted_fences_and_keeps_the_end_of_a_long_log():
    log = "\n".join(
        ["x" * 200] * 50 + ["```", "<!here> <https://evil.example|log in>", "````", "FAILED: test_price `x`"]
    )
    block = slack_client.code_block(log, 2900)
    assert len(block) <= 2900
    assert block.startswith("```…") and block.endswith("FAILED: test_price `x`" + ZWSP + "```")
    assert code_fences(block) == 2  # only the block's own: the log's runs of backticks are broken up
    assert f"`{ZWSP}`{ZWSP}`" in block and "&lt;!here&gt; &lt;https://evil.example|log in&gt;" in block
    assert_inert(block)


@pytest.mark.parametrize(
    ("url", "label", "sent"),
    [
        (
            "https://github.com/bookwise/booking/commit/abc",
            "abc",
            "<https://github.com/bookwise/booking/commit/abc|abc>",
        ),
        ("https://github.com/x/y", "<!channel>", "<https://github.com/x/y|&lt;!channel&gt;>"),
        ("https://github.com/x>|<!channel>", "diff", "<https://github.com/x%3E%7C%3C!channel%3E|diff>"),
        ("https://github.com/a b", "diff", "<https://github.com/a%20b|diff>"),
        ("http://evil.example", "diff", "diff"),
        ("javascript:alert(1)", "diff", "diff"),
        ("", "<!here>", "&lt;!here&gt;"),
    ],
)
def test_only_https_urls_become_links_and_nothing_ends_the_link_early(url, label, sent):
    assert slack_client.link(url, label) == sent


def test_clipping_never_cuts_an_entity_or_a_link_in_half():
    link = slack_client.link("https://github.com/x/y", "commit")
    text = "a" * 90 + link
    clipped = slack_client.clip(text, 100)
    assert clipped == "a" * 90 + "…"
    entity = "a" * 97 + "&amp;bc"
    assert slack_client.clip(entity, 100) == "a" * 97 + "…"
    assert slack_client.clip_start("&gt;" + "b" * 200, 100) == "…" + "b" * 99


def test_every_message_is_fitted_to_slacks_limits_before_it_is_posted(httpserver):
    """60 blocks, over-long section, fields, header, context and fallback: Slack would reject the message whole."""
    long = "y" * 5000
    message = {
        "text": long,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "h" * 400}},
            {"type": "section", "text": {"type": "mrkdwn", "text": long}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2500}] * 12},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": long}] * 12},
            *[{"type": "section", "text": {"type": "mrkdwn", "text": f"block {n}"}} for n in range(56)],
        ],
    }
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    post_message(httpserver.url_for("/hook"), message)
    (sent,) = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert_within_slack_limits(sent)
    assert len(sent["blocks"]) == 50
    assert sent["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "… 11 more block(s) not shown", "verbatim": True}],
    }
    assert sent["blocks"][1]["text"]["text"] == "y" * 2999 + "…"
    assert len(sent["blocks"][2]["fields"]) == 10 and len(sent["blocks"][3]["elements"]) == 10
    assert all(node["verbatim"] is True for node in mrkdwn_texts(sent))


def test_a_chatbot_notification_is_clipped_like_a_message():
    notification = json.loads(chatbot_notification("t" * 300, "d" * 10_000))
    assert len(notification["content"]["title"]) == 150
    assert len(notification["content"]["description"]) == 4000
    assert notification["content"]["description"].endswith("…")


# --- the Web API (bot token): a channel per message, and the ts a reply needs ------------------------------------

TOKEN = "xoxb-1111-2222-abcdefghijkl"


def test_a_bot_post_names_its_channel_and_thread_and_returns_where_it_landed(httpserver):
    """chat.postMessage reference: the token as a Bearer header, ``channel`` and ``thread_ts`` in the JSON body,
    and the answer's ``channel`` and ``ts`` (the id a reply names as ``thread_ts``)."""
    httpserver.expect_request(
        "/api/chat.postMessage",
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"text": "hi", "channel": "C0TEAM", "thread_ts": "1733051281.000100"},
    ).respond_with_json({"ok": True, "channel": "C0TEAM", "ts": "1733051400.000200"})
    posted = slack_client.post_to_channel(
        TOKEN, "C0TEAM", {"text": "hi"}, thread_ts="1733051281.000100", api_url=httpserver.url_for("/api")
    )
    assert posted == slack_client.PostedMessage(channel="C0TEAM", ts="1733051400.000200")


def test_a_web_api_error_that_slack_may_not_repeat_is_retried_and_one_that_it_will_is_not(httpserver):
    sleeps: list[float] = []
    httpserver.expect_ordered_request("/api/chat.postMessage").respond_with_json({"ok": False, "error": "ratelimited"})
    httpserver.expect_ordered_request("/api/chat.postMessage").respond_with_data("", status=503)
    httpserver.expect_ordered_request("/api/chat.postMessage").respond_with_json({"ok": True, "ts": "1.2"})
    posted = slack_client.post_to_channel(
        TOKEN, "C0", {"text": "hi"}, api_url=httpserver.url_for("/api"), policy=POLICY, sleep=sleeps.append
    )
    assert (posted.ts, posted.channel, sleeps) == ("1.2", "C0", [1, 2])

    httpserver.clear()
    httpserver.expect_ordered_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "not_in_channel"}
    )
    with pytest.raises(SlackDeliveryError, match="not_in_channel"):
        slack_client.post_to_channel(TOKEN, "C0", {"text": "hi"}, api_url=httpserver.url_for("/api"), policy=POLICY)
    assert len(httpserver.log) == 1


def test_a_bot_post_is_fitted_and_inert_like_a_webhook_post(httpserver):
    httpserver.expect_request("/api/chat.postMessage").respond_with_json({"ok": True, "ts": "1.2"})
    crafted = slack_client.escape("<!channel> @here <https://evil.example|click>") * 200
    slack_client.post_to_channel(
        TOKEN,
        "C0",
        {"text": crafted, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": crafted}}]},
        api_url=httpserver.url_for("/api"),
    )
    (sent,) = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert_within_slack_limits(sent)
    assert_inert(sent)


def test_a_bot_token_is_read_from_its_secret_once_and_only_if_it_is_a_bot_token():
    slack_client._bot_token_cache.clear()
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name="bot", SecretString="xoxp-a-user-token")
        with pytest.raises(SlackDeliveryError, match="no Slack bot token"):
            slack_client.bot_token_from_secret("bot", secrets)
        secrets.put_secret_value(SecretId="bot", SecretString=json.dumps({"token": TOKEN}))
        assert slack_client.bot_token_from_secret("bot", secrets) == TOKEN
        secrets.put_secret_value(SecretId="bot", SecretString="xoxb-rotated")
        assert slack_client.bot_token_from_secret("bot", secrets) == TOKEN
    slack_client._bot_token_cache.clear()
