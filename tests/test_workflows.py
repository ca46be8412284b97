"""The workflow templates keep their contract with the dispatch function, and every workflow stays hardened.

actionlint and zizmor (``make lint-workflows``) check the files as GitHub Actions code; these tests check what
only this project knows: the inputs the function sends, the run name it searches for, and our pinning and
permission rules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.github_dispatch import request
from functions.github_dispatch.github_api import run_matches

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_DIR / "templates" / "github"
TEMPLATES = sorted(TEMPLATES_DIR.glob("*.yml"))
OWN_WORKFLOWS = sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
REVIEW_ARTIFACT = "offline-plan-review"


def load(path: Path) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def strings(node: Any) -> Iterator[str]:
    """Every string value in a parsed workflow, however deep."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


DEPLOY_TARGET_READ = "fromJSON(vars.CICD_DEPLOY_TARGET || '{}')"
"""How every step after the check reads the variable: ``''`` (no variable) parses as ``{}`` instead of failing."""
DEPLOY_TARGET_KEY = re.compile(re.escape(DEPLOY_TARGET_READ) + r"\.([A-Za-z0-9_]+)")
FROM_JSON = re.compile(r"fromJSON\(([^)]*)\)")
VARIABLE = re.compile(r"\bvars\.([A-Za-z0-9_]+)")


def deploy_target_keys(path: Path) -> set[str]:
    """The keys of ``CICD_DEPLOY_TARGET`` a template reads (``fromJSON(vars.CICD_DEPLOY_TARGET || '{}').KEY``)."""
    return {key for text in strings(load(path)) for key in DEPLOY_TARGET_KEY.findall(text)}


def deploy_target_check(path: Path) -> dict[str, Any]:
    return load(path)["jobs"]["deploy"]["steps"][0]


