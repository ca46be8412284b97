"""Markdown made to fit GitHub's size limits without breaking how it renders.

A comment body holds at most 65,536 characters and a job summary 1 MiB per step; past that GitHub
refuses the text. A report is a list of sections, each opened by a marker line
``<!-- section id="..." drop="N" -->`` (``drop="never"`` for the ones a reviewer must see). To fit,
droppable sections are replaced by a pointer to the full report, lowest ``drop`` first; if that is
not enough, the longest remaining sections are cut at a line, closing any code fence or
``<details>`` left open so the rest still renders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMENT_LIMIT = 65_000
"""Under GitHub's 65,536-character limit for an issue or pull request comment, with room for a header."""
SUMMARY_LIMIT = 1_000_000
"""Under GitHub's 1 MiB limit for one step's job summary."""

_MARKER = re.compile(r'^<!-- section id="(?P<id>[\w-]+)" drop="(?P<drop>never|\d+)" -->$')
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def marker(section_id: str, drop: int | None) -> str:
    """The line that opens a section; ``drop=None`` marks one that is never left out."""
    return f'<!-- section id="{section_id}" drop="{"never" if drop is None else drop}" -->'


@dataclass
class Section:
    head: str
    """The marker and the heading line."""
    body: str
    drop: int | None

    @property
    def id(self) -> str:
        found = _MARKER.match(self.head.split("\n", 1)[0])
        return found["id"] if found else ""

    def text(self) -> str:
        return f"{self.head}\n{self.body}" if self.body else self.head


def split_sections(markdown: str) -> tuple[str, list[Section]]:
    """The text before the first marker, and every section after it."""
    lines = markdown.split("\n")
    preamble: list[str] = []
    sections: list[Section] = []
    current: list[str] | None = None
    for line in lines:
        found = _MARKER.match(line)
        if found:
            if current is not None:
                sections.append(_section(current))
            current = [line]
        elif current is None:
            preamble.append(line)
        else:
            current.append(line)
    if current is not None:
        sections.append(_section(current))
    return "\n".join(preamble), sections


def _section(lines: list[str]) -> Section:
    found = _MARKER.match(lines[0])
    assert found is not None
    drop = None if found["drop"] == "never" else int(found["drop"])
    head_lines = 2 if len(lines) > 1 and lines[1].startswith("#") else 1
    return Section("\n".join(lines[:head_lines]), "\n".join(lines[head_lines:]), drop)


def _join(preamble: str, sections: list[Section]) -> str:
    return "\n".join([preamble, *(section.text() for section in sections)]) if sections else preamble


def cut(body: str, budget: int, pointer: str) -> str:
    """``body`` cut to about ``budget`` characters at a line, fences and ``<details>`` closed, then a pointer."""
    kept: list[str] = []
    used = 0
    fence: str | None = None
    open_details = 0
    lines = body.split("\n")
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
        found = _FENCE.match(line)
        if found:
            mark = found.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence) and line.strip() == mark:
                fence = None
        elif fence is None:
            open_details += line.count("<details") - line.count("</details>")
    left = len(lines) - len(kept)
    if left == 0:
        return body
    if fence is not None:
        kept.append(fence)
    kept += ["</details>"] * max(open_details, 0)
    kept.append(f"\n_… {left} more line(s) not shown here: {pointer}._\n")
    return "\n".join(kept)


def fit(markdown: str, limit: int, pointer: str) -> str:
    """``markdown`` unchanged when it fits in ``limit`` characters, else summarised as described above."""
    if len(markdown) <= limit:
        return markdown
    preamble, sections = split_sections(markdown)
    left_out = f"\n_Left out to stay within GitHub's size limit: {pointer}._\n"
    for section in sorted((s for s in sections if s.drop is not None), key=lambda s: s.drop or 0):
        if len(_join(preamble, sections)) <= limit:
            break
        if len(section.body) > len(left_out):
            section.body = left_out
    overflow = len(_join(preamble, sections)) - limit
    for section in sorted(sections, key=lambda s: len(s.body), reverse=True):
        if overflow <= 0:
            break
        before = len(section.body)
        section.body = cut(section.body, max(before - overflow - 200, 0), pointer)
        overflow -= before - len(section.body)
    result = _join(preamble, sections)
    if len(result) > limit:  # a preamble alone past the limit: nothing structured is left to keep
        result = cut(result, limit - 200, pointer)
    return result
