"""Which pipelines wait for a human, and which of those only release managers may release.

Derived once from the validated inputs so the approval action, the release
managers' grant, the guardrail SCP and the auditor all agree on the same list.
"""

from __future__ import annotations

from . import naming
from .platform_inputs import PlatformInputs


def approval_pipelines(inputs: PlatformInputs) -> dict[str, list[str]]:
    """Service → names of its pipelines that have a manual approval."""
    found: dict[str, list[str]] = {}
    for service in inputs.catalog.services:
        names = [
            naming.pipeline_name(service.name, environment.name)
            for environment in inputs.environments_for(service)
            if environment.approval
        ]
        if names:
            found[service.name] = names
    return found


def production_environments(inputs: PlatformInputs) -> list[str]:
    """Environments whose approvals are reserved to the release managers."""
    return [environment.name for environment in inputs.settings.environments if environment.production]


def production_approval_pipelines(inputs: PlatformInputs) -> list[str]:
    """Every pipeline whose approval only a release manager may answer, sorted."""
    production = set(production_environments(inputs))
    return sorted(
        naming.pipeline_name(service.name, environment.name)
        for service in inputs.catalog.services
        for environment in inputs.environments_for(service)
        if environment.approval and environment.name in production
    )


def protected_suffixes(inputs: PlatformInputs) -> list[str]:
    """Pipeline-name suffixes of production environments (``<service>-<env>``), for event filters."""
    return [f"-{environment}" for environment in production_environments(inputs)]
