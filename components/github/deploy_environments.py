"""The GitHub environments a service's GCP/Azure deploy workflows run in, with their variables filled in.

Optional (stack setting ``githubEnvironments``): without it, service teams
create the environments and copy the ``cloudDeployTargets`` output by hand
(``templates/github/README.md``). With it, the platform owns them: each
environment the service deploys to exists in its repository with the
variables its workflow reads, and production ones wait for a reviewer team,
let no one approve their own run, and let no admin bypass that.

Every one of them, production or not, accepts only the branches its environment
deploys from: GitHub names the environment in the OIDC token of any job that names
it, whatever its branch ("OpenID Connect reference"), and Azure's federated subject
can carry only the environment, so the environment's deployment branch policy is what
keeps another branch or a pull request (its ``GITHUB_REF`` is ``refs/pull/...``)
from minting a token. GitHub matches policy patterns with Ruby's ``File.fnmatch``,
where wildcards do not match ``/`` ("Managing environments for deployment",
deployment branches): ``release/**`` alone admits ``release/1.2`` but not
``release/1/2``, so a pattern ending in ``/**`` also gets ``<prefix>/**/*``, whose
``**/`` spans directories (``github_branch_patterns``).
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
                ),
                opts=in_github,
            )
            for index, pattern in enumerate(github_branch_patterns(environment.branch)):
                github.RepositoryEnvironmentDeploymentPolicy(
                    f"{name}-{environment.name}-branch" + (f"-{index + 1}" if index else ""),
                    repository=repository,
                    environment=github_environment.environment,
                    branch_pattern=pattern,
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


def github_branch_patterns(pattern: str) -> tuple[str, ...]:
    """The deployment branch policy patterns that admit the branches of ``pattern`` (see the module docstring)."""
    if pattern.endswith("/**"):
        return (pattern, pattern + "/*")
    return (pattern,)


def variables_by_name(
    targets: Mapping[str, pulumi.Output[dict[str, str]]], names: Mapping[str, Sequence[str]]
) -> dict[str, pulumi.Output[str]]:
    """One Output per variable from each cloud's dict Output; a name two clouds share (SERVICE_NAME) appears once."""
    merged: dict[str, pulumi.Output[str]] = {}
    for cloud, values in targets.items():
        for variable in names[cloud]:
            merged.setdefault(variable, values.apply(lambda resolved, key=variable: resolved[key]))
    return merged
