"""The reporter's Slack webhook: retries what Slack asks to retry, and nothing else."""

from __future__ import annotations

import pytest
from werkzeug import Response

from functions.rollback_reporter.slack import SlackError, SlackWebhook

MESSAGE = {"text": "hello", "blocks": []}


def webhook(httpserver, sleeps, **options):
    return SlackWebhook(httpserver.url_for("/hook"), sleep=sleeps.append, **options)


def answer(httpserver, *responses):
    for response in responses:
        httpserver.expect_ordered_request("/hook", method="POST", json=MESSAGE).respond_with_response(response)


def test_a_200_is_one_attempt(httpserver):
    sleeps = []
    answer(httpserver, Response("ok"))
    assert webhook(httpserver, sleeps).post(MESSAGE) == 1
    assert sleeps == []
    httpserver.check_assertions()


def test_429_waits_as_long_as_slack_asks(httpserver):
    sleeps = []
    answer(httpserver, Response("rate_limited", status=429, headers={"Retry-After": "3"}), Response("ok"))
    assert webhook(httpserver, sleeps).post(MESSAGE) == 2
    assert sleeps == [3.0]


def test_429_without_a_usable_retry_after_waits_a_second_and_never_longer_than_the_cap(httpserver):
    sleeps = []
    answer(
        httpserver,
        Response("rate_limited", status=429, headers={"Retry-After": "soon"}),
        Response("rate_limited", status=429, headers={"Retry-After": "3600"}),
        Response("ok"),
    )
    assert webhook(httpserver, sleeps, max_retry_after=20).post(MESSAGE) == 3
    assert sleeps == [1.0, 20.0]


def test_5xx_backs_off_exponentially_then_gives_up(httpserver):
    sleeps = []
    answer(httpserver, *[Response("oops", status=503)] * 4)
    with pytest.raises(SlackError, match="gave up after 4 attempts: HTTP 503 oops"):
        webhook(httpserver, sleeps, max_attempts=4).post(MESSAGE)
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_400_is_not_retried(httpserver):
    sleeps = []
    answer(httpserver, Response("invalid_blocks", status=400))
    with pytest.raises(SlackError, match="Slack refused the message: HTTP 400 invalid_blocks"):
        webhook(httpserver, sleeps).post(MESSAGE)
    assert sleeps == []
    assert len(httpserver.log) == 1


def test_an_unreachable_webhook_is_retried_as_a_network_error():
    sleeps = []
    hook = SlackWebhook("http://127.0.0.1:9/hook", sleep=sleeps.append, max_attempts=2, timeout=1)
    with pytest.raises(SlackError, match="gave up after 2 attempts: network"):
        hook.post(MESSAGE)
    assert sleeps == [0.5]


@pytest.mark.parametrize("url", ["http://hooks.slack.com/services/x", "file:///etc/passwd", "ftp://example.com/x"])
def test_only_https_webhooks_are_accepted(url):
    with pytest.raises(SlackError, match="must be https"):
        SlackWebhook(url)
