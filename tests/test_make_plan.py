"""End to end: `make plan` on both stacks, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import PROJECT_DIR, service_entry


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_make_plan_writes_the_plan_of_each_stack(stack, tmp_path):
    result = make("plan", f"STACK={stack}", f"OUT={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert f"offline plan of stack '{stack}'" in result.stdout
    assert "pipelines per service and environment" in result.stdout
    plan = json.loads((tmp_path / f"plan-{stack}.json").read_text())
    assert plan["stack"] == stack
    assert plan["summary"]["violations"]["mandatory"] == 0
    for service, environments in plan["summary"]["pipelines"].items():
        assert all(p["pipelineType"] == "V2" for p in environments.values()), service
    report = (tmp_path / f"plan-{stack}.md").read_text(encoding="utf-8")
    assert f"report -> {tmp_path / f'plan-{stack}.md'}" in result.stdout
    assert report.startswith(f"# Offline plan of stack `{stack}`") and report.count("```mermaid") == 2


def test_make_plan_diff_reviews_the_working_tree_against_a_base_and_caches_the_base_plan(tmp_path):
    """The base is the commit checked out: the review must run end to end (a clean tree reviews as no change)."""
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout.strip()
    result = make("plan-diff", "BASE=HEAD", f"OUT={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert f"Review of stack 'dev': HEAD ({commit[:12]}) → working tree\n" in result.stdout
    assert "## What changes against `HEAD (" in (tmp_path / "plan-dev.md").read_text(encoding="utf-8")
    assert list((PROJECT_DIR / ".plan-cache").glob(f"dev-{commit[:12]}-*.json.gz"))


def test_dev_plan_has_every_service_in_every_environment_with_its_branch_filter(tmp_path):
    assert make("plan", f"OUT={tmp_path}").returncode == 0
    plan = json.loads((tmp_path / "plan-dev.json").read_text())
    catalog = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    expected = {"dev": ["feature/**"], "qa": ["develop"], "staging": ["release/**"], "prod": ["main"]}
    pipelines = plan["summary"]["pipelines"]
    assert set(pipelines) == {service["name"] for service in catalog["services"]}
    for service, environments in pipelines.items():
        assert {env: p["branchFilter"] for env, p in environments.items()} == expected, service
        assert {p["pipelineType"] for p in environments.values()} == {"V2"}


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
    try:
        result = make("plan", f"STACK={stack}", f"OUT={tmp_path}")
        direct = subprocess.run(
            [sys.executable, "-m", "offline_plan", "--stack", stack, "--out", str(tmp_path / "direct")],
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
    plan = json.loads((tmp_path / f"plan-{stack}.json").read_text())
    fired = {v["policy"] for v in plan["policy"]["violations"] if v["level"] == "mandatory"}
    assert "prod-manual-approval" in fired
