"""The validated inputs of one platform stack, and the facts derived from them.

``load_platform_inputs`` is the single edge where user files become model
objects: the stack settings first (they say where the catalog is), then the
catalog, then the checks that need both. Nothing after this point reads YAML
or config, and every error is raised before a resource is declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import naming
from .artifact_prefixes import check_artifact_prefixes
from .build_queues import BuildQueue, queue_summary, queues_with_default
from .catalog import Catalog, Service, load_catalog
from .dependency_graph import deploy_waves
from .settings import Environment, StackSettings, check_catalog_against_stack, parse_settings, placements_of
from .sharding import (
    StackRole,
    check_build_queues,
    check_shard_stack_files,
    check_shards,
    resolve_stack_settings,
    services_of,
)
from .yaml_source import load_yaml_file


@dataclass(frozen=True)
class PlatformInputs:
    """Settings + catalog of one stack, validated together.

    ``stack`` is the platform instance every name and tag carries: the Pulumi stack itself, or,
    in a shard stack ``<core>-<shard>``, its core (``role`` says which; README: Scaling to a large fleet).
    """

    stack: str
    settings: StackSettings
    catalog: Catalog
    role: StackRole | None = None
    """``None`` reads as a whole stack (everything in one stack), as before sharding existed."""

    @property
    def stack_role(self) -> StackRole:
        return self.role or StackRole.whole(self.stack)

    @property
    def declared_services(self) -> tuple[Service, ...]:
        """The services whose pipelines this stack declares, in deploy order (none in a core)."""
        return services_of(self.catalog, self.settings, self.stack_role)

    def build_queues(self) -> dict[str, BuildQueue]:
        return queues_with_default(self.settings.build_queues)

    def build_queue_of(self, service: Service) -> BuildQueue:
        return self.build_queues()[service.build_queue]

    def build_queue_summary(self) -> dict[str, dict[str, object]]:
        """queue → kind, capacity and the services of this stack building there (the plan summary's list)."""
        members = [(service.name, service.build_queue) for service in self.declared_services]
        return queue_summary(self.build_queues(), members)

    def environments_for(self, service: Service) -> tuple[Environment, ...]:
        """Where the service deploys: stack environments, with the service's account overrides applied."""
        return placements_of(service, self.settings)

    def environment_accounts(self) -> list[tuple[Environment, frozenset[str]]]:
        """Each (environment, account) that receives deploys, with the compute platforms deployed there."""
        platforms: dict[tuple[str, str], set[str]] = {}
        placed: dict[tuple[str, str], Environment] = {}
        for service in self.catalog.services:
            for environment in self.environments_for(service):
                key = (environment.name, environment.account_id)
                placed[key] = environment
                platforms.setdefault(key, set()).add(service.aws.platform)
        order = [environment.name for environment in self.settings.environments]
        return [
            (placed[key], frozenset(platforms[key]))
            for key in sorted(placed, key=lambda key: (order.index(key[0]), key[1]))
        ]

    def deploy_waves(self) -> dict[str, list[list[str]]]:
        """Per environment, the services that may roll out together, wave after wave.

        Only services that deploy to the environment take part, and only their
        dependencies that deploy there too can hold them back.
        """
        waves: dict[str, list[list[str]]] = {}
        for environment in self.settings.environments:
            present = {
                service.name: service.depends_on
                for service in self.catalog.services
                if any(placed.name == environment.name for placed in self.environments_for(service))
            }
            waves[environment.name] = deploy_waves(present)
        return waves

    def cloud_environments(self, cloud: str) -> list[tuple[Environment, tuple[str, ...]]]:
        """Each environment some service deploys to in ``cloud`` (gcp/azure), with the repositories deploying there.

        The GCP provider of an environment pins exactly these repositories.
        """
        repositories: dict[str, set[str]] = {}
        for service in self.catalog.services:
            if cloud in service.also_deploy_to:
                for environment in self.environments_for(service):
                    repositories.setdefault(environment.name, set()).add(service.repository)
        return [
            (environment, tuple(sorted(repositories[environment.name])))
            for environment in self.settings.environments
            if environment.name in repositories
        ]

    def deploy_role_arn(self, service: Service, environment: Environment) -> str:
        return naming.role_arn(
            environment.region, environment.account_id, naming.deploy_role_name(service.name, environment.name)
        )

    def artifact_reader_arns(self) -> dict[str, list[str]]:
        """Per environment account, the roles that read pipeline artifacts there.

        Deploy roles of ECS and Server services read them through CodePipeline;
        Server instances fetch revisions themselves, so their instance role is a
        reader too; Lambda deploy roles hand the staged release to ``UpdateFunctionCode``,
        which reads it with the caller's permissions. Identity policies narrow each
        reader to its own prefix.
        """
        readers: dict[str, list[str]] = {}
        for service in self.catalog.services:
            for environment in self.environments_for(service):
                account = readers.setdefault(environment.account_id, [])
                account.append(self.deploy_role_arn(service, environment))
                if service.aws.platform == "Server":
                    account.append(
                        naming.role_arn(environment.region, environment.account_id, service.aws.instance_role)
                    )
        return {account: sorted(set(arns)) for account, arns in sorted(readers.items())}

    def artifact_prefixes(self, service: Service) -> dict[str, str]:
        """Per environment, the artifact key prefix of the service's pipeline (no two services share one)."""
        return {env.name: naming.artifact_prefix(service.name, env.name) for env in self.environments_for(service)}

    def tooling_role_arns(self) -> list[str]:
        """Roles in the tooling account that encrypt or decrypt artifacts."""
        arns: list[str] = []
        region, account = self.settings.region, self.settings.tooling_account_id
        for service in self.catalog.services:
            arns.append(naming.role_arn(region, account, naming.pipeline_role_name(service.name)))
            arns.append(naming.role_arn(region, account, naming.build_role_name(service.name)))
            arns.append(naming.role_arn(region, account, naming.scan_role_name(service.name)))
            if service.aws.platform == "Lambda":
                arns.append(naming.role_arn(region, account, naming.release_role_name(service.name)))
        return sorted(arns)


def settings_file_name(stack: str) -> str:
    return f"Pulumi.{stack}.yaml"


def load_platform_inputs(
    raw_settings: Any, stack: str, project_dir: Path, catalog_override: str | None = None
) -> PlatformInputs:
    """Validate the stack's ``settings`` object and the catalog it points at.

    A stack without settings of its own is a shard when its name is ``<core>-<shard>`` and the
    core's stack file lists that shard: it runs with the core's settings (``components.model.sharding``).
    """
    project = _project_name(project_dir)
    resolved = resolve_stack_settings(raw_settings, stack, project_dir, project)
    settings = parse_settings(resolved.raw, resolved.file_name)
    catalog_path = Path(catalog_override or settings.catalog_path)
    if not catalog_path.is_absolute():
        catalog_path = project_dir / catalog_path
    try:
        display_name = str(catalog_path.relative_to(project_dir))
    except ValueError:
        display_name = str(catalog_path)
    catalog = load_catalog(catalog_path, display_name)
    check_catalog_against_stack(catalog, settings, display_name)
    check_artifact_prefixes(catalog, settings, display_name)
    check_shards(catalog, settings, display_name, resolved.file_name)
    check_build_queues(catalog, settings, display_name, resolved.file_name)
    if resolved.role.kind == "core":
        check_shard_stack_files(settings, stack, project_dir, project)
    return PlatformInputs(stack=resolved.role.core, settings=settings, catalog=catalog, role=resolved.role)


def _project_name(project_dir: Path) -> str:
    """The project's name (``Pulumi.yaml``): the namespace of ``<project>:settings`` in stack files."""
    document = load_yaml_file(project_dir / "Pulumi.yaml", "Pulumi.yaml")
    return str(document["name"]) if isinstance(document, dict) and "name" in document else "cicd-platform"
