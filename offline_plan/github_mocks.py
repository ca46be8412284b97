"""How the GitHub API would answer, for the optional repository environments and variables.

Ids follow the Terraform provider's formats (``repo:environment``,
``repo:environment:VARIABLE``); team ids are stable numbers derived from the slug.
"""

from __future__ import annotations

import hashlib
from typing import Any

GET_TEAM = "github:index/getTeam:getTeam"


def _number(*parts: str, digits: int = 7) -> int:
    return int(hashlib.sha256("/".join(parts).encode()).hexdigest(), 16) % 10**digits + 10 ** (digits - 1)


def resource_state(typ: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    state = dict(inputs)
    repository, environment = str(inputs.get("repository")), str(inputs.get("environment"))
    if typ == "github:index/repositoryEnvironment:RepositoryEnvironment":
        return f"{repository}:{environment}", state
    if typ == "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable":
        name = str(inputs.get("variableName"))
        state.update(createdAt="2026-01-01T00:00:00Z", updatedAt="2026-01-01T00:00:00Z")
        return f"{repository}:{environment}:{name}", state
    if typ == "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy":
        return f"{repository}:{environment}:{_number(repository, environment, str(inputs.get('branchPattern')))}", state
    return None


def get_team(args: dict[str, Any]) -> dict[str, Any]:
    slug = str(args.get("slug"))
    team_id = _number("team", slug)
    return {"id": str(team_id), "slug": slug, "name": slug, "nodeId": f"T_{team_id}", "privacy": "closed"}
