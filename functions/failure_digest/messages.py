"""The digest as one Slack message: what failed, why, from which commit, where to look — and nothing live.

Nearly every word comes from someone else: the commit subject, the log lines,
test names and their messages, scan findings, the reviewer's comment, CodeDeploy
diagnostics, even the model's summary (steered by the log it read). All of it
goes through the shared client's ``escape`` (or ``code_block`` for log lines);
the only links are the ones built here, to the AWS console and the commit, and
``link`` refuses any that is not ``https://``. The shared client fits the result
to Slack's limits and sends ``mrkdwn`` as ``verbatim``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from slack_client import MESSAGE_TEXT_LIMIT, SECTION_TEXT_LIMIT, clip, code_block, escape, link

try:  # a package in tests, top-level modules in Lambda
    from .digest import Digest
except ImportError:  # pragma: no cover - the Lambda runtime path
    from digest import Digest  # type: ignore[no-redef]

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
MAX_LISTED = 10
NAME_LIMIT, DETAIL_LIMIT = 120, 140
"""A listed test or finding, and what its report says about it: ten of them must fit one section."""
ERRORS_PREFIX = "*First errors"


def execution_url(region: str, pipeline: str, execution: str) -> str:
    if not REGION.match(region):
        return ""
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{quote(pipeline, safe='')}"
        f"/executions/{quote(execution, safe='')}/timeline?region={region}"
    )


def build_url(region: str, build_id: str) -> str:
    """CodeBuild's page of one build (``<project>:<uuid>``), in the tooling account where builds run."""
    if not REGION.match(region) or ":" not in build_id:
        return ""
    project = build_id.split(":", 1)[0]
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codebuild/projects/{quote(project, safe='')}"
        f"/build/{quote(build_id, safe='')}/?region={region}"
    )


def digest_message(digest: Digest) -> dict[str, Any]:
    header = f"{digest.pipeline}: {digest.stage} / {digest.action} failed"
    blocks: list[dict[str, Any]] = [_header(header), _fields(_facts(digest))]
    if digest.same_as is not None:
        previous = digest.same_as
        blocks.append(
            _section(
                f":repeat: *Same failure as the last one* (execution {escape(previous.execution[:8])} "
                f"in {escape(previous.environment)}): probably not flaky, and not fixed yet."
            )
        )
    if digest.model_summary:
        blocks.append(_section(f"*Likely cause* (model summary, may be wrong): {escape(digest.model_summary)}"))
    if digest.approval is not None:
        blocks.append(_section(_approval(digest)))
    elif digest.summary:
        blocks.append(_section(f"*What {escape(digest.provider or 'the action')} says:* {escape(digest.summary)}"))
    if digest.reports.failed_tests:
        blocks.append(_section(_listed("Failed tests", digest.reports.failed_tests, digest.reports.details)))
    elif digest.excerpt is not None and digest.excerpt.failed_tests:
        blocks.append(_section(_listed("Failed tests (from the log)", digest.excerpt.failed_tests, {})))
    if digest.reports.scan_findings:
        blocks.append(
            _section(
                _listed("Scan findings at or above the threshold", digest.reports.scan_findings, digest.reports.details)
            )
        )
    if digest.deployment is not None:
        blocks.extend(_deployment(digest))
    if digest.excerpt is not None and digest.excerpt.lines:
        prefix = f"{ERRORS_PREFIX} ({escape(digest.excerpt.toolchain)}):*\n"
        blocks.append(_section(prefix + code_block("\n".join(digest.excerpt.lines), SECTION_TEXT_LIMIT - len(prefix))))
    if digest.stage == "Deploy":
        blocks.append(_context("The Deploy stage rolls back to the last successful execution (on-failure ROLLBACK)."))
    blocks.append(_context(f"failure digest · owner {escape(digest.owner or '?')} · attempt {digest.attempt}"))
    return {"text": escape(header), "blocks": blocks}


def _facts(digest: Digest) -> list[tuple[str, str]]:
    commit = ""
    if digest.commit is not None:
        sha = digest.commit.sha[:7]
        shown = link(digest.commit.url, sha) if digest.commit.url else escape(sha)
        commit = f"{shown} {escape(digest.commit.subject)}".strip()
    run = execution_url(digest.region, digest.pipeline, digest.execution)
    phase = ""
    if digest.build is not None and digest.build.phase:
        phase = escape(digest.build.phase)
        if digest.build.exit_code is not None:
            phase += f", exit code {digest.build.exit_code}"
    build = ""
    if digest.build is not None:
        build = link(build_url(digest.region, digest.build.build_id) or digest.details_url, "build log")
    elif digest.details_url:
        build = link(digest.details_url, "details")
    return [
        ("Commit", commit),
        ("Execution", link(run, digest.execution[:8]) if run else escape(digest.execution[:8])),
        ("Failing phase", phase),
        ("Open", build),
        ("Owner", escape(digest.owner)),
    ]


def _approval(digest: Digest) -> str:
    assert digest.approval is not None
    who = escape(digest.approval.reviewer) if digest.approval.reviewer else "nobody (the approval expired)"
    comment = escape(digest.approval.comment) if digest.approval.comment else "_no comment_"
    return f"*Rejected by* {who}: {comment}"


def _deployment(digest: Digest) -> list[dict[str, Any]]:
    facts = digest.deployment
    assert facts is not None
    said = [f"*CodeDeploy {escape(facts.deployment_id)}* {escape(facts.status)}"]
    if facts.error_code or facts.error_message:
        said.append(f"{escape(facts.error_code)}: {escape(facts.error_message)}".strip(": "))
    if facts.lifecycle_event:
        said.append(f"*Failed lifecycle event:* {escape(facts.lifecycle_event)} on {escape(facts.target)}")
    if facts.diagnostics:
        said.append(escape(facts.diagnostics))
    blocks = [_section("\n".join(said))]
    if facts.log_tail:
        prefix = "*Script log:*\n"
        blocks.append(_section(prefix + code_block("\n".join(facts.log_tail), SECTION_TEXT_LIMIT - len(prefix))))
    return blocks


def _listed(title: str, names: tuple[str, ...], details: dict[str, str]) -> str:
    lines = [f"*{title}:*"]
    for name in names[:MAX_LISTED]:
        detail = clip(escape(details.get(name, "")), DETAIL_LIMIT)
        shown = clip(escape(name).replace("`", "'"), NAME_LIMIT)
        lines.append(f"• `{shown}`" + (f" {detail}" if detail else ""))
    if len(names) > MAX_LISTED:
        lines.append(f"… and {len(names) - MAX_LISTED} more")
    return "\n".join(lines)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": escape(text)}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_TEXT_LIMIT)}}


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in pairs if v][:10]}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def as_text(message: dict[str, Any]) -> tuple[str, str]:
    """The message as (title, Slack markdown) for AWS Chatbot, which takes no Block Kit; every text is already safe."""
    title, lines = message.get("text", ""), []
    for block in message.get("blocks", []):
        if block["type"] == "header":
            title = block["text"]["text"]
        elif block["type"] == "section" and "text" in block:
            lines.append(block["text"]["text"])
        elif block["type"] == "section":
            lines.extend(field["text"].replace("\n", ": ", 1) for field in block.get("fields", []))
        elif block["type"] == "context":
            lines.extend(element["text"] for element in block.get("elements", []))
    return title, clip("\n".join(lines), MESSAGE_TEXT_LIMIT)
