"""A mock resource monitor that keeps what the engine would have been told.

``MockMonitor`` hands mocks deserialised inputs and forgets the parent and
provider. The plan needs the registration as the engine sees it: the full
URN (with the parent type chain), the parent URN, the explicit provider, and
the wire-format inputs in which secrets are still marked.

Secrets get two readings, as on the real path. The policy pack judges the
plain value (the CLI hands policies secrets unwrapped, so a secret-valued trust
policy is judged by what it says); everything written or printed shows
``"[secret]"`` instead, and any finding message that would quote a secret is
masked the way the CLI masks its output (``mask_secrets``).

Each registration is converted from protobuf once (``json_format.MessageToDict``,
the engine's JSON view); what the mocks receive is derived from that view
(``sdk_inputs``) instead of having ``MockMonitor`` deserialise the message again.
``tests/offline_plan/test_sdk_assumptions.py`` holds both against the SDK's own path.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, _ensure_event_loop, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.sync_await import _sync_await

REDACTED = "[secret]"
SETTLE_SECONDS = 30.0
CANCEL_SECONDS = 1.0
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
    revealed_inputs: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """The inputs with every secret in the clear, for the policy pack only; ``None`` when no input is secret.

    Never written, never printed (kept out of ``repr``). Whoever replaces ``inputs`` of a resource that has
    secrets replaces this too, or the pack keeps judging the old values."""
    secret_values: tuple[str, ...] = field(default=(), repr=False, compare=False)
    """The plain text of every secret string in the inputs, to mask wherever a message could quote one."""

    @property
    def policy_inputs(self) -> dict[str, Any]:
        """What the policy pack judges: the inputs as the policy server hands them over (secrets unwrapped)."""
        return self.revealed_inputs if self.revealed_inputs is not None else self.inputs

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
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class RecordedInvoke:
    """A data source call (``aws.get_...``) and the explicit provider it went through, if any."""

    token: str
    provider: str | None
    args: dict[str, Any]


def engine_view(value: Any, *, reveal_secrets: bool = False) -> Any:
    """Wire-format property values made readable: sentinels rendered, secrets redacted (or, for the pack, unwrapped).

    ``reveal_secrets=True`` is the view the policy server builds (``deserialize_properties``
    unwraps secrets); the default is what may be written to disk or shown.
    """
    if isinstance(value, dict):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return engine_view(value.get("value"), reveal_secrets=True) if reveal_secrets else REDACTED
        if signature == rpc._special_resource_sig:
            return value.get("urn")
        if signature in (rpc._special_asset_sig, rpc._special_archive_sig):
            return {
                key: engine_view(item, reveal_secrets=reveal_secrets)
                for key, item in value.items()
                if key != rpc._special_sig_key
            }
        return {key: engine_view(item, reveal_secrets=reveal_secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [engine_view(item, reveal_secrets=reveal_secrets) for item in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    return value


def _secret_payloads(value: Any) -> Iterator[Any]:
    """The (plain) values of every secret marker in a wire-format tree."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            yield engine_view(value.get("value"), reveal_secrets=True)
            return
        for item in value.values():
            yield from _secret_payloads(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secret_payloads(item)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)


def secret_values(value: Any) -> tuple[str, ...]:
    """Every secret's text (and its string leaves, for a secret object) in a wire-format tree, each once."""
    found: dict[str, None] = {}
    for payload in _secret_payloads(value):
        if isinstance(payload, (dict, list)):
            found.setdefault(json.dumps(payload, sort_keys=True))
        for text in _strings(payload):
            found.setdefault(text)
    return tuple(found)


