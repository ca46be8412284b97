"""The suite's plan cache: one computation per set of inputs, however many workers ask, and never a stale plan."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import shared_plans


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A small stand-in for the project tree, with its own cache directory."""
    root = tmp_path / "project"
    for relative, text in {
        "Pulumi.yaml": "name: cicd-platform\n",
        "Pulumi.dev.yaml": "config: {}\n",
        "Pulumi.prod.yaml": "config: {}\n",
        "__main__.py": "import components\n",
        "components/pipeline.py": "STAGES = 5\n",
        "catalog/services.yaml": "services: []\n",
        "policies/policy-config.json": "{}\n",
        "functions/gate/handler.py": "def handler(event, context): ...\n",
        "components/buildspecs/image_build.yml": "version: 0.2\n",
        "policies/rules/log_retention.py": "DAYS = 90\n",
        "templates/github/README.md": "# what the platform writes into repositories\n",
        "tests/test_something.py": "def test(): ...\n",
        "docs/BENCHMARKS.md": "# figures\n",
        "README.md": "# readme\n",
    }.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.setattr(shared_plans, "PROJECT_DIR", root)
    monkeypatch.setattr(shared_plans, "CACHE_DIR", root / ".plan-cache" / "suite")
    monkeypatch.delenv(shared_plans.SWITCH_VARIABLE, raising=False)
    return root


@pytest.mark.parametrize(
    "changed",
    [
        "components/pipeline.py",
        "catalog/services.yaml",
        "policies/policy-config.json",
        "functions/gate/handler.py",
        "Pulumi.dev.yaml",
        "Pulumi.yaml",
        "__main__.py",
        "components/buildspecs/image_build.yml",
        "policies/rules/log_retention.py",
        "templates/github/README.md",
    ],
)
def test_any_change_of_an_input_is_another_plan(project, changed):
    before = shared_plans.fingerprint("dev", project)
    (project / changed).write_text((project / changed).read_text() + "# edited\n")
    assert shared_plans.fingerprint("dev", project) != before


@pytest.mark.parametrize("added", ["policies/rules/new_rule.py", "components/aws/new_component.py"])
def test_a_new_or_removed_source_file_is_another_plan(project, added):
    before = shared_plans.fingerprint("dev", project)
    (project / added).parent.mkdir(parents=True, exist_ok=True)
    (project / added).write_text("X = 1\n")
    with_file = shared_plans.fingerprint("dev", project)
    assert with_file != before
    (project / added).unlink()
    assert shared_plans.fingerprint("dev", project) == before


def test_the_stack_files_a_shard_or_a_core_is_read_with_are_inputs(project):
    """A shard ``prod-payments`` reads its core's settings; a core checks its shards' files (sharding.py)."""
    shard_before = shared_plans.fingerprint("prod-payments", project)
    core_before = shared_plans.fingerprint("prod", project)
    (project / "Pulumi.prod.yaml").write_text("config: {shards: [payments]}\n")
    assert shared_plans.fingerprint("prod-payments", project) != shard_before, "the core's settings changed"
    core_after = shared_plans.fingerprint("prod", project)
    (project / "Pulumi.prod-payments.yaml").write_text("config: {aws:region: eu-west-1}\n")
    assert shared_plans.fingerprint("prod", project) != core_after, "a shard's file is checked by its core"
    assert shared_plans.fingerprint("prod", project) != core_before
    for stack in ("prod", "prod-payments", "prod-pay"):
        assert shared_plans.stack_file_is_input(f"Pulumi.{stack}.yaml", "prod-payments") == (stack != "prod-pay")
    assert not shared_plans.stack_file_is_input("Pulumi.production.yaml", "prod")


@pytest.mark.parametrize(
    "unrelated", ["tests/test_something.py", "docs/BENCHMARKS.md", "README.md", "Pulumi.prod.yaml", "Pulumi.tmp1.yaml"]
)
def test_tests_docs_and_other_stacks_settings_are_not_inputs(project, unrelated):
    before = shared_plans.fingerprint("dev", project)
    (project / unrelated).write_text("changed while the suite runs\n")
    assert shared_plans.fingerprint("dev", project) == before


