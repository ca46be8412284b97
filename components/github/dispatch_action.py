"""The pipeline action that hands a deploy to GitHub Actions: plain data for the Deploy stage.

An ``Invoke``/``Lambda`` action runs the stack's GitHub dispatch function.
Its ``UserParameters`` name the service's repository and workflow, the cloud
and the environment; the commit and branch come from the Source action's
variables (namespace ``SourceVariables``), which CodePipeline resolves before
it invokes the function, so the workflow deploys exactly what the pipeline
built. The function falls back to the source artifact's revision if the
commit variable is missing. ``pipelineExecutionId`` (the pipeline-level variable
``codepipeline.PipelineExecutionId``) ties the job to its execution, so that
the function can cancel the run when that execution is stopped, fails or is
superseded (``functions/github_dispatch/halting.py``). ``timeoutMinutes`` is the environment's
``githubRunTimeoutMinutes``: when the run has not finished by then, the function
cancels it and fails the action, well before CodePipeline's own 24-hour limit
(``components/model/github_run_timeout.py``).
"""

from __future__ import annotations

import json
from typing import Literal

import pulumi

from ..model.catalog import Service
from ..model.settings import Environment

Cloud = Literal["gcp", "azure"]
SOURCE_NAMESPACE = "SourceVariables"
EXECUTION_VARIABLE = "#{codepipeline.PipelineExecutionId}"
ACTION_NAMES: dict[str, str] = {"gcp": "DeployToGcp", "azure": "DeployToAzure"}
NAMESPACES: dict[str, str] = {"gcp": "GitHubGcp", "azure": "GitHubAzure"}


def workflow_file(cloud: Cloud) -> str:
    """The workflow a service repository copies from templates/github/."""
    return f"deploy-{cloud}.yml"


def user_parameters(service: Service, environment: Environment, cloud: Cloud, workflow: str) -> str:
    return json.dumps(
        {
            "service": service.name,
            "repository": service.repository,
            "workflow": workflow,
            "cloud": cloud,
            "environment": environment.name,
            "commit": f"#{{{SOURCE_NAMESPACE}.CommitId}}",
            "ref": f"#{{{SOURCE_NAMESPACE}.BranchName}}",
            "pipelineExecutionId": EXECUTION_VARIABLE,
            "timeoutMinutes": environment.github_run_timeout_minutes,
        },
        sort_keys=True,
    )


def dispatch_action(
    function_name: pulumi.Input[str],
    service: Service,
    environment: Environment,
    cloud: Cloud,
    workflow: str | None = None,
    *,
    run_order: int = 1,
) -> dict[str, object]:
    """The Deploy-stage action for one service, environment and cloud.

    Its namespace (``GitHubGcp``/``GitHubAzure``) exposes ``GitHubRunId`` and
    ``GitHubRunUrl`` to later actions once the run succeeded.
    """
    if cloud not in ACTION_NAMES:
        raise ValueError(f"unknown cloud {cloud!r}; expected one of {sorted(ACTION_NAMES)}")
    return {
        "name": ACTION_NAMES[cloud],
        "category": "Invoke",
        "owner": "AWS",
        "provider": "Lambda",
        "version": "1",
        "run_order": run_order,
        "namespace": NAMESPACES[cloud],
        "configuration": {
            "FunctionName": function_name,
            "UserParameters": user_parameters(service, environment, cloud, workflow or workflow_file(cloud)),
        },
    }
