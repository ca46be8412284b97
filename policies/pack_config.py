"""Policy pack configuration in the ``pulumi preview --policy-pack-config`` file format.

The file maps a policy name (or ``all``) to either an enforcement level
(``"advisory"``, ``"mandatory"``, ``"disabled"``) or an object with an
optional ``enforcementLevel`` and the rule's own properties::

    {"all": "mandatory",
     "codebuild-no-privileged": {"allowedProjects": ["*-image-build"]},
     "prod-queued": {"enforcementLevel": "disabled"}}

The offline plan reads ``policy-config.json`` (beside this file) with
``load``, so ``make plan`` judges the stack exactly as a preview run with
``--policy-pack-config policies/policy-config.json`` would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("policy-config.json")
LEVELS = ("advisory", "mandatory", "remediate", "disabled")


@dataclass(frozen=True)
class PackConfig:
    levels: Mapping[str, str] = field(default_factory=dict)
    """Policy name → enforcement level set by the file (``all`` applies to every policy)."""
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Policy name → the rule's configured properties."""

    def level_of(self, name: str, default: str) -> str:
        """The level a run reports at; ``remediate`` reports as mandatory, as the server does for these rules."""
        level = self.levels.get(name, self.levels.get("all", default))
        return "mandatory" if level == "remediate" else level

    def properties_of(self, name: str) -> Mapping[str, Any]:
        return self.properties.get(name, {})


def parse(document: Mapping[str, Any]) -> PackConfig:
    levels: dict[str, str] = {}
    properties: dict[str, dict[str, Any]] = {}
    for name, value in document.items():
        if isinstance(value, str):
            level, props = value, {}
        elif isinstance(value, Mapping):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
        else:
            raise ValueError(f"policy config for {name!r} must be a level or an object, not {value!r}")
        if level is not None:
            if level not in LEVELS:
                raise ValueError(f"policy config for {name!r}: enforcementLevel {level!r} is not one of {LEVELS}")
            levels[name] = level
        if props:
            properties[name] = props
    return PackConfig(levels, properties)


def load(path: Path = DEFAULT_PATH) -> PackConfig:
    return parse(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else PackConfig()
