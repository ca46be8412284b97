"""What a rule is: metadata plus one pure check function.

Rules never import the Pulumi program. They see resources exactly as the
policy server hands them over: a type token and camelCase props, which during
``pulumi preview`` may hold unknown values. The CrossGuard adapter turns every
unknown into the ``UNKNOWN`` marker before a check runs, so a check can still
judge what *is* known; checks read props defensively and say nothing about
what they cannot see (``is_unknown``).

A rule's knobs (allow-lists, retention days, prod environment names) are a
JSON schema with defaults; the check receives the effective configuration:
the defaults overlaid with what ``--policy-pack-config`` (or the offline
plan's ``policies/policy-config.json``) sets for the rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

T = TypeVar("T")

Level = Literal["mandatory", "advisory"]
Props = Mapping[str, Any]
Config = Mapping[str, Any]


class _Unknown:
    """A value the engine cannot know before the update (an output of a resource not created yet)."""

    # Recognised by attribute, not identity: the pack may be imported both as ``rules`` and as
    # ``policies.rules`` in one process, which makes two classes and two markers.
    is_policy_unknown = True
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        # Falsy so ``value or default`` reads an unknown as absent; checks that report
        # absence test ``is_unknown`` first, so absence is never inferred from it.
        return False


UNKNOWN: Any = _Unknown()
# The engine's sentinels (pulumi_policy.proxy) and the offline plan's rendering of them.
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
        "[unknown]",
    }
)


def is_unknown(value: Any) -> bool:
    if isinstance(value, str):
        return value in UNKNOWN_SENTINELS
    return getattr(type(value), "is_policy_unknown", False) is True


def present(value: Any) -> bool:
    """Set to something (or not known yet, which may well be something): the safe reading for "is it missing?"."""
    return is_unknown(value) or bool(value)


def shown(value: Any) -> str:
    """A value for a message; unknowns read as such rather than as a sentinel."""
    return "(not known yet)" if is_unknown(value) else str(value)


@dataclass(frozen=True)
class PolicyResource:
    """One resource as a stack rule sees it: the graph node the policy server hands over.

    ``parent`` and ``provider`` are URNs (``None`` for the stack root and the
    default provider); ``dependencies`` are the URNs the resource depends on.
    """

    type: str
    urn: str
    name: str
    props: Props
    parent: str | None = None
    provider: str | None = None
    dependencies: tuple[str, ...] = ()


def config_defaults(schema: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {key: spec["default"] for key, spec in schema.items() if "default" in spec}


def as_schema_type(value: Any, spec: Mapping[str, Any]) -> Any:
    """A config value as its JSON schema types it: an integral float where the schema says ``integer`` is an int."""
    if spec.get("type") == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if spec.get("type") == "array" and isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [as_schema_type(item, spec.get("items", {})) for item in value]
    return value


def number(value: Any) -> str:
    """A number for a message: ``90`` for an integral float (the CLI's protocol sends every number as one)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class _RuleMetadata:
    name: str
    description: str
    level: Level
    remediation: str
    anchors: tuple[str, ...]
    config_schema: Mapping[str, Mapping[str, Any]]

    def effective_config(self, config: Config | None) -> dict[str, Any]:
        """Schema defaults, overlaid with the configured values this rule knows (``enforcementLevel`` is not one).

        Values take their schema's type: over the CLI's protocol every number arrives as a float (the
        config travels as a protobuf ``Struct``), and an ``integer`` knob must still read, and print, as
        ``90``, not ``90.0``.
        """
        effective = config_defaults(self.config_schema)
        for key, value in (config or {}).items():
            if key in self.config_schema:
                effective[key] = value
        return {key: as_schema_type(value, self.config_schema.get(key, {})) for key, value in effective.items()}


@dataclass(frozen=True)
class ResourceRule(_RuleMetadata):
    """A rule about one resource at a time; ``check(type, props, config)`` yields messages."""

    resource_types: frozenset[str] = frozenset()
    check: Callable[[str, Props, Config], Iterable[str]] = field(default=lambda *_: ())

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.resource_types

    def violations(self, resource_type: str, props: Props, config: Config | None = None) -> list[str]:
        if not self.applies_to(resource_type):
            return []
        return list(self.check(resource_type, props, self.effective_config(config)))


@dataclass(frozen=True)
class StackRule(_RuleMetadata):
    """A rule about how resources relate; ``check(resources, config)`` yields (urn or None, message)."""

    check: Callable[[Sequence[PolicyResource], Config], Iterable[tuple[str | None, str]]] = field(default=lambda *_: ())

    def violations(
        self, resources: Sequence[PolicyResource], config: Config | None = None
    ) -> list[tuple[str | None, str]]:
        """Findings in order, each once (a shared role seen from several pipelines is one finding)."""
        return list(dict.fromkeys(self.check(resources, self.effective_config(config))))


def resource_rule(
    name: str,
    description: str,
    level: Level,
    resource_types: Iterable[str],
    check: Callable[[str, Props, Config], Iterable[str]],
    remediation: str,
    anchors: Iterable[str] = (),
    config_schema: Mapping[str, Mapping[str, Any]] | None = None,
) -> ResourceRule:
    return ResourceRule(
        name=name,
        description=description,
        level=level,
        remediation=remediation,
        anchors=tuple(anchors),
        config_schema=dict(config_schema or {}),
        resource_types=frozenset(resource_types),
        check=check,
    )


def stack_rule(
    name: str,
    description: str,
    level: Level,
    check: Callable[[Sequence[PolicyResource], Config], Iterable[tuple[str | None, str]]],
    remediation: str,
    anchors: Iterable[str] = (),
    config_schema: Mapping[str, Mapping[str, Any]] | None = None,
) -> StackRule:
    return StackRule(
        name=name,
        description=description,
        level=level,
        remediation=remediation,
        anchors=tuple(anchors),
        config_schema=dict(config_schema or {}),
        check=check,
    )


# Reading props


_derivations: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] | None = None


