"""The Lambda entry points read their settings from the environment the component sets, once per container."""

from __future__ import annotations

import pytest

import coordinator.handler as coordinator_handler
import deploy_gate.handler as gate_handler
from deploy_ledger.settings import Settings
from simulation.moto_world import ACCOUNT, REGION, scheduled_tick
from tests.functions.coordination.conftest import START


@pytest.fixture
def lambda_environment(world, monkeypatch):
    settings = world.settings
    for key, value in {
        "LEDGER_TABLE": settings.ledger_table,
        "GRAPH_PARAMETER": settings.graph_parameter,
        "FREEZE_PARAMETER_PREFIX": settings.freeze_parameter_prefix,
        "DEPLOYED_TOPIC_ARN_PATTERN": settings.deployed_topic_arn_pattern,
        "HOLD_TIMEOUT_MINUTES": "45",
        "TOOLING_ACCOUNT_ID": ACCOUNT,
        "TOOLING_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    # A fresh container: no clients cached from another test's moto world.
    monkeypatch.setattr(gate_handler, "_AWS", None)
    monkeypatch.setattr(coordinator_handler, "_AWS", None)


REQUIRED = {
    "LEDGER_TABLE": "t",
    "GRAPH_PARAMETER": "/g",
    "FREEZE_PARAMETER_PREFIX": "/f/",
    "TOOLING_ACCOUNT_ID": "123456789012",
    "TOOLING_REGION": "eu-west-1",
}


def test_settings_come_from_the_environment_with_defaults():
    settings = Settings.from_environ({**REQUIRED, "HOLD_TIMEOUT_MINUTES": "30"})
    assert (settings.hold_timeout_minutes, settings.pipeline_name_pattern, settings.deploy_stage) == (
        30,
        "{service}-{environment}",
        "Deploy",
    )
    assert (settings.account_id, settings.region) == ("123456789012", "eu-west-1")
    # A claim covers the whole invocation and ends before Lambda's first retry (a minute after the failure).
    assert settings.lease_seconds == settings.function_timeout_seconds <= 60


@pytest.mark.parametrize("missing", ["TOOLING_ACCOUNT_ID", "TOOLING_REGION"])
def test_a_function_that_does_not_know_its_tooling_account_and_region_fails_its_cold_start(missing):
    with pytest.raises(KeyError, match=missing):
        Settings.from_environ({key: value for key, value in REQUIRED.items() if key != missing})


def test_the_gate_entry_point_answers_a_direct_invocation(lambda_environment):
    event = {"UserParameters": '{"service": "booking", "environment": "prod"}'}
    assert gate_handler.handle(event, None)["allowed"] is True


def test_the_coordinator_entry_point_handles_a_scheduled_tick(lambda_environment, world):
    tick = scheduled_tick(world.settings, START)
    assert coordinator_handler.handle(tick, None) == {"holds": []}
