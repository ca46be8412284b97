"""A small fleet in moto for the coordinator and the deploy gate, and builders for the events CodePipeline sends.

CodePipeline calls moto lacks (job results, stage retry, start execution) go
through a real client wrapped in ``botocore.stub.Stubber``; every test states
exactly which calls it expects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from simulation.moto_world import ACCOUNT, REGION, World, provision, scheduled_tick, settings_for

from deploy_ledger.aws import Aws  # isort: skip  (functions/ is on sys.path through simulation.moto_world)

ENVIRONMENTS = ["dev", "prod"]
DEV_ACCOUNT, PROD_ACCOUNT, PCI_PROD_ACCOUNT = "111111111111", "222222222222", "333333333333"
ACCOUNTS = {"dev": DEV_ACCOUNT, "prod": PROD_ACCOUNT}
PCI = {"dev": DEV_ACCOUNT, "prod": PCI_PROD_ACCOUNT}


def reader_arn(account: str, environment: str) -> str:
    return f"arn:aws:iam::{account}:role/cicd-alarm-reader-{environment}"


def node(depends_on: list[str], on_upstream: str = "none", environments=ENVIRONMENTS, accounts=ACCOUNTS) -> dict:
    return {
        "dependsOn": depends_on,
        "environments": list(environments),
        "onUpstreamDeploy": on_upstream,
        **(
            {"accounts": {env: accounts[env] for env in environments if accounts[env] != ACCOUNTS[env]}}
            if accounts is not ACCOUNTS
            else {}
        ),
    }


GRAPH = {
    "formatVersion": 1,
    "services": {
        "auth": node([]),
        # payments runs in its own PCI account in prod: its health alarm is read there.
        "payments": node(["auth"], accounts=PCI),
        "booking": node(["auth", "payments"]),
        "partner-api": node(["booking"], "test"),
        "mobile-bff": node(["booking"], "redeploy", environments=["prod"]),
    },
    "accounts": ACCOUNTS,
    "alarmReaders": {
        environment: {
            account: {"region": REGION, "roleArn": reader_arn(account, environment)}
            for account in sorted({ACCOUNTS[environment], PCI[environment]})
        }
        for environment in ENVIRONMENTS
    },
}
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def moment(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def started_at(minutes: float) -> str:
    """An execution's ``start-time`` as events carry it: milliseconds, UTC."""
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def pipeline_event(
    pipeline: str,
    execution: str,
    state: str,
    minutes: float,
    trigger: str = "Webhook",
    started: float | None = None,
) -> dict:
    """A pipeline execution state change as the CodePipeline user guide shows it ("Monitoring CodePipeline events").

    ``started`` (minutes) gives the execution's ``start-time``; without it the
    event has none, as some events do not.
    """
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "source": "aws.codepipeline",
        "account": ACCOUNT,
        "time": at(minutes),
        "region": REGION,
        "resources": [f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{pipeline}"],
        "detail": {
            "pipeline": pipeline,
            "execution-id": execution,
            "execution-trigger": {"trigger-type": trigger, "trigger-detail": "arn:aws:codestar-connections:…"},
            "state": state,
            "version": 3.0,
            "pipeline-execution-attempt": 1.0,
        },
    }
    if started is not None:
        event["detail"]["start-time"] = started_at(started)
    return event


def stage_event(
    pipeline: str, execution: str, stage: str, state: str, minutes: float, started: float | None = None
) -> dict:
    event = pipeline_event(pipeline, execution, state, minutes, started=started)
    event["detail-type"] = "CodePipeline Stage Execution State Change"
    event["detail"]["stage"] = stage
    del event["detail"]["execution-trigger"]
    return event


def tick_event(minutes: float) -> dict:
    return scheduled_tick(settings_for("sim"), moment(minutes))


def gate_job(service: str, environment: str, execution: str | None = None, job_id: str | None = None) -> dict:
    """A job event as the Lambda developer guide documents it, with the rule's UserParameters."""
    data: dict = {
        "actionConfiguration": {
            "configuration": {
                "FunctionName": "cicd-sim-deploy-gate",
                "UserParameters": json.dumps({"service": service, "environment": environment}),
            }
        }
    }
    if execution:
        data["pipelineContext"] = {"pipelineName": f"{service}-{environment}", "pipelineExecutionId": execution}
    return {"CodePipeline.job": {"id": job_id or str(uuid.uuid4()), "accountId": ACCOUNT, "data": data}}


@pytest.fixture
def aws_credentials(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def world(aws_credentials) -> Iterator[World]:
    with mock_aws():
        settings = settings_for("sim", hold_timeout_minutes=60)
        yield provision(settings, json.dumps(GRAPH), ENVIRONMENTS, list(GRAPH["services"]))


class Fleet:
    """The moto world plus stubbed CodePipeline and CodeBuild clients and a record of backoff sleeps."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.codepipeline = boto3.client("codepipeline", region_name=REGION)
        self.codebuild = boto3.client("codebuild", region_name=REGION)
        self.pipeline_stub = Stubber(self.codepipeline)
        self.build_stub = Stubber(self.codebuild)
        self.sleeps: list[float] = []
        self.pipeline_stub.activate()
        self.build_stub.activate()

    def aws(self) -> Aws:
        return Aws(
            self.world.settings,
            clients={"codepipeline": self.codepipeline, "codebuild": self.codebuild},
            sleep=self.sleeps.append,
        )

    def client(self, name: str):
        return boto3.client(name, region_name=REGION)

    def verify(self) -> None:
        self.pipeline_stub.assert_no_pending_responses()
        self.build_stub.assert_no_pending_responses()


@pytest.fixture
def fleet(world) -> Iterator[Fleet]:
    fleet = Fleet(world)
    yield fleet
    fleet.verify()


class LambdaTimeout(BaseException):
    """What the Lambda runtime does at the function's timeout: the invocation stops where it is.

    A ``BaseException``, so no ``except Exception`` of the function runs: nothing
    is given back, exactly as when the runtime kills the process.
    """


class Interrupting:
    """An AWS client that delegates every call, except that the ``at``-th call of ``operation`` first runs ``before``.

    ``before`` raising ``LambdaTimeout`` kills the invocation at that call;
    ``before`` running another invocation makes the two overlap there.
    """

    def __init__(self, client, operation: str, before, at: int = 1) -> None:
        self._client, self._operation, self._before, self._remaining = client, operation, before, at

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if name != self._operation:
            return attribute

        def call(**kwargs):
            self._remaining -= 1
            if self._remaining == 0:
                self._before()
            return attribute(**kwargs)

        return call


def kill(*_: object) -> None:
    raise LambdaTimeout("Task timed out after 60.00 seconds")
