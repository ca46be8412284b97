"""What the offline plan switches off because it never uses it, so its cost per resource stays flat.

Three costs grow with the fleet and buy the offline plan nothing:

- Python's cyclic garbage collector. A plan frees almost nothing until it ends, so each full
  collection scans an ever larger heap: a third of the run at 24 services, half at 1,000.
  ``no_cyclic_gc`` turns it off for the run and restores the caller's setting afterwards (tests
  plan in-process, and must get their collector back). Reference counting still frees acyclic
  garbage as usual.
- The SDK's per-resource stack trace (``pulumi.runtime.resource._get_stack_trace``): every
  registration walks the Python stack to tell the engine where the resource was declared.
  The engine shows it in ``pulumi preview --debug`` and in error locations; the offline plan
  never reads it. ``no_stack_traces`` replaces it with an empty trace for the run only. It is a
  private SDK name: if a new SDK drops it, the plan stays correct (only slower), and
  ``tests/offline_plan/test_sdk_assumptions.py`` fails, naming the SDK version.
- Interpreter shutdown, which tears down every object the plan made (about 1 ms per resource).
  ``exit_now`` ends the *command* once its output is flushed; in-process callers never call it.
  The command exits from inside ``no_cyclic_gc``: with the collector back on, the first allocation
  would start a collection over every object the run made (a second at 24 services). A shard's
  worker process (``shards.py``) plans one shard and ends the same way.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from collections.abc import Iterator

import pulumi.runtime.resource as sdk_resource
from pulumi.runtime.proto import source_pb2

STACK_TRACE_FUNCTION = "_get_stack_trace"
"""The SDK function every registration calls to capture its stack (read by the guard test)."""


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """No cyclic collection inside the block; the collector's previous state is restored after it.

    Nests: an inner block inside an outer one leaves the collector off when it ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


def stack_traces_are_captured() -> bool:
    """Whether registrations capture a stack trace right now (for tests)."""
    return getattr(sdk_resource, STACK_TRACE_FUNCTION, None) is not _no_stack_trace


@contextlib.contextmanager
def no_stack_traces() -> Iterator[None]:
    """Registrations inside the block send an empty stack trace (and so no source position)."""
    original = getattr(sdk_resource, STACK_TRACE_FUNCTION, None)
    if original is None:
        # A newer SDK without the hook: nothing to switch off; the guard test reports it.
        yield
        return
    setattr(sdk_resource, STACK_TRACE_FUNCTION, _no_stack_trace)
    try:
        yield
    finally:
        setattr(sdk_resource, STACK_TRACE_FUNCTION, original)


def exit_now(code: int) -> None:
    """End the process with ``code`` once stdout, stderr and logging are flushed, skipping interpreter teardown.

    Only for ``python -m offline_plan``: the plan file is already written and closed. Never call it
    from code that others run in-process (tests, the parallel planner's workers that return results).
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away (`make plan | head`) or a closed stream: nothing left to deliver.
        with contextlib.suppress(BrokenPipeError, ValueError):
            stream.flush()
    os._exit(code)
