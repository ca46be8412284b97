"""Policy pack configuration in the ``pulumi preview --policy-pack-config`` file format, validated.

The file maps a policy name (or ``all``) to either an enforcement level
(``"advisory"``, ``"mandatory"``, ``"remediate"``, ``"disabled"``) or an object
with an optional ``enforcementLevel`` and the rule's own properties::

    {"all": "mandatory",
     "approval-restricted": {"releaseManagerRoles": ["release-manager"]},
     "prod-queued": {"enforcementLevel": "disabled"}}

The offline plan reads ``policy-config.json`` (beside this file) with
``load``, so ``make plan`` judges the stack exactly as a preview run with
``--policy-pack-config policies/policy-config.json`` would.

Validation follows the Pulumi CLI (``pkg/resource/analyzer/config.go``): an
entry is a level string or an object; ``enforcementLevel`` is a string and one
of the four levels; each policy's properties, over the schema defaults, must
satisfy ``{"type": "object", "properties": <the policy's config schema>}`` as
JSON Schema. Two checks go further than the CLI, which ignores both silently:
a policy name the pack does not have, and a property the policy does not read,
are refused, because a misspelt name would leave the intended setting unapplied
without a word. Every refusal is one located line: policy, property, problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("policy-config.json")
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
ALL_POLICIES = "all"
LEVEL_KEY = "enforcementLevel"


class PolicyConfigError(ValueError):
    """A mistake in a policy pack configuration, located: the policy, the property, the problem."""

    def __init__(self, problem: str, *, policy: str | None = None, field: str | None = None) -> None:
        self.problem = problem
        self.policy = policy
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.policy is not None:
            parts.append(f"policy '{self.policy}'")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.problem)
        return ": ".join(parts)


@dataclass(frozen=True)
class PackConfig:
    levels: Mapping[str, str] = field(default_factory=dict)
    """Policy name → enforcement level set by the file (``all`` applies to every policy)."""
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Policy name → the rule's configured properties."""

    def level_of(self, name: str, default: str) -> str:
        """The level a run reports at; ``remediate`` reports as mandatory, as the server does for these rules."""
        level = self.levels.get(name, self.levels.get(ALL_POLICIES, default))
        return "mandatory" if level == "remediate" else level

    def properties_of(self, name: str) -> Mapping[str, Any]:
        return self.properties.get(name, {})


def _level(value: Any, policy: str) -> str:
    if not isinstance(value, str):
        raise PolicyConfigError(f"{value!r} is not a valid enforcement level; must be a string", policy=policy)
    if value not in LEVELS:
        raise PolicyConfigError(f"enforcementLevel {value!r} is not one of {', '.join(LEVELS)}", policy=policy)
    return value


def parse(document: Any) -> PackConfig:
    """The file's shape and levels (what the CLI checks before it knows the pack's policies)."""
    if not isinstance(document, Mapping):
        raise PolicyConfigError("must be a JSON object mapping policy names to a level or an object")
    levels: dict[str, str] = {}
    properties: dict[str, dict[str, Any]] = {}
    for name, value in document.items():
        if isinstance(value, str):
            level, props = _level(value, name), {}
        elif isinstance(value, Mapping):
            props = dict(value)
            level = _level(props.pop(LEVEL_KEY), name) if LEVEL_KEY in props else None
        else:
            raise PolicyConfigError(f"must be a level or an object, not {value!r}", policy=name)
        if level is not None:
            levels[name] = level
        if props:
            properties[name] = props
    return PackConfig(levels, properties)


def _field(path: Iterable[Any]) -> str:
    rendered = ""
    for part in path:
        rendered += f"[{part}]" if isinstance(part, int) else (f".{part}" if rendered else str(part))
    return rendered


def validate(config: PackConfig, rules: Iterable[Any]) -> None:
    """Refuse what the pack cannot honour: unknown policies and properties, values their schema rejects."""
    from jsonschema import Draft7Validator

    by_name = {rule.name: rule for rule in rules}
    for name in sorted({*config.levels, *config.properties}):
        if name != ALL_POLICIES and name not in by_name:
            raise PolicyConfigError("the pack has no policy of this name (check the spelling)", policy=name)
    if config.properties.get(ALL_POLICIES):
        raise PolicyConfigError("'all' takes only an enforcement level", policy=ALL_POLICIES)
    for name, props in sorted(config.properties.items()):
        schema = by_name[name].config_schema
        for key in sorted(props):
            if key not in schema:
                known = ", ".join(sorted(schema)) or "nothing"
                raise PolicyConfigError(f"unknown property (this policy reads {known})", policy=name, field=key)
        validator = Draft7Validator({"type": "object", "properties": dict(schema)})
        errors = sorted(validator.iter_errors(dict(props)), key=lambda error: [str(p) for p in error.absolute_path])
        if errors:
            error = errors[0]
            raise PolicyConfigError(error.message, policy=name, field=_field(error.absolute_path) or None)


def load(path: Path = DEFAULT_PATH, rules: Iterable[Any] | None = None) -> PackConfig:
    """The configuration in ``path`` (none if the file is absent), validated against ``rules`` (default: the pack)."""
    if not path.exists():
        return PackConfig()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise PolicyConfigError(f"is not valid UTF-8 (byte {error.start})") from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise PolicyConfigError(f"is not valid JSON ({error.msg} at {where})") from None
    config = parse(document)
    if rules is None:
        from .rules import ALL_RULES

        rules = ALL_RULES
    validate(config, rules)
    return config