def test_a_copy_of_the_project_and_another_catalog_are_inputs_by_content(project, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
        (copy / name).write_text((project / name).read_text())
    catalog = tmp_path / "services.yaml"
    catalog.write_text("services: [a]\n")
    same = shared_plans.fingerprint("dev", copy, str(catalog))
    assert shared_plans.fingerprint("dev", copy, str(catalog)) == same
    (copy / "Pulumi.dev.yaml").write_text("config: {configRules: true}\n")
    assert shared_plans.fingerprint("dev", copy, str(catalog)) != same
    edited = shared_plans.fingerprint("dev", copy, str(catalog))
    (copy / "catalog").mkdir()
    (copy / "catalog" / "services.yaml").write_text("services: [c]\n")
    assert shared_plans.fingerprint("dev", copy, str(catalog)) != edited, "any file of the copy counts"
    other = shared_plans.fingerprint("dev", copy, str(catalog))
    catalog.write_text("services: [b]\n")
    assert shared_plans.fingerprint("dev", copy, str(catalog)) != other
    assert shared_plans.fingerprint("prod", project) != shared_plans.fingerprint("dev", project)


def _slow_plan(project_dir: Path, stack: str, catalog: str | None = None) -> dict[str, str]:
    """Stands in for run_plan: slow enough that concurrent askers overlap; notes each call outside the project."""
    with (project_dir.parent / "computed.log").open("a") as log:
        log.write(f"{stack}\n")
    time.sleep(0.5)
    return {"stack": stack}


def _ask(project_dir: Path, results) -> None:
    results.put(shared_plans.shared_plan(project_dir, "dev"))


def test_concurrent_workers_compute_a_plan_once_and_all_get_it(project, monkeypatch):
    monkeypatch.setattr(shared_plans, "run_plan", _slow_plan)
    context = multiprocessing.get_context("fork")  # the workers inherit the stand-ins above
    results = context.Queue()
    workers = [context.Process(target=_ask, args=(project, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert answers == [{"stack": "dev"}] * 3
    assert (project.parent / "computed.log").read_text() == "dev\n"
    assert shared_plans.shared_plan(project, "dev") == {"stack": "dev"}, "a later session reads it too"
    assert (project.parent / "computed.log").read_text() == "dev\n"
    (project / "components" / "pipeline.py").write_text("STAGES = 6\n")
    shared_plans.shared_plan(project, "dev")
    assert (project.parent / "computed.log").read_text() == "dev\ndev\n", "an edited input is planned afresh"


def test_a_damaged_cache_file_is_planned_again(project, monkeypatch):
    monkeypatch.setattr(shared_plans, "run_plan", _slow_plan)
    shared_plans.shared_plan(project, "dev")
    (cached,) = shared_plans.CACHE_DIR.glob("plan-dev-*.pickle")
    cached.write_bytes(b"\x80\x05 cut short")
    assert shared_plans.shared_plan(project, "dev") == {"stack": "dev"}
    assert (project.parent / "computed.log").read_text() == "dev\ndev\n"
    assert not list(shared_plans.CACHE_DIR.glob(".plan-*")), "no half-written file is left behind"


def test_the_cache_can_be_switched_off(project, monkeypatch):
    monkeypatch.setattr(shared_plans, "run_plan", _slow_plan)
    monkeypatch.setenv(shared_plans.SWITCH_VARIABLE, "off")
    shared_plans.shared_plan(project, "dev")
    shared_plans.shared_plan(project, "dev")
    assert (project.parent / "computed.log").read_text() == "dev\ndev\n"
    assert not shared_plans.CACHE_DIR.exists()


def test_only_the_most_recently_used_plans_are_kept(project, monkeypatch):
    monkeypatch.setattr(shared_plans, "run_plan", _slow_plan)
    monkeypatch.setattr(shared_plans, "KEPT", 2)
    for stages in range(4):
        (project / "components" / "pipeline.py").write_text(f"STAGES = {stages}\n")
        shared_plans.shared_plan(project, "dev")
        time.sleep(0.01)  # distinct modification times
    assert len(list(shared_plans.CACHE_DIR.glob("plan-dev-*.pickle"))) == 2
    assert len(list(shared_plans.CACHE_DIR.glob("plan-dev-*.lock"))) == 2


class _PlanCalls:
    def __init__(self, error: Exception | None = None) -> None:
        self.stacks: list[str] = []
        self.error = error

    def __call__(self, project_dir: Path, stack: str) -> None:
        self.stacks.append(stack)
        if self.error is not None:
            raise self.error


READS_PROD = [SimpleNamespace(fixturenames=["dev_plan"]), SimpleNamespace(fixturenames=["prod_plan"])]


def test_the_second_worker_plans_prod_early_only_into_the_cache(monkeypatch):
    """Without the cache the early plan would be thrown away and ``prod_plan`` would plan prod again."""
    from tests.conftest import start_prod_plan_early

    calls = _PlanCalls()
    monkeypatch.delenv(shared_plans.SWITCH_VARIABLE, raising=False)
    start_prod_plan_early("gw1", READS_PROD, plan=calls)
    start_prod_plan_early("gw0", READS_PROD, plan=calls)
    start_prod_plan_early(None, READS_PROD, plan=calls)
    start_prod_plan_early("gw1", READS_PROD[:1], plan=calls)  # nothing on this worker reads prod
    assert calls.stacks == ["prod"]
    for off in ("off", "0", "false", "no"):
        monkeypatch.setenv(shared_plans.SWITCH_VARIABLE, off)
        start_prod_plan_early("gw1", READS_PROD, plan=calls)
    assert calls.stacks == ["prod"]


def test_a_prod_plan_that_fails_early_is_left_to_the_tests_that_read_prod(monkeypatch):
    """The autouse fixture must not error every test of the worker: ``prod_plan`` raises it again where it matters."""
    from tests.conftest import start_prod_plan_early

    monkeypatch.delenv(shared_plans.SWITCH_VARIABLE, raising=False)
    calls = _PlanCalls(RuntimeError("prod cannot be planned"))
    start_prod_plan_early("gw1", READS_PROD, plan=calls)
    assert calls.stacks == ["prod"]
