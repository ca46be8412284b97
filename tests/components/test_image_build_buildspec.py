"""The platform's image buildspec, run for real the way CodeBuild runs it, with stand-in docker and aws.

Each scenario takes the buildspec and the variables exactly as the dev plan deploys them (the
``<service>-image-build`` project's and its pipeline action's), runs every phase through
``tests/governance/codebuild.py`` (CodeBuild's documented phase transitions: a failed PRE_BUILD
skips BUILD), and reads what the stand-ins were asked to do and what the build handed on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.model import naming
from tests.governance import codebuild

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")
SERVICE, ENVIRONMENT = "booking", "prod"
DIGEST = "sha256:" + "ab" * 32
DOCKER = """#!/usr/bin/env bash
echo "docker $*" >> "$STAND_IN_LOG"
case "$1" in
  login) cat > "$STAND_IN_DIR/password"; [ "$(cat "$STAND_IN_DIR/password")" = "ecr-password" ] ;;
  build) echo "built $4" ;;
  push) [ -z "${PUSH_FAILS:-}" ] || { echo "denied: not authorized" >&2; exit 1; } ;;
  inspect) echo "${INSPECTED_DIGEST}" ;;
  *) exit 2 ;;
esac
"""
AWS = """#!/usr/bin/env bash
echo "aws $*" >> "$STAND_IN_LOG"
[ -z "${LOGIN_FAILS:-}" ] || { echo "AccessDenied" >&2; exit 254; }
echo ecr-password
"""


def _deployed(plan) -> tuple[dict, dict[str, str], dict[str, str]]:
    name = naming.image_build_project_name(SERVICE)
    (project,) = [
        r.inputs for r in plan.resources if r.type == "aws:codebuild/project:Project" and r.inputs["name"] == name
    ]
    (pipeline,) = [
        r.inputs
        for r in plan.resources
        if r.type == "aws:codepipeline/pipeline:Pipeline" and r.inputs["name"] == f"{SERVICE}-{ENVIRONMENT}"
    ]
    (action,) = [a for s in pipeline["stages"] for a in s["actions"] if a["configuration"].get("ProjectName") == name]
    project_variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    action_variables = {v["name"]: v["value"] for v in json.loads(action["configuration"]["EnvironmentVariables"])}
    return yaml.safe_load(project["source"]["buildspec"]), project_variables, action_variables


@pytest.fixture(scope="module")
def deployed(dev_plan):
    return _deployed(dev_plan)


def run(deployed, tmp_path: Path, dockerfile: bool = True, **variables: str):
    spec, project_variables, action_variables = deployed
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, script in (("docker", DOCKER), ("aws", AWS)):
        (tools / name).write_text(script)
        (tools / name).chmod(0o755)
    (tmp_path / "src").mkdir()
    if dockerfile:
        (tmp_path / "src" / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.12-slim\n")
    repository = project_variables["IMAGE_REPOSITORY_URI"]
    resolved = {
        k: v.replace("#{SourceVariables.CommitId}", "0a1b2c3").replace(
            "#{codepipeline.PipelineExecutionId}", "4d5e-6f70"
        )
        for k, v in action_variables.items()
    }
    environment = {
        **codebuild.build_environment(spec, project_variables, resolved, {}),
        "AWS_REGION": "eu-west-1",
        "STAND_IN_LOG": str(tmp_path / "calls.log"),
        "STAND_IN_DIR": str(tmp_path),
        "INSPECTED_DIGEST": f"{repository}@{DIGEST}",
        **variables,
    }
    build = codebuild.run_buildspec(spec, sandbox=tmp_path, variables=environment, moves={}, path=[tools])
    log = tmp_path / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    detail = tmp_path / "src" / "imageDetail.json"
    return build, calls, json.loads(detail.read_text()) if detail.exists() else None, repository


def test_the_image_is_built_from_the_build_output_pushed_under_the_run_tag_and_handed_on_by_digest(deployed, tmp_path):
    build, calls, detail, repository = run(deployed, tmp_path)
    assert build.succeeded, build.log
    tag = f"{repository}:0a1b2c3-{ENVIRONMENT}-4d5e-6f70"
    # `aws ecr get-login-password | docker login …` is a pipe: both start at once, so they log in either order.
    assert sorted(calls[:2]) == [
        "aws ecr get-login-password --region eu-west-1",
        f"docker login --username AWS --password-stdin {repository.split('/')[0]}",
    ]
    assert calls[2:] == [
        f"docker build --pull --tag {tag} .",
        f"docker push {tag}",
        f"docker inspect --format {{{{index .RepoDigests 0}}}} {tag}",
    ]
    # CodePipeline's ECS blue/green action reads ImageURI from imageDetail.json (CodePipeline user guide,
    # "Image definitions file reference"); a digest names exactly the image this run pushed.
    assert detail == {"ImageURI": f"{repository}@{DIGEST}"}
    assert deployed[0]["artifacts"] == {"files": ["imageDetail.json"]}


def test_a_build_output_without_a_dockerfile_stops_before_anything_is_built(deployed, tmp_path):
    build, calls, detail, _ = run(deployed, tmp_path, dockerfile=False)
    assert not build.succeeded and not build.ran("build")
    assert "the build output has no Dockerfile at its root" in build.stdout
    assert calls == [] and detail is None


def test_a_run_without_its_tag_stops_before_anything_is_built(deployed, tmp_path):
    build, calls, detail, _ = run(deployed, tmp_path, IMAGE_TAG="")
    assert not build.succeeded and not build.ran("build")
    assert "IMAGE_TAG is set by the pipeline" in build.stderr
    assert calls == [] and detail is None


def test_a_refused_registry_login_fails_the_build_even_through_the_pipe(deployed, tmp_path):
    build, calls, detail, _ = run(deployed, tmp_path, LOGIN_FAILS="1")
    assert not build.succeeded and not build.ran("build")
    assert not any(call.startswith("docker build") for call in calls) and detail is None


def test_a_refused_push_hands_no_image_to_the_deploy(deployed, tmp_path):
    build, calls, detail, _ = run(deployed, tmp_path, PUSH_FAILS="1")
    assert not build.succeeded
    assert not any(call.startswith("docker inspect") for call in calls)
    assert detail is None


def test_a_digest_of_another_repository_is_not_handed_on(deployed, tmp_path):
    build, _, detail, _ = run(deployed, tmp_path, INSPECTED_DIGEST=f"public.ecr.aws/docker/library/python@{DIGEST}")
    assert not build.succeeded
    assert "the push left no digest of" in build.stdout
    assert detail is None
