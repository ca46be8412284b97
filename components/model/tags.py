"""The tags every taggable resource carries, so cost, ownership and blast radius are searchable."""

from __future__ import annotations

MANAGED_BY = "cicd-platform"


def standard_tags(
    stack: str, *, service: str | None = None, owner: str | None = None, environment: str | None = None
) -> dict[str, str]:
    tags = {"managed-by": MANAGED_BY, "platform-stack": stack}
    tags["service"] = service or "platform"
    tags["owner"] = owner or "team-platform"
    tags["environment"] = environment or "tooling"
    return tags
