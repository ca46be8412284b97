"""The Lambda entry points read their settings from the environment the component sets, once per container."""

from __future__ import annotations

import pytest

import coordinator.handler as coordinator_handler
import deploy_gate.handler as gate_handler
from deploy_ledger.settings import Settings


@pytest.fixture
def lambda_environment(world, monkeypatch):
    settings = world.settings
    for key, value in {
        "LEDGER_TABLE": settings.ledger_table,
        "GRAPH_PARAMETER": settings.graph_parameter,
        "FREEZE_PARAMETER_PREFIX": settings.freeze_parameter_prefix,
        "DEPLOYED_TOPIC_ARN_PATTERN": settings.deployed_topic_arn_pattern,
        "HOLD_TIMEOUT_MINUTES": "45",
    }.items():
        monkeypatch.setenv(key, value)
    # A fresh container: no clients cached from another test's moto world.
    monkeypatch.setattr(gate_handler, "_AWS", None)
    monkeypatch.setattr(coordinator_handler, "_AWS", None)


def test_settings_come_from_the_environment_with_defaults():
    settings = Settings.from_environ(
        {"LEDGER_TABLE": "t", "GRAPH_PARAMETER": "/g", "FREEZE_PARAMETER_PREFIX": "/f/", "HOLD_TIMEOUT_MINUTES": "30"}
    )
    assert (settings.hold_timeout_minutes, settings.pipeline_name_pattern, settings.deploy_stage) == (
        30,
        "{service}-{environment}",
        "Deploy",
    )


def test_the_gate_entry_point_answers_a_direct_invocation(lambda_environment):
    event = {"UserParameters": '{"service": "booking", "environment": "prod"}'}
    assert gate_handler.handle(event, None)["allowed"] is True


def test_the_coordinator_entry_point_handles_a_scheduled_tick(lambda_environment):
    tick = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert coordinator_handler.handle(tick, None) == {"holds": []}
