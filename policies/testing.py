"""Test your CrossGuard rules the way the policy server runs them, without starting the server.

The server receives every resource as a protobuf ``Struct``, turns it into a
dict with ``json_format.MessageToDict`` and ``deserialize_properties``
(numbers become floats, secrets are unwrapped, unknowns arrive as the SDK's
sentinel strings), wraps it in ``unknown_checking_proxy`` and builds
``ResourceValidationArgs`` / ``PolicyResource`` objects (linking parents and
dependencies by URN for stack policies). This module does the same steps with
the same SDK functions, then calls a policy's real ``validate`` and collects
what it reports. Constructing a ``PolicyPack`` would start the server, so
nothing here does.

Usage (any ``ResourceValidationPolicy``/``StackValidationPolicy``, or one of
our rules through the pack's own adapter)::

    from policies.testing import Resource, UNKNOWN, secret, check
    from policies.rules.kms import KMS_ROTATION

    assert check(KMS_ROTATION, Resource("aws:kms/key:Key", {"enableKeyRotation": False})).messages == [...]
    assert check(KMS_ROTATION, Resource("aws:kms/key:Key", {"enableKeyRotation": UNKNOWN})).messages == []
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import PolicyResource as SdkPolicyResource
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

try:  # as ``policies.testing`` (this repository's tests) or as top-level ``testing`` inside the pack
    from .crossguard import resource_policy, stack_policy
    from .rules.base import PolicyResource, ResourceRule, StackRule, config_defaults
except ImportError:  # pragma: no cover
    from crossguard import resource_policy, stack_policy  # type: ignore[no-redef]
    from rules.base import PolicyResource, ResourceRule, StackRule, config_defaults  # type: ignore[no-redef]

UNKNOWN = UNKNOWN_STRING_VALUE
"""Put this where the engine would not know a value during preview (an output of a resource not created yet)."""
UNKNOWN_BOOLEAN = UNKNOWN_BOOLEAN_VALUE
UNKNOWN_NUMBER = UNKNOWN_NUMBER_VALUE
UNKNOWN_ARRAY = UNKNOWN_ARRAY_VALUE
UNKNOWN_OBJECT = UNKNOWN_OBJECT_VALUE

STACK, PROJECT = "test", "project"


def secret(value: Any) -> dict[str, Any]:
    """A value marked secret, as the engine puts it on the wire (the server hands the plain value to policies)."""
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


@dataclass(frozen=True)
class Provider:
    """An explicit provider of a resource (e.g. the aws.Provider into an environment account)."""

    props: Mapping[str, Any] = field(default_factory=dict)
    name: str = "provider"
    type: str = "pulumi:providers:aws"

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{STACK}::{PROJECT}::{self.type}::{self.name}"


@dataclass(frozen=True)
class Resource:
    """A resource as the program registers it: type token, camelCase input props, and its place in the graph."""

    type: str
    props: Mapping[str, Any]
    name: str = "subject"
    parent: str | None = None
    """URN of the parent (a component or another resource)."""
    provider: Provider | None = None
    dependencies: tuple[str, ...] = ()
    """URNs this resource depends on."""

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{STACK}::{PROJECT}::{self.type}::{self.name}"


def wire_props(props: Mapping[str, Any]) -> Any:
    """Props exactly as a policy sees them: through protobuf, the SDK's deserializer and its unknown proxy."""
    struct = json_format.ParseDict(dict(props), struct_pb2.Struct())
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def wire_config(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A policy's config as ``get_config()`` returns it: through the ``Struct`` of ``Configure`` (numbers as floats)."""
    if not config:
        return None
    return json_format.MessageToDict(json_format.ParseDict(dict(config), struct_pb2.Struct()))


def _options(resource: Resource) -> PolicyResourceOptions:
    # What the server builds from a request with default options (``_get_resource_options``).
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent or None)


def _provider(resource: Resource) -> PolicyProviderResource | None:
    provider = resource.provider
    if provider is None:
        return None
    return PolicyProviderResource(provider.type, wire_props(provider.props), provider.urn, provider.name)


