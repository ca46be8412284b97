"""Review: two dependents of one upstream must not share one CodeBuild idempotency token.

CodeBuild API reference, ``StartBuild.idempotencyToken``: "The token is included
in the StartBuild request and is valid for 5 minutes. If you repeat the
StartBuild request with the same token, but change a parameter, CodeBuild
returns a parameter mismatch error." The coordinator builds the token from the
upstream service and execution only (``<upstream>-<execution>``), so when two
dependents ask for tests after one deploy, the second ``StartBuild`` (another
``projectName``) repeats the first one's token with a changed parameter and is
refused; Lambda's retries come one and two minutes later, inside the five
minutes, and are refused the same way, so the second dependent's integration
tests never run and the event ends in the dead-letter queue.

The fake CodeBuild below does exactly what the reference says and nothing more.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from coordinator.handler import Coordinator
from simulation.moto_world import provision, settings_for
from tests.functions.coordination.conftest import ENVIRONMENTS, GRAPH, moment, node, pipeline_event

from deploy_ledger.aws import Aws  # isort: skip

TOKEN_LIFETIME_SECONDS = 5 * 60


class DocumentedCodeBuild:
    """``start_build`` with the idempotency rule of the API reference; time is the test's."""

    def __init__(self) -> None:
        self.now = 0.0
        self.started: list[str] = []
        self._tokens: dict[str, tuple[float, dict[str, Any]]] = {}

    def start_build(self, **request: Any) -> dict[str, Any]:
        token = request.get("idempotencyToken")
        if token is not None and token in self._tokens:
            issued, earlier = self._tokens[token]
            if self.now - issued < TOKEN_LIFETIME_SECONDS and earlier != request:
                raise ClientError(
                    {"Error": {"Code": "InvalidInputException", "Message": "idempotency token parameter mismatch"}},
                    "StartBuild",
                )
            if self.now - issued < TOKEN_LIFETIME_SECONDS:
                return {"build": {"id": f"{request['projectName']}:repeat"}}
        if token is not None:
            self._tokens[token] = (self.now, request)
        self.started.append(request["projectName"])
        return {"build": {"id": f"{request['projectName']}:{len(self.started)}"}}


@pytest.fixture
def two_test_dependents(aws_credentials):
    graph = json.loads(json.dumps(GRAPH))
    # A second dependent of booking that asks for its integration tests after booking deploys.
    graph["services"]["search"] = node(["booking"], "test", environments=["prod"])
    with mock_aws():
        settings = settings_for("sim", hold_timeout_minutes=60)
        yield provision(settings, json.dumps(graph), ENVIRONMENTS, list(graph["services"]))


def test_each_dependent_gets_its_tests_even_when_two_ask_after_one_deploy(two_test_dependents):
    codebuild = DocumentedCodeBuild()

    class NoRedeploys:
        """mobile-bff redeploys; not under review. Its last deployed commit is looked up first."""

        def list_pipeline_executions(self, **_: Any) -> dict[str, Any]:
            summary = {"pipelineExecutionId": "m0", "sourceRevisions": [{"actionName": "Source", "revisionId": "c0"}]}
            return {"pipelineExecutionSummaries": [summary]}

        def get_pipeline_execution(self, **_: Any) -> dict[str, Any]:
            return {"pipelineExecution": {"pipelineExecutionId": "m0", "sourceRevisions": []}}

        def start_pipeline_execution(self, **_: Any) -> dict[str, Any]:
            return {"pipelineExecutionId": "m1"}

    aws = Aws(two_test_dependents.settings, clients={"codebuild": codebuild, "codepipeline": NoRedeploys()})
    event = pipeline_event("booking-prod", "b1", "SUCCEEDED", 10, started=0)

    attempts = 0
    for retry_delay in (0, 60, 120):  # the delivery, then Lambda's two retries ("one minute, then two")
        codebuild.now += retry_delay
        attempts += 1
        try:
            Coordinator(aws, now=moment(10 + codebuild.now / 60)).handle(event)
            break
        except ClientError:
            continue

    assert sorted(codebuild.started) == ["partner-api-integration-tests", "search-integration-tests"], (
        f"after {attempts} deliveries only {codebuild.started} started: the dependents share one idempotency token"
    )
