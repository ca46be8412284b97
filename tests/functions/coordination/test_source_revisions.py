"""Executions the coordinator starts build the commit they stand for, never the Source action's default branch.

CodePipeline user guide, "Add trigger with code push or pull request event types": with trigger filters a manual
start builds the branch in ``BranchName``, the service's default branch wherever an environment follows a glob;
API Reference, StartPipelineExecution: ``sourceRevisions`` (``SourceRevisionOverride``: actionName, revisionType
``COMMIT_ID``, revisionValue) names the commit instead. GetPipelineExecution's ``artifactRevisions`` and
ListPipelineExecutions' ``sourceRevisions`` say which commit an execution built.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.functions.coordination.conftest import (
    commit_of,
    expect_held_execution_lookup,
    expect_last_deployed_lookup,
    gate_job,
    pinned,
    pipeline_event,
    stage_event,
)
from tests.functions.coordination.test_release_scenarios import coordinate, expect_job_failure, gate, tick


def expect_partner_api_tests(fleet) -> None:
    fleet.build_stub.add_response("start_build", {"build": {"id": "partner-api-integration-tests:1"}}, None)


def test_a_redeploy_builds_the_commit_the_ledger_saw_the_dependent_deploy(fleet):
    # mobile-bff deployed m7 to prod; the ledger recorded it from the Deploy stage's success.
    coordinate(fleet, pipeline_event("mobile-bff-prod", "m7", "STARTED", 0, started=0), 0)
    coordinate(fleet, stage_event("mobile-bff-prod", "m7", "Deploy", "SUCCEEDED", 4, started=0), 4)
    expect_held_execution_lookup(fleet, "mobile-bff-prod", "m7", commit_of("m7"))
    fleet.pipeline_stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "m8"},
        {
            "name": "mobile-bff-prod",
            "clientRequestToken": "booking-b1-mobile-bff",
            "sourceRevisions": pinned(commit_of("m7")),
        },
    )
    expect_partner_api_tests(fleet)
    outcome = coordinate(fleet, pipeline_event("booking-prod", "b1", "SUCCEEDED", 10), 10)
    assert "redeploy mobile-bff in prod" in outcome["downstream"]


def test_a_recorded_execution_codepipeline_no_longer_has_falls_back_to_the_newest_deployed_one(fleet):
    coordinate(fleet, stage_event("mobile-bff-prod", "m7", "Deploy", "SUCCEEDED", 4, started=0), 4)
    fleet.pipeline_stub.add_client_error(
        "get_pipeline_execution", service_error_code="PipelineExecutionNotFoundException", http_status_code=400
    )
    expect_last_deployed_lookup(fleet, "mobile-bff-prod", "m5", commit_of("m5"))
    fleet.pipeline_stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "m8"},
        {
            "name": "mobile-bff-prod",
            "clientRequestToken": "booking-b1-mobile-bff",
            "sourceRevisions": pinned(commit_of("m5")),
        },
    )
    expect_partner_api_tests(fleet)
    outcome = coordinate(fleet, pipeline_event("booking-prod", "b1", "SUCCEEDED", 10), 10)
    assert "redeploy mobile-bff in prod" in outcome["downstream"]


def test_a_dependent_that_never_deployed_there_is_not_redeployed_from_its_default_branch(fleet):
    fleet.pipeline_stub.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": []},
        {"pipelineName": "mobile-bff-prod", "maxResults": 1, "filter": {"succeededInStage": {"stageName": "Deploy"}}},
    )
    expect_partner_api_tests(fleet)  # no start_pipeline_execution is stubbed: a start would fail here
    outcome = coordinate(fleet, pipeline_event("booking-prod", "b1", "SUCCEEDED", 10), 10)
    assert outcome["downstream"] == [
        "published booking deployed",
        "no redeploy of mobile-bff in prod: no deployed commit known",
        "test partner-api in prod",
    ]


def test_a_throttled_or_failing_lookup_is_retried_by_lambda_not_taken_for_no_commit(fleet):
    fleet.pipeline_stub.add_client_error(
        "list_pipeline_executions", service_error_code="InternalServiceError", http_status_code=500
    )
    with pytest.raises(ClientError):
        coordinate(fleet, pipeline_event("booking-prod", "b1", "SUCCEEDED", 10), 10)


def test_a_held_deploy_whose_execution_is_gone_gets_a_new_execution_of_its_branch(fleet):
    """Documented fallback: no commit known, so the new execution builds what the Source action's BranchName names."""
    coordinate(fleet, pipeline_event("auth-prod", "a1", "STARTED", 0), 0)
    job = gate_job("booking", "prod", execution="b1")
    expect_job_failure(fleet, job)
    gate(fleet, job, 1)
    fleet.pipeline_stub.add_client_error(
        "retry_stage_execution", service_error_code="PipelineExecutionNotFoundException", http_status_code=400
    )
    fleet.pipeline_stub.add_client_error(
        "get_pipeline_execution", service_error_code="PipelineExecutionNotFoundException", http_status_code=400
    )
    fleet.pipeline_stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "b2"},
        {"name": "booking-prod", "clientRequestToken": "hold-prod-booking-20261130090100-1", "sourceRevisions": []},
    )
    assert coordinate(fleet, pipeline_event("auth-prod", "a1", "SUCCEEDED", 4), 4)["holds"] == [
        "restarted booking in prod (new execution)"
    ]
    assert tick(fleet, 5)["holds"] == []
