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

Each message posts once: its key is claimed in the delivery ledger before
posting, and the claim is released when Slack cannot be reached, so the Lambda
retry or the dead-letter queue keeps the message. The key is what the message
is, not how it travelled (``delivery_key``): an EventBridge event that reaches
the topic twice arrives as two SNS messages with two ``MessageId``s but one
event ``id``. The claim lasts as long as this invocation (``invocation_lease``),
so Lambda's retry after a timeout posts instead of taking itself for a duplicate.

Text from events and approvals (pipeline names, the approval's custom data,
unknown messages) is escaped for Slack; only links the notifier builds are
links. A custom notification is already Slack markdown (its publisher escaped
what it quotes, see ``slack_client.chatbot_notification``) and is rendered as
AWS Chatbot would render it.

With a bot token (the stack's ``slackBotTokenSecretName``) the notifier posts
through the Web API (``chat.postMessage``) to the stack's channel instead of the
webhook, and keeps the ``ts`` of each execution's first message in the ledger
(``news_thread_key``): the failure digest of that execution replies in its
thread. An incoming webhook answers no ``ts``, so without a bot token there is
no thread to reply to.

Environment: ``WEBHOOK_SECRET_ID`` (Secrets Manager secret with the webhook URL)
or ``BOT_TOKEN_SECRET_ID`` and ``SLACK_CHANNEL_ID`` (the bot token's secret and
the stack's channel), ``LEDGER_TABLE`` (DynamoDB table name).
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
from urllib.parse import quote

import boto3
from delivery_ledger import DeliveryLedger, invocation_lease, news_thread_key
from slack_client import (
    SLACK_API_URL,
    RetryPolicy,
    bot_token_from_secret,
    clip,
    escape,
    link,
    post_message,
    post_to_channel,
    webhook_url_from_secret,
)

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
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
FALLBACK_LIMIT = 300
"""A notification preview, not the message: Slack shows the blocks."""
MAX_KEY_PART = 256
"""An event id or approval token longer than this is not one AWS wrote: the SNS MessageId keys the message instead."""


def execution_link(region: str, pipeline: str, execution_id: str) -> str:
    """The execution's console page; empty when the region is not a region name (it would choose the host)."""
    if not REGION.match(region):
        return ""
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{quote(pipeline, safe='')}"
        f"/executions/{quote(execution_id, safe='')}/timeline?region={region}"
    )


def delivery_key(sns: Mapping[str, Any]) -> str:
    """What makes two SNS messages the same news, from the documented message shapes.

    - An EventBridge event (the rule's target is the topic, so the message is the
      event): its own ``id``, the same however often it reaches the topic.
    - A CodePipeline approval notification ("JSON data format for manual approval
      notifications"; CodePipeline publishes it itself, no event id): its
      ``token``, unique to the approval action's execution.
    - Anything else: the SNS ``MessageId`` (an SNS redelivery keeps it).
    """
    body = _json_object(sns.get("Message", ""))
    event_id = body.get("id")
    if body.get("detail-type") and body.get("source") and _usable(event_id):
        return f"slack#event#{event_id}"
    token = (body.get("approval") or {}).get("token") if isinstance(body.get("approval"), dict) else None
    if _usable(token):
        return f"slack#approval#{token}"
    return f"slack#message#{sns['MessageId']}"


def _usable(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_KEY_PART


def _json_object(raw: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


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
    """``text`` is Slack markdown already made safe; ``post_message`` clips it to Slack's limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _message(fallback: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """``fallback`` (the notification text) is Slack markdown already made safe, kept short."""
    return {"text": clip(fallback, FALLBACK_LIMIT), "blocks": blocks}


def approval_message(notification: Mapping[str, Any]) -> dict[str, Any]:
    approval = notification["approval"]
    region = str(notification.get("region", ""))
    pipeline = str(approval.get("pipelineName", "?"))
    fields = custom_data_fields(str(approval.get("customData") or ""))
    service, _, environment = pipeline.rpartition("-")
    links = []
    commit, repository = fields.get("commit", ""), fields.get("repository", "")
    if HEX_ID.match(commit) and REPOSITORY.match(repository):
        links.append(link(f"https://github.com/{repository}/tree/{commit}", f"commit {commit[:7]}"))
    if approval.get("externalEntityLink"):
        links.append(link(str(approval["externalEntityLink"]), "diff"))
    execution = fields.get("execution", "")
    if EXECUTION_ID.match(execution) and execution_link(region, pipeline, execution):
        links.append(link(execution_link(region, pipeline, execution), "execution"))
    if approval.get("approvalReviewLink"):
        links.append(link(str(approval["approvalReviewLink"]), "approve or reject"))
    title = f":raised_hand: Approval needed: *{escape(service or pipeline)}* → *{escape(environment)}*"
    details = [
        f"*Service:* {escape(service or pipeline)}",
        f"*Environment:* {escape(environment)}",
        f"*Owner:* {escape(fields.get('owner', '?'))}",
        f"*Expires:* {escape(approval.get('expires', '?'))}",
    ]
    blocks = [
        _section(title),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in details]},
    ]
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    return _message(f"Approval needed: {escape(pipeline)}", blocks)


def pipeline_state_message(event: Mapping[str, Any]) -> dict[str, Any]:
    detail = event.get("detail", {})
    pipeline, state = str(detail.get("pipeline", "?")), str(detail.get("state", "?"))
    execution, region = str(detail.get("execution-id", "")), str(event.get("region", ""))
    text = f"{STATE_EMOJI.get(state, ':information_source:')} *{escape(pipeline)}* {escape(state.lower())}"
    if execution and execution_link(region, pipeline, execution):
        text += f" · {link(execution_link(region, pipeline, execution), f'execution {execution[:8]}')}"
    return _message(f"{escape(pipeline)} {escape(state.lower())}", [_section(text)])


def action_state_message(event: Mapping[str, Any]) -> dict[str, Any]:
    detail = event.get("detail", {})
    pipeline, stage, action = (str(detail.get(name, "?")) for name in ("pipeline", "stage", "action"))
    state, execution = str(detail.get("state", "?")), str(detail.get("execution-id", ""))
    region = str(event.get("region", ""))
    what = f"{escape(stage)}/{escape(action)} {escape(state.lower())}"
    text = f":information_source: *{escape(pipeline)}* {what}"
    if execution and execution_link(region, pipeline, execution):
        text += f" · {link(execution_link(region, pipeline, execution), f'execution {execution[:8]}')}"
    return _message(f"{escape(pipeline)} {what}", [_section(text)])


def custom_message(notification: Mapping[str, Any]) -> dict[str, Any]:
    """A Chatbot custom notification, already Slack markdown: shown as Chatbot would show it."""
    content = notification.get("content", {})
    title = str(content.get("title") or "Notification")
    description = str(content.get("description") or "")
    return _message(title, [_section(f"*{title}*"), _section(description)] if description else [_section(title)])


def plain_message(subject: str | None, message: str) -> dict[str, Any]:
    """Whatever else reached the topic, as literal text."""
    text = f"*{escape(subject)}*\n{escape(message)}" if subject else escape(message)
    return _message(escape(subject or message), [_section(text or "(empty message)")])


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


@dataclass(frozen=True)
class BotChannel:
    """The Web API way in: a bot token and the stack's channel id."""

    token: str
    channel: str
    api_url: str = SLACK_API_URL


def execution_of(sns: Mapping[str, Any]) -> tuple[str, str] | None:
    """(pipeline, execution id) of a pipeline execution state change, the news a failure digest replies under."""
    body = _json_object(sns.get("Message", ""))
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
    pipeline, execution = detail.get("pipeline"), detail.get("execution-id")
    if body.get("detail-type") != PIPELINE_STATE_CHANGE or not (_usable(pipeline) and _usable(execution)):
        return None
    return str(pipeline), str(execution)


@dataclass
class Notifier:
    ledger: DeliveryLedger
    webhook_url: str = ""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    bot: BotChannel | None = None
    """When set, post through the Web API and keep each execution's first message for its replies."""

    def deliver(self, sns: Mapping[str, Any]) -> str:
        """Post one SNS message once; returns ``posted`` or ``duplicate``; raises when Slack cannot take it."""
        key = delivery_key(sns)
        if not self.ledger.claim(key):
            LOG.info("message %s (%s) was already posted (or is being posted); skipping", sns["MessageId"], key)
            return "duplicate"
        try:
            if self.bot is None:
                post_message(self.webhook_url, render(sns), policy=self.retry, sleep=self.sleep)
            else:
                bot = self.bot
                posted = post_to_channel(
                    bot.token, bot.channel, render(sns), api_url=bot.api_url, policy=self.retry, sleep=self.sleep
                )
                execution = execution_of(sns)
                if execution is not None and posted.ts:
                    # The first message of an execution (usually STARTED) is the one its digest replies under.
                    self.ledger.remember(news_thread_key(*execution), channel=posted.channel, ts=posted.ts)
        except Exception:
            self.ledger.release(key)
            raise
        self.ledger.complete(key)
        return "posted"


def notifier_from_environment(context: Any = None, *, clock: Callable[[], float] = time.time) -> Notifier:
    """The notifier for one invocation: its claims last as long as the invocation (``context``) may run."""
    ledger = DeliveryLedger(
        os.environ["LEDGER_TABLE"], boto3.client("dynamodb"), lease_seconds=invocation_lease(context), clock=clock
    )
    secrets = boto3.client("secretsmanager")
    if os.environ.get("BOT_TOKEN_SECRET_ID"):
        token = bot_token_from_secret(os.environ["BOT_TOKEN_SECRET_ID"], secrets)
        channel = BotChannel(token, os.environ["SLACK_CHANNEL_ID"], os.environ.get("SLACK_API_URL", SLACK_API_URL))
        return Notifier(ledger=ledger, bot=channel)
    url = webhook_url_from_secret(os.environ["WEBHOOK_SECRET_ID"], secrets)
    return Notifier(ledger=ledger, webhook_url=url)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[str]]:
    notifier = notifier_from_environment(context)
    return {"results": [notifier.deliver(record["Sns"]) for record in event.get("Records", [])]}
