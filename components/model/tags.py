"""The tags every taggable resource carries, so cost, ownership and blast radius are searchable."""

from __future__ import annotations

MANAGED_BY = "cicd-platform"
INSTANCE_ROLE_OPT_IN_TAG = ("cicd-platform-managed-policy", "true")
"""The tag an environment account's owner puts on a Server instance role to let the platform give it
artifact access: the bootstrap role writes inline policies only on roles that carry it, and the artifact
key and bucket admit such roles (``bootstrap/permissions.py`` keeps the same pair; a test holds them in step)."""


def standard_tags(
    stack: str, *, service: str | None = None, owner: str | None = None, environment: str | None = None
) -> dict[str, str]:
    tags = {"managed-by": MANAGED_BY, "platform-stack": stack}
    tags["service"] = service or "platform"
    tags["owner"] = owner or "team-platform"
    tags["environment"] = environment or "tooling"
    return tags
