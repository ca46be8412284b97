"""The GitHub environments a service's GCP/Azure deploy workflows run in, with their variables filled in.

Optional (stack setting ``githubEnvironments``): without it, service teams
create the environments and copy the ``cloudDeployTargets`` output by hand
(``templates/github/README.md``). With it, the platform owns them: each
environment the service deploys to exists in its repository with the
variables its workflow reads, and production ones wait for a reviewer team,
let no one approve their own run, let no admin bypass that, and accept only
the production branch, so no other branch can mint a production token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_github as github

from ..model.catalog import Service
from ..model.settings import Environment


@dataclass(frozen=True)
class DeployEnvironmentsArgs:
    service: Service
    environments: tuple[Environment, ...]
    variables: Mapping[str, Mapping[str, pulumi.Output[str]]]
    """environment → variable name → value (the union over the service's clouds)."""
    reviewer_team_ids: Sequence[pulumi.Input[int]]
    provider: github.Provider


class DeployEnvironments(pulumi.ComponentResource):
    """Repository environments and environment variables for one service."""

    def __init__(self, name: str, args: DeployEnvironmentsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:github:DeployEnvironments", name, None, opts)
        repository = args.service.repository.split("/", 1)[1]
        in_github = pulumi.ResourceOptions(parent=self, provider=args.provider)
        for environment in args.environments:
            production = environment.production
            github_environment = github.RepositoryEnvironment(
                f"{name}-{environment.name}",
                repository=repository,
                environment=environment.name,
                reviewers=[github.RepositoryEnvironmentReviewerArgs(teams=list(args.reviewer_team_ids))]
                if production
                else None,
                prevent_self_review=production,
                can_admins_bypass=not production,
                deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                    protected_branches=False, custom_branch_policies=True
                )
                if production
                else None,
                opts=in_github,
            )
            if production:
                github.RepositoryEnvironmentDeploymentPolicy(
                    f"{name}-{environment.name}-branch",
                    repository=repository,
                    environment=github_environment.environment,
                    branch_pattern=environment.branch,
                    opts=in_github,
                )
            for variable, value in sorted(args.variables[environment.name].items()):
                github.ActionsEnvironmentVariable(
                    f"{name}-{environment.name}-{variable.lower().replace('_', '-')}",
                    repository=repository,
                    environment=github_environment.environment,
                    variable_name=variable,
                    value=value,
                    opts=in_github,
                )
        self.register_outputs({})


def variables_by_name(
    targets: Mapping[str, pulumi.Output[dict[str, str]]], names: Mapping[str, Sequence[str]]
) -> dict[str, pulumi.Output[str]]:
    """One Output per variable from each cloud's dict Output; a name two clouds share (SERVICE_NAME) appears once."""
    merged: dict[str, pulumi.Output[str]] = {}
    for cloud, values in targets.items():
        for variable in names[cloud]:
            merged.setdefault(variable, values.apply(lambda resolved, key=variable: resolved[key]))
    return merged
