"""The shared Slack client on its own: what it retries, how long it waits, and when it gives up."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
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


def test_a_chatbot_custom_notification_carries_title_and_description_in_slack_markdown():
    notification = json.loads(chatbot_notification("*Title*", "line 1\nline 2"))
    assert notification == {
        "version": "1.0",
        "source": "custom",
        "content": {"textType": "client-markdown", "title": "*Title*", "description": "line 1\nline 2"},
    }
