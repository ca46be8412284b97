"""The GitHub environments a service's GCP/Azure deploy workflows run in, with their deploy target filled in.

Optional (stack setting ``githubEnvironments``): without it, service teams
create the environments and set the variable from the ``cloudDeployTargets``
output by hand (``templates/github/README.md``). With it, the platform owns
them: each environment the service deploys to exists in its repository with
the one variable its workflows read, and production ones wait for a reviewer
team, let no one approve their own run, and let no admin bypass that.

The variable, ``CICD_DEPLOY_TARGET`` (``DEPLOY_TARGET_VARIABLE``), holds every
value of the environment's ``cloudDeployTargets`` entry, merged over the
service's clouds, as one compact JSON object with sorted keys; the templates
read it with ``fromJSON(vars.CICD_DEPLOY_TARGET || '{}').KEY`` ("About expressions"
and "Contexts reference", ``vars``). It used to be one variable per key
(``GCP_PROJECT_ID``, ``SERVICE_NAME``…): 32 resources for a two-cloud service
in four environments, and one GitHub API write each on every ``up``, against a
REST budget of 5,000 requests an hour. One variable per environment costs
four. Templates from before read only the per-key variables, and a deploy
branch changes template when its team merges it, so for the rollout the stack
setting ``githubPerKeyVariables`` writes them too, under their former resource
names and values (``per_key_variables``): an existing stack keeps them as they
are, without replacement, old and new templates both work meanwhile, and the
``up`` that turns the setting off deletes them (README: "Upgrading to one
deploy-target variable"). A JSON object of a dozen short
names is far below GitHub's 48 KB per variable ("Variables reference",
limits for configuration variables). Sorted keys and no whitespace make the
value byte-stable, so a no-op ``up`` plans no change to it, and a team that
sets it by hand gets the same bytes from ``jq -cS``.

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

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_github as github

from ..model.catalog import Service
from ..model.settings import Environment

DEPLOY_TARGET_VARIABLE = "CICD_DEPLOY_TARGET"
"""The one Actions environment variable per environment; ``CICD_`` marks it as the platform's, not the team's."""


@dataclass(frozen=True)
class DeployEnvironmentsArgs:
    service: Service
    environments: tuple[Environment, ...]
    deploy_targets: Mapping[str, pulumi.Input[str]]
    """environment → the ``CICD_DEPLOY_TARGET`` JSON (``deploy_target_json``: the union over the service's clouds)."""
    reviewer_team_ids: Sequence[pulumi.Input[int]]
    provider: github.Provider
    per_key_variables: Mapping[str, Mapping[str, pulumi.Input[str]]] | None = None
    """environment → variable → value: the per-key variables templates from before ``CICD_DEPLOY_TARGET`` read,
    written beside it while ``githubPerKeyVariables`` is on (``per_key_variables``); ``None`` writes none."""


class DeployEnvironments(pulumi.ComponentResource):
    """Repository environments, their branch policies and their one deploy-target variable, for one service."""

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
            github.ActionsEnvironmentVariable(
                f"{name}-{environment.name}-deploy-target",
                repository=repository,
                environment=github_environment.environment,
                variable_name=DEPLOY_TARGET_VARIABLE,
                value=args.deploy_targets[environment.name],
                opts=in_github,
            )
            per_key = args.per_key_variables[environment.name] if args.per_key_variables is not None else {}
            for variable, value in sorted(per_key.items()):
                github.ActionsEnvironmentVariable(
                    per_key_resource_name(name, environment.name, variable),
                    repository=repository,
                    environment=github_environment.environment,
                    variable_name=variable,
                    value=value,
                    opts=in_github,
                )
        self.register_outputs({})


def per_key_resource_name(component: str, environment: str, variable: str) -> str:
    """The resource name a per-key variable had before ``CICD_DEPLOY_TARGET``; keeping it keeps its URN.

    A different name would be a different URN: Pulumi would create the variable anew and delete the old one
    at the end of the same ``up`` (create before delete), a needless write and, were the create to fail
    midway, a window without it. ``-deploy-target`` cannot collide: no key is called ``DEPLOY_TARGET``.
    """
    return f"{component}-{environment}-{variable.lower().replace('_', '-')}"


def github_branch_patterns(pattern: str) -> tuple[str, ...]:
    """The deployment branch policy patterns that admit the branches of ``pattern`` (see the module docstring)."""
    if pattern.endswith("/**"):
        return (pattern, pattern + "/*")
    return (pattern,)


def deploy_target_json(targets: Mapping[str, pulumi.Output[dict[str, str]]]) -> pulumi.Output[str]:
    """One environment's ``CICD_DEPLOY_TARGET``: its clouds' values merged into one sorted, compact JSON object.

    A key two clouds share (``SERVICE_NAME``) appears once; were their values ever to differ, a workflow would
    read the wrong one, so that is an error rather than a silent pick.
    """
    clouds = sorted(targets)
    return pulumi.Output.all(*(targets[cloud] for cloud in clouds)).apply(
        lambda resolved: merged_deploy_target(dict(zip(clouds, resolved, strict=True)))
    )


def merged_deploy_target(values_by_cloud: Mapping[str, Mapping[str, str]]) -> str:
    """The JSON text ``jq -cS '."SERVICE".ENV | add'`` prints for the same ``cloudDeployTargets`` entry."""
    merged: dict[str, str] = {}
    for cloud, values in sorted(values_by_cloud.items()):
        for key, value in values.items():
            if merged.setdefault(key, value) != value:
                raise ValueError(f"{key} differs between clouds ({cloud}: {value!r}, before: {merged[key]!r})")
    return json.dumps(merged, sort_keys=True, separators=(",", ":"))


def per_key_variables(
    targets: Mapping[str, pulumi.Output[dict[str, str]]], names: Mapping[str, Sequence[str]]
) -> dict[str, pulumi.Output[str]]:
    """One environment's per-key variables, one Output each from its clouds' dict Outputs (``names``: each cloud's
    keys, known before deploy); a key two clouds share (``SERVICE_NAME``) appears once, as it always did."""
    merged: dict[str, pulumi.Output[str]] = {}
    for cloud, values in targets.items():
        for variable in names[cloud]:
            merged.setdefault(variable, values.apply(lambda resolved, key=variable: resolved[key]))
    return merged
