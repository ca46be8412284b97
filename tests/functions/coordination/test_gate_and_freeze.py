"""The gate's verdicts: the change-freeze switch, failing closed, and the result it reports to CodePipeline."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from deploy_gate.handler import DeployGate, GateClosedError, find_user_parameters
from deploy_ledger.freeze import switch_reason
from deploy_ledger.store import Ledger
from simulation.moto_world import REGION
from tests.functions.coordination.conftest import gate_job, moment
from tests.functions.coordination.test_release_scenarios import tick


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


NOT_OFF = "the switch reads {!r}, and only 'off' lets deploys in"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("off", None),
        ("OFF", None),
        ("  Off \n", None),
        ("off: lifted after INC-4711", None),
        ("on", "no reason given"),
        ("On: audit", "audit"),
        # Values an operator may type meaning "frozen", or by mistake: none of them is plainly off.
        ("yes", NOT_OFF.format("yes")),
        ("true", NOT_OFF.format("true")),
        ("frozen", NOT_OFF.format("frozen")),
        ("1", NOT_OFF.format("1")),
        ("of", NOT_OFF.format("of")),
        ("0ff", NOT_OFF.format("0ff")),
        ("off on", NOT_OFF.format("off on")),
        ("offline", NOT_OFF.format("offline")),
        ("\u043eff", NOT_OFF.format("\u043eff")),  # a Cyrillic "o": looks like off, is not
        ("x" * 300, NOT_OFF.format("x" * 59 + "…")),
    ],
)
def test_only_a_plainly_off_switch_opens_the_environment(value, reason):
    assert switch_reason(value) == reason


@pytest.mark.parametrize("value", ["yes", "frozen", "true", "0ff"])
def test_a_switch_that_is_not_plainly_off_holds_the_deploy_and_records_the_hold(fleet, value):
    freeze(fleet, "prod", value)
    job = gate_job("auth", "prod", execution="a1")
    message = "change freeze in prod: " + NOT_OFF.format(value)
    fleet.pipeline_stub.add_response(
        "put_job_failure_result",
        {},
        {"jobId": job["CodePipeline.job"]["id"], "failureDetails": {"type": "JobFailed", "message": message}},
    )
    assert decide(fleet, job) == {"allowed": False, "message": message}
    assert Ledger(fleet.aws()).hold("auth", "prod")["status"] == "HELD"


def test_a_deleted_switch_freezes_its_environment_until_it_is_created_again(fleet):
    fleet.client("ssm").delete_parameter(Name="/cicd-platform/sim/freeze/prod")
    job = gate_job("auth", "prod", execution="a1")
    fleet.pipeline_stub.add_response("put_job_failure_result", {}, None)
    assert decide(fleet, job)["message"] == (
        "change freeze in prod: the switch /cicd-platform/sim/freeze/prod does not exist "
        "(pulumi up creates it 'off'; create it to let deploys in)"
    )
    assert tick(fleet, 5)["holds"] == []  # the coordinator does not restart it either

    freeze(fleet, "prod", "off")
    fleet.pipeline_stub.add_response("retry_stage_execution", {"pipelineExecutionId": "a1"}, None)
    assert tick(fleet, 10)["holds"] == ["restarted auth in prod (retried Deploy of a1)"]


class SwitchUnreadable:
    """SSM as the functions see it when their role may read the graph but not the freeze switch."""

    def __init__(self, code: str) -> None:
        self.ssm = boto3.client("ssm", region_name=REGION)
        self.code = code

    def get_parameter(self, **kwargs):
        if "/freeze/" in kwargs["Name"]:
            raise ClientError({"Error": {"Code": self.code, "Message": "denied"}}, "GetParameter")
        return self.ssm.get_parameter(**kwargs)


@pytest.mark.parametrize("code", ["AccessDeniedException", "InternalServerError", "ThrottlingException"])
def test_a_switch_that_cannot_be_read_holds_the_deploy_naming_the_error(fleet, code):
    aws = fleet.aws()
    aws.clients["ssm"] = SwitchUnreadable(code)
    job = gate_job("auth", "prod", execution="a1")
    fleet.pipeline_stub.add_response("put_job_failure_result", {}, None)
    verdict = DeployGate(aws, now=moment(0)).handle(job)
    assert verdict == {
        "allowed": False,
        "message": f"change freeze in prod: the switch /cicd-platform/sim/freeze/prod cannot be read: {code}",
    }
    assert Ledger(fleet.aws()).hold("auth", "prod")["status"] == "HELD"  # held, so the coordinator restarts it


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
            "failureDetails": {
                "type": "JobFailed",
                "message": "deploy gate could not decide: UserParameters must name the service and the environment",
            },
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
