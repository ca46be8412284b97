"""End to end: `make plan` as a user runs it.

One full plan of the real catalog through the command (dev), compared byte for byte with the plan
made in-process: that proves the command path (make, argument plumbing, the lean run, writing, the
quick exit) changes nothing in what is planned, across processes with different hash seeds. The
other cases (plan-diff too) only need the command's plumbing and exit codes, so they plan a one-service catalog;
what the full prod plan contains is checked in-process (tests/offline_plan, tests/policies).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from offline_plan.report import plan_document, write_plan
from tests.conftest import PROJECT_DIR, service_entry

# make test distributes whole files (--dist loadfile): the `make plan` two tests share runs once.


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )


def one_service_catalog(directory: Path, name: str = "booking") -> Path:
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    service = service_entry(raw, name)
    service.pop("depends_on", None)
    path = directory / "one-service.yaml"
    path.write_text(yaml.safe_dump({"services": [service]}))
    return path


def review_catalog() -> Path:
    """The one-service catalog at a fixed path of this worktree's plan cache, written atomically.

    A review's base plan is cached by commit, stack, and an absolute catalog's path and content: at a
    fixed path, a second run of the test at the same commit reads the base from the cache, as a review
    of the full catalog did, instead of planning it again in a new worktree.
    """
    directory = PROJECT_DIR / ".plan-cache" / "make-plan-test"
    directory.mkdir(parents=True, exist_ok=True)
    scratch = one_service_catalog(Path(tempfile.mkdtemp(dir=directory)))
    path = directory / scratch.name
    os.replace(scratch, path)
    scratch.parent.rmdir()
    return path


def without_durations(text: str) -> str:
    """The plan file's text with its timings (the only fields that differ between runs) zeroed."""
    text = re.sub(r'"durationSeconds": [0-9.e-]+', '"durationSeconds": 0', text)
    return re.sub(r'("(?:inputs|program|policy)": )[0-9.e-]+', r"\g<1>0", text)


@pytest.fixture(scope="module")
def made_dev_plan(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("out")
    return make("plan", f"OUT={out}"), out / "plan-dev.json"


def test_make_plan_writes_the_dev_plan_with_every_service_in_every_environment(made_dev_plan):
    result, path = made_dev_plan
    assert result.returncode == 0, result.stderr
    assert "offline plan of stack 'dev'" in result.stdout
    assert "pipelines per service and environment" in result.stdout
    plan = json.loads(path.read_text())
    assert plan["stack"] == "dev"
    assert plan["summary"]["violations"]["mandatory"] == 0
    catalog = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    expected = {"dev": ["feature/**"], "qa": ["develop"], "staging": ["release/**"], "prod": ["main"]}
    pipelines = plan["summary"]["pipelines"]
    assert set(pipelines) == {service["name"] for service in catalog["services"]}
    for service, environments in pipelines.items():
        assert {env: p["branchFilter"] for env, p in environments.items()} == expected, service
        assert {p["pipelineType"] for p in environments.values()} == {"V2"}
    report = path.with_suffix(".md").read_text(encoding="utf-8")
    assert f"report -> {path.with_suffix('.md')}" in result.stdout
    assert report.startswith("# Offline plan of stack `dev`") and report.count("```mermaid") == 2


def test_make_plan_diff_reviews_the_working_tree_against_a_base_and_caches_the_base_plan(tmp_path):
    """The base is the commit checked out: the review must run end to end (a clean tree reviews as no change).

    The command is under test, not the fleet: both sides plan a one-service catalog (an absolute CATALOG is
    used by the base too, and is part of the cache key).
    """
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout.strip()
    catalog = review_catalog()
    result = make("plan-diff", "BASE=HEAD", f"CATALOG={catalog}", f"OUT={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert f"Review of stack 'dev': HEAD ({commit[:12]}) → working tree\n" in result.stdout
    assert "## What changes against `HEAD (" in (tmp_path / "plan-dev.md").read_text(encoding="utf-8")
    assert list((PROJECT_DIR / ".plan-cache").glob(f"dev-{commit[:12]}-*.json.gz"))


def test_the_command_writes_byte_for_byte_the_plan_made_in_process(made_dev_plan, dev_plan, tmp_path):
    """Same input, same bytes: two processes (different hash seeds, one of them lean and exiting early)."""
    result, path = made_dev_plan
    assert result.returncode == 0, result.stderr
    in_process = write_plan(plan_document(dev_plan), tmp_path)
    assert without_durations(path.read_text(encoding="utf-8")) == without_durations(
        in_process.read_text(encoding="utf-8")
    )


def test_make_plan_passes_stack_catalog_and_out_through(tmp_path):
    catalog = one_service_catalog(tmp_path)
    result = make("plan", "STACK=prod", f"CATALOG={catalog}", f"OUT={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr
    assert "offline plan of stack 'prod'" in result.stdout
    plan = json.loads((tmp_path / "out" / "plan-prod.json").read_text())
    assert plan["stack"] == "prod"
    assert plan["summary"]["violations"]["mandatory"] == 0
    assert set(plan["summary"]["pipelines"]) == {"booking"}
    assert all(p["pipelineType"] == "V2" for p in plan["summary"]["pipelines"]["booking"].values())


def test_make_plan_with_a_broken_catalog_fails_with_one_readable_line(tmp_path):
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    service_entry(raw, "booking")["depends_on"] = ["auth", "ghost"]
    catalog = tmp_path / "services.yaml"
    catalog.write_text(yaml.safe_dump(raw))
    result = make("plan", f"CATALOG={catalog}", f"OUT={tmp_path / 'out'}")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {catalog}: service 'booking': field 'depends_on[1]': unknown service 'ghost'"]
    assert not (tmp_path / "out").exists()


def test_make_plan_fails_on_a_mandatory_violation_and_still_writes_the_plan(tmp_path, prod_settings_raw):
    """A stack file that drops prod's approval is valid config but breaks policy: the command must fail."""
    settings = prod_settings_raw
    next(e for e in settings["environments"] if e["name"] == "prod")["approval"] = False
    stack = f"noapproval{tmp_path.name[-8:].replace('_', '')}".lower()
    stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"cicd-platform:settings": settings}}))
    catalog = one_service_catalog(tmp_path)
    try:
        result = make("plan", f"STACK={stack}", f"CATALOG={catalog}", f"OUT={tmp_path}")
        direct = subprocess.run(
            [
                sys.executable,
                "-m",
                "offline_plan",
                "--stack",
                stack,
                "--catalog",
                str(catalog),
                "--out",
                str(tmp_path / "direct"),
            ],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        stack_file.unlink()
    assert result.returncode != 0
    assert "mandatory policy violation" in result.stderr
    assert direct.returncode == 1  # the documented code: the plan is written, the policy failed
    for out in (tmp_path, tmp_path / "direct"):
        plan = json.loads((out / f"plan-{stack}.json").read_text())
        fired = {v["policy"] for v in plan["policy"]["violations"] if v["level"] == "mandatory"}
        assert "prod-manual-approval" in fired
