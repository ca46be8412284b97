"""Review mode: the working tree's plan is cached only under a key that every input of the plan changes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from offline_plan.base_plan import CACHE_DIR_NAME, start_base_plan, write_cached
from offline_plan.review import run_review, working_tree_key
from tests.offline_plan.plans import finding, plan, service_resources
from tests.offline_plan.test_base_plan import repo  # noqa: F401 - the fixture is shared


def key(root: Path, **overrides: str | None) -> str | None:
    return working_tree_key(root, overrides.get("stack") or "dev", overrides.get("catalog"), None)


def test_the_working_tree_key_follows_tracked_and_new_files_but_not_ignored_ones(repo, tmp_path):  # noqa: F811
    (repo / ".gitignore").write_text(f"{CACHE_DIR_NAME}/\nout/\n")
    first = key(repo)
    assert key(repo) == first
    (repo / "out").mkdir()
    (repo / "out" / "plan-dev.json").write_text("{}")
    assert key(repo) == first, "an ignored file is not an input of the plan"
    (repo / "catalog.yaml").write_text("services: []\n")
    with_new_file = key(repo)
    assert with_new_file != first, "an untracked file could be read by the program"
    (repo / "functions" / "gate" / "handler.py").write_text("changed\n")
    assert key(repo) not in (first, with_new_file)
    assert key(repo, stack="prod") != key(repo)
    catalog = tmp_path / "override.yaml"
    catalog.write_text("a\n")
    with_override = key(repo, catalog=str(catalog))
    catalog.write_text("b\n")
    assert key(repo, catalog=str(catalog)) != with_override


def test_the_catalog_override_variable_is_part_of_the_key(repo, tmp_path, monkeypatch):  # noqa: F811
    plain = key(repo)
    monkeypatch.setenv("CICD_PLATFORM_CATALOG", str(tmp_path / "other.yaml"))
    assert key(repo) != plain


def test_a_review_from_both_caches_plans_nothing_and_exits_like_the_plan(repo, tmp_path, capsys):  # noqa: F811
    start_base_plan(repo, "HEAD~1", "dev").result()  # the stub plans the base once, into the cache
    head = plan(
        *service_resources("booking"),
        violations=(finding("prod-manual-approval", "mandatory", None, "prod deploys without approval"),),
    )
    tree_key = key(repo)
    write_cached(repo / CACHE_DIR_NAME / f"tree-dev-{tree_key}.json.gz", {"document": head, "warnings": ["careful"]})
    out = tmp_path / "out"
    arguments = argparse.Namespace(
        base="HEAD~1", stack="dev", catalog=None, policy_config=None, project_dir=repo, out=out
    )
    assert run_review(arguments) == 1
    printed = capsys.readouterr()
    assert "(base cached, working tree cached)" in printed.out
    assert "+ aws:codepipeline:Pipeline booking-prod-pipeline" in printed.out
    assert "  + [mandatory] prod-manual-approval: prod deploys without approval (stack)" in printed.out
    assert printed.err.splitlines() == ["warning: careful", "error: 1 mandatory policy violation(s)"]
    assert json.loads((out / "plan-dev.json").read_text())["resources"] == head["resources"]
    assert "## What changes against `HEAD~1 (" in (out / "plan-dev.md").read_text()
    assert len([line for line in (repo.parent / "runs.log").read_text().splitlines() if line]) == 1
