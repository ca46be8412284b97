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
from .catalog import Catalog, Service, load_catalog
from .dependency_graph import deploy_waves
from .errors import PlatformInputError
from .settings import Environment, StackSettings, check_catalog_against_stack, parse_settings, placements_of


@dataclass(frozen=True)
class PlatformInputs:
    """Settings + catalog of one stack, validated together."""

    stack: str
    settings: StackSettings
    catalog: Catalog

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
    """Validate the stack's ``settings`` object and the catalog it points at."""
    if raw_settings is None:
        raise PlatformInputError(
            settings_file_name(stack),
            "required but missing (see README: Stack settings)",
            field="cicd-platform:settings",
        )
    settings = parse_settings(raw_settings, settings_file_name(stack))
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
    return PlatformInputs(stack=stack, settings=settings, catalog=catalog)