@contextmanager
def shared_derivations() -> Iterator[None]:
    """While one stack is judged, what several rules derive from the same objects is derived once.

    Stack rules each rebuild the stack's IAM statements by principal and re-parse every pipeline
    action's variables: at 1,000 services that was most of the time the stack rules took. Inside
    this block ``derived`` remembers each derivation by the identity of what it was derived from.
    The caller promises not to change those objects in the meantime (``offline_plan.policy_check``
    judges a plan that no longer changes); outside it nothing is remembered.
    """
    global _derivations
    outer = _derivations
    _derivations = {}
    try:
        yield
    finally:
        _derivations = outer


def derived(kind: str, sources: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()``, once per ``kind`` and ``sources`` (by identity) inside ``shared_derivations``.

    The result is shared: callers must not change it.
    """
    if _derivations is None:
        return compute()
    key = (kind, *map(id, sources))
    found = _derivations.get(key)
    if found is not None and all(a is b for a, b in zip(found[0], sources, strict=True)):
        return found[1]
    value = compute()
    _derivations[key] = (sources, value)  # holding the sources keeps their ids from being reused
    return value


def dig(value: Any, *path: str | int) -> Any:
    """``value[path0][path1]…``; ``None`` when a step is missing, ``UNKNOWN`` when a step is not known yet."""
    for step in path:
        if is_unknown(value):
            return UNKNOWN
        if isinstance(step, int):
            items = as_list(value)
            value = items[step] if -len(items) <= step < len(items) else None
        elif isinstance(value, Mapping):
            value = value.get(step)
        else:
            return None
    return UNKNOWN if is_unknown(value) else value


def as_list(value: Any) -> list[Any]:
    """A prop as a list; the policy server hands lists over as read-only ``Sequence`` proxies."""
    if value is None or is_unknown(value):
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return [value]


def known_list(value: Any) -> list[Any] | None:
    """A list whose every element is known, or ``None`` (so "X is missing from it" is never guessed)."""
    if is_unknown(value):
        return None
    items = as_list(value)
    return None if any(is_unknown(item) for item in items) else items


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def json_value(value: Any) -> Any:
    """A prop that carries JSON text (policy documents, CodeBuild action variables), parsed; ``None`` if not."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def policy_document(value: Any) -> dict[str, Any] | None:
    """A policy document from a prop that may be a JSON string, a dict, or not known yet."""
    parsed = json_value(value)
    return dict(parsed) if isinstance(parsed, Mapping) else None


def statements(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The statements of a document; anything malformed is skipped, never raised on."""
    if not document:
        return []
    return [dict(statement) for statement in as_list(document.get("Statement")) if isinstance(statement, Mapping)]


def statement_id(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return str(sid) if isinstance(sid, str) and sid else str(index)


def aws_principals(statement: Mapping[str, Any]) -> list[str]:
    """AWS principals of a statement; a bare ``"*"`` principal is reported as ``"*"``."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [str(item) for item in as_list(principal.get("AWS")) if not is_unknown(item)]
    return []


def allows_everyone(statement: Mapping[str, Any]) -> bool:
    """An ``Allow`` to any principal: ``Principal`` ``"*"`` (or ``{"AWS": "*"}``), or any ``NotPrincipal``.

    IAM User Guide, "AWS JSON policy elements: NotPrincipal": with ``Allow`` it grants every principal but the
    named ones, anonymous callers included, which AWS advises never to write.
    """
    if statement.get("Effect") != "Allow":
        return False
    not_principal = statement.get("NotPrincipal")
    return "*" in aws_principals(statement) or (not_principal is not None and not is_unknown(not_principal))


def tags_of(props: Props) -> Mapping[str, Any]:
    return as_mapping(props.get("tags"))


def environment_of(props: Props) -> Any:
    """The environment a resource belongs to, from its ``environment`` tag (``UNKNOWN`` if not known)."""
    tags = props.get("tags")
    if is_unknown(tags):
        return UNKNOWN
    return dig(tags, "environment")


PROD_ENVIRONMENTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string"},
    "default": ["prod"],
    "description": "Values of the `environment` tag that mark production resources, besides any resource tagged "
    "`production=true` (which the program sets from each environment's `production` setting).",
}
PRODUCTION_TAG = "production"
"""The tag the program sets to ``true`` on a production environment's pipelines and deploy targets."""


def is_prod(props: Props, config: Config) -> bool:
    """Production by the ``production=true`` tag (the environment's own setting, whatever its name) or by the
    ``environment`` tag being one of ``prodEnvironments``; an unknown tag is not proof of production."""
    tags = props.get("tags")
    if not is_unknown(tags) and str(dig(tags, PRODUCTION_TAG)).lower() == "true":
        return True
    environment = environment_of(props)
    return isinstance(environment, str) and environment in set(config.get("prodEnvironments", ["prod"]))


def account_of_arn(arn: Any) -> str | None:
    """The account id of an ARN (``arn:partition:service:region:account:…``); ``None`` if it has none."""
    if not isinstance(arn, str) or is_unknown(arn) or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def name_of_role_arn(arn: Any) -> str | None:
    if not isinstance(arn, str) or ":role/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1]
