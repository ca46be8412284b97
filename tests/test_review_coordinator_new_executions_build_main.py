"""Review: where an environment follows a branch glob (dev ``feature/**``, staging ``release/**``), every execution
the coordinator starts builds ``main`` instead of the branch the environment deploys.

CodePipeline, "Add trigger with code push or pull request event types": with trigger filters "the branch in the
BranchName field in the action configuration is the default when the pipeline is started manually", and
``StartPipelineExecution`` without ``sourceRevisions`` is such a start (API Reference, StartPipelineExecution:
``sourceRevisions`` overrides the revision the source action fetches). The program sets ``BranchName`` to the
service's ``default_branch`` (``main``) wherever the pattern is a glob (``components/pipeline/stages.py``), and the
coordinator starts executions with a name and a token only (``functions/coordinator/handler.py``): the
``redeploy`` a dependent gets when an upstream deploys to staging (mobile-bff in the reference catalog), and a
held deploy restarted as a new execution, both deploy ``main`` to staging or dev. README ("Held deploys restart
themselves") says a new execution "builds the branch's latest commit".
"""

from __future__ import annotations

import ast

import pytest

from components.model.branch_pattern import matches
from tests.conftest import PROJECT_DIR

PIPELINE = "aws:codepipeline/pipeline:Pipeline"


@pytest.fixture(params=["dev", "prod"])
def plan(request):
    return request.getfixturevalue(f"{request.param}_plan")


def test_an_execution_started_without_a_revision_builds_a_branch_of_its_environment(plan):
    environments = {environment.name: environment for environment in plan.inputs.settings.environments}
    coordinator_starts_without_revision = _coordinator_starts_without_source_revisions()
    off_branch = []
    for pipeline in (r for r in plan.resources if r.type == PIPELINE):
        environment = environments[pipeline.inputs["tags"]["environment"]]
        source = pipeline.inputs["stages"][0]["actions"][0]
        if not matches(environment.branch, source["configuration"]["BranchName"]):
            off_branch.append(
                f"{pipeline.inputs['name']} ({environment.branch}) builds {source['configuration']['BranchName']}"
            )
    assert not (off_branch and coordinator_starts_without_revision), (
        f"{len(off_branch)} pipelines, e.g. {off_branch[:2]}, deploy their default branch when the coordinator "
        "starts them"
    )


def _coordinator_starts_without_source_revisions() -> bool:
    tree = ast.parse((PROJECT_DIR / "functions" / "coordinator" / "handler.py").read_text())
    starts = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and any(isinstance(arg, ast.Constant) and arg.value == "start_pipeline_execution" for arg in node.args)
    ]
    assert starts, "the coordinator no longer starts executions; this check would prove nothing"
    return any(all(keyword.arg != "sourceRevisions" for keyword in call.keywords) for call in starts)
