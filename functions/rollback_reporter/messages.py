"""Block Kit messages: what happened, to what, from which commit, and what the platform did about it.

Almost everything a report quotes was written by someone else: the commit
message, the alarm's name and reason, CodeDeploy's names, the
error AWS returned. All of it goes through the vendored ``slack_client``
(``escape``, ``code_block``); only the console and commit links built here are
links. ``post_message`` (webhook) and ``chatbot_notification`` (Chatbot) fit the
result to Slack's limits.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from slack_client import MESSAGE_TEXT_LIMIT, SECTION_TEXT_LIMIT, clip, escape, link

TEXT_LIMIT = MESSAGE_TEXT_LIMIT
"""Where there is no Block Kit (Chatbot), one readable message; the console links hold the rest."""
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def _console(region: str, pipeline: str, execution: str | None = None) -> str:
    """The pipeline's (or execution's) console page; empty when ``region`` is not a region name (it picks the host)."""
    if not REGION.match(region):
        return ""
    base = f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{quote(pipeline, safe='')}"
    if execution:
        return f"{base}/executions/{quote(execution, safe='')}/timeline?region={region}"
    return f"{base}/view?region={region}"


def _link_or_text(url: str, label: str) -> str:
    return link(url, label) if url else escape(label)


def _section(text: str) -> dict[str, Any]:
    """``text`` is Slack markdown already made safe."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_TEXT_LIMIT)}}


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``(name, value)`` pairs, the values already made safe; empty values are left out."""
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in pairs if v][:10]}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": escape(text)}}


def _commit_line(commit: dict[str, str] | None) -> str:
    if not commit:
        return ""
    sha = commit.get("id", "")[:10]
    revision = link(commit["url"], sha) if commit.get("url") else escape(sha)
    return f"{revision} {escape(commit.get('message', ''))}".strip()


def _message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """``text`` (the notification fallback) is already made safe."""
    return {"text": text, "blocks": blocks}


def alarm_message(
    *,
    alarm: str,
    service_pipeline: str,
    reason: str,
    signals: list[tuple[str, str]],
    account: str,
    region: str,
    outcome: str,
    commit: dict[str, str] | None,
    channel_hint: str,
) -> dict[str, Any]:
    header = f"{service_pipeline}: health alarm {alarm} is in ALARM"
    return _message(
        f"{escape(header)}. {escape(outcome)}",
        [
            _header(header),
            _section(f"*What the platform did:* {escape(outcome)}"),
            _fields(
                [
                    ("Alarm", escape(alarm)),
                    ("Account / region", escape(f"{account} / {region}")),
                    ("Last deployed commit", _commit_line(commit)),
                    ("Pipeline", _link_or_text(_console(region, service_pipeline), service_pipeline)),
                ]
            ),
            _section(f"*Why CloudWatch says so:*\n{escape(reason or '(no reason in the event)')}"),
            *[_section(f"*{escape(name)}*\n{escape(state_reason)}") for name, state_reason in signals[:4]],
            _context(f"rollback reporter · {escape(channel_hint)}"),
        ],
    )


def deployment_message(
    *, application: str, group: str, deployment: str, state: str, account: str, region: str
) -> dict[str, Any]:
    verb = "was stopped" if state == "STOP" else "failed"
    header = f"CodeDeploy deployment of {application} {verb}"
    return _message(
        escape(header),
        [
            _header(header),
            _fields(
                [
                    ("Deployment", escape(deployment)),
                    ("Group", escape(f"{application}/{group}")),
                    ("Account / region", escape(f"{account} / {region}")),
                ]
            ),
            _section(
                "CodeDeploy rolls the group back to the last good revision on its own "
                "(auto-rollback on failure and on alarm); the pipeline's Deploy stage then rolls back too."
            ),
        ],
    )


def as_text(message: dict[str, Any]) -> tuple[str, str]:
    """A Block Kit message as (title, Slack-markdown description), for AWS Chatbot, which takes no Block Kit.

    The blocks' text is already safe for Slack markdown (the header too: it is
    escaped like the rest), so it is passed on as it is, clipped.
    """
    title, lines = message.get("text", ""), []
    for block in message.get("blocks", []):
        if block["type"] == "header":
            title = block["text"]["text"]
        elif block["type"] == "section" and "text" in block:
            lines.append(block["text"]["text"])
        elif block["type"] == "section":
            # A field is "*Name*\nvalue": one line each.
            lines.extend(field["text"].replace("\n", ": ", 1) for field in block.get("fields", []))
        elif block["type"] == "context":
            lines.extend(element["text"] for element in block.get("elements", []))
    return title, clip("\n".join(lines), TEXT_LIMIT)
