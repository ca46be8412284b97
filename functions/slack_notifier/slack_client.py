"""Post one Slack message through an incoming webhook, retrying what Slack says to retry.

Shared by every function that talks to Slack (the release-news notifier, the
rollback reporter). Standard library only. A function that needs it vendors this
file next to its ``handler.py`` in its package (see
``components/governance/lambda_function.py``: ``vendored=[SLACK_CLIENT]``) and
imports it as ``import slack_client``.

Delivery contract: ``post_message`` returns only when Slack answered 2xx. A 429
waits for ``Retry-After``, a 5xx or a network error backs off exponentially,
both within a bounded total wait; anything else, or a budget spent, raises
``SlackDeliveryError`` so the caller fails its invocation and the event is
retried by its source or kept in the dead-letter queue — never dropped.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Plain http only for a test server on this machine: a webhook URL is a credential and travels over TLS."""


class SlackDeliveryError(Exception):
    """Slack did not take the message (rejected it, or kept failing until the retry budget was spent)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0
    max_total_wait_seconds: float = 20.0
    """Stays well inside the function timeout; past it, the invocation fails and is retried later."""

    def backoff(self, attempt: int) -> float:
        return min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1))


def _retry_after(header: str | None, fallback: float) -> float:
    try:
        return max(0.0, float(header)) if header is not None else fallback
    except ValueError:
        return fallback


def post_message(
    webhook_url: str,
    payload: Mapping[str, Any],
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    timeout_seconds: float = 5.0,
) -> int:
    """POST ``payload`` (Block Kit JSON) to the webhook; returns the number of attempts it took."""
    parsed = urllib.parse.urlparse(webhook_url)
    # urlopen also speaks file:// and ftp://; a webhook is https (plain http only for a local test server).
    if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.hostname in LOCAL_HOSTS):
        raise SlackDeliveryError("the Slack webhook URL must be an https:// URL")
    body = json.dumps(payload).encode("utf-8")
    waited = 0.0
    problem = "no attempt made"
    for attempt in range(1, policy.attempts + 1):
        request = urllib.request.Request(  # noqa: S310 (https only, checked above)
            webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds):  # noqa: S310 (scheme checked above)
                return attempt
        except urllib.error.HTTPError as error:
            if error.code == 429:
                delay = _retry_after(error.headers.get("Retry-After"), policy.backoff(attempt))
                problem = f"HTTP 429 (Retry-After {delay:g}s)"
            elif error.code >= 500:
                delay = policy.backoff(attempt)
                problem = f"HTTP {error.code}"
            else:
                detail = error.read().decode("utf-8", "replace")[:200]
                raise SlackDeliveryError(f"Slack rejected the message: HTTP {error.code} {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            delay = policy.backoff(attempt)
            problem = f"network error: {error}"
        if attempt == policy.attempts or waited + delay > policy.max_total_wait_seconds:
            break
        sleep(delay)
        waited += delay
    raise SlackDeliveryError(f"Slack did not take the message after {attempt} attempt(s), last: {problem}")


_webhook_cache: dict[str, str] = {}


def webhook_url_from_secret(secret_id: str, secrets_client: Any) -> str:
    """The webhook URL stored in Secrets Manager: the plain URL, or JSON ``{"url": ...}``; cached per container.

    An empty value raises (and is not cached), so the event is retried and a warm
    container picks the URL up once an operator has stored it.
    """
    if secret_id not in _webhook_cache:
        value = secrets_client.get_secret_value(SecretId=secret_id).get("SecretString", "").strip()
        if value.startswith("{"):
            value = str(json.loads(value).get("url", "")).strip()
        if not value:
            raise SlackDeliveryError(f"secret {secret_id} holds no Slack webhook URL yet")
        _webhook_cache[secret_id] = value
    return _webhook_cache[secret_id]


def chatbot_notification(title: str, description: str) -> str:
    """An AWS Chatbot custom notification (SNS message body); the webhook notifier renders the same shape.

    Where a stack delivers Slack through Chatbot there is no webhook: functions
    publish this to the release-news topic instead. ``client-markdown`` is Slack's
    own markdown there, so ``*bold*`` and ``<url|label>`` links survive.
    """
    return json.dumps(
        {
            "version": "1.0",
            "source": "custom",
            "content": {"textType": "client-markdown", "title": title, "description": description},
        }
    )
