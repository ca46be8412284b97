"""Read ``Pulumi.<stack>.yaml`` the way the Pulumi CLI hands config to a program.

The CLI passes every value as a string (objects and lists JSON-encoded) keyed
``namespace:key``. Encrypted ``secure:`` values cannot be decrypted without the
stack's secrets provider, so offline they become a fixed placeholder that is
still marked secret, which is enough to exercise every code path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from components.model.errors import PlatformInputError
from components.model.sharding import find_core
from components.model.yaml_source import load_yaml_file

OFFLINE_SECRET_PLACEHOLDER = "offline-plan-secret"  # noqa: S105 - a placeholder, not a credential


@dataclass(frozen=True)
class StackConfig:
    values: dict[str, str]
    secret_keys: list[str]


def _as_config_string(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def read_stack_config(project_dir: Path, stack: str, project: str) -> StackConfig:
    name = f"Pulumi.{stack}.yaml"
    if not (project_dir / name).is_file() and find_core(stack, project_dir, project) is not None:
        # A shard stack needs no file of its own: it runs with its core's settings.
        return StackConfig(values={}, secret_keys=[])
    document = load_yaml_file(project_dir / name, name)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise PlatformInputError(name, "must be a mapping with a 'config' key")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise PlatformInputError(name, "must be a mapping of 'namespace:key' to values", field="config")
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full_key] = OFFLINE_SECRET_PLACEHOLDER
            secret_keys.append(full_key)
        else:
            values[full_key] = _as_config_string(value)
    return StackConfig(values=values, secret_keys=secret_keys)
