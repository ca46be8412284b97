"""Block Kit messages: what happened, to what, from which commit, and what the platform did about it."""

from __future__ import annotations

from typing import Any

SECTION_LIMIT = 2900
"""Slack rejects section text over 3000 characters."""
TEXT_LIMIT = 4000
"""Where there is no Block Kit (Chatbot), one readable message; the console links hold the rest."""


def _console(region: str, pipeline: str, execution: str | None = None) -> str:
    base = f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}"
    if execution:
        return f"{base}/executions/{execution}/timeline?region={region}"
    return f"{base}/view?region={region}"


def _clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in pairs if v][:10]}


def _commit_line(commit: dict[str, str] | None) -> str:
    if not commit:
        return ""
    sha = commit.get("id", "")[:10]
    link = f"<{commit['url']}|{sha}>" if commit.get("url") else sha
    return f"{link} {commit.get('message', '')}".strip()


def _message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
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
        f"{header}. {outcome}",
        [
            {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
            _section(f"*What the platform did:* {outcome}"),
            _fields(
                [
                    ("Alarm", alarm),
                    ("Account / region", f"{account} / {region}"),
                    ("Last deployed commit", _commit_line(commit)),
                    ("Pipeline", f"<{_console(region, service_pipeline)}|{service_pipeline}>"),
                ]
            ),
            _section(f"*Why CloudWatch says so:*\n{reason or '(no reason in the event)'}"),
            *[_section(f"*{name}*\n{state_reason}") for name, state_reason in signals[:4]],
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"rollback reporter · {channel_hint}"}]},
        ],
    )


def action_failure_message(
    *,
    pipeline: str,
    stage: str,
    action: str,
    execution: str,
    region: str,
    summary: str,
    commit: dict[str, str] | None,
    log_tail: list[str],
    details_url: str,
) -> dict[str, Any]:
    header = f"{pipeline}: {stage} / {action} failed"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
        _fields(
            [
                ("Commit", _commit_line(commit)),
                ("Execution", f"<{_console(region, pipeline, execution)}|{execution[:8]}>"),
                ("Details", f"<{details_url}|open>" if details_url else ""),
            ]
        ),
    ]
    if summary:
        blocks.append(_section(f"*What failed:* {summary}"))
    if log_tail:
        blocks.append(_section("*End of the build log:*\n```" + _clip("\n".join(log_tail), SECTION_LIMIT - 40) + "```"))
    if stage == "Deploy":
        blocks.append(_section("The Deploy stage rolls back to the last successful execution (on-failure ROLLBACK)."))
    return _message(header, blocks)


def deployment_message(
    *, application: str, group: str, deployment: str, state: str, account: str, region: str
) -> dict[str, Any]:
    verb = "was stopped" if state == "STOP" else "failed"
    header = f"CodeDeploy deployment of {application} {verb}"
    return _message(
        header,
        [
            {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
            _fields(
                [
                    ("Deployment", deployment),
                    ("Group", f"{application}/{group}"),
                    ("Account / region", f"{account} / {region}"),
                ]
            ),
            _section(
                "CodeDeploy rolls the group back to the last good revision on its own "
                "(auto-rollback on failure and on alarm); the pipeline's Deploy stage then rolls back too."
            ),
        ],
    )


def as_text(message: dict[str, Any]) -> tuple[str, str]:
    """A Block Kit message as (title, Slack-markdown description), for AWS Chatbot, which takes no Block Kit."""
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
    description = "\n".join(lines)
    return title, description if len(description) <= TEXT_LIMIT else description[: TEXT_LIMIT - 1] + "…"
