"""The gate's verdicts: the change-freeze switch, failing closed, and the result it reports to CodePipeline."""

from __future__ import annotations

import json

import pytest

from deploy_gate.handler import DeployGate, GateClosedError, find_user_parameters
from deploy_ledger.store import Ledger
from tests.functions.coordination.conftest import gate_job, moment


def freeze(fleet, environment, value):
    fleet.client("ssm").put_parameter(
        Name=f"/cicd-platform/sim/freeze/{environment}", Value=value, Type="String", Overwrite=True
    )


def decide(fleet, job, minutes=0):
    return DeployGate(fleet.aws(), now=moment(minutes)).handle(job)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("on: Black Friday, until Monday 08:00", "change freeze in prod: Black Friday, until Monday 08:00"),
        ("on", "change freeze in prod: no reason given"),
        ("ON:incident INC-4711", "change freeze in prod: incident INC-4711"),
    ],
)
def test_a_frozen_environment_holds_every_deploy_with_the_reason(fleet, value, message):
    freeze(fleet, "prod", value)
    job = gate_job("auth", "prod")
    fleet.pipeline_stub.add_response(
        "put_job_failure_result",
        {},
        {"jobId": job["CodePipeline.job"]["id"], "failureDetails": {"type": "JobFailed", "message": message}},
    )
    assert decide(fleet, job) == {"allowed": False, "message": message}
    assert Ledger(fleet.aws()).hold("auth", "prod")["reason"] == message


def test_switching_the_freeze_off_lets_deploys_in_and_a_freeze_stays_in_its_environment(fleet):
    freeze(fleet, "prod", "on: release day")
    dev_job = gate_job("auth", "dev")
    fleet.pipeline_stub.add_response("put_job_success_result", {}, {"jobId": dev_job["CodePipeline.job"]["id"]})
    assert decide(fleet, dev_job)["allowed"] is True

    freeze(fleet, "prod", "off")
    prod_job = gate_job("auth", "prod")
    fleet.pipeline_stub.add_response("put_job_success_result", {}, {"jobId": prod_job["CodePipeline.job"]["id"]})
    assert decide(fleet, prod_job)["allowed"] is True


def test_a_freeze_is_named_before_the_dependencies(fleet):
    freeze(fleet, "prod", "on: audit")
    fleet.pipeline_stub.add_response("put_job_failure_result", {}, None)
    from coordinator.handler import Coordinator
    from tests.functions.coordination.conftest import pipeline_event

    Coordinator(fleet.aws(), now=moment(0)).handle(pipeline_event("auth-prod", "a1", "STARTED", 0))
    verdict = decide(fleet, gate_job("booking", "prod"), 1)
    assert verdict["message"] == (
        "change freeze in prod: audit; waiting for auth in prod: release in flight (execution a1)"
    )


def test_the_gate_fails_closed_when_it_cannot_read_its_parameters(fleet):
    job = gate_job("booking", "prod")
    job["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = "{}"
    fleet.pipeline_stub.add_response(
        "put_job_failure_result",
        {},
        {
            "jobId": job["CodePipeline.job"]["id"],
            "failureDetails": {"type": "JobFailed", "message": "deploy gate could not decide: KeyError: 'service'"},
        },
    )
    assert decide(fleet, job)["allowed"] is False


def test_a_service_outside_the_graph_is_not_let_through(fleet):
    fleet.pipeline_stub.add_response("put_job_failure_result", {}, None)
    verdict = decide(fleet, gate_job("mobile-bff", "dev"))
    assert verdict == {
        "allowed": False,
        "message": "deploy gate: mobile-bff does not deploy to dev in the dependency graph",
    }


def test_without_a_job_an_open_gate_returns_and_a_closed_gate_fails_the_invocation(fleet):
    verdict = decide(fleet, {"UserParameters": {"service": "auth", "environment": "dev"}})
    assert verdict["allowed"] is True  # no CodePipeline call: the stubs hold none
    freeze(fleet, "dev", "on: migration")
    with pytest.raises(GateClosedError, match="change freeze in dev: migration"):
        decide(fleet, {"UserParameters": json.dumps({"service": "auth", "environment": "dev"})})


def test_user_parameters_are_found_wherever_the_event_carries_them():
    nested = {"CodePipeline.job": {"data": {"ruleConfiguration": {"UserParameters": '{"service": "a"}'}}}}
    assert find_user_parameters(nested) == {"service": "a"}
    assert find_user_parameters({"nothing": 1}) == {}
