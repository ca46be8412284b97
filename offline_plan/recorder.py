"""A mock resource monitor that keeps what the engine would have been told.

``MockMonitor`` hands mocks deserialised inputs and forgets the parent and
provider. The plan needs the registration as the engine sees it: the full
URN (with the parent type chain), the parent URN, the explicit provider, and
the wire-format inputs in which secrets are still marked, so they can be
redacted rather than written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_project, get_stack

REDACTED = "[secret]"
UNKNOWN = "[unknown]"


@dataclass(frozen=True)
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    custom: bool
    inputs: dict[str, Any]
    dependencies: tuple[str, ...] = ()
    """URNs this resource waits for (explicit ``depends_on`` and those its inputs come from)."""
    aliases: tuple[str, ...] = ()
    """Former URNs it declares (``aliases``), so a move keeps the resource; the engine adds its children's."""
    ignore_changes: tuple[str, ...] = ()
    """Input properties (engine names, camelCase) whose changes ``pulumi up`` leaves alone (``ignore_changes``)."""

    def as_plan_entry(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "inputs": self.inputs,
            "dependencies": list(self.dependencies),
        }


@dataclass(frozen=True)
class RecordedInvoke:
    """A data source call (``aws.get_...``) and the explicit provider it went through, if any."""

    token: str
    provider: str | None
    args: dict[str, Any]


def engine_view(value: Any) -> Any:
    """Wire-format property values, with secrets redacted and sentinels made readable."""
    if isinstance(value, dict):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return REDACTED
        if signature == rpc._special_resource_sig:
            return value.get("urn")
        if signature in (rpc._special_asset_sig, rpc._special_archive_sig):
            return {key: engine_view(item) for key, item in value.items() if key != rpc._special_sig_key}
        return {key: engine_view(item) for key, item in value.items()}
    if isinstance(value, list):
        return [engine_view(item) for item in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    return value


class RecordingMonitor(MockMonitor):
    """MockMonitor that records every registration and computes engine-exact URNs."""

    def __init__(self, mocks: Any) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine qualifies a child's type with its parent's whole type chain;
        # MockMonitor keeps only the last link, which can make URNs collide.
        qualified = type_
        if parent:
            parent_chain = parent.split("::")[2]
            if not parent_chain.startswith("pulumi:pulumi:Stack"):
                qualified = f"{parent_chain}${type_}"
        return "urn:pulumi:" + "::".join([get_stack(), get_project(), qualified, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        # A provider reference is "<urn>::<id>"; the plan records the URN.
        provider = request.provider.rsplit("::", 1)[0] if request.provider else None
        self.recorded.append(
            RecordedResource(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                provider=provider,
                custom=bool(request.custom),
                inputs=engine_view(json_format.MessageToDict(request.object)),
                dependencies=tuple(sorted(set(request.dependencies))),
                aliases=tuple(self._alias_urns(request)),
                ignore_changes=tuple(request.ignoreChanges),
            )
        )
        return response

    def _alias_urns(self, request: Any) -> list[str]:
        urns = []
        for alias in request.aliases:
            if alias.urn:
                urns.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            urns.append(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        return urns
