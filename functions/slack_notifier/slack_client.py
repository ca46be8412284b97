"""Post one Slack message, through an incoming webhook or the Web API, retrying what Slack says to retry.

Shared by every function that talks to Slack (the release-news notifier, the
rollback reporter, the approval auditor, the failure digest). Standard library
only. A function that needs it vendors this file next to its ``handler.py`` in its package (see
``components/governance/lambda_function.py``: ``vendored=[SLACK_CLIENT]``) and
imports it as ``import slack_client``.

Two ways in: ``post_message`` to the stack's incoming webhook (one channel, fixed
when the webhook was created; Slack answers a bare ``ok``), and ``post_to_channel``
with a bot token (``chat.postMessage``: any channel the bot is in, and Slack
answers the message's ``ts``, which a reply needs as ``thread_ts``).

Delivery contract: both return only when Slack took the message. A 429
waits for ``Retry-After``, a 5xx or a network error backs off exponentially,
both within a bounded total wait; anything else, or a budget spent, raises
``SlackDeliveryError`` so the caller fails its invocation and the event is
retried by its source or kept in the dead-letter queue — never dropped. A
refusal that says the webhook itself is gone (``GONE_WEBHOOK_STATUSES``) also
drops the URL cached from the secret, and ``post_message_to_secret_webhook``
posts once to the URL an operator has put in its place.

Safety contract: text from a commit, a build log, an alarm, an approval comment
or any event is attacker-controlled. Builders pass it through ``escape`` (or
``code_block`` for log lines) and build their own links with ``link``; every
message ``post_message`` sends, and every Chatbot notification, is then fitted
to Slack's documented limits here, so no message is rejected for its size.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Plain http only for a test server on this machine: a webhook URL is a credential and travels over TLS."""
GONE_WEBHOOK_STATUSES = frozenset({403, 404, 410})
"""How Slack refuses a webhook that no longer posts (Slack changelog, "Improving error conditions for Incoming
Webhooks"; "Sending messages using incoming webhooks", Handling errors): 403 ``action_prohibited``/``invalid_token``,
404 ``channel_not_found``/``no_service`` (the webhook was removed), 410 ``channel_is_archived``. The fix for each is a
new webhook, which an operator stores in the secret: a URL refused so is forgotten and the secret read again."""


class SlackDeliveryError(Exception):
    """Slack did not take the message (rejected it, or kept failing until the retry budget was spent)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status of Slack's refusal; ``None`` when there was none (a spent budget, a bad URL)."""


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
    """POST ``payload`` (Block Kit JSON, fitted to Slack's limits) to the webhook; returns the attempts it took."""
    body = json.dumps(fit_message(payload)).encode("utf-8")
    attempts, _ = _post(webhook_url, body, {"Content-Type": "application/json"}, policy, sleep, timeout_seconds)
    return attempts


@dataclass(frozen=True)
class PostedMessage:
    """Where the Web API put a message: its channel id and ``ts``, the id a reply names as ``thread_ts``."""

    channel: str
    ts: str


SLACK_API_URL = "https://slack.com/api"
RETRYABLE_API_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "service_unavailable", "request_timeout"}
)
"""Web API errors (HTTP 200, ``"ok": false``) worth another attempt; any other error is an answer (a wrong channel,
a revoked token) that a retry would only repeat. ``fatal_error`` is not among them: Slack documents that the
operation may have partly succeeded, and a second attempt could post twice."""


def post_to_channel(
    token: str,
    channel: str,
    payload: Mapping[str, Any],
    *,
    thread_ts: str | None = None,
    api_url: str = SLACK_API_URL,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    timeout_seconds: float = 5.0,
) -> PostedMessage:
    """Post with the Web API's ``chat.postMessage`` as the bot whose token this is; returns where it landed.

    Unlike an incoming webhook, which posts to the one channel it was created for
    and answers a bare ``ok``, the Web API takes a ``channel`` per message and
    answers the message's ``ts``: the only way to learn the id a later reply
    needs as ``thread_ts`` (chat.postMessage reference). Slack answers most errors
    with HTTP 200 and ``"ok": false``; those in ``RETRYABLE_API_ERRORS`` are retried
    like a 5xx, the others raise at once.
    """
    message: dict[str, Any] = {**fit_message(payload), "channel": channel}
    if thread_ts:
        message["thread_ts"] = thread_ts
    headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {token}"}
    url = api_url.rstrip("/") + "/chat.postMessage"

    def answered(raw: bytes) -> str | None:
        try:
            answer = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            return "an answer that is not JSON"
        if not isinstance(answer, dict):
            return "an answer that is not a JSON object"
        if answer.get("ok") is True:
            return None
        error = str(answer.get("error", "unknown_error"))[:100]
        if error in RETRYABLE_API_ERRORS:
            raise _RetryableAnswerError(f"Slack Web API error {error}")
        raise SlackDeliveryError(f"Slack refused the message: {error}")

    _, raw = _post(url, json.dumps(message).encode("utf-8"), headers, policy, sleep, timeout_seconds, answered)
    answer = json.loads(raw.decode("utf-8"))
    return PostedMessage(channel=str(answer.get("channel") or channel), ts=str(answer.get("ts", "")))


