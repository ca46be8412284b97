"""Deploy actions that hand a release to GitHub Actions, for services that also run on GCP or Azure.

CodePipeline cannot reach GCP or Azure itself. For each cloud a service lists
in ``also_deploy_to``, the Deploy stage gets a Lambda ``Invoke`` action: the
platform's GitHub dispatch function starts the service's ``deploy-<cloud>.yml``
workflow for the commit the pipeline built, follows the run, and reports its
conclusion as the action's result. The action runs after the AWS deploy
(``runOrder`` 2), so a release that fails on AWS never reaches the other clouds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from ..model.catalog import Service
from ..model.settings import Environment

CLOUD_WORKFLOWS = {"gcp": "deploy-gcp.yml", "azure": "deploy-azure.yml"}
CLOUD_ACTION_NAMES = {"gcp": "DeployToGcp", "azure": "DeployToAzure"}
COMMIT_VARIABLE = "#{SourceVariables.CommitId}"
"""The Source action's output variable: the exact commit this execution built (namespace in ``stages.py``)."""
AFTER_AWS_DEPLOY = 2


@dataclass(frozen=True)
class DispatchFunction:
    """The Lambda function that dispatches workflows; pipeline roles may invoke exactly this one."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]


def dispatch_parameters(service: Service, environment: Environment, cloud: str) -> dict[str, str]:
    """What the dispatch function needs to start and find one workflow run.

    No ``ref``: the workflow definition comes from the repository's default branch, so a
    feature branch cannot change how it is deployed; the run checks out ``commit`` itself.
    """
    return {
        "service": service.name,
        "repository": service.repository,
        "cloud": cloud,
        "environment": environment.name,
        "workflow": CLOUD_WORKFLOWS[cloud],
        "commit": COMMIT_VARIABLE,
    }


def cloud_dispatch_action(
    service: Service, environment: Environment, cloud: str, function: DispatchFunction
) -> dict[str, object]:
    """A Lambda Invoke action (category ``Invoke``, provider ``Lambda``) for one cloud."""
    return {
        "name": CLOUD_ACTION_NAMES[cloud],
        "category": "Invoke",
        "owner": "AWS",
        "provider": "Lambda",
        "version": "1",
        "run_order": AFTER_AWS_DEPLOY,
        "configuration": {
            "FunctionName": function.name,
            "UserParameters": json.dumps(dispatch_parameters(service, environment, cloud), sort_keys=True),
        },
    }


def cloud_dispatch_actions(
    service: Service, environment: Environment, function: DispatchFunction | None
) -> list[dict[str, object]]:
    """One action per cloud the service also deploys to, in the catalog's order."""
    if not service.also_deploy_to:
        return []
    if function is None:
        raise ValueError(f"{service.name} deploys to {', '.join(service.also_deploy_to)} but no dispatch function")
    return [cloud_dispatch_action(service, environment, cloud, function) for cloud in service.also_deploy_to]
