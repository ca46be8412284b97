"""Shared fixtures: the real catalog and stack files, and plans of the real program under mocks."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest
import yaml

from offline_plan.runner import Plan
from tests.shared_plans import cache_enabled, shared_plan

PROJECT_DIR = Path(__file__).resolve().parent.parent
warnings.filterwarnings("ignore", category=DeprecationWarning)


def stack_settings(stack: str) -> dict[str, Any]:
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    return document["config"]["cicd-platform:settings"]


_SERVICE_MODELS = botocore.loaders.create_loader()


@pytest.fixture(scope="session", autouse=True)
def service_models_read_once() -> Iterator[None]:
    """Every boto3 session of the run shares one loader of botocore's service descriptions.

    ``mock_aws`` drops boto3's default session on every start, and code under test makes a session per
    assumed role, so each test built new sessions that parsed the same JSON descriptions from disk again
    (most of a moto test's time). The descriptions are read-only data; sharing them changes no behaviour.
    """
    original = botocore.session.get_session

    def get_session(env_vars: Any = None) -> botocore.session.Session:
        session = original(env_vars)
        session.register_component("data_loader", _SERVICE_MODELS)
        return session

    botocore.session.get_session = get_session
    try:
        yield
    finally:
        botocore.session.get_session = original


@pytest.fixture
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture
def catalog_raw() -> dict[str, Any]:
    """The repository's catalog as parsed YAML, safe to mutate."""
    return copy.deepcopy(yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text()))


@pytest.fixture
def dev_settings_raw() -> dict[str, Any]:
    return copy.deepcopy(stack_settings("dev"))


@pytest.fixture
def prod_settings_raw() -> dict[str, Any]:
    return copy.deepcopy(stack_settings("prod"))


def service_entry(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in catalog["services"] if entry["name"] == name)


def with_dependencies(catalog: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """``catalog`` cut down to ``names`` and everything they depend on, in catalog order.

    A test about one kind of service plans a handful instead of the fleet: a quarter of the time or less.
    """
    by_name = {entry["name"]: entry for entry in catalog["services"]}
    kept: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in kept:
            kept.add(name)
            pending.extend(by_name[name].get("depends_on", []))
    return {**catalog, "services": [entry for entry in catalog["services"] if entry["name"] in kept]}


@pytest.fixture(scope="session", autouse=True)
def prod_plan_started_on_the_second_worker(request: pytest.FixtureRequest) -> None:
    """Under xdist the second worker plans prod first while the first plans dev, instead of waiting for it.

    Both workers' first plan-based tests ask for dev; whoever comes second would sit on the cache's lock
    for the whole plan. Only when this session has a test that reads prod (a single test file may not).
    """
    start_prod_plan_early(os.environ.get("PYTEST_XDIST_WORKER"), request.session.items)


def start_prod_plan_early(worker: str | None, items: list[Any], plan: Any = shared_plan) -> None:
    """Plan prod into the cache on gw1 when the session reads prod; never a cost or a failure of its own.

    Without the cache the plan would be thrown away and ``prod_plan`` would plan again (twice the CPU);
    a prod plan that raises here would error every test on the worker, not only those that read prod,
    so it is left to ``prod_plan`` to raise it again where it matters.
    """
    if worker != "gw1" or not cache_enabled():
        return
    if any("prod_plan" in getattr(item, "fixturenames", ()) for item in items):
        with contextlib.suppress(Exception):  # the tests that read prod fail on their own with the real error
            plan(PROJECT_DIR, "prod")


@pytest.fixture(scope="session")
def dev_plan() -> Plan:
    """The dev stack's plan: computed once for all workers (tests/shared_plans.py); treat it as read-only."""
    return shared_plan(PROJECT_DIR, "dev")


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    """The prod stack's plan: computed once for all workers (tests/shared_plans.py); treat it as read-only."""
    return shared_plan(PROJECT_DIR, "prod")


def inputs_of(plan: Plan, resource_type: str) -> list[dict[str, Any]]:
    return [resource.inputs for resource in plan.resources if resource.type == resource_type]


def document(value: str | dict[str, Any]) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value
