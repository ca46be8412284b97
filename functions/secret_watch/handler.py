"""The daily watch over secrets that cannot rotate: alert the release-news channel when one is too old.

A secret the platform cannot rotate (a GitHub personal access token, a Slack incoming webhook, a static
scanner token) is tagged ``rotation-exempt=<why>`` and ``rotation-exempt-max-age-days=<N>``. Once a day an
EventBridge schedule wakes this function; it lists every secret of the account and region carrying the
exemption tag (``ListSecrets`` filtered by tag key) and judges its age.

The age is that of the secret's *value*: the ``CreatedDate`` of the version labelled ``AWSCURRENT``
(``ListSecretVersionIds``), i.e. when an operator last put a credential. ``LastChangedDate`` would be reset
by any change to the secret — a tag, a description — and so would hide an old credential; a secret whose
value was never put counts from its own ``CreatedDate``. A secret whose maximum age is missing or not a
positive whole number is reported too: an exemption without a limit is what this watch exists to prevent.

Each overdue secret is reported once a day (its key in the stack's delivery ledger is the secret and the
day), so a duplicate delivery of the schedule, or Lambda's retry after a Slack failure, repeats nothing
already said. Only the schedule's own event is believed: the account, region and rule ARN must be this
stack's (``SCHEDULE_RULE_ARN``), or the event is ignored. Secret names and reasons are escaped for Slack.

Delivery: the webhook secret ``WEBHOOK_SECRET_ID`` (the vendored ``slack_client``) or, with AWS Chatbot, the
release-news topic ``TOPIC_ARN``. Other settings: ``LEDGER_TABLE``, ``TOOLING_ACCOUNT_ID``, ``TOOLING_REGION``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from delivery_ledger import DeliveryLedger, invocation_lease
from slack_client import chatbot_notification, escape, post_message, webhook_url_from_secret

LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)

EXEMPT_TAG = "rotation-exempt"
MAX_AGE_TAG = "rotation-exempt-max-age-days"
DAY = 86_400

Deliver = Callable[[str, str], None]
"""``deliver(title, text)``: one Slack message, already escaped."""


@dataclass(frozen=True)
class Overdue:
    """An exempt secret past its limit, or with no usable limit (``max_age_days`` is then ``None``)."""

    name: str
    arn: str
    reason: str
    age_days: int
    max_age_days: int | None

    def text(self) -> str:
        name, reason = escape(self.name), escape(self.reason)
        if self.max_age_days is None:
            return (
                f"*{name}* is exempt from rotation ({reason}) but has no `{MAX_AGE_TAG}` tag: give it the age in days "
                f"after which its credential must be replaced (its value is {self.age_days} days old)."
            )
        return (
            f"*{name}* holds a credential {self.age_days} days old; its limit is {self.max_age_days} days. "
            f"It cannot rotate ({reason}): replace the credential and put the new value, or move to the "
            "rotation-free path (README: Credentials)."
        )


def exempt_secrets(secrets: Any) -> Iterator[dict[str, Any]]:
    paginator = secrets.get_paginator("list_secrets")
    for page in paginator.paginate(Filters=[{"Key": "tag-key", "Values": [EXEMPT_TAG]}]):
        yield from page.get("SecretList", [])


def value_created_at(secrets: Any, entry: dict[str, Any]) -> datetime:
    """When the secret's current value was put; its own creation when no value was ever put."""
    request: dict[str, Any] = {"SecretId": entry["ARN"]}
    while True:  # botocore has no paginator for this call
        page = secrets.list_secret_version_ids(**request)
        for version in page.get("Versions", []):
            if "AWSCURRENT" in version.get("VersionStages", []) and version.get("CreatedDate"):
                return version["CreatedDate"]
        if not page.get("NextToken"):
            return entry["CreatedDate"]
        request["NextToken"] = page["NextToken"]


def overdue_secrets(secrets: Any, now: datetime) -> list[Overdue]:
    found = []
    for entry in exempt_secrets(secrets):
        tags = {tag["Key"]: tag.get("Value", "") for tag in entry.get("Tags", [])}
        if EXEMPT_TAG not in tags:  # the filter matches tag-key prefixes
            continue
        age_days = int((now - value_created_at(secrets, entry)).total_seconds() // DAY)
        raw_limit = tags.get(MAX_AGE_TAG, "").strip()
        limit = int(raw_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else None
        if limit is None or age_days > limit:
            found.append(Overdue(entry["Name"], entry["ARN"], tags[EXEMPT_TAG] or "no reason given", age_days, limit))
    return found


@dataclass
class Watch:
    secrets: Any
    ledger: DeliveryLedger
    deliver: Deliver
    account_id: str
    region: str
    rule_arn: str
    clock: Callable[[], float] = time.time

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        problem = self._untrusted(event)
        if problem:
            LOGGER.warning("ignored event: %s", problem)
            return {"ignored": problem}
        now = datetime.fromtimestamp(self.clock(), UTC)
        day = now.strftime("%Y-%m-%d")
        reported, failures = [], []
        for overdue in overdue_secrets(self.secrets, now):
            key = f"secret-age#{overdue.arn}#{day}"
            if self.ledger.claim(key) is None:
                continue  # already reported today
            try:
                self.deliver("A secret that cannot rotate is overdue", overdue.text())
            except Exception as error:  # the others still go out; this one is retried with the invocation
                self.ledger.release(key)
                failures.append(f"{overdue.name}: {type(error).__name__}")
                continue
            self.ledger.complete(key)
            reported.append(overdue.name)
        if failures:
            raise RuntimeError(f"could not report {len(failures)} overdue secret(s): {', '.join(failures)}")
        return {"reported": reported}

    def _untrusted(self, event: dict[str, Any]) -> str | None:
        if not isinstance(event, dict):
            return "not an EventBridge event"
        if event.get("source") != "aws.events" or event.get("detail-type") != "Scheduled Event":
            return f"not a scheduled event ({event.get('source')!r}, {event.get('detail-type')!r})"
        if event.get("account") != self.account_id or event.get("region") != self.region:
            return f"from {event.get('account')}/{event.get('region')}, not this stack's account and region"
        if self.rule_arn not in (event.get("resources") or []):
            return "not from this stack's schedule rule"
        return None


def webhook_delivery(secrets: Any, secret_id: str) -> Deliver:
    def deliver(title: str, text: str) -> None:
        url = webhook_url_from_secret(secret_id, secrets)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(title)}*\n{text}"}}]
        post_message(url, {"text": title, "blocks": blocks})

    return deliver


def topic_delivery(sns: Any, topic_arn: str) -> Deliver:
    def deliver(title: str, text: str) -> None:
        sns.publish(TopicArn=topic_arn, Message=chatbot_notification(escape(title), text))

    return deliver


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    secrets = boto3.client("secretsmanager")
    topic_arn = os.environ.get("TOPIC_ARN")
    deliver = (
        topic_delivery(boto3.client("sns"), topic_arn)
        if topic_arn
        else webhook_delivery(secrets, os.environ["WEBHOOK_SECRET_ID"])
    )
    watch = Watch(
        secrets=secrets,
        ledger=DeliveryLedger(
            os.environ["LEDGER_TABLE"], boto3.client("dynamodb"), lease_seconds=invocation_lease(context)
        ),
        deliver=deliver,
        account_id=os.environ["TOOLING_ACCOUNT_ID"],
        region=os.environ["TOOLING_REGION"],
        rule_arn=os.environ["SCHEDULE_RULE_ARN"],
    )
    result = watch.run(event)
    LOGGER.info("%s", result)
    return result