def test_both_clouds_have_a_template() -> None:
    assert [path.name for path in TEMPLATES] == ["deploy-azure.yml", "deploy-gcp.yml"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_takes_exactly_the_inputs_the_function_sends(path: Path) -> None:
    inputs = load(path)["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"environment", "commit", "correlation_id"}
    assert inputs["environment"]["type"] == "choice"
    assert inputs["environment"]["options"] == ["dev", "qa", "staging", "prod"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_run_name_carries_the_correlation_id_the_function_searches_for(path: Path) -> None:
    run_name = load(path)["run-name"]
    assert "[${{ inputs.correlation_id }}]" in run_name
    rendered = (
        run_name.replace("${{ inputs.environment }}", "prod")
        .replace("${{ inputs.commit }}", "a" * 40)
        .replace("${{ inputs.correlation_id }}", "cp-1234")
    )
    assert run_matches({"display_title": rendered, "name": path.stem}, "cp-1234")
    assert not run_matches({"display_title": rendered, "name": path.stem}, "cp-123")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_validates_inputs_before_the_deploy_job_can_start(path: Path) -> None:
    workflow = load(path)
    validate, deploy = workflow["jobs"]["validate"], workflow["jobs"]["deploy"]
    assert deploy["needs"] == "validate"
    assert validate["permissions"] == {}
    script = validate["steps"][0]["run"]
    assert "^[0-9a-f]{40}$" in script
    assert request.CORRELATION_PATTERN.pattern.strip("^$") in script
    assert deploy["environment"] == "${{ inputs.environment }}"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_job_that_can_mint_a_cloud_token_runs_in_the_environment_it_deploys(path: Path) -> None:
    """GCP providers and Azure credentials trust only a token from the GitHub environment they serve, in every
    environment: a job that mints one outside it (or only for prod) could not sign in, and should not."""
    jobs = load(path)["jobs"]
    minting = [name for name, job in jobs.items() if (job.get("permissions") or {}).get("id-token") == "write"]
    assert minting == ["deploy"]
    assert all(jobs[name]["environment"] == "${{ inputs.environment }}" for name in minting)
    assert "if" not in jobs["deploy"], "the deploy job runs for every environment the dispatch names"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_permissions_are_id_token_and_read_only_contents(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["deploy"]["permissions"] == {"id-token": "write", "contents": "read"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_checks_out_the_commit_the_pipeline_built(path: Path) -> None:
    checkout = next(s for s in steps(load(path)) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"] == {"ref": "${{ inputs.commit }}", "persist-credentials": False}


@pytest.mark.parametrize("path", TEMPLATES + OWN_WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_full_commit_sha(path: Path) -> None:
    uses = [step["uses"] for step in steps(load(path)) if "uses" in step]
    assert uses, "every workflow uses at least checkout"
    assert [u for u in uses if not PINNED.match(u)] == []


@pytest.mark.parametrize("path", TEMPLATES + OWN_WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_inlined_into_a_script(path: Path) -> None:
    scripts = [step["run"] for step in steps(load(path)) if "run" in step]
    assert [s for s in scripts if "${{" in s] == []


@pytest.mark.parametrize("path", TEMPLATES + OWN_WORKFLOWS, ids=lambda p: p.name)
def test_workflows_grant_nothing_by_default_and_each_job_names_its_permissions(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    assert all("permissions" in job for job in workflow["jobs"].values())


def test_pull_requests_from_forks_get_no_secrets_and_no_cloud_credentials() -> None:
    workflow = load(PROJECT_DIR / ".github" / "workflows" / "pr.yml")
    assert set(workflow["on"]) == {"pull_request"}
    test_job, preview = workflow["jobs"]["test"], workflow["jobs"]["preview"]
    assert test_job["permissions"] == {"contents": "read"}
    assert "secrets." not in yaml.safe_dump(test_job)
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def test_deploy_goes_to_dev_before_prod_and_prod_waits_for_its_environment() -> None:
    jobs = load(PROJECT_DIR / ".github" / "workflows" / "deploy.yml")["jobs"]
    assert jobs["up-dev"]["needs"] == "test"
    # Prod waits for dev and every dev shard; a whole dev has no shard job (skipped), which must not hold prod.
    assert jobs["up-prod"]["needs"] == ["up-dev", "up-dev-shards"]
    assert "needs.up-dev-shards.result == 'skipped'" in jobs["up-prod"]["if"]
    assert jobs["up-prod"]["environment"] == "platform-prod"
    for name in ("up-dev", "up-prod", "up-dev-shards", "up-prod-shards"):
        pulumi_step = next(s for s in jobs[name]["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
        assert pulumi_step["with"]["command"] == "up"
        assert pulumi_step["with"]["policyPacks"] == "policies"


@pytest.mark.parametrize("platform", ["dev", "prod"])
def test_a_cores_shards_deploy_after_it_as_a_matrix_one_concurrency_group_per_stack(platform: str) -> None:
    jobs = load(PROJECT_DIR / ".github" / "workflows" / "deploy.yml")["jobs"]
    core, shards = jobs[f"up-{platform}"], jobs[f"up-{platform}-shards"]
    assert f"up-{platform}" in shards["needs"]
    assert shards["if"] == f"needs.test.outputs.{platform}-shards != '[]'"
    assert shards["strategy"]["matrix"]["stack"] == f"${{{{ fromJSON(needs.test.outputs.{platform}-shards) }}}}"
    # A failing shard must not cancel the others' updates half way.
    assert shards["strategy"]["fail-fast"] is False
    assert shards["environment"] == core["environment"] == f"platform-{platform}"
    assert core["concurrency"] == {"group": f"pulumi-{platform}", "cancel-in-progress": False}
    assert shards["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    pulumi_step = next(s for s in shards["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi_step["with"]["stack-name"] == "${{ matrix.stack }}"
    test_job = jobs["test"]
    assert test_job["outputs"][f"{platform}-shards"] == f"${{{{ steps.fleet.outputs.{platform} }}}}"
    fleet = next(s for s in test_job["steps"] if s.get("id") == "fleet")
    assert "python -m offline_plan.fleet_stacks" in fleet["run"]


def test_drift_checks_every_stack_of_each_platform_in_the_deploys_concurrency_group() -> None:
    workflow = load(PROJECT_DIR / ".github" / "workflows" / "drift.yml")
    stacks, drift = workflow["jobs"]["stacks"], workflow["jobs"]["drift"]
    assert "offline_plan.fleet_stacks --all dev prod" in stacks["steps"][-1]["run"]
    assert drift["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert drift["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    credentials = next(s for s in drift["steps"] if s.get("uses", "").startswith("aws-actions/"))
    # A shard lives in its core's tooling account: it is previewed with its core's read-only role.
    assert credentials["with"]["role-to-assume"] == "${{ vars[format('AWS_PREVIEW_ROLE_ARN_{0}', matrix.core)] }}"


def test_drift_check_fails_on_any_change_without_writing_state() -> None:
    workflow = load(PROJECT_DIR / ".github" / "workflows" / "drift.yml")
    assert "schedule" in workflow["on"]
    pulumi_step = next(s for s in steps(workflow) if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi_step["with"]["command"] == "preview"
    assert pulumi_step["with"]["refresh"] is True
    assert pulumi_step["with"]["expect-no-changes"] is True


def test_the_pr_run_reviews_against_the_base_it_merges_into_and_keeps_the_review_for_the_comment():
    test_job = load(PROJECT_DIR / ".github" / "workflows" / "pr.yml")["jobs"]["test"]
    checkout = next(s for s in test_job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 2  # the merge commit and its parents: HEAD^1 is the base
    plan_step = next(s for s in test_job["steps"] if "make plan-diff" in s.get("run", ""))
    assert 'make plan-diff STACK="$stack" BASE=HEAD^1' in plan_step["run"]
    assert "GITHUB_STEP_SUMMARY" in plan_step["run"] and "out/pr-comment.md" in plan_step["run"]
    upload = next(s for s in test_job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ !cancelled() }}"  # a failed plan (mandatory findings) is reviewed too
    assert upload["with"]["name"] == REVIEW_ARTIFACT
    assert "out/pr-comment.md" in upload["with"]["path"]


def test_the_comment_workflow_never_checks_out_or_runs_pr_code_and_holds_only_what_it_needs():
    """workflow_run runs with a write token from the default branch: it may read the pr run's data, nothing more."""
    workflow = load(PROJECT_DIR / ".github" / "workflows" / "pr-comment.yml")
    assert workflow["on"] == {"workflow_run": {"workflows": ["pr"], "types": ["completed"]}}
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert "github.event.workflow_run.event == 'pull_request'" in job["if"]
    uses = [step.get("uses", "").split("@")[0] for step in job["steps"]]
    assert uses == ["actions/download-artifact", "actions/github-script"]
    assert not any("run" in step for step in job["steps"]), "no shell step: the artifact never meets a shell"
    download, post = job["steps"]
    assert download["with"]["name"] == REVIEW_ARTIFACT
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert "${{" not in post["with"]["script"], "event and artifact data reach the script through env only"
    assert "LIMIT = 65000" in post["with"]["script"] and "readSync" in post["with"]["script"]
    assert post["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    assert "candidate.head.sha === headSha" in post["with"]["script"], "the PR is found by the run's head commit"


# --- the deploy target: one JSON variable per GitHub environment -------------------------------------------------


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_reads_every_setting_from_the_deploy_target_and_no_per_key_variable(path: Path) -> None:
    """The platform writes one ``CICD_DEPLOY_TARGET`` per environment (the per-key variables only while
    ``githubPerKeyVariables`` is on): a template reading ``vars.GCP_PROJECT_ID`` would sign in with an empty
    string, or with a repository or organization variable of that name."""
    texts = list(strings(load(path)))
    assert {name for text in texts for name in VARIABLE.findall(text)} == {"CICD_DEPLOY_TARGET"}
    keys = deploy_target_keys(path)
    assert "SERVICE_NAME" in keys and len(keys) >= 7
    # Values reach scripts only through env: (zizmor template-injection), as every other expression does.
    scripts = [step["run"] for step in steps(load(path)) if "run" in step]
    assert not [s for s in scripts if "fromJSON" in s or "vars." in s]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_deploy_job_checks_the_deploy_target_first_for_exactly_the_keys_it_reads(path: Path) -> None:
    workflow = load(path)
    check = deploy_target_check(path)
    assert check["env"]["CICD_DEPLOY_TARGET"] == "${{ vars.CICD_DEPLOY_TARGET }}"
    assert check["env"]["REQUIRED_KEYS"].split() == sorted(deploy_target_keys(path))
    assert "fromJSON" not in json.dumps(check), "the check must not parse what it has not checked yet"
    # Job- and workflow-level env are evaluated before the first step: fromJSON('') there fails obscurely.
    for scope in (workflow, *workflow["jobs"].values()):
        assert "fromJSON" not in json.dumps(scope.get("env", {}))
    # Every later step runs only after the check passed (no `if: always()` that would read it regardless).
    assert not [step for step in workflow["jobs"]["deploy"]["steps"] if "if" in step]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_step_after_the_check_fails_on_a_missing_variable_while_being_skipped(path: Path) -> None:
    """The runner evaluates a step's ``env:`` before its ``if:`` (actions/runner ``StepsRunner.cs``: the step's env
    block is merged before "Evaluate condition", and an exception there fails the step), and ``fromJSON('')``
    throws (``FromJson.cs``: ``JToken.ReadFrom``). So after a failed check the steps that are skipped would still
    fail with a JSON reader error unless every read falls back to ``'{}'`` (a nonexistent property is ``''``,
    "Contexts reference")."""
    later = load(path)["jobs"]["deploy"]["steps"][1:]
    parsed = [argument for text in strings(later) for argument in FROM_JSON.findall(text)]
    assert parsed, "the steps after the check read the deploy target"
    assert set(parsed) == {"vars.CICD_DEPLOY_TARGET || '{}'"}
    reads = [text for text in strings(later) if "fromJSON" in text]
    assert all(DEPLOY_TARGET_KEY.fullmatch(text.removeprefix("${{ ").removesuffix(" }}")) for text in reads), reads
    in_env = [
        step.get("name")
        for step in later
        if any("fromJSON(vars.CICD_DEPLOY_TARGET)" in str(value) for value in (step.get("env") or {}).values())
    ]
    assert not in_env, f"env: of {in_env} is evaluated even when the step is skipped; an empty variable fails it"


def run_check(path: Path, value: str) -> subprocess.CompletedProcess[str]:
    check = deploy_target_check(path)
    env = {"PATH": os.environ["PATH"], "TARGET_ENVIRONMENT": "prod", "CICD_DEPLOY_TARGET": value}
    env["REQUIRED_KEYS"] = check["env"]["REQUIRED_KEYS"]
    return subprocess.run(["bash", "-c", check["run"]], env=env, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("jq") is None, reason="the check uses jq, as GitHub's hosted runners have it")
@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_deploy_target_check_says_what_is_missing_before_any_sign_in(path: Path) -> None:
    keys = sorted(deploy_target_keys(path))
    complete = {key: f"value-of-{key.lower()}" for key in keys} | {"AN_EXTRA_KEY": "ignored"}
    assert run_check(path, json.dumps(complete, sort_keys=True, separators=(",", ":"))).returncode == 0

    missing = run_check(path, "")
    assert missing.returncode == 1
    assert "::error::the GitHub environment 'prod' has no variable CICD_DEPLOY_TARGET" in missing.stdout

    for broken in ("GCP_PROJECT_ID=x", "[1, 2]", '"text"', "{", "null", "{} {}"):
        answer = run_check(path, broken)
        assert answer.returncode == 1 and "is not one JSON object" in answer.stdout, broken

    lacking = dict(complete)
    del lacking[keys[0]]
    lacking[keys[-1]] = ""
    answer = run_check(path, json.dumps(lacking))
    assert answer.returncode == 1
    assert f"lacks {keys[0]} {keys[-1]}:" in answer.stdout
    assert "cloudDeployTargets" in answer.stdout


@pytest.mark.skipif(shutil.which("jq") is None, reason="the check uses jq, as GitHub's hosted runners have it")
@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_deploy_target_check_rejects_a_value_whose_first_json_object_is_incomplete(path: Path) -> None:
    """jq reads every JSON value of its input (``-e`` judges the last); GitHub's ``fromJSON`` reads the first and
    ignores the rest (actions/runner ``FromJson.cs``: one ``JToken.ReadFrom``). A complete object after an
    incomplete one must not pass: the sign-in would get the first one's empty strings."""
    keys = sorted(deploy_target_keys(path))
    complete = {key: f"value-of-{key.lower()}" for key in keys}
    for value in (
        json.dumps({keys[0]: "value"}) + " " + json.dumps(complete),
        json.dumps(complete) + "\n" + json.dumps(complete),
        json.dumps(complete) + " trailing",
    ):
        answer = run_check(path, value)
        assert answer.returncode == 1 and "is not one JSON object" in answer.stdout, value


@pytest.mark.skipif(shutil.which("jq") is None, reason="the check uses jq, as GitHub's hosted runners have it")
@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_deploy_target_check_rejects_keys_that_differ_only_by_case(path: Path) -> None:
    """GitHub's expression objects look keys up ignoring case (actions/runner ``DictionaryContextData``:
    ``StringComparer.OrdinalIgnoreCase``), and a later case-twin overwrites the earlier value while jq, which is
    case-sensitive, would check the other one. jq's ``ascii_upcase`` sees only ASCII case, while Unicode's simple
    upper-case mapping, which .NET's comparison may apply, sends U+017F and U+0131 to ``S`` and ``I``: keys must be
    ASCII."""
    keys = sorted(deploy_target_keys(path))
    complete = {key: f"value-of-{key.lower()}" for key in keys}
    twin = keys[0].lower()
    for text in (
        json.dumps(complete)[:-1] + f', "{twin}": ""}}',
        json.dumps({twin: ""} | complete),
        json.dumps(complete | {"Service_Name": "other"}),
        json.dumps(complete | {"\u017fERVICE_NAME": "other"}),
    ):
        answer = run_check(path, text)
        assert answer.returncode == 1, text
        assert "has keys that differ only by case or are not ASCII" in answer.stdout, text
    # The same key twice is one key to both readers (the last value wins in jq and in Newtonsoft's JObject).
    assert run_check(path, json.dumps(complete)[:-1] + f', "{keys[0]}": "again"}}').returncode == 0
    assert run_check(path, json.dumps(complete)[:-1] + f', "{keys[0]}": ""}}').returncode == 1
