"""A sharded ``prod`` to plan: the real prod settings plus three shards, in a project directory of its own.

The real ``Pulumi.prod.yaml`` stays unsharded (existing users see no change); the fixture
overlays a ``shards`` section on a copy of it, in a temporary project directory whose code,
catalog and functions are links to this repository's. Two by team, one by an explicit list.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
LINKED = ("Pulumi.yaml", "__main__.py", "components", "functions", "catalog", "policies", "bootstrap")

THREE_SHARDS: list[dict[str, Any]] = [
    {
        "name": "commerce",
        "teams": [
            "team-booking",
            "team-payments",
            "team-finance",
            "team-pricing",
            "team-supply",
            "team-partners",
            "team-risk",
        ],
    },
    {
        "name": "customer",
        "teams": [
            "team-identity",
            "team-care",
            "team-growth",
            "team-messaging",
            "team-mobile",
            "team-web",
            "team-trust",
        ],
    },
    {"name": "insight", "services": ["search", "recommendations", "reporting"]},
]


def prod_config() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())


def fleet_project(
    directory: Path, *, shards: list[dict[str, Any]] | None = None, settings: dict[str, Any] | None = None
) -> Path:
    """A project directory whose ``Pulumi.prod.yaml`` is the real one with ``settings`` and ``shards`` overlaid."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = directory / name
        if not link.exists():
            link.symlink_to(PROJECT_DIR / name)
    config = copy.deepcopy(prod_config())
    overlay = {**(settings or {}), **({"shards": shards} if shards else {})}
    config["config"]["cicd-platform:settings"].update(overlay)
    (directory / "Pulumi.prod.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return directory
