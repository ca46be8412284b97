"""Review: a webhook URL rotated by an operator while containers are warm.

``slack_client.webhook_url_from_secret`` caches the URL for the container's whole life. Slack answers a
removed or disabled incoming webhook with 404 ``no_service`` (and an archived channel with 410
``channel_is_archived``; Slack API, "Sending messages using incoming webhooks", Handling errors). After an
operator replaces the webhook in Secrets Manager (the documented fix for a leaked URL), every warm container
keeps posting to the old one: each message fails, is retried by Lambda against the same cached URL, and ends in
the dead-letter queue, until Lambda happens to recycle the container.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from slack_client import _webhook_cache
from werkzeug import Response

from functions.rollback_reporter.handler import webhook_delivery

SECRET = "cicd-platform/slack-webhook"


@pytest.fixture
def secrets():
    _webhook_cache.clear()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")
    _webhook_cache.clear()


def test_a_webhook_replaced_in_the_secret_is_used_once_the_old_one_is_refused(httpserver, secrets):
    old, new = httpserver.url_for("/old"), httpserver.url_for("/new")
    secrets.create_secret(Name=SECRET, SecretString=old)
    httpserver.expect_request("/old", method="POST").respond_with_response(Response("ok", status=200))
    deliver = webhook_delivery(secrets, SECRET, sleep=lambda _s: None)
    deliver({"text": "first report"})  # the container is warm now, the URL cached

    # The old webhook is removed in Slack and the secret now holds the new one.
    httpserver.clear()
    httpserver.expect_request("/old", method="POST").respond_with_response(Response("no_service", status=404))
    httpserver.expect_request("/new", method="POST").respond_with_response(Response("ok", status=200))
    secrets.put_secret_value(SecretId=SECRET, SecretString=new)

    try:
        webhook_delivery(secrets, SECRET, sleep=lambda _s: None)({"text": "second report"})
    except Exception as error:  # what the invocation would fail with
        pytest.fail(f"the report went to the removed webhook and failed: {error}")

    assert [request.path for request, _ in httpserver.log][-1] == "/new"
