"""The plan report renders on GitHub: its sections are there, every Mermaid block parses, it fits a comment.

The Mermaid check runs Mermaid's own parser from npm (``tools/check_mermaid.mjs``, installed pinned by
``make lint-workflows``, which ``make test`` runs first). A missing parser fails the test: a report whose
diagrams were never parsed is not known to render.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from offline_plan.diff import diff_plans
from offline_plan.markdown_fit import COMMENT_LIMIT
from offline_plan.markdown_report import render_report, write_report
from offline_plan.mermaid import pipeline_diagram, service_graph
from offline_plan.pipeline_shape import PipelineShape, StageShape
from offline_plan.report import plan_document
from tests.conftest import PROJECT_DIR
from tests.offline_plan.plans import PLATFORM, finding, plan, resource, service_resources

CHECKER = PROJECT_DIR / "tools" / "check_mermaid.mjs"
SECTIONS = [
    "## Resources by type",
    "## Pipelines per service and environment",
    "## Deploy waves",
    "## Service dependency graph",
    "## A representative pipeline",
    "## Policy findings",
]


def check_mermaid(*files: Path) -> list[str]:
    """Lines of the checker's verdict per block; fails the test when the parser cannot run at all."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to parse the report's Mermaid blocks (Node.js 20+, then make lint-workflows)")
    done = subprocess.run(
        [node, str(CHECKER), *map(str, files)], capture_output=True, text=True, check=False, env=os.environ.copy()
    )
    if done.returncode == 2:
        pytest.fail(f"the Mermaid parser did not start: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def dev_document(dev_plan) -> dict:
    return json.loads(json.dumps(plan_document(dev_plan)))


def test_the_report_of_the_dev_stack_has_every_section_and_its_two_diagrams_parse(dev_document, tmp_path):
    path = write_report(dev_document, tmp_path)
    report = path.read_text(encoding="utf-8")
    assert [line for line in report.splitlines() if line.startswith("## ")] == SECTIONS
    assert len(report) <= COMMENT_LIMIT and not (tmp_path / "plan-dev.full.md").exists()
    verdicts = check_mermaid(path)
    assert len(verdicts) == 2 and all(line.endswith("flowchart-v2 parses") for line in verdicts)


def test_every_service_has_its_pipeline_in_every_environment_with_its_guard_rails_marked(dev_document):
    report = render_report(dev_document)
    services = dev_document["summary"]["pipelines"]
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in report.splitlines() if line.startswith("| ")}
    for name, environments in services.items():
        cells = rows[name].strip("| ").split(" | ")[1:]
        assert len(cells) == len(environments) == 4, name
        assert all(re.match(r"^[A-Z]+ · `", cell) for cell in cells), rows[name]
    layouts = [line for line in report.splitlines() if re.match(r"^\| [A-Z]+ \| \d+ \|", line)]
    assert all("**gate** DeployGate (LambdaInvoke)" in layout for layout in layouts)
    assert all("**rollback** on failure" in layout for layout in layouts)
    assert any(
        "**approval** ReleaseApproval" in layout and "**bake** BakeHealthAlarm (Lambda)" in layout for layout in layouts
    )
    assert "auth in prod" in report  # the representative: prod has the most guard rails


def test_with_a_base_the_report_opens_with_what_changes(tmp_path):
    base = plan(*service_resources("booking"))
    head = plan(*service_resources("booking"), *service_resources("search"))
    report = render_report(head, diff_plans(base, head, base_label="main (0123456789ab)"))
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert headings[:4] == [
        "# Offline plan of stack `dev`",
        "## What changes against `main (0123456789ab)`",
        "### Pipelines that change shape",
        "### Resources",
    ]
    assert "```diff\n@@ search / dev (search-dev) @@\n+ new pipeline: Source → Build → Deploy" in report
    assert (
        "@@ search / prod (search-prod) @@\n+ new pipeline: Source → Build → Approve [approval ReleaseApproval]"
        in report
    )
    assert "@@ search / prod @@\n+ aws:codepipeline:Pipeline search-prod-pipeline\n```" in report


def test_plan_text_cannot_inject_markdown_or_html(tmp_path):
    crafted = "<img src=x onerror=alert(1)> **bold** | broken [link](http://evil)"
    document = plan(
        resource("aws:sns/topic:Topic", "news", PLATFORM, {"name": "news"}),
        violations=(finding("sns-encrypted", "advisory", None, crafted, "Fix `it` | now"),),
    )
    report = render_report(document)
    assert "<img" not in report and "&lt;img src=x onerror=alert(1)&gt;" in report
    assert r"\*\*bold\*\* \| broken \[link\](http://evil)" in report


def test_a_review_too_long_for_a_comment_is_summarised_and_the_whole_report_kept_beside_it(tmp_path):
    base = plan(*service_resources("booking"))
    topics = [
        resource("aws:sns/topic:Topic", f"topic-{n:04d}", PLATFORM, {"name": f"cicd-topic-{n:04d}", "tags": {}})
        for n in range(3000)
    ]
    head = plan(*service_resources("booking"), *topics)
    path = write_report(head, tmp_path, diff_plans(base, head))
    fitted = path.read_text(encoding="utf-8")
    full = (tmp_path / "plan-dev.full.md").read_text(encoding="utf-8")
    assert len(full) > COMMENT_LIMIT >= len(fitted)
    assert "## What changes against `base`" in fitted and "## Policy findings" in fitted
    assert "see `plan-dev.full.md` and `plan-dev.json`" in fitted
    fences = [line for line in fitted.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
    assert fitted.count("<details>") == fitted.count("</details>")


def test_mermaid_labels_survive_names_that_are_keywords_or_markup(tmp_path):
    graph = service_graph(
        {"end": ["graph"], "graph": [], 'a"quoted"#1': ["end"], "<b>x</b>": ["end", 'a"quoted"#1']},
        [["graph"], ["end"], ['a"quoted"#1'], ["<b>x</b>"]],
    )
    shape = PipelineShape(
        "x",
        (
            StageShape("Source", ("Source (CodeStarSourceConnection)",)),
            StageShape("Deploy", ("Go (CodeDeploy)",), gates=('end "now" (LambdaInvoke)',), on_failure="ROLLBACK"),
            StageShape("Check", (), exit_gates=("Window (DeploymentWindow)",), bakes=("Bake (CloudWatchAlarm)",)),
        ),
    )
    document = tmp_path / "diagrams.md"
    document.write_text(f"```mermaid\n{graph}\n```\n\n```mermaid\n{pipeline_diagram(shape)}\n```\n", encoding="utf-8")
    assert len(check_mermaid(document)) == 2
