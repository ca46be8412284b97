"""Workload ownership between services: what a catalog entry names in an account is that service's alone.

Several services share an environment account, and a team changes the platform only through its own catalog
entry. What an entry names there is trusted: its deploy role may ``iam:PassRole`` its task and execution roles
(and its ``taskdef.json`` runs with them), its pipeline deploys into its ECS service, target groups, Lambda
function or Auto Scaling groups, and its instances' role reads its revisions. An entry naming another service's
role or workload would take over that service's identity or production traffic from its own repository. So each
resource an entry names is claimed by that service, per account (and region, for regional resources), and a
second service claiming it is refused before anything is declared.

A service's own environments may name the same resources (dev and staging in one account, say). IAM role names
are unique per account and "not distinguished by case" (IAM API Reference, CreateRole), so roles are compared
case-insensitively and form one namespace: a task role of one service cannot be the instance role of another.
A workload role may not be a platform role either (``cicd-`` is the platform's namespace, ``naming``): a
deploy role allowed to pass one would hand a task the platform's permissions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .catalog import Catalog, EcsTarget, LambdaTarget, ServerTarget, Service
from .errors import PlatformInputError
from .settings import Environment, StackSettings, placements_of

PLATFORM_ROLE_PREFIX = "cicd-"


@dataclass(frozen=True)
class Claim:
    """One resource a service names in one account: ``kind`` and ``name`` say what, ``field`` where."""

    kind: str
    name: str
    field: str
    regional: bool

    @property
    def described(self) -> str:
        return f"{self.kind} '{self.name}'"

    def key(self, environment: Environment) -> tuple[str, ...]:
        name = self.name.lower() if self.kind == "IAM role" else self.name
        region = environment.region if self.regional else ""
        return (environment.account_id, region, self.kind, name)


def claims_of(service: Service) -> Iterator[Claim]:
    """What the service's target names, with the catalog field each name comes from."""
    target = service.aws
    if isinstance(target, EcsTarget):
        # The service first: an omitted task or execution role defaults to a name derived from it.
        yield Claim("ECS service", f"{target.cluster}/{target.service}", "aws.service", regional=True)
        task_role, execution_role = target.passed_roles
        yield Claim("IAM role", task_role, "aws.task_role", regional=False)
        yield Claim("IAM role", execution_role, "aws.execution_role", regional=False)
        for index, group in enumerate(target.target_groups):
            yield Claim("target group", group, f"aws.target_groups[{index}]", regional=True)
    elif isinstance(target, LambdaTarget):
        yield Claim("Lambda function", target.function, "aws.function", regional=True)
    elif isinstance(target, ServerTarget):
        yield Claim("IAM role", target.instance_role, "aws.instance_role", regional=False)
        for index, group in enumerate(target.autoscaling_groups):
            yield Claim("Auto Scaling group", group, f"aws.autoscaling_groups[{index}]", regional=True)


def check_workload_claims(catalog: Catalog, settings: StackSettings, catalog_name: str) -> None:
    """Refuse an entry naming a platform role, or a role or workload another service already names there."""
    owners: dict[tuple[str, ...], tuple[str, Claim]] = {}
    for service in catalog.services:
        for claim in claims_of(service):
            if claim.kind == "IAM role" and claim.name.lower().startswith(PLATFORM_ROLE_PREFIX):
                raise PlatformInputError(
                    catalog_name,
                    f"names {claim.described}, a platform role (roles named '{PLATFORM_ROLE_PREFIX}*' are the "
                    "platform's); name your service's own role",
                    subject=f"service '{service.name}'",
                    field=claim.field,
                )
        for environment in placements_of(service, settings):
            for claim in claims_of(service):
                owner, owned = owners.setdefault(claim.key(environment), (service.name, claim))
                if owner != service.name:
                    where = f"account {environment.account_id}" + (f" ({environment.region})" if claim.regional else "")
                    raise PlatformInputError(
                        catalog_name,
                        f"its {environment.name} target names {claim.described} in {where}, which service "
                        f"'{owner}' already names ({owned.field}); each service deploys only its own roles and "
                        "workloads, so name this service's own (or fix the entry that copied it)",
                        subject=f"service '{service.name}'",
                        field=claim.field,
                    )
