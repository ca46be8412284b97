"""Shards: one fleet split over several Pulumi stacks of this same project.

A stack whose settings list ``shards`` is the fleet's **core**: it owns the pieces every
service shares (artifact store and key, GitHub connection, release news, coordination,
rollback reporter, environment-account footholds, GCP/Azure footholds, approvals) and
exports what the shards read. Each shard is the stack ``<core>-<shard>``: it owns its
services' pipelines, alarms and deploy targets and reads the core through a
``StackReference``. A stack without ``shards`` is **whole**: it owns everything, as before.

How a stack knows its role, without a second copy of the settings to drift: its own
``Pulumi.<stack>.yaml`` holds ``cicd-platform:settings`` (core or whole), or it holds none
and its name is ``<core>-<shard>`` for a core whose settings, read from ``Pulumi.<core>.yaml``
in the same checkout, list that shard. A shard's stack file may still exist (``aws:region``,
provider settings) but must not carry settings of its own: a shard deploys exactly what its
core says.

Names and tags stay those of the fleet (``PlatformInputs.stack`` is the core's name in every
shard), so a resource keeps its physical name wherever it is declared and a fleet can be split
with ``pulumi state move`` instead of replacing anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .build_queues import queues_with_default
from .catalog import Catalog, Service
from .errors import PlatformInputError
from .settings import CONFIG_KEY, Shard, StackSettings
from .yaml_source import load_yaml_file

Role = Literal["whole", "core", "shard"]


@dataclass(frozen=True)
class StackRole:
    """What one Pulumi stack declares of its fleet."""

    kind: Role
    core: str
    """The fleet's (core's) stack name: the name every resource name and tag carries."""
    shard: str | None = None

    @classmethod
    def whole(cls, stack: str) -> StackRole:
        return cls("whole", stack)

    @property
    def pulumi_stack(self) -> str:
        return shard_stack_name(self.core, self.shard) if self.shard is not None else self.core

    @property
    def declares_services(self) -> bool:
        return self.kind != "core"

    @property
    def declares_shared(self) -> bool:
        return self.kind != "shard"


def shard_stack_name(core: str, shard: str) -> str:
    return f"{core}-{shard}"


def settings_file_name(stack: str) -> str:
    return f"Pulumi.{stack}.yaml"


def shard_members(catalog: Catalog, shards: Iterable[Shard]) -> dict[str, str]:
    """service → the shard holding it (by team or by name); assumes ``check_shards`` passed."""
    owner: dict[str, str] = {}
    for shard in shards:
        teams = set(shard.teams)
        for service in catalog.services:
            if service.name in shard.services or service.owner in teams:
                owner.setdefault(service.name, shard.name)
    return owner


def check_shards(catalog: Catalog, settings: StackSettings, catalog_name: str, settings_name: str) -> None:
    """Every shard names real teams and services, and every service is in exactly one shard."""
    if not settings.shards:
        return
    names = {service.name for service in catalog.services}
    owners = {service.owner for service in catalog.services}
    placed: dict[str, str] = {}
    for index, shard in enumerate(settings.shards):
        subject = f"shard '{shard.name}'"
        for position, team in enumerate(shard.teams):
            if team not in owners:
                raise PlatformInputError(
                    settings_name,
                    f"no service in {catalog_name} is owned by '{team}' (owners: {', '.join(sorted(owners))})",
                    subject=subject,
                    field=f"cicd-platform:{CONFIG_KEY}.shards[{index}].teams[{position}]",
                )
        for position, name in enumerate(shard.services):
            if name not in names:
                raise PlatformInputError(
                    settings_name,
                    f"{catalog_name} has no service '{name}'",
                    subject=subject,
                    field=f"cicd-platform:{CONFIG_KEY}.shards[{index}].services[{position}]",
                )
        for service in catalog.services:
            if service.name in shard.services or service.owner in shard.teams:
                if service.name in placed and placed[service.name] != shard.name:
                    raise PlatformInputError(
                        settings_name,
                        f"service '{service.name}' (owner {service.owner}) is also in shard '{placed[service.name]}'; "
                        "a service belongs to exactly one shard",
                        subject=subject,
                        field=f"cicd-platform:{CONFIG_KEY}.shards[{index}]",
                    )
                placed[service.name] = shard.name
    for service in catalog.services:
        if service.name not in placed:
            raise PlatformInputError(
                settings_name,
                f"service '{service.name}' (owner {service.owner}) is in no shard; add it, or its team, to one",
                field=f"cicd-platform:{CONFIG_KEY}.shards",
            )


def check_build_queues(catalog: Catalog, settings: StackSettings, catalog_name: str, settings_name: str) -> None:
    """Services name queues the stack defines; a fleet serves services of one stack only."""
    queues = queues_with_default(settings.build_queues)
    for service in catalog.services:
        if service.build_queue not in queues:
            raise PlatformInputError(
                catalog_name,
                f"build queue '{service.build_queue}' is not defined by the stack (it defines "
                f"{', '.join(sorted(queues))}; add it to buildQueues in {settings_name})",
                subject=f"service '{service.name}'",
                field="build_queue",
            )
    if not settings.shards:
        return
    shard_of = shard_members(catalog, settings.shards)
    for name, queue in sorted(settings.build_queues.items()):
        if queue.fleet is None:
            continue
        holders = sorted({shard_of[s.name] for s in catalog.services if s.build_queue == name})
        if len(holders) > 1:
            raise PlatformInputError(
                settings_name,
                f"the fleet serves services of shards {', '.join(holders)}; a fleet is created by the one shard "
                "stack whose services build on it, so give each shard a queue of its own",
                subject=f"build queue '{name}'",
                field=f"cicd-platform:{CONFIG_KEY}.buildQueues.{name}.fleet",
            )


@dataclass(frozen=True)
class ResolvedSettings:
    """The raw settings a stack runs with, where they came from, and the stack's role."""

    raw: Any
    file_name: str
    role: StackRole


