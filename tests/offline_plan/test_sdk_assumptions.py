"""What the offline plan assumes about private parts of the Pulumi SDK, checked against the installed SDK.

The lean run (``offline_plan/lean.py``) and the one-conversion recorder (``offline_plan/recorder.py``)
lean on names the SDK does not promise to keep. If an SDK upgrade moves them, the plan either stays
correct but slower (the stack-trace switch finds nothing to switch) or could hand the mocks
something else than ``MockMonitor`` would. These tests fail first, naming the SDK version, so the
upgrade is looked at instead of silently drifting.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any

import pulumi
import pulumi.runtime.mocks as sdk_mocks
import pulumi.runtime.resource as sdk_resource
import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from offline_plan.lean import STACK_TRACE_FUNCTION
from offline_plan.mocks import AwsMocks
from offline_plan.recorder import RecordingMonitor, _state_struct, sdk_inputs

SDK = f"pulumi {version('pulumi')}"


def test_registrations_get_their_stack_trace_from_the_function_the_lean_run_switches_off():
    capture = getattr(sdk_resource, STACK_TRACE_FUNCTION, None)
    assert callable(capture), (
        f"{SDK} has no pulumi.runtime.resource.{STACK_TRACE_FUNCTION}: update offline_plan/lean.py"
    )
    assert inspect.signature(capture).parameters == {}, f"{SDK} changed {STACK_TRACE_FUNCTION}'s signature"
    assert isinstance(capture(), source_pb2.StackTrace), f"{SDK}: {STACK_TRACE_FUNCTION} returns something else"
    for caller in (sdk_resource.register_resource, sdk_resource.read_resource):
        assert STACK_TRACE_FUNCTION in caller.__code__.co_names, (
            f"{SDK}: {caller.__name__} no longer looks up {STACK_TRACE_FUNCTION} by module name, "
            "so replacing it switches nothing off: update offline_plan/lean.py"
        )


def test_the_mock_monitor_parts_the_recorder_reuses_are_still_there():
    assert callable(getattr(sdk_mocks, "_ensure_event_loop", None)), f"{SDK} dropped mocks._ensure_event_loop"
    assert callable(getattr(sdk_mocks, "_resolve_callbacks", None)), f"{SDK} dropped mocks._resolve_callbacks"
    assert sdk_mocks.MockMonitor.ResourceRegistration._fields == ("urn", "id", "state"), SDK
    parameters = set(inspect.signature(sdk_mocks.MockResourceArgs).parameters)
    assert {"typ", "name", "inputs", "provider", "resource_id", "custom", "transforms"} <= parameters, (
        f"{SDK} changed MockResourceArgs: update RecordingMonitor._register_with_mocks"
    )
    # The recorder replaces MockMonitor.RegisterResource; a new step there must be mirrored.
    steps = set(sdk_mocks.MockMonitor.RegisterResource.__code__.co_names)
    assert steps <= {
        "make_urn",
        "type",
        "parent",
        "name",
        "resource_pb2",
        "RegisterResourceResponse",
        "_ensure_event_loop",
        "rpc",
        "deserialize_properties",
        "object",
        "MockResourceArgs",
        "provider",
        "importId",
        "custom",
        "_resolve_callbacks",
        "transforms",
        "mocks",
        "new_resource",
        "_sync_await",
        "serialize_properties",
        "resources",
        "MockMonitor",
        "ResourceRegistration",
    }, f"{SDK}: MockMonitor.RegisterResource does something new: mirror it in RecordingMonitor._register_with_mocks"


# Values as a Struct carries them: the engine's special objects (secrets above all) and unknowns among plain JSON.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8),
    st.just(rpc.UNKNOWN),
)


def _secret(inner: Any) -> dict[str, Any]:
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": inner}


_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=6), children, max_size=4),
        children.map(_secret),
    ),
    max_leaves=20,
)


def _struct(properties: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(properties)
    return struct


@pytest.mark.parametrize("preview", [False, True])
@settings(max_examples=300, deadline=None)
@given(properties=st.dictionaries(st.text(min_size=1, max_size=6), _values, max_size=5))
def test_the_mocks_get_exactly_what_the_sdk_would_deserialise(properties, preview):
    """Property: reading the engine view gives what ``rpc.deserialize_properties`` gives from the message."""
    struct = _struct(properties)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pulumi.runtime.settings, "is_dry_run", lambda: preview)
        expected = rpc.deserialize_properties(struct)
        actual = sdk_inputs(json_format.MessageToDict(struct))
    assert _comparable(actual) == _comparable(expected), SDK


@pytest.mark.parametrize("preview", [False, True])
@settings(max_examples=300, deadline=None)
@given(
    properties=st.dictionaries(st.text(min_size=1, max_size=6), _values, max_size=5),
    computed=st.dictionaries(st.sampled_from(["arn", "id", "tagsAll", "a", "b"]), _values, max_size=3),
)
def test_the_state_the_recorder_answers_reads_as_the_sdks_serialised_state_does(properties, computed, preview):
    """Property: the response built from the request's struct is what the SDK reads from serialising the state."""
    request_object = _struct(properties)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pulumi.runtime.settings, "is_dry_run", lambda: preview)
        inputs = sdk_inputs(json_format.MessageToDict(request_object))
        state = {**inputs, **computed}
        expected = rpc.deserialize_properties(_sync_await(rpc.serialize_properties(state, {})))
        actual = rpc.deserialize_properties(_state_struct(request_object, inputs, state))
    assert _comparable(actual) == _comparable(expected), SDK


