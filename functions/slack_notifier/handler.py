"""Release news to Slack: SNS messages from the release-news topic become Block Kit posts.

Subscribed to the stack's encrypted release-news topic when the stack has no
AWS Chatbot workspace configured. It understands what the topic carries:

- CodePipeline manual-approval requests (``approval``: service, environment,
  commit, diff, review and execution links);
- EventBridge ``CodePipeline Pipeline Execution State Change`` events (started,
  succeeded, failed, ...), sent by the fleet-wide rule;
- Chatbot-style custom notifications (``"source": "custom"``), e.g. the approval
  auditor's alerts;
- anything else as plain text, so nothing published to the topic is dropped.

Each SNS message posts once: its ``MessageId`` is claimed in the delivery ledger
before posting, and the claim is released when Slack cannot be reached, so the
Lambda retry or the dead-letter queue keeps the message.

Environment: ``WEBHOOK_SECRET_ID`` (Secrets Manager secret with the webhook URL),
``LEDGER_TABLE`` (DynamoDB table name).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from delivery_ledger import DeliveryLedger
from slack_client import RetryPolicy, post_message, webhook_url_from_secret

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

PIPELINE_STATE_CHANGE = "CodePipeline Pipeline Execution State Change"
ACTION_STATE_CHANGE = "CodePipeline Action Execution State Change"
STATE_EMOJI = {
    "STARTED": ":arrow_forward:",
    "SUCCEEDED": ":white_check_mark:",
    "FAILED": ":x:",
    "STOPPED": ":octagonal_sign:",
    "SUPERSEDED": ":fast_forward:",
    "CANCELED": ":heavy_minus_sign:",
}
HEX_ID = re.compile(r"^[0-9a-f]{7,40}$")
EXECUTION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def execution_link(region: str, pipeline: str, execution_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}"
        f"/executions/{execution_id}/timeline?region={region}"
    )


def custom_data_fields(custom_data: str) -> dict[str, str]:
    """``Release a to prod | owner: x | commit: abc`` → ``{"title": "Release a to prod", "owner": "x", ...}``."""
    parts = [part.strip() for part in custom_data.split(" | ")]
    fields = {"title": parts[0]} if parts else {}
    for part in parts[1:]:
        key, separator, value = part.partition(": ")
        if separator:
            fields[key.strip()] = value.strip()
    return fields


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _message(fallback: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text": fallback[:300], "blocks": blocks}


def approval_message(notification: Mapping[str, Any]) -> dict[str, Any]:
    approval = notification["approval"]
    region = notification.get("region", "")
    pipeline = approval.get("pipelineName", "?")
    fields = custom_data_fields(approval.get("customData") or "")
    service, _, environment = pipeline.rpartition("-")
    links = []
    commit, repository = fields.get("commit", ""), fields.get("repository", "")
    if HEX_ID.match(commit) and repository:
        links.append(f"<https://github.com/{repository}/tree/{commit}|commit {commit[:7]}>")
    if approval.get("externalEntityLink"):
        links.append(f"<{approval['externalEntityLink']}|diff>")
    execution = fields.get("execution", "")
    if EXECUTION_ID.match(execution) and region:
        links.append(f"<{execution_link(region, pipeline, execution)}|execution>")
    if approval.get("approvalReviewLink"):
        links.append(f"<{approval['approvalReviewLink']}|approve or reject>")
    title = f":raised_hand: Approval needed: *{service or pipeline}* → *{environment}*"
    details = [
        f"*Service:* {service or pipeline}",
        f"*Environment:* {environment}",
        f"*Owner:* {fields.get('owner', '?')}",
        f"*Expires:* {approval.get('expires', '?')}",
    ]
    blocks = [
        _section(title),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in details]},
    ]
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    return _message(f"Approval needed: {pipeline}", blocks)


def pipeline_state_message(event: Mapping[str, Any]) -> dict[str, Any]:
    detail = event.get("detail", {})
    pipeline, state = detail.get("pipeline", "?"), detail.get("state", "?")
    execution, region = detail.get("execution-id", ""), event.get("region", "")
    text = f"{STATE_EMOJI.get(state, ':information_source:')} *{pipeline}* {state.lower()}"
    if execution and region:
        text += f" · <{execution_link(region, pipeline, execution)}|execution {execution[:8]}>"
    return _message(f"{pipeline} {state.lower()}", [_section(text)])


def action_state_message(event: Mapping[str, Any]) -> dict[str, Any]:
    detail = event.get("detail", {})
    pipeline, stage, action = detail.get("pipeline", "?"), detail.get("stage", "?"), detail.get("action", "?")
    state, execution, region = detail.get("state", "?"), detail.get("execution-id", ""), event.get("region", "")
    text = f":information_source: *{pipeline}* {stage}/{action} {state.lower()}"
    if execution and region:
        text += f" · <{execution_link(region, pipeline, execution)}|execution {execution[:8]}>"
    return _message(f"{pipeline} {stage}/{action} {state.lower()}", [_section(text)])


def custom_message(notification: Mapping[str, Any]) -> dict[str, Any]:
    content = notification.get("content", {})
    title, description = content.get("title", "Notification"), content.get("description", "")
    return _message(title, [_section(f"*{title}*"), _section(description)] if description else [_section(title)])


def plain_message(subject: str | None, message: str) -> dict[str, Any]:
    text = f"*{subject}*\n{message}" if subject else message
    return _message(subject or message, [_section(text)])


def render(sns: Mapping[str, Any]) -> dict[str, Any]:
    """The Slack message for one SNS notification; unknown shapes become plain text, never an error."""
    raw = sns.get("Message", "")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("approval"), dict):
            return approval_message(body)
        if body.get("detail-type") == PIPELINE_STATE_CHANGE:
            return pipeline_state_message(body)
        if body.get("detail-type") == ACTION_STATE_CHANGE:
            return action_state_message(body)
        if body.get("source") == "custom" and isinstance(body.get("content"), dict):
            return custom_message(body)
    return plain_message(sns.get("Subject"), raw)


@dataclass
class Notifier:
    ledger: DeliveryLedger
    webhook_url: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep

    def deliver(self, sns: Mapping[str, Any]) -> str:
        """Post one SNS message once; returns ``posted`` or ``duplicate``; raises when Slack cannot take it."""
        key = f"slack#{sns['MessageId']}"
        if not self.ledger.claim(key):
            LOG.info("message %s was already posted (or is being posted); skipping", sns["MessageId"])
            return "duplicate"
        try:
            post_message(self.webhook_url, render(sns), policy=self.retry, sleep=self.sleep)
        except Exception:
            self.ledger.release(key)
            raise
        self.ledger.complete(key)
        return "posted"


def notifier_from_environment() -> Notifier:
    ledger = DeliveryLedger(os.environ["LEDGER_TABLE"], boto3.client("dynamodb"))
    url = webhook_url_from_secret(os.environ["WEBHOOK_SECRET_ID"], boto3.client("secretsmanager"))
    return Notifier(ledger=ledger, webhook_url=url)


def handler(event: Mapping[str, Any], _context: Any) -> dict[str, list[str]]:
    notifier = notifier_from_environment()
    return {"results": [notifier.deliver(record["Sns"]) for record in event.get("Records", [])]}
