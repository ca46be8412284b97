"""End to end: `make plan` on both stacks, as a user runs it."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tests.conftest import PROJECT_DIR, service_entry


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_make_plan_writes_the_plan_of_each_stack(stack):
    result = make("plan", f"STACK={stack}")
    assert result.returncode == 0, result.stderr
    assert f"offline plan of stack '{stack}'" in result.stdout
    assert "pipelines per service and environment" in result.stdout
    plan = json.loads((PROJECT_DIR / "out" / f"plan-{stack}.json").read_text())
    assert plan["stack"] == stack
    assert plan["summary"]["violations"]["mandatory"] == 0
    for service, environments in plan["summary"]["pipelines"].items():
        assert all(p["pipelineType"] == "V2" for p in environments.values()), service


def test_make_plan_with_a_broken_catalog_fails_with_one_readable_line(tmp_path):
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    service_entry(raw, "booking")["depends_on"] = ["auth", "ghost"]
    catalog = tmp_path / "services.yaml"
    catalog.write_text(yaml.safe_dump(raw))
    result = make("plan", f"CATALOG={catalog}")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {catalog}: service 'booking': field 'depends_on[1]': unknown service 'ghost'"]