def secret_fragments(secrets: Iterable[str]) -> tuple[str, ...]:
    """The string leaves of secrets that are JSON documents (a secret policy's Sids, principals, ARNs).

    A finding about a resource quotes parts of its documents (``trust statement <Sid> …``); when the
    document is secret, those parts are as secret as the whole.
    """
    found: dict[str, None] = {}
    for secret in secrets:
        try:
            document = json.loads(secret)
        except ValueError:
            continue
        if isinstance(document, (dict, list)):
            for text in _strings(document):
                found.setdefault(text)
    return tuple(found)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``"[secret]"``, as the Pulumi CLI filters what it prints.

    The same trade-off as the CLI's filter (sdk/go/common/util/logging): values shorter than three
    characters and ``true``/``false`` are left alone (masking them would mask ordinary words), and a
    secret is also caught in its JSON-escaped form. Longest first, so a secret containing another is
    masked whole.
    """
    patterns: set[str] = set()
    for secret in secrets:
        if len(secret) < 3 or secret.lower() in ("true", "false"):
            continue
        patterns.add(secret)
        patterns.add(json.dumps(secret)[1:-1])
    for pattern in sorted(patterns, key=len, reverse=True):
        text = text.replace(pattern, REDACTED)
    return text


def _has_secret(value: Any) -> bool:
    return any(True for _ in _secret_payloads(value))


STACK_TYPE = "pulumi:pulumi:Stack"


def sdk_inputs(wire: dict[str, Any]) -> Any:
    """What ``rpc.deserialize_properties`` makes of the message ``wire`` was converted from, read off ``wire``.

    The same rules as the SDK: unknowns become ``None`` outside a preview (and ``None`` entries are
    dropped from objects), secrets stay wrapped and a secret inside an object or a list marks the
    whole object or list secret. Assets, archives, resource references and output values are rare
    and need the SDK's registries: those are handed to the SDK itself.
    """
    signature = wire.get(rpc._special_sig_key)
    if rpc._special_sig_key in wire:
        if signature == rpc._special_secret_sig:
            return rpc.wrap_rpc_secret(_sdk_value(wire["value"]))
        _record_tasks_the_sdk_starts()  # it may start tasks on this thread's loop: _settle_worker_loop
        return rpc.deserialize_properties(json_format.ParseDict(wire, struct_pb2.Struct()))
    output = {}
    for key, item in wire.items():
        value = _sdk_value(item)
        if value is not None:
            output[key] = value
    return output


def _sdk_value(value: Any) -> Any:
    """``rpc.deserialize_property`` over the JSON view (lists for ``ListValue``, dicts for ``Struct``)."""
    if isinstance(value, dict):
        properties = sdk_inputs(value)
        if isinstance(properties, dict) and any(rpc.is_rpc_secret(item) for item in properties.values()):
            return rpc.wrap_rpc_secret({key: rpc.unwrap_rpc_secret(item) for key, item in properties.items()})
        return properties
    if isinstance(value, list):
        values = [_sdk_value(item) for item in value]
        if any(rpc.is_rpc_secret(item) for item in values):
            return rpc.wrap_rpc_secret([rpc.unwrap_rpc_secret(item) for item in values])
        return values
    if value == rpc.UNKNOWN:
        return Unknown() if settings.is_dry_run() else None
    return value


_handed_to_sdk = threading.local()
"""On a worker thread, ``started``: the tasks its loop was asked to create since this registration first handed a
value (a resource reference, an asset…) to the SDK; ``None`` (or unset) when nothing was handed since the last
settle. ``factory`` is the loop's task factory from before, put back at the settle."""


