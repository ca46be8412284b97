"""The daily watch of rotation-exempt secrets: moto Secrets Manager and DynamoDB, Slack as a local webhook.

The schedule's event has the shape of EventBridge's "Scheduled Event" (EventBridge User Guide, "Creating a
rule that runs on a schedule"): ``source`` ``aws.events``, ``detail-type`` ``Scheduled Event``, the rule's ARN
in ``resources``. Time is a clock the test sets; the secrets' versions are created "now" by moto, so the watch
runs days later by moving its clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.functions.conftest import ACCOUNT, REGION, create_ledger_table, load_handler

watch_handler = load_handler("secret_watch")
from delivery_ledger import DeliveryLedger  # noqa: E402 - vendored module, on the path once the handler loads

RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/cicd-secret-watch-dev"
DAY = 86_400


def scheduled_event(**overrides: Any) -> dict[str, Any]:
    event = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-12-06T08:00:00Z",
        "region": REGION,
        "resources": [RULE_ARN],
        "detail": {},
    }
    return {**event, **overrides}


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(dynamodb)
        yield secrets, dynamodb


class Slack:
    def __init__(self, server: HTTPServer) -> None:
        self.messages: list[dict[str, Any]] = []
        self.failures: list[int] = []
        server.expect_request("/hook", method="POST").respond_with_handler(self._post)
        self.url = server.url_for("/hook")

    def _post(self, request: Request) -> Response:
        if self.failures:
            return Response("no", status=self.failures.pop(0))
        self.messages.append(json.loads(request.data))
        return Response("ok")

    def texts(self) -> list[str]:
        return [message["blocks"][0]["text"]["text"] for message in self.messages]


@pytest.fixture
def slack(httpserver: HTTPServer, aws) -> Slack:
    secrets, _ = aws
    fake = Slack(httpserver)
    secrets.create_secret(Name="cicd-platform/slack-webhook", SecretString=fake.url)
    watch_handler.webhook_url_from_secret.__globals__["_webhook_cache"].clear()
    return fake


def watch(aws, slack: Slack, days_later: float) -> Any:
    secrets, dynamodb = aws
    clock = lambda: time.time() + days_later * DAY  # noqa: E731 - a clock the scenario moves
    return watch_handler.Watch(
        secrets=secrets,
        ledger=DeliveryLedger("ledger", dynamodb, clock=clock),
        deliver=watch_handler.webhook_delivery(secrets, "cicd-platform/slack-webhook"),
        account_id=ACCOUNT,
        region=REGION,
        rule_arn=RULE_ARN,
        clock=clock,
    )


def exempt(secrets: Any, name: str, max_age: str | None = "90", reason: str = "GitHub offers no rotation API") -> None:
    tags = [{"Key": "rotation-exempt", "Value": reason}]
    if max_age is not None:
        tags.append({"Key": "rotation-exempt-max-age-days", "Value": max_age})
    secrets.create_secret(Name=name, SecretString='{"token": "x"}', Tags=tags)


def test_a_secret_older_than_its_limit_is_reported_once_a_day(aws, slack) -> None:
    exempt(aws[0], "cicd/dev/github-dispatch-token", max_age="30")
    # Half a day past: moto stamps a version's CreatedDate to the whole second, which may be just after "now".
    assert watch(aws, slack, 31.5).run(scheduled_event())["reported"] == ["cicd/dev/github-dispatch-token"]
    (text,) = slack.texts()
    assert "31 days old" in text and "limit is 30 days" in text
    assert watch(aws, slack, 31.7).run(scheduled_event())["reported"] == [], "a duplicate delivery says nothing new"
    assert watch(aws, slack, 32.5).run(scheduled_event())["reported"] == ["cicd/dev/github-dispatch-token"]


def test_a_secret_within_its_limit_and_unexempt_secrets_are_quiet(aws, slack) -> None:
    exempt(aws[0], "cicd/dev/github-dispatch-token", max_age="90")
    aws[0].create_secret(Name="cicd/sonarqube", SecretString="{}")
    assert watch(aws, slack, 89).run(scheduled_event())["reported"] == []
    assert slack.messages == []


def test_the_age_is_the_values_not_the_last_metadata_change(aws, slack) -> None:
    secrets = aws[0]
    exempt(secrets, "cicd/dev/github-dispatch-token", max_age="30")
    secrets.tag_resource(SecretId="cicd/dev/github-dispatch-token", Tags=[{"Key": "team", "Value": "platform"}])
    assert watch(aws, slack, 40).run(scheduled_event())["reported"] == ["cicd/dev/github-dispatch-token"]


def test_an_exemption_without_a_usable_maximum_age_is_reported(aws, slack) -> None:
    exempt(aws[0], "cicd-platform/slack-webhook-legacy", max_age=None, reason="Slack webhooks cannot rotate")
    exempt(aws[0], "cicd/other", max_age="soon")
    reported = watch(aws, slack, 1).run(scheduled_event())["reported"]
    assert sorted(reported) == ["cicd-platform/slack-webhook-legacy", "cicd/other"]
    assert all("rotation-exempt-max-age-days" in text for text in slack.texts())


def test_names_and_reasons_are_escaped_for_slack(aws, slack) -> None:
    exempt(aws[0], "cicd/dev/token", max_age="1", reason="<!channel> & <https://evil.example|click>")
    watch(aws, slack, 5).run(scheduled_event())
    (text,) = slack.texts()
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp;" in text


def test_a_slack_failure_raises_so_the_retry_reports_it(aws, slack) -> None:
    exempt(aws[0], "cicd/dev/github-dispatch-token", max_age="30")
    slack.failures.extend([400])
    with pytest.raises(RuntimeError, match="could not report 1 overdue secret"):
        watch(aws, slack, 31.5).run(scheduled_event())
    assert watch(aws, slack, 31.51).run(scheduled_event())["reported"] == ["cicd/dev/github-dispatch-token"]


@pytest.mark.parametrize(
    "crafted",
    [
        {"account": "999999999999"},
        {"region": "us-east-1"},
        {"source": "custom.attacker"},
        {"detail-type": "Something Else"},
        {"resources": ["arn:aws:events:eu-west-1:123456789012:rule/other"]},
    ],
)
def test_events_that_are_not_this_stacks_schedule_are_ignored(aws, slack, crafted) -> None:
    exempt(aws[0], "cicd/dev/github-dispatch-token", max_age="1")
    assert "ignored" in watch(aws, slack, 10).run(scheduled_event(**crafted))
    assert slack.messages == []
