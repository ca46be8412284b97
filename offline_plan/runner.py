"""Run the Pulumi program of one stack under mocks and turn what it declared into a plan."""

from __future__ import annotations

import json
import logging
import os
import runpy
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.model.errors import PlatformInputError
from components.model.platform_inputs import PlatformInputs, load_platform_inputs, settings_file_name
from components.model.settings import CONFIG_KEY, PROJECT_CONFIG_KEYS
from components.model.yaml_source import load_yaml_file
from policies import pack_config

from .lean import no_cyclic_gc, no_stack_traces
from .mocks import AwsMocks
from .policy_check import Violation, evaluate
from .recorder import RecordedInvoke, RecordedResource, RecordingMonitor
from .stack_config import read_stack_config

CATALOG_OVERRIDE_VARIABLE = "CICD_PLATFORM_CATALOG"


@dataclass
class Plan:
    stack: str
    project: str
    inputs: PlatformInputs
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    violations: list[Violation]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    invokes: list[RecordedInvoke] = field(default_factory=list)
    """Data source calls with their explicit provider (not written to the plan file)."""
    phase_seconds: dict[str, float] = field(default_factory=dict)
    """How long each phase took: ``inputs`` (read and validate), ``program`` (run under mocks), ``policy``;
    for a sharded fleet's merged plan ``core``, ``shards`` (all, in parallel) and ``merge`` (stack rules included)."""

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [violation for violation in self.violations if violation.level == "mandatory"]


class _CollectingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _catalog_override(catalog: str | None) -> Iterator[None]:
    previous = os.environ.get(CATALOG_OVERRIDE_VARIABLE)
    if catalog:
        os.environ[CATALOG_OVERRIDE_VARIABLE] = catalog
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CATALOG_OVERRIDE_VARIABLE, None)
        else:
            os.environ[CATALOG_OVERRIDE_VARIABLE] = previous


def project_name(project_dir: Path) -> str:
    document = load_yaml_file(project_dir / "Pulumi.yaml", "Pulumi.yaml")
    return str(document["name"])


def reject_unknown_project_keys(values: dict[str, str], project: str, stack: str) -> None:
    """A misspelt project key would be ignored by the program; offline, where all keys are visible, say so."""
    known = ", ".join(f"{project}:{key}" for key in sorted(PROJECT_CONFIG_KEYS))
    for key in sorted(values):
        namespace, _, name = key.partition(":")
        if namespace == project and name not in PROJECT_CONFIG_KEYS:
            raise PlatformInputError(
                settings_file_name(stack), f"unknown key (the program reads only {known})", field=key
            )


def load_policy_config(path: Path, project_dir: Path) -> pack_config.PackConfig:
    """The pack's configuration, validated as the CLI validates ``--policy-pack-config`` (and a little more).

    A wrongly typed value would otherwise reach a rule and crash it mid-plan; here it is one located line.
    """
    try:
        return pack_config.load(path)
    except pack_config.PolicyConfigError as error:
        shown = path.relative_to(project_dir) if path.is_relative_to(project_dir) else path
        subject = f"policy '{error.policy}'" if error.policy is not None else None
        raise PlatformInputError(str(shown), error.problem, subject=subject, field=error.field) from None


# The program and the pack allocate for the whole fleet and free little; nothing reads the SDK's
# per-resource stack traces here (lean.py).
@no_cyclic_gc()
@no_stack_traces()
def run_plan(
    project_dir: Path,
    stack: str,
    catalog: str | None = None,
    *,
    caller_account_id: str | None = None,
    policy_config: Path = pack_config.DEFAULT_PATH,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    stack_rules: bool = True,
    on_monitor: Callable[[RecordingMonitor], None] | None = None,
) -> Plan:
    """Validate inputs, run ``__main__.py`` under mocks, record resources and run the rules.

    Raises ``PlatformInputError`` for a broken catalog, stack file or policy pack
    configuration (``policy_config``, by default ``policies/policy-config.json``),
    before any resource is declared. A shard stack reads its core through ``stack_references``
    (stack name → its outputs); ``stack_rules=False`` leaves the stack rules to whoever sees the
    whole fleet (``offline_plan.shards``); ``on_monitor`` sees the recording monitor (progress).
    """
    started = time.perf_counter()
    project_dir = project_dir.resolve()
    pack_settings = load_policy_config(policy_config.resolve(), project_dir)
    project = project_name(project_dir)
    config = read_stack_config(project_dir, stack, project)
    reject_unknown_project_keys(config.values, project, stack)
    raw_settings = config.values.get(f"{project}:{CONFIG_KEY}")
    inputs = load_platform_inputs(
        json.loads(raw_settings) if raw_settings is not None else None, stack, project_dir, catalog
    )
    inputs_done = time.perf_counter()

    mocks = AwsMocks(
        tooling_account_id=inputs.settings.tooling_account_id,
        region=inputs.settings.region,
        caller_account_id=caller_account_id,
        stack_outputs=dict(stack_references or {}),
    )
    monitor = RecordingMonitor(mocks)
    if on_monitor is not None:
        on_monitor(monitor)
    logger = logging.getLogger(f"offline-plan.{stack}")
    handler = _CollectingHandler()
    logger.addHandler(handler)
    logger.propagate = False
    # A fresh root stack per run, so one process can plan several stacks (tests do).
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor)
    pulumi.runtime.set_all_config(config.values, config.secret_keys)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    program = project_dir / "__main__.py"
    try:
        with _catalog_override(catalog):
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
        outputs = _stack_outputs()
    finally:
        # A failed run must not leave its collector on the logger for the next plan in this process.
        logger.removeHandler(handler)
    program_done = time.perf_counter()
    resources = monitor.recorded
    violations = evaluate(resources, config=pack_settings, **({} if stack_rules else {"stack_rules": ()}))
    finished = time.perf_counter()
    return Plan(
        stack=stack,
        project=project,
        inputs=inputs,
        resources=resources,
        outputs=outputs,
        violations=violations,
        seconds=finished - started,
        warnings=handler.messages,
        invokes=list(mocks.invokes),
        phase_seconds={
            "inputs": inputs_done - started,
            "program": program_done - inputs_done,
            "policy": finished - program_done,
        },
    )


def _stack_outputs() -> dict[str, Any]:
    root = pulumi.runtime.settings.get_root_resource()
    outputs = getattr(root, "outputs", None) or {}
    resolved = _sync_await(pulumi.Output.from_input(outputs).future()) if outputs else {}
    return resolved or {}