def _record_tasks_the_sdk_starts() -> None:
    """From the first hand-off of a registration to its settle, note every task created on this worker's loop.

    A task factory, not a before/after diff of ``asyncio.all_tasks``: that walks every task of the
    process (tens of milliseconds in a fleet's plan), and the SDK creates its tasks through the loop.
    """
    if threading.current_thread() is threading.main_thread() or _tasks_started() is not None:
        return  # the program's loop awaits its own tasks; or this registration is already recording
    loop = _ensure_event_loop()
    started: list[asyncio.Task[Any]] = []
    factory = loop.get_task_factory()

    def recording(loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> asyncio.Task[Any]:
        task = factory(loop, coro, **options) if factory else asyncio.Task(coro, loop=loop, **options)
        started.append(task)
        return task

    loop.set_task_factory(recording)
    _handed_to_sdk.started, _handed_to_sdk.factory = started, factory


def _tasks_started() -> list[asyncio.Task[Any]] | None:
    return getattr(_handed_to_sdk, "started", None)


def _settle_worker_loop() -> None:
    """Finish, on this worker thread, what the SDK started on its loop during this registration.

    The SDK reads a resource reference by constructing the resource, which starts a ``get`` task on
    the current thread's loop and hands it to the runtime's RPC manager; the program's loop on the
    main thread later awaits every task the manager holds, and awaiting an unfinished task of
    another loop raises ("attached to a different loop"). Whether it had finished was a race with
    the thread's next ``_sync_await``; here it always has.

    Only this registration's tasks are waited for, and at most ``SETTLE_SECONDS``: a task that waits
    for the program's loop cannot finish here. Such a task is cancelled and named in a warning (the
    plan's warnings, through the engine's log); no later registration waits for it again, so a stuck
    task costs one timeout, not one per later registration on this thread.
    """
    started = _tasks_started()
    if started is None:
        return  # nothing was handed to the SDK since the last settle (always so on the main thread)
    _handed_to_sdk.started = None
    loop = asyncio.get_event_loop()
    loop.set_task_factory(_handed_to_sdk.factory)
    pending = [task for task in started if not task.done()]
    if not pending:
        return
    _, stuck = loop.run_until_complete(asyncio.wait(pending, timeout=SETTLE_SECONDS))
    if not stuck:
        return
    for task in stuck:
        task.cancel()
    loop.run_until_complete(asyncio.wait(stuck, timeout=CANCEL_SECONDS))  # let the cancellations land
    names = ", ".join(sorted(_task_name(task) for task in stuck))
    pulumi.log.warn(
        f"offline plan: {len(stuck)} task(s) the SDK started on a worker thread did not finish within "
        f"{SETTLE_SECONDS:g} s and were cancelled: {names}"
    )


def _task_name(task: asyncio.Task[Any]) -> str:
    coroutine = task.get_coro()
    return getattr(coroutine, "__qualname__", None) or task.get_name()


def _state_struct(request_object: Any, inputs: dict[str, Any], state: dict[str, Any]) -> Any:
    """The response's state as ``rpc.serialize_properties(state)`` gives it, re-serialising only what the mocks added.

    A mock's state is its inputs plus a few computed outputs (an ARN, an id, ``tagsAll``): every
    input it returns unchanged is already serialised in the request, so the request's struct is
    copied (in C) and only the rest goes through the SDK's serialiser, which was an eighth of a
    plan. Copied are plain values only (no null, unknown, secret or other special object anywhere
    in them): reading those, the SDK drops, hoists or rewraps, so they are serialised again as the
    SDK's own path would (``tests/offline_plan/test_sdk_assumptions.py`` holds the two paths equal).
    """
    fields = request_object.fields
    changed = {
        key: value
        for key, value in state.items()
        if key not in inputs or value is not inputs[key] or key not in fields or not _plain(fields[key])
    }
    if len(changed) == len(state):
        return _sync_await(rpc.serialize_properties(state, {}))
    struct = struct_pb2.Struct()
    struct.CopyFrom(request_object)
    for key in [key for key in struct.fields if key not in state or key in changed]:
        del struct.fields[key]
    if changed:
        struct.MergeFrom(_sync_await(rpc.serialize_properties(changed, {})))
    return struct


def _plain(value: Any) -> bool:
    """A protobuf ``Value`` holding only strings, numbers, booleans, lists and objects without a signature key."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value != rpc.UNKNOWN
    if kind in ("number_value", "bool_value"):
        return True
    if kind == "list_value":
        return all(_plain(item) for item in value.list_value.values)
    if kind == "struct_value":
        entries = value.struct_value.fields
        return rpc._special_sig_key not in entries and all(_plain(item) for item in entries.values())
    return False  # null, or nothing set


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
        urn = self.make_urn(request.parent, request.type, request.name)
        wire = json_format.MessageToDict(request.object)  # the registration's one conversion
        response = self._register_with_mocks(request, urn, wire)
        # A provider reference is "<urn>::<id>"; the plan records the URN.
        provider = request.provider.rsplit("::", 1)[0] if request.provider else None
        secrets = secret_values(wire)
        self.recorded.append(
            RecordedResource(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                provider=provider,
                custom=bool(request.custom),
                inputs=engine_view(wire),
                dependencies=tuple(sorted(set(request.dependencies))),
                aliases=tuple(self._alias_urns(request)),
                revealed_inputs=engine_view(wire, reveal_secrets=True) if _has_secret(wire) else None,
                secret_values=secrets,
                ignore_changes=tuple(request.ignoreChanges),
            )
        )
        return response

    def _register_with_mocks(self, request: Any, urn: str, wire: dict[str, Any]) -> Any:
        """``MockMonitor.RegisterResource`` from the already converted inputs (same mocks call, same answer)."""
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        # Reading a resource reference (or serialising one back) needs an event loop on this worker thread.
        _ensure_event_loop()
        args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=sdk_inputs(wire),
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=_resolve_callbacks(request.transforms),
        )
        resource_id, state = self.mocks.new_resource(args)
        state_proto = _state_struct(request.object, args.inputs, state)
        _settle_worker_loop()
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state_proto)

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

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        """A read (``StackReference``, ``get`` functions of resources) is kept as the engine keeps it in state.

        The engine records a read as an external resource whose properties are what the read returned, and
        hands it to stack policies like any other resource; a shard's read of its core is how a rule sees
        that the stack builds on another stack's resources.
        """
        response = super().ReadResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        state = self.resources[urn].state
        self.recorded.append(
            RecordedResource(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
                custom=True,
                inputs=dict(state),
                dependencies=tuple(sorted(set(request.dependencies))),
            )
        )
        return response
