"""The tags every taggable resource carries, so cost, ownership and blast radius are searchable."""

from __future__ import annotations

MANAGED_BY = "cicd-platform"
PRODUCTION_TAG = "production"
"""Set to ``"true"`` on a production environment's pipelines and deploy targets: the environment's
``production`` setting, which is how the policy pack knows production whatever the environment is called."""
INSTANCE_ROLE_OPT_IN_TAG = ("cicd-platform-managed-policy", "true")
"""The tag an environment account's owner puts on a Server instance role to let the platform give it
artifact access: the bootstrap role writes inline policies only on roles that carry it, and the artifact
key and bucket admit such roles (``bootstrap/permissions.py`` keeps the same pair; a test holds them in step)."""


def standard_tags(
    stack: str,
    *,
    service: str | None = None,
    owner: str | None = None,
    environment: str | None = None,
    production: bool = False,
) -> dict[str, str]:
    tags = {"managed-by": MANAGED_BY, "platform-stack": stack}
    tags["service"] = service or "platform"
    tags["owner"] = owner or "team-platform"
    tags["environment"] = environment or "tooling"
    if production:
        tags[PRODUCTION_TAG] = "true"
    return tags
