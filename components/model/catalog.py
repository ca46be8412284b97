"""The service catalog: what each service is, where it runs and what it needs.

Service teams edit ``catalog/services.yaml``; this module is the only reader.
It turns the YAML into frozen, typed objects, checks everything that can be
checked without the stack (names, repositories, targets, health signals,
dependencies), and raises ``PlatformInputError`` naming the file, the service
and the field. ``catalog/services.schema.json`` is generated from these models
so editors can validate the YAML while it is typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from .build_queues import DEFAULT_QUEUE, QueueName
from .dependency_graph import deploy_order, find_cycle
from .errors import PlatformInputError, dotted_field, first_problem
from .yaml_source import load_yaml_file, parse_yaml_text

ServiceName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,26}[a-z0-9]$"),
    Field(description="Lower-case letters, digits and '-', 2-28 characters; used in every resource name."),
]
ResourceName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,139}$"),
    Field(description="The name of an existing AWS resource in each environment account."),
]
Repository = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"),
    Field(description="GitHub repository as 'owner/name'."),
]
ServiceUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[^\s]*)?$"),
    Field(description="An http(s) URL of the deployed service."),
]
EnvironmentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{1,11}$")]
AccountId = Annotated[
    str, StringConstraints(pattern=r"^\d{12}$"), Field(description="A 12-digit AWS account id, quoted in YAML.")
]

PLATFORMS = ("ECS", "Lambda", "Server")
UNION_TAGS = frozenset(PLATFORMS)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class EcsTarget(_Frozen):
    """An existing ECS service behind an ALB, deployed blue/green by CodeDeploy."""

    platform: Literal["ECS"]
    cluster: ResourceName
    service: ResourceName
    container: ResourceName = Field(description="Container that receives the new image.")
    container_port: int = Field(ge=1, le=65535)
    load_balancer: ResourceName = Field(description="Name of the ALB in front of the service.")
    listener_port: int = Field(default=443, ge=1, le=65535)
    target_groups: tuple[ResourceName, ResourceName] = Field(description="Blue and green target group names.")
    task_role: ResourceName | None = Field(default=None, description="Task role; '<service>-task' when omitted.")
    execution_role: ResourceName | None = Field(
        default=None, description="Task execution role; '<service>-task-execution' when omitted."
    )

    @property
    def passed_roles(self) -> tuple[str, str]:
        """Roles a new task definition hands to ECS, so the deploy role may pass exactly these."""
        return (self.task_role or f"{self.service}-task", self.execution_role or f"{self.service}-task-execution")

    @field_validator("target_groups")
    @classmethod
    def _distinct_target_groups(cls, value: tuple[str, str]) -> tuple[str, str]:
        if value[0] == value[1]:
            raise ValueError("blue and green target groups must differ")
        return value


class LambdaTarget(_Frozen):
    """An existing Lambda function whose alias CodeDeploy shifts to each new version."""

    platform: Literal["Lambda"]
    function: ResourceName
    alias: ResourceName = "live"


class ServerTarget(_Frozen):
    """EC2 instances in existing Auto Scaling groups, updated in place by CodeDeploy."""

    platform: Literal["Server"]
    autoscaling_groups: tuple[ResourceName, ...] = Field(min_length=1)
    instance_role: ResourceName = Field(
        description="IAM role of the instances; it reads revisions from the artifact bucket."
    )


AwsTarget = Annotated[EcsTarget | LambdaTarget | ServerTarget, Field(discriminator="platform")]


class HealthSignals(_Frozen):
    """Thresholds that mean 'this release is hurting users'; alarms and gates read them."""

    http_5xx_percent: float | None = Field(default=None, gt=0, le=100)
    cpu_percent: float | None = Field(default=None, gt=0, le=100)
    login_failures_per_5min: int | None = Field(default=None, gt=0)
    p99_latency_ms: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _at_least_one(self) -> HealthSignals:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError("name at least one health signal; rollback alarms are built from them")
        return self


class Service(_Frozen):
    """One deployable unit and the team that owns it."""

    name: ServiceName
    description: str = Field(min_length=1, max_length=200)
    owner: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")] = Field(
        description="Owning team (a tag and the Slack mention)."
    )
    repository: Repository
    default_branch: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,100}$")] = "main"
    language: Literal["java", "kotlin", "python", "node", "go", "dotnet", "ruby"]
    aws: AwsTarget
    health: HealthSignals
    depends_on: tuple[ServiceName, ...] = ()
    environments: tuple[EnvironmentName, ...] | None = Field(
        default=None, description="Environments this service deploys to; all of the stack's when omitted."
    )
    accounts: dict[EnvironmentName, AccountId] = Field(
        default_factory=dict,
        description="Per environment, an account that replaces the stack's (for example a PCI-scoped account).",
    )
    also_deploy_to: tuple[Literal["gcp", "azure"], ...] = Field(
        default=(), description="Other clouds reached through GitHub Actions with OIDC."
    )
    on_upstream_deploy: Literal["none", "test", "redeploy"] = Field(
        default="none",
        description=(
            "What happens when a service in depends_on deploys to an environment: nothing, run this service's "
            "integration tests there, or redeploy this service there."
        ),
    )
    urls: dict[EnvironmentName, ServiceUrl] = Field(
        default_factory=dict,
        description="Per environment, where the deployed service answers (DAST scans it); "
        "overrides the stack's serviceUrlPattern.",
    )
    build_queue: QueueName = Field(
        default=DEFAULT_QUEUE,
        description="The build queue (stack setting buildQueues) whose CodeBuild capacity the service's builds use.",
    )

    @field_validator("depends_on", "environments", "also_deploy_to")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            repeated = sorted({item for item in value if value.count(item) > 1})
            if repeated:
                raise ValueError(f"lists {', '.join(repeated)} more than once")
        return value

    @model_validator(mode="after")
    def _not_self_dependent(self) -> Service:
        if self.name in self.depends_on:
            raise ValueError("depends_on: a service cannot depend on itself")
        return self

    @model_validator(mode="after")
    def _signals_fit_the_platform(self) -> Service:
        # Lambda publishes no CPU metric; an alarm on it would never fire and protect nothing.
        if self.aws.platform == "Lambda" and self.health.cpu_percent is not None:
            raise ValueError("health.cpu_percent: Lambda functions have no CPU metric; use the other signals")
        return self

    @property
    def repository_owner(self) -> str:
        return self.repository.split("/", 1)[0]


class Catalog(_Frozen):
    """All services of the platform, unique by name, with a valid dependency graph."""

    services: tuple[Service, ...] = Field(min_length=1)

    def service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    @property
    def deploy_order(self) -> list[str]:
        return deploy_order({service.name: service.depends_on for service in self.services})


def _service_label(raw: Any, index: int) -> str:
    try:
        name = raw["services"][index]["name"]
    except (KeyError, IndexError, TypeError):
        name = None
    return f"service '{name}'" if isinstance(name, str) else f"service #{index + 1}"


def _check_graph(catalog: Catalog, display_name: str) -> None:
    names = {service.name for service in catalog.services}
    seen: set[str] = set()
    for service in catalog.services:
        if service.name in seen:
            raise PlatformInputError(
                display_name, "defined more than once", subject=f"service '{service.name}'", field="name"
            )
        seen.add(service.name)
    for service in catalog.services:
        for index, dependency in enumerate(service.depends_on):
            if dependency not in names:
                close = [name for name in sorted(names) if name.startswith(dependency[:3])]
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise PlatformInputError(
                    display_name,
                    f"unknown service '{dependency}'{hint}",
                    subject=f"service '{service.name}'",
                    field=f"depends_on[{index}]",
                )
    cycle = find_cycle({service.name: service.depends_on for service in catalog.services})
    if cycle:
        raise PlatformInputError(
            display_name,
            f"dependency cycle {' -> '.join(cycle)}",
            subject=f"service '{cycle[0]}'",
            field="depends_on",
        )


def parse_catalog(raw: Any, display_name: str) -> Catalog:
    """Validate already-parsed YAML; every failure is a located ``PlatformInputError``."""
    if not isinstance(raw, dict):
        raise PlatformInputError(display_name, "must be a mapping with a 'services' list")
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as error:
        location, message = first_problem(error, UNION_TAGS)
        if len(location) >= 2 and location[0] == "services" and isinstance(location[1], int):
            subject = _service_label(raw, location[1])
            field = dotted_field(location[2:]) or None
        else:
            subject, field = None, dotted_field(location) or None
        raise PlatformInputError(display_name, message, subject=subject, field=field) from None
    _check_graph(catalog, display_name)
    return catalog


def load_catalog(path: Path, display_name: str | None = None) -> Catalog:
    """Read and validate the catalog file."""
    name = display_name or str(path)
    return parse_catalog(load_yaml_file(path, name), name)


def parse_catalog_text(text: str, display_name: str) -> Catalog:
    return parse_catalog(parse_yaml_text(text, display_name), display_name)


def catalog_json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to validate ``services.yaml`` as it is typed."""
    schema = Catalog.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cicd-platform service catalog"
    return schema
