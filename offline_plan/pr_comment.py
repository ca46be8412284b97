"""``python -m offline_plan.pr_comment REPORT.md...``: the reports of several stacks as one PR comment body.

The ``pr`` workflow runs this after ``make plan-diff`` of each stack and uploads the result; a separate
workflow with no access to the PR's code posts it as one sticky comment (and the same text, with a
larger limit, becomes the job summary). Per stack, what changes against the base stays in view and
the rest of the report folds into ``<details>``; the whole body is fitted to ``--limit`` characters,
each stack getting an equal share, with ``--link`` (the workflow run, whose artifact holds every
full report and plan file) named wherever something had to be left out.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .markdown_fit import COMMENT_LIMIT, cut, fit, split_sections

COMMENT_MARKER = "<!-- cicd-platform:offline-plan-review -->"
"""First line of the sticky comment; the commenting workflow finds its earlier comment by it."""
SHOWN_SECTIONS = ("changes",)
FOLDING_ROOM = 300
"""Characters a report grows by when folded and demoted (``<details>`` tags, one ``#`` per heading)."""
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def demote_headings(markdown: str) -> str:
    """Every heading one level down (outside code blocks), so several reports nest under one comment title."""
    lines: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        found = _FENCE.match(line)
        if found:
            mark = found.group(1)
            if fence is None:
                fence = mark
            elif line.strip() == mark and mark[0] == fence[0] and len(mark) >= len(fence):
                fence = None
        elif fence is None and re.match(r"^#{1,5} ", line):
            line = "#" + line
        lines.append(line)
    return "\n".join(lines)


def fold(report: str, title: str) -> str:
    """The report with every section but what changes inside one ``<details>``, titled ``title``."""
    preamble, sections = split_sections(report)
    shown = [section.text() for section in sections if section.id in SHOWN_SECTIONS]
    folded = [section.text() for section in sections if section.id not in SHOWN_SECTIONS]
    parts = [preamble.rstrip(), *shown]
    if folded:
        parts.append(f"<details><summary>{title}</summary>\n\n" + "\n".join(folded) + "\n\n</details>")
    return "\n\n".join(parts) + "\n"


def compose(reports: list[str], limit: int = COMMENT_LIMIT, link: str | None = None, *, folded: bool = True) -> str:
    """One body from the reports (each as ``plan-<stack>.md`` holds it), at most ``limit`` characters."""
    where = f"the full reports and plan files are in the artifacts of {link}" if link else "see the full reports"
    header = (
        f"{COMMENT_MARKER}\n# Offline plan review\n\n"
        "Planned without cloud credentials by `make plan-diff` (the program under Pulumi mocks, the policy pack "
        f"over what it declares); {where}.\n\n"
    )
    share = max((limit - len(header)) // max(len(reports), 1) - FOLDING_ROOM, 1_000)
    bodies = []
    for report in reports:
        body = fit(report, share, where)
        if folded:
            body = fold(body, "Resources, pipelines, deploy waves, diagrams and findings")
        bodies.append(demote_headings(body))
    result = header + "\n---\n\n".join(bodies)
    return result if len(result) <= limit else cut(result, limit - FOLDING_ROOM, where)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="offline_plan.pr_comment", description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="plan-<stack>.md files, in the order to show them")
    parser.add_argument("--limit", type=int, default=COMMENT_LIMIT, help="most characters (default: %(default)s)")
    parser.add_argument("--link", default=None, help="URL of the workflow run whose artifacts hold the full reports")
    parser.add_argument("--full", action="store_true", help="read plan-<stack>.full.md where it exists; no folding")
    args = parser.parse_args(argv)
    texts = []
    for path in args.reports:
        full = path.with_name(path.name.removesuffix(".md") + ".full.md")
        chosen = full if args.full and full.is_file() else path
        if not chosen.is_file():
            print(f"error: {chosen} does not exist (run make plan-diff first)", file=sys.stderr)
            return 2
        texts.append(chosen.read_text(encoding="utf-8"))
    sys.stdout.write(compose(texts, args.limit, args.link, folded=not args.full))
    return 0


if __name__ == "__main__":
    sys.exit(main())
