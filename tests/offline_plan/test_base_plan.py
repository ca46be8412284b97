"""The base revision is planned by its own code in a throwaway worktree, cached by commit, and fails clearly.

A small git repository stands in for this one: its ``offline_plan`` is a stub that writes a plan the way
the real CLI does (``--stack``, ``--out``, exit 0/1/2), so these tests exercise the worktree, the cache
and the error paths in a second each rather than planning the platform.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from offline_plan.base_plan import CACHE_DIR_NAME, BasePlanError, start_base_plan

STUB = """
import argparse, json, os, pathlib, sys
parser = argparse.ArgumentParser()
parser.add_argument("--stack"); parser.add_argument("--out"); parser.add_argument("--catalog")
parser.add_argument("--policy-config")
args = parser.parse_args()
with open(os.environ["STUB_LOG"], "a") as log:
    entry = {"cwd": os.getcwd(), "catalog": args.catalog, "env_catalog": os.environ.get("CICD_PLATFORM_CATALOG")}
    log.write(json.dumps(entry) + "\\n")
behaviour = pathlib.Path("behaviour.txt").read_text().strip()
if behaviour == "bad-config":
    print("error: Pulumi.dev.yaml: field 'environments': must not be empty", file=sys.stderr)
    sys.exit(2)
handler = pathlib.Path("functions/gate/handler.py").resolve()
plan = {
    "stack": args.stack,
    "resources": [{"urn": "urn:pulumi:dev::p::aws:lambda/function:Function::gate",
                   "type": "aws:lambda/function:Function", "name": "gate", "parent": None, "provider": None,
                   "inputs": {"code": {"assets": {"handler.py": {"path": str(handler)}}}}}],
    "policy": {"violations": []},
    "summary": {},
}
out = pathlib.Path(args.out); out.mkdir(parents=True, exist_ok=True)
(out / f"plan-{args.stack}.json").write_text(json.dumps(plan))
sys.exit(1 if behaviour == "mandatory-findings" else 0)
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    commit(
        root,
        {
            "offline_plan/__init__.py": "",
            "offline_plan/__main__.py": STUB,
            "behaviour.txt": "ok",
            "functions/gate/handler.py": "def handler(event, context):\n    return 'v1'\n",
        },
        "base",
    )
    commit(root, {"functions/gate/handler.py": "def handler(event, context):\n    return 'v2'\n"}, "head")
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "runs.log"))
    monkeypatch.setenv("CICD_PLATFORM_CATALOG", str(tmp_path / "not-for-the-base.yaml"))
    return root


def runs(repo: Path) -> list[dict]:
    log = repo.parent / "runs.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_base_is_planned_by_its_own_code_in_a_worktree_that_is_then_removed(repo):
    base = start_base_plan(repo, "HEAD~1", "dev").result()
    assert base.revision.commit == git(repo, "rev-parse", "HEAD~1") and not base.from_cache
    (run,) = runs(repo)
    assert Path(run["cwd"]).name == "tree" and Path(run["cwd"]) != repo
    assert run["env_catalog"] is None  # the working tree's catalog override does not leak into the base
    assert not Path(run["cwd"]).exists()
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    (function,) = base.document["resources"]
    asset = function["inputs"]["code"]["assets"]["handler.py"]
    base_handler = git(repo, "show", "HEAD~1:functions/gate/handler.py") + "\n"
    assert asset == {"path": "functions/gate/handler.py", "sha256": hashlib.sha256(base_handler.encode()).hexdigest()}


def test_a_second_review_of_the_same_base_reads_the_cache_and_plans_nothing(repo):
    start_base_plan(repo, "HEAD~1", "dev").result()
    again = start_base_plan(repo, "HEAD~1", "dev").result()
    assert again.from_cache and len(runs(repo)) == 1
    assert list((repo / CACHE_DIR_NAME).glob("dev-*.json.gz"))
    start_base_plan(repo, "HEAD~1", "prod").result()  # another stack is another plan
    assert len(runs(repo)) == 2


def test_an_override_catalog_is_passed_as_given_and_its_content_is_part_of_the_key(repo, tmp_path):
    catalog = tmp_path / "services.yaml"
    catalog.write_text("services: []\n")
    start_base_plan(repo, "HEAD~1", "dev", str(catalog)).result()
    start_base_plan(repo, "HEAD~1", "dev", str(catalog)).result()
    catalog.write_text("services: [{name: auth}]\n")
    start_base_plan(repo, "HEAD~1", "dev", str(catalog)).result()
    assert [run["catalog"] for run in runs(repo)] == [str(catalog), str(catalog)]


def test_a_base_with_mandatory_findings_still_gives_its_plan(repo):
    commit(repo, {"behaviour.txt": "mandatory-findings"}, "findings")
    assert start_base_plan(repo, "HEAD", "dev").result().document["stack"] == "dev"


def test_a_base_that_cannot_be_planned_says_which_and_why_and_is_not_cached(repo):
    commit(repo, {"behaviour.txt": "bad-config"}, "broken stack file")
    short = git(repo, "rev-parse", "HEAD")[:12]
    with pytest.raises(BasePlanError) as raised:
        start_base_plan(repo, "HEAD", "dev").result()
    assert str(raised.value) == (
        f"the base HEAD ({short}) could not be planned (exit 2): "
        "Pulumi.dev.yaml: field 'environments': must not be empty"
    )
    with pytest.raises(BasePlanError):
        start_base_plan(repo, "HEAD", "dev").result()
    assert len(runs(repo)) == 2
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_a_base_older_than_the_offline_plan_fails_with_the_interpreters_reason(repo):
    commit(repo, {"offline_plan/__main__.py": "raise SystemExit('this revision has no offline plan')\n"}, "old")
    with pytest.raises(BasePlanError, match=r"could not be planned \(exit 1\): this revision has no offline plan"):
        start_base_plan(repo, "HEAD", "dev").result()


def test_a_ref_that_names_no_commit_is_refused_before_anything_runs(repo):
    with pytest.raises(BasePlanError, match="base 'origin/nope' is not a commit of this repository"):
        start_base_plan(repo, "origin/nope", "dev")
    assert runs(repo) == []