def _comparable(value: Any) -> Any:
    """Values with the SDK's ``Unknown`` sentinel (equal only to itself) made comparable."""
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if type(value).__name__ == "Unknown":
        return "<unknown>"
    if isinstance(value, pulumi.Resource):
        return ("resource", type(value).__name__, value._name)  # the logical name
    if isinstance(value, pulumi.asset.FileAsset):
        return ("file", value.path)
    if isinstance(value, pulumi.asset.StringAsset):
        return ("text", value.text)
    if isinstance(value, pulumi.asset.AssetArchive):
        return ("archive", _comparable(value.assets))
    return value


class DifferentialMonitor(RecordingMonitor):
    """Hands every registration to the recorder and checks it against the SDK's own reading of the message."""

    checked: list[str] = []  # noqa: RUF012 - the test reads it after the run

    def RegisterResource(self, request):  # noqa: N802
        # As MockMonitor does before it deserialises: a resource reference is read on this thread's loop.
        sdk_mocks._ensure_event_loop()
        expected = rpc.deserialize_properties(request.object)
        actual = sdk_inputs(json_format.MessageToDict(request.object))
        assert _comparable(actual) == _comparable(expected), f"{SDK}: {request.type} {request.name}"
        type(self).checked.append(request.type)
        return super().RegisterResource(request)


def _fragment() -> None:
    """The kinds of input the platform sends: secrets at every depth, assets and archives, resource references."""
    import pulumi_aws as aws

    role = aws.iam.Role(
        "differential-role",
        name="cicd-differential",
        assume_role_policy=pulumi.Output.secret('{"Version": "2012-10-17", "Statement": []}'),
        tags={"team": "platform", "token": pulumi.Output.secret("s3cr3t")},
    )
    aws.lambda_.Function(
        "differential-function",
        name="cicd-differential",
        role=role.arn,
        runtime="python3.12",
        handler="handler.handler",
        code=pulumi.AssetArchive(
            {"handler.py": pulumi.StringAsset("def handler(event, context): ...\n"), "data": pulumi.FileAsset(__file__)}
        ),
        environment={"variables": {"MODE": "test", "TOKEN": pulumi.Output.secret("xoxb-0000")}},
        layers=["arn:aws:lambda:eu-west-1:210987654321:layer:one:1", pulumi.Output.secret("arn:secret-layer")],
    )
    # A resource passed as a value reaches the engine as a resource reference.
    pulumi.CustomResource("cicd:test:Holder", "differential-holder", {"target": role, "count": 3})


def test_every_registration_of_a_real_fragment_reads_as_the_sdk_reads_it():
    DifferentialMonitor.checked = []
    mocks = AwsMocks(tooling_account_id="210987654321", region="eu-west-1")
    monitor = DifferentialMonitor(mocks)
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="cicd-platform", stack="dev", preview=False, monitor=monitor)
    _sync_await(run_pulumi_func(_fragment))
    assert {"aws:iam/role:Role", "aws:lambda/function:Function", "cicd:test:Holder"} <= set(DifferentialMonitor.checked)
    holder = next(r for r in monitor.recorded if r.type == "cicd:test:Holder")
    assert holder.inputs["target"].endswith("::differential-role"), "a resource reference is recorded by its URN"


