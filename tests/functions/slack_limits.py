"""What Slack accepts and what an attacker must not get out of it, checked on the JSON that was sent.

The limits are Slack's documented ones (Block Kit reference: blocks, section,
header, context and text object; chat.postMessage, "Truncating content"),
written out here rather than imported from the code under test.
"""

from __future__ import annotations

import re
from typing import Any

LIVE_MARKUP = re.compile(r"<[^<>]*>")
OUR_LINK = re.compile(
    r"^<https://(github\.com|[a-z0-9-]+\.console\.aws\.amazon\.com|console\.aws\.amazon\.com)/[^\s|<>]*\|[^<>]*>$"
)
BARE_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def assert_within_slack_limits(message: dict[str, Any]) -> None:
    assert len(message.get("text", "")) <= 4000, "top-level text over 4,000 characters"
    blocks = message.get("blocks", [])
    assert len(blocks) <= 50, f"{len(blocks)} blocks"
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= 150, "header text"
        elif block["type"] == "section":
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000, "section text"
            fields = block.get("fields", [])
            assert len(fields) <= 10, "more than 10 fields"
            assert all(1 <= len(field["text"]) <= 2000 for field in fields), "a field over 2000 characters"
        elif block["type"] == "context":
            assert len(block["elements"]) <= 10, "more than 10 context elements"
            assert all(1 <= len(element["text"]) <= 3000 for element in block["elements"] if "text" in element)


def mrkdwn_texts(message: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return found


def assert_inert(message: dict[str, Any] | str) -> None:
    """No mention, special command or foreign link can fire; Block Kit text is sent verbatim (no auto-linking).

    ``message``: a Block Kit message as sent, or Slack markdown (a Chatbot notification's title or description).
    """
    if isinstance(message, dict):
        assert all(node.get("verbatim") is True for node in mrkdwn_texts(message)), "mrkdwn without verbatim"
        texts = [str(message.get("text", "")), *(node["text"] for node in mrkdwn_texts(message))]
        text = "\n".join(texts + _plain_texts(message))
    else:
        text = message
    for markup in LIVE_MARKUP.findall(text):
        assert OUR_LINK.match(markup), f"live markup that is not one of our links: {markup}"
    assert not BARE_BROADCAST.search(text), "a bare @channel/@here/@everyone"


def code_fences(text: str) -> int:
    return len(re.findall(r"```", text))


def _plain_texts(message: dict[str, Any]) -> list[str]:
    return [block["text"]["text"] for block in message.get("blocks", []) if block.get("type") == "header"]