class _RetryableAnswerError(Exception):
    """An answer that asks for another attempt (an ``ok: false`` error Slack may not repeat)."""


def _post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    timeout_seconds: float,
    problem_in: Callable[[bytes], str | None] = lambda _raw: None,
) -> tuple[int, bytes]:
    """POST ``body`` until Slack takes it (2xx, and ``problem_in`` finds nothing wrong with the answer), within
    the retry budget; returns the attempts it took and Slack's answer."""
    parsed = urllib.parse.urlparse(url)
    # urlopen also speaks file:// and ftp://; Slack is https (plain http only for a local test server).
    if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.hostname in LOCAL_HOSTS):
        raise SlackDeliveryError("the Slack webhook URL must be an https:// URL")
    waited = 0.0
    problem = "no attempt made"
    for attempt in range(1, policy.attempts + 1):
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310 (scheme checked)
                raw = response.read(ANSWER_LIMIT)
            wrong = problem_in(raw)
            if wrong is None:
                return attempt, raw
            raise SlackDeliveryError(f"Slack answered with {wrong}")
        except _RetryableAnswerError as retryable:
            delay = policy.backoff(attempt)
            problem = str(retryable)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                delay = _retry_after(error.headers.get("Retry-After"), policy.backoff(attempt))
                problem = f"HTTP 429 (Retry-After {delay:g}s)"
            elif error.code >= 500:
                delay = policy.backoff(attempt)
                problem = f"HTTP {error.code}"
            else:
                detail = error.read().decode("utf-8", "replace")[:200]
                if error.code in GONE_WEBHOOK_STATUSES:
                    _forget_webhook_url(url)  # a no-op for the Web API: only webhooks are cached
                raise SlackDeliveryError(
                    f"Slack rejected the message: HTTP {error.code} {detail}", status=error.code
                ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            delay = policy.backoff(attempt)
            problem = f"network error: {error}"
        if attempt == policy.attempts or waited + delay > policy.max_total_wait_seconds:
            break
        sleep(delay)
        waited += delay
    raise SlackDeliveryError(f"Slack did not take the message after {attempt} attempt(s), last: {problem}")


ANSWER_LIMIT = 64 * 1024
"""Slack's answer to a post is a few hundred bytes; reading more would only let a broken peer hold the function."""


_webhook_cache: dict[str, str] = {}


def webhook_url_from_secret(secret_id: str, secrets_client: Any) -> str:
    """The webhook URL stored in Secrets Manager: the plain URL, or JSON ``{"url": ...}``; cached per container.

    An empty value raises (and is not cached), so the event is retried and a warm
    container picks the URL up once an operator has stored it. A cached URL that
    Slack refuses as gone (``GONE_WEBHOOK_STATUSES``) is dropped by
    ``post_message``, so the next read sees the secret as it is now.
    """
    if secret_id not in _webhook_cache:
        value = secrets_client.get_secret_value(SecretId=secret_id).get("SecretString", "").strip()
        if value.startswith("{"):
            value = str(json.loads(value).get("url", "")).strip()
        if not value:
            raise SlackDeliveryError(f"secret {secret_id} holds no Slack webhook URL yet")
        _webhook_cache[secret_id] = value
    return _webhook_cache[secret_id]


def _forget_webhook_url(url: str) -> None:
    for secret_id in [secret_id for secret_id, cached in _webhook_cache.items() if cached == url]:
        del _webhook_cache[secret_id]


def post_message_to_secret_webhook(
    secret_id: str,
    secrets_client: Any,
    payload: Mapping[str, Any],
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """``post_message`` to the webhook in the secret; when Slack refuses that URL as gone and the secret now holds
    another one (an operator replaced the webhook), the message goes to the new URL, once.

    A refusal of a URL the secret still holds is raised as it is: only a person
    can fix it, and the dead-letter queue keeps the message meanwhile.
    """
    url = webhook_url_from_secret(secret_id, secrets_client)
    try:
        return post_message(url, payload, policy=policy, sleep=sleep)
    except SlackDeliveryError as error:
        if error.status not in GONE_WEBHOOK_STATUSES:
            raise
        replacement = webhook_url_from_secret(secret_id, secrets_client)
        if replacement == url:
            raise
        return post_message(replacement, payload, policy=policy, sleep=sleep)


BOT_TOKEN_PREFIX = "xoxb-"  # noqa: S105 (the shape of a bot token, not one)
_bot_token_cache: dict[str, str] = {}


def bot_token_from_secret(secret_id: str, secrets_client: Any) -> str:
    """A Slack bot token (``xoxb-…``) stored in Secrets Manager, plain or JSON ``{"token": ...}``; cached per container.

    Only a bot token: a user token (``xoxp-``) would post as a person. Anything else raises, uncached, like an
    empty webhook secret, so the event is retried once an operator has stored the right value.
    """
    if secret_id not in _bot_token_cache:
        value = secrets_client.get_secret_value(SecretId=secret_id).get("SecretString", "").strip()
        if value.startswith("{"):
            value = str(json.loads(value).get("token", "")).strip()
        if not value.startswith(BOT_TOKEN_PREFIX):
            raise SlackDeliveryError(f"secret {secret_id} holds no Slack bot token (xoxb-...) yet")
        _bot_token_cache[secret_id] = value
    return _bot_token_cache[secret_id]


def forget_bot_token(secret_id: str) -> None:
    """Drop a cached token Slack refused (``invalid_auth`` after a rotation): the next attempt reads the secret."""
    _bot_token_cache.pop(secret_id, None)


def chatbot_notification(title: str, description: str) -> str:
    """An AWS Chatbot custom notification (SNS message body); the webhook notifier renders the same shape.

    Where a stack delivers Slack through Chatbot there is no webhook: functions
    publish this to the release-news topic instead. ``client-markdown`` is Slack's
    own markdown there, so ``*bold*`` and ``<url|label>`` links survive — which is
    why ``title`` and ``description`` must already be safe (``escape``, ``link``):
    Chatbot has no ``verbatim``. Both are clipped (Chatbot's guide names no
    limits: a header's and a message's, as for Block Kit).
    """
    return json.dumps(
        {
            "version": "1.0",
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": clip(title, HEADER_TEXT_LIMIT),
                "description": clip(description, MESSAGE_TEXT_LIMIT),
            },
        }
    )


# --- Attacker text made safe, and Slack's limits ---------------------------------------------------------------

SECTION_TEXT_LIMIT = 3000
"""Block Kit reference, section block: ``text`` at most 3000 characters (the text object's own maximum too)."""
FIELD_TEXT_LIMIT = 2000
"""Section block: each of ``fields`` at most 2000 characters ..."""
FIELDS_LIMIT = 10
"""... and at most 10 fields."""
HEADER_TEXT_LIMIT = 150
"""Header block: a ``plain_text`` of at most 150 characters."""
CONTEXT_ELEMENTS_LIMIT = 10
"""Context block: at most 10 elements (each a text object: at most 3000 characters)."""
BLOCKS_LIMIT = 50
"""Block Kit: at most 50 blocks in one message."""
MESSAGE_TEXT_LIMIT = 4000
"""chat.postMessage, "Truncating content": keep the top-level ``text`` (the fallback) within 4,000 characters."""
ELLIPSIS = "…"
ZERO_WIDTH_SPACE = "\u200b"
BROADCASTS = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
"""Words Slack may turn into a broadcast mention on its own ("automatic parsing") where text is not verbatim."""
BACKTICK_RUN = re.compile(r"`(?=`)")
LINKABLE_URL = re.compile(r"^https://[^/?#\s]+")
URL_SAFE_CHARACTERS = ":/?#[]@!$&'()*+,;=%~-._"
"""Left alone in a URL we link; anything else (``<``, ``>``, ``|``, spaces, quotes) is percent-encoded."""


def escape(text: object) -> str:
    """Untrusted text as literal Slack text: no mention, no link, no special command can come out of it.

    Slack's "Formatting text / Escaping text": ``&``, ``<`` and ``>`` are control
    characters and must be sent as ``&amp;``, ``&lt;`` and ``&gt;`` when not used
    for markup (``<!channel>``, ``<https://…|label>``, ``<@U…>``); nothing else is
    entity-encoded. ``@channel``/``@here``/``@everyone`` also get a zero-width
    space, because where text is not ``verbatim`` (fallback text, Chatbot) Slack
    may parse them as broadcasts. Runs of backticks are broken the way
    ``code_block`` breaks them (a zero-width space between two backticks, and
    outside one at either end, so text placed next to other text forms no run
    either): three backticks would open a code block that swallows the lines
    after it — the platform's own links and explanation — wherever messages
    are joined into one text (Chatbot's description, the fallback).
    """
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = BACKTICK_RUN.sub("`" + ZERO_WIDTH_SPACE, BROADCASTS.sub("@" + ZERO_WIDTH_SPACE + r"\1", escaped))
    if escaped.startswith("`"):
        escaped = ZERO_WIDTH_SPACE + escaped
    if escaped.endswith("`"):
        escaped += ZERO_WIDTH_SPACE
    return escaped


def code_block(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """Untrusted lines (a build log) as one code block of at most ``limit`` characters, keeping their end.

    A run of backticks inside would close the block and let the rest be read as
    markup: ``escape`` puts a zero-width space between backticks, and one goes
    between the block's own fences and a backtick at either end of what is left
    after clipping, which keeps it literal.
    """
    body = clip_start(escape(text), limit - 8)
    if body.startswith("`"):
        body = ZERO_WIDTH_SPACE + body
    if body.endswith("`"):
        body += ZERO_WIDTH_SPACE
    return "```" + body + "```"


def link(url: str, label: str) -> str:
    """A link the platform builds (a console page, the commit on GitHub): ``<url|label>``, the label escaped.

    Only ``https://`` URLs become links; characters that would end Slack's link
    markup early (``>``, ``|``, spaces) are percent-encoded. Anything else is
    shown as its escaped label, without a link.
    """
    if not LINKABLE_URL.match(url):
        return escape(label)
    return f"<{urllib.parse.quote(url, safe=URL_SAFE_CHARACTERS)}|{escape(label)}>"


def clip(text: str, limit: int) -> str:
    """Formatted text cut to ``limit`` characters, keeping its start; never inside an entity or a link."""
    if len(text) <= limit:
        return text
    cut = limit - len(ELLIPSIS)
    cut = _before_open_markup(text, cut)
    return text[:cut] + ELLIPSIS


def clip_start(text: str, limit: int) -> str:
    """Formatted text cut to ``limit`` characters, keeping its end (the end of a log is where it failed)."""
    if len(text) <= limit:
        return text
    start = len(text) - (limit - len(ELLIPSIS))
    entity = text.rfind("&", max(0, start - 8), start)
    if entity != -1 and start <= text.find(";", entity) < start + 8:
        start = text.find(";", entity) + 1
    return ELLIPSIS + text[start:]


def _before_open_markup(text: str, cut: int) -> int:
    """Move a cut back before an entity (``&amp;``) or a ``<…>`` it would split."""
    entity = text.rfind("&", max(0, cut - 8), cut)
    if entity != -1 and text.find(";", entity) >= cut:
        cut = entity
    opening = text.rfind("<", 0, cut)
    if opening != -1 and text.rfind(">", opening, cut) == -1:
        cut = opening
    return cut


def fit_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A Block Kit message within Slack's documented limits, its ``mrkdwn`` sent ``verbatim``.

    Every text is clipped to its block's limit and every list to its count, so
    Slack never rejects a report for its size. ``verbatim`` stops Slack from
    turning plain text into links or mentions on its own (Block Kit reference,
    text object); the ``<url|label>`` links the platform builds still work.
    """
    fitted = dict(message)
    if "text" in fitted:
        fitted["text"] = clip(str(fitted["text"]), MESSAGE_TEXT_LIMIT)
    blocks = [_fit_block(block) for block in message.get("blocks", [])]
    if len(blocks) > BLOCKS_LIMIT:
        hidden = len(blocks) - (BLOCKS_LIMIT - 1)
        note = {"type": "mrkdwn", "text": f"{ELLIPSIS} {hidden} more block(s) not shown"}
        blocks = [*blocks[: BLOCKS_LIMIT - 1], {"type": "context", "elements": [_fit_text(note, SECTION_TEXT_LIMIT)]}]
    if "blocks" in fitted:
        fitted["blocks"] = blocks
    return fitted


def _fit_block(block: Mapping[str, Any]) -> dict[str, Any]:
    fitted = dict(block)
    kind = block.get("type")
    if kind == "header" and isinstance(block.get("text"), Mapping):
        fitted["text"] = _fit_text(block["text"], HEADER_TEXT_LIMIT)
    elif kind == "section":
        if isinstance(block.get("text"), Mapping):
            fitted["text"] = _fit_text(block["text"], SECTION_TEXT_LIMIT)
        if isinstance(block.get("fields"), list):
            fitted["fields"] = [_fit_text(field, FIELD_TEXT_LIMIT) for field in block["fields"][:FIELDS_LIMIT]]
    elif kind == "context" and isinstance(block.get("elements"), list):
        fitted["elements"] = [
            _fit_text(element, SECTION_TEXT_LIMIT) if element.get("type") in ("mrkdwn", "plain_text") else element
            for element in block["elements"][:CONTEXT_ELEMENTS_LIMIT]
        ]
    return fitted


def _fit_text(text_object: Mapping[str, Any], limit: int) -> dict[str, Any]:
    fitted = {**text_object, "text": clip(str(text_object.get("text", "")), limit)}
    if fitted.get("type") == "mrkdwn":
        fitted.setdefault("verbatim", True)
    return fitted