def resource_validation_args(
    resource: Resource, config: Mapping[str, Any] | None = None, stack_tags: Mapping[str, str] | None = None
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource.type,
        wire_props(resource.props),
        resource.urn,
        resource.name,
        _options(resource),
        _provider(resource),
        wire_config(config),
        stack_tags,
    )


def stack_validation_args(
    resources: Iterable[Resource], config: Mapping[str, Any] | None = None, stack_tags: Mapping[str, str] | None = None
) -> StackValidationArgs:
    resources = list(resources)
    built = [
        SdkPolicyResource(r.type, wire_props(r.props), r.urn, r.name, _options(r), _provider(r), None, [], {})
        for r in resources
    ]
    by_urn = {sdk.urn: sdk for sdk in built}
    for source, sdk in zip(resources, built, strict=True):
        if source.parent in by_urn:
            sdk.parent = by_urn[source.parent]
        sdk.dependencies.extend(by_urn[urn] for urn in source.dependencies if urn in by_urn)
    return StackValidationArgs(built, wire_config(config), stack_tags)


@dataclass(frozen=True)
class Report:
    """One ``report_violation`` call, or the server's note that the policy could not run during preview."""

    policy: str
    message: str
    urn: str | None
    level: str
    skipped_in_preview: bool = False


@dataclass(frozen=True)
class Reports:
    items: tuple[Report, ...]

    @property
    def messages(self) -> list[str]:
        """Violation messages (preview skips excluded)."""
        return [item.message for item in self.items if not item.skipped_in_preview]

    @property
    def skipped(self) -> bool:
        return any(item.skipped_in_preview for item in self.items)

    def __len__(self) -> int:
        return len(self.messages)


def _level(policy: Any) -> str:
    level = policy.enforcement_level or EnforcementLevel.ADVISORY
    return level.value


def _run(policy: Any, args: Any) -> Reports:
    collected: list[Report] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        if message and not isinstance(message, str):
            raise TypeError("Expected message to be a string")
        if urn is not None and not isinstance(urn, str):
            raise TypeError("Expected urn to be a string")
        collected.append(Report(policy.name, message, urn, _level(policy)))

    try:
        result = policy.validate(args, report_violation)
        if isawaitable(result):
            asyncio.run(_awaited(result))
    except UnknownValueError as error:  # the server turns this into an advisory "can't run during preview"
        collected.append(Report(policy.name, error.message, None, "advisory", skipped_in_preview=True))
    return Reports(tuple(collected))


async def _awaited(result: Any) -> None:
    await result


def run_resource_policy(
    policy: ResourceValidationPolicy, resource: Resource, config: Mapping[str, Any] | None = None
) -> Reports:
    return _run(policy, resource_validation_args(resource, config))


def run_stack_policy(
    policy: StackValidationPolicy, resources: Sequence[Resource], config: Mapping[str, Any] | None = None
) -> Reports:
    return _run(policy, stack_validation_args(resources, config))


def check(
    rule: ResourceRule | StackRule | ResourceValidationPolicy | StackValidationPolicy,
    *resources: Resource,
    config: Mapping[str, Any] | None = None,
) -> Reports:
    """Run a rule (through the pack's CrossGuard adapter) or a policy over resources, as the server would.

    A resource rule or policy runs once per resource (like ``Analyze``); a
    stack rule or policy runs once over all of them (like ``AnalyzeStack``).
    Config reaches the policy as the CLI sends it: our rules' schema defaults
    overlaid with ``config``, through protobuf (every number a float).
    """
    if isinstance(rule, (ResourceRule, StackRule)):
        # The CLI hands a policy its schema defaults overlaid with the file (ReconcilePolicyPackConfig).
        config = {**config_defaults(rule.config_schema), **(config or {})}
    if isinstance(rule, ResourceRule):
        rule = resource_policy(rule)
    elif isinstance(rule, StackRule):
        rule = stack_policy(rule, PolicyResource)
    if isinstance(rule, ResourceValidationPolicy):
        items = [item for resource in resources for item in run_resource_policy(rule, resource, config).items]
        return Reports(tuple(items))
    return run_stack_policy(rule, resources, config)