AN_ASSET = {rpc._special_sig_key: rpc._special_asset_sig, "text": "print('hi')\n"}
"""A value ``sdk_inputs`` hands to the SDK (as it does a resource reference)."""


def _on_a_worker(work: Any) -> Any:
    """Run ``work(loop)`` as a registration runs: a worker thread with its own loop, in the program's context."""
    import asyncio
    import contextvars
    import threading

    result: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            result["value"] = work(loop)
        finally:
            loop.close()

    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(run,))
    worker.start()
    worker.join()
    return result["value"]


def test_what_reading_a_resource_reference_starts_on_a_worker_loop_is_finished_there(monkeypatch):
    """The program's loop cannot await a task of a worker thread's loop: the recorder finishes such tasks itself.

    Only the tasks started since the registration handed a value to the SDK: an older one (left by an
    earlier registration, here one still waiting) is not this registration's to wait for.
    """
    import asyncio
    import time

    from offline_plan import recorder

    monkeypatch.setattr(recorder, "SETTLE_SECONDS", 5.0)

    async def a_get() -> None:  # as the SDK's get of a referenced resource: several turns of the loop
        for _ in range(3):
            await asyncio.sleep(0)

    async def waits(until: asyncio.Future[None]) -> None:
        await until

    def registrations(loop: asyncio.AbstractEventLoop) -> dict[str, bool]:
        seen = {}
        untouched = loop.create_task(a_get())
        recorder._settle_worker_loop()  # nothing was handed to the SDK: left alone (and cheap)
        seen["left alone"] = not untouched.done()
        release = loop.create_future()
        older = loop.create_task(waits(release))
        sdk_inputs({"code": AN_ASSET})
        started = loop.create_task(a_get())  # what the SDK starts while reading the value
        began = time.perf_counter()
        recorder._settle_worker_loop()
        seen["finished"] = started.done() and untouched.done()
        seen["older one not waited for"] = time.perf_counter() - began < 1.0 and not older.done()
        seen["cleared"] = recorder._tasks_started() is None
        release.set_result(None)
        loop.run_until_complete(older)
        return seen

    assert _on_a_worker(registrations) == {
        "left alone": True,
        "finished": True,
        "older one not waited for": True,
        "cleared": True,
    }


def test_a_task_that_cannot_finish_on_the_worker_costs_one_timeout_is_cancelled_and_named(monkeypatch, caplog):
    """A task waiting for the program's loop never finishes on the worker: bounded once, not per registration.

    Before, it stayed among the loop's tasks and every later registration that handed a value to the
    SDK on that thread waited the full timeout for it again, without a word.
    """
    import asyncio
    import logging
    import time

    from offline_plan import recorder

    monkeypatch.setattr(recorder, "SETTLE_SECONDS", 0.3)
    logger = logging.getLogger("test-settle")
    mocks = AwsMocks(tooling_account_id="210987654321", region="eu-west-1")
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="cicd-platform", stack="dev", preview=False, logger=logger)

    async def waits_for_the_programs_loop(never: asyncio.Future[None]) -> None:
        await never

    def registrations(loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
        sdk_inputs({"code": AN_ASSET})
        stuck = loop.create_task(waits_for_the_programs_loop(loop.create_future()))
        started = time.perf_counter()
        recorder._settle_worker_loop()
        first = time.perf_counter() - started
        seconds = []
        for _ in range(3):  # later registrations on the same thread, each handing a value to the SDK
            sdk_inputs({"code": AN_ASSET})
            quick = loop.create_task(asyncio.sleep(0))
            started = time.perf_counter()
            recorder._settle_worker_loop()
            seconds.append(time.perf_counter() - started)
            assert quick.done()
        return {"first": first, "later": seconds, "cancelled": stuck.cancelled()}

    with caplog.at_level(logging.WARNING, logger="test-settle"):
        outcome = _on_a_worker(registrations)
    assert outcome["first"] >= 0.3
    assert max(outcome["later"]) < 0.1, "the stuck task was waited for again"
    assert outcome["cancelled"]
    warnings = [record.getMessage() for record in caplog.records if record.name == "test-settle"]
    assert len(warnings) == 1, warnings
    assert "waits_for_the_programs_loop" in warnings[0] and "cancelled" in warnings[0]
