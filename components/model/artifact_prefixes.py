"""Artifact isolation between services: each service owns the S3 prefixes of its pipelines.

CodePipeline writes a pipeline's artifacts under its name cut to 20
characters. Roles are scoped to their service's prefixes, so two services
whose pipelines cut to the same prefix could overwrite each other's
artifacts; such a catalog is refused here, before anything is declared.
"""

from __future__ import annotations

from .catalog import Catalog
from .errors import PlatformInputError
from .naming import ARTIFACT_PREFIX_LENGTH, artifact_prefix
from .settings import StackSettings, placements_of


def check_artifact_prefixes(catalog: Catalog, settings: StackSettings, catalog_name: str) -> None:
    owners: dict[str, str] = {}
    for service in catalog.services:
        for environment in placements_of(service, settings):
            prefix = artifact_prefix(service.name, environment.name)
            owner = owners.setdefault(prefix, service.name)
            if owner != service.name:
                raise PlatformInputError(
                    catalog_name,
                    f"its {environment.name} pipeline stores artifacts under '{prefix}/', the prefix of "
                    f"service '{owner}' (CodePipeline keeps the first {ARTIFACT_PREFIX_LENGTH} characters of a "
                    "pipeline name); rename one service so their names differ within that length",
                    subject=f"service '{service.name}'",
                    field="name",
                )
