"""Reports fitted to GitHub's size limits still render: sections dropped in order, cuts never leave a block open."""

from __future__ import annotations

from offline_plan.markdown_fit import cut, fit, marker, split_sections
from offline_plan.pr_comment import COMMENT_MARKER, compose, demote_headings


def report(changes: str, findings: str = "No findings.", big: int = 0) -> str:
    return "\n".join(
        [
            "# Offline plan of stack `dev`",
            "",
            marker("changes", None),
            "## What changes",
            changes,
            marker("resources-by-type", 1),
            "## Resources by type",
            "| type | count |\n" * big,
            marker("deploy-waves", 5),
            "## Deploy waves",
            "- dev: **1** auth",
            marker("findings", None),
            "## Policy findings",
            findings,
        ]
    )


def test_a_report_that_fits_is_left_alone():
    text = report("nothing")
    assert fit(text, 10_000, "see the artifact") == text


def test_droppable_sections_go_first_lowest_drop_first_and_say_where_to_look():
    text = report("a change", big=400)
    fitted = fit(text, 1_000, "see the artifact")
    assert len(fitted) <= 1_000
    _, sections = split_sections(fitted)
    bodies = {section.id: section.body for section in sections}
    assert "Left out to stay within GitHub's size limit: see the artifact" in bodies["resources-by-type"]
    assert bodies["deploy-waves"] == "- dev: **1** auth"  # small and dropped last: it stayed
    assert bodies["changes"] == "a change"


def test_a_cut_inside_a_code_block_and_a_details_closes_both():
    body = (
        "<details><summary>many</summary>\n\n```diff\n"
        + "\n".join(f"+ line {n}" for n in range(500))
        + "\n```\n</details>"
    )
    shortened = cut(body, 300, "see the artifact")
    lines = shortened.splitlines()
    assert lines.count("```") == 1 and lines.index("```") < lines.index("</details>")
    assert shortened.rstrip().endswith("more line(s) not shown here: see the artifact._")


def test_an_essential_section_too_long_alone_is_cut_but_stays_valid():
    changes = "```diff\n" + "\n".join(f"+ aws:sns:Topic topic-{n}" for n in range(5_000)) + "\n```"
    fitted = fit(report(changes), 20_000, "see the artifact")
    assert len(fitted) <= 20_000
    assert sum(1 for line in fitted.splitlines() if line.startswith("```")) % 2 == 0
    assert "## Policy findings\nNo findings." in fitted


def test_the_comment_keeps_each_stacks_changes_in_view_folds_the_rest_and_fits():
    dev = report("dev changes", big=3_000)
    prod = report("prod changes", big=3_000).replace("`dev`", "`prod`")
    body = compose([dev, prod], limit=30_000, link="https://github.com/o/r/actions/runs/1")
    assert len(body) <= 30_000
    assert body.startswith(COMMENT_MARKER + "\n# Offline plan review")
    assert body.count("<details><summary>") == body.count("</details>") == 2
    assert body.index("dev changes") < body.index("<details>") < body.index("prod changes")
    assert "## Offline plan of stack `prod`" in body and "### What changes" in body
    assert "artifacts of https://github.com/o/r/actions/runs/1" in body


def test_headings_inside_code_blocks_are_not_demoted():
    assert demote_headings("# A\n```\n# not a heading\n```\n## B") == "## A\n```\n# not a heading\n```\n### B"
