"""Where a digest goes: the owning team's channel when the stack can reach it, the stack's channel otherwise.

How far "the team's channel" reaches depends on how the stack delivers Slack:

- **Bot token** (``slackBotTokenSecretName``): the Web API posts to any channel
  the bot was invited to, so a team listed in ``failureDigest.teamChannels`` gets
  its digests in its own channel, every other team in the stack's
  (``slackChannelId``). The Web API answers each message's ``ts``; release news
  keeps the one of each execution's first message in the ledger
  (``news_thread_key``), and the digest replies in that thread when it goes to
  the same channel (a thread lives in one channel: a digest in a team's channel
  cannot reply under release news in the stack's).
- **Incoming webhook** (the default): a webhook posts to the one channel it was
  created for and answers a bare ``ok``, never a ``ts``; so every digest goes to
  the stack's channel, unthreaded, naming the owning team. Per-team webhooks
  would be per-team secrets the function must read: the bot token is the one
  credential that reaches every channel it is invited to.
- **AWS Chatbot**: a channel per Chatbot configuration, fed by the release-news
  topic; the digest is published there as a custom notification (no Block Kit,
  no threads), for the stack's channel.

A failure to reach Slack raises: the invocation fails, Lambda retries it, and
after the retries the event waits in the dead-letter queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from delivery_ledger import DeliveryLedger, news_thread_key
from slack_client import (
    SLACK_API_URL,
    RetryPolicy,
    SlackDeliveryError,
    bot_token_from_secret,
    chatbot_notification,
    forget_bot_token,
    post_message,
    post_to_channel,
    webhook_url_from_secret,
)

try:  # a package in tests, top-level modules in Lambda
    from . import messages
except ImportError:  # pragma: no cover - the Lambda runtime path
    import messages  # type: ignore[no-redef]

TOKEN_ERRORS = ("invalid_auth", "token_revoked", "token_expired", "account_inactive", "not_authed")
"""Web API answers that mean the stored token is stale: it is read again on the next attempt (after a rotation)."""


class Delivery(Protocol):
    def deliver(self, message: dict[str, Any], *, owner: str, pipeline: str, execution: str) -> str:
        """Post ``message``; returns where it went; raises when Slack did not take it."""


@dataclass
class BotDelivery:
    secrets: Any
    secret_id: str
    stack_channel: str
    team_channels: Mapping[str, str]
    ledger: DeliveryLedger
    api_url: str = SLACK_API_URL
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep

    def deliver(self, message: dict[str, Any], *, owner: str, pipeline: str, execution: str) -> str:
        channel = self.team_channels.get(owner, self.stack_channel)
        news = self.ledger.recall(news_thread_key(pipeline, execution))
        thread_ts = news.get("ts") if news.get("channel") == channel else None
        token = bot_token_from_secret(self.secret_id, self.secrets)
        try:
            posted = post_to_channel(
                token, channel, message, thread_ts=thread_ts, api_url=self.api_url, policy=self.policy, sleep=self.sleep
            )
        except SlackDeliveryError as error:
            if any(code in str(error) for code in TOKEN_ERRORS):
                forget_bot_token(self.secret_id)
            raise
        return f"{posted.channel} {posted.ts}" + (f" in thread {thread_ts}" if thread_ts else "")


@dataclass
class WebhookDelivery:
    secrets: Any
    secret_id: str
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep

    def deliver(self, message: dict[str, Any], *, owner: str, pipeline: str, execution: str) -> str:
        post_message(
            webhook_url_from_secret(self.secret_id, self.secrets), message, policy=self.policy, sleep=self.sleep
        )
        return "the stack's webhook channel"


@dataclass
class TopicDelivery:
    sns: Any
    topic_arn: str

    def deliver(self, message: dict[str, Any], *, owner: str, pipeline: str, execution: str) -> str:
        title, description = messages.as_text(message)
        self.sns.publish(TopicArn=self.topic_arn, Message=chatbot_notification(title, description))
        return "the release-news topic (AWS Chatbot)"