def resolve_stack_settings(raw_settings: Any, stack: str, project_dir: Path, project: str) -> ResolvedSettings:
    """The settings of ``stack`` and its role: its own settings, or (for a shard) its core's.

    ``raw_settings`` is the stack's own ``cicd-platform:settings`` (None when it has none).
    """
    own_file = settings_file_name(stack)
    if raw_settings is not None:
        shards = raw_settings.get("shards") if isinstance(raw_settings, dict) else None
        kind: Role = "core" if shards else "whole"
        return ResolvedSettings(raw_settings, own_file, StackRole(kind, stack))
    found = find_core(stack, project_dir, project)
    if found is not None:
        core, shard, core_settings = found
        return ResolvedSettings(core_settings, settings_file_name(core), StackRole("shard", core, shard))
    raise PlatformInputError(
        own_file,
        "required but missing (see README: Stack settings); a shard stack <core>-<shard> needs a core stack file "
        "Pulumi.<core>.yaml whose settings list the shard (README: Scaling to a large fleet)",
        field=f"cicd-platform:{CONFIG_KEY}",
    )


def find_core(stack: str, project_dir: Path, project: str) -> tuple[str, str, dict[str, Any]] | None:
    """(core, shard, the core's raw settings) when ``stack`` is ``<core>-<shard>`` of a core that lists it."""
    for core, shard in _core_candidates(stack):
        core_settings = _settings_in_file(project_dir, core, project)
        if not isinstance(core_settings, dict):
            continue
        listed = [entry.get("name") for entry in core_settings.get("shards") or () if isinstance(entry, dict)]
        if shard in listed:
            return core, shard, core_settings
    return None


def check_shard_stack_files(settings: StackSettings, core: str, project_dir: Path, project: str) -> None:
    """A shard's own stack file must not carry settings: the core's are the only ones it deploys."""
    for shard in settings.shards:
        stack = shard_stack_name(core, shard.name)
        if _settings_in_file(project_dir, stack, project) is not None:
            raise PlatformInputError(
                settings_file_name(stack),
                f"is shard '{shard.name}' of stack {core}, which takes its settings from {settings_file_name(core)}; "
                "remove this stack's own settings (keep only provider config such as aws:region)",
                field=f"{project}:{CONFIG_KEY}",
            )


def _core_candidates(stack: str) -> list[tuple[str, str]]:
    """Every (core, shard) split of ``<core>-<shard>``, longest core first."""
    parts = stack.split("-")
    return [("-".join(parts[:cut]), "-".join(parts[cut:])) for cut in range(len(parts) - 1, 0, -1)]


def _settings_in_file(project_dir: Path, stack: str, project: str) -> Any:
    path = project_dir / settings_file_name(stack)
    if not path.is_file():
        return None
    document = load_yaml_file(path, settings_file_name(stack)) or {}
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        return None
    return config.get(f"{project}:{CONFIG_KEY}", config.get(CONFIG_KEY))


def services_of(catalog: Catalog, settings: StackSettings, role: StackRole) -> tuple[Service, ...]:
    """The services whose pipelines ``role``'s stack declares, in deploy order."""
    if not role.declares_services:
        return ()
    ordered = [catalog.service(name) for name in catalog.deploy_order]
    if role.kind == "whole":
        return tuple(ordered)
    shard_of = shard_members(catalog, settings.shards)
    return tuple(service for service in ordered if shard_of[service.name] == role.shard)
