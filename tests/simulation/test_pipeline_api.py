"""The release day's CodePipeline, as far as the coordinator reads it: shaped as the API reference says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from simulation.release_day import DAY, HISTORY_DAYS, ReleaseDay, _PipelineApi


@pytest.fixture
def day(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "simulation")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        yield ReleaseDay(ReleaseDay.inputs_of("prod"))


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response["Error"]["Code"]


def deploy(day: ReleaseDay, execution: str) -> None:
    """Its Deploy stage runs and succeeds, without the gate or events (the day's clock stands still)."""
    run = day.executions[execution]
    run.succeeded_stages.update(("Build", "Deploy"))
    run.state, run.deployed = "Succeeded", True


def test_get_pipeline_execution_names_the_source_artifacts_revision(day):
    api = _PipelineApi(day)
    execution = api.get_pipeline_execution(pipelineName="mobile-bff-prod", pipelineExecutionId="mobile-bff-prod-000")[
        "pipelineExecution"
    ]
    (revision,) = execution["artifactRevisions"]
    assert revision["name"] == "source_output"
    assert revision["revisionId"] == day.executions["mobile-bff-prod-000"].commit.id
    assert "sourceRevisions" not in execution  # PipelineExecution has none: ListPipelineExecutions does
    assert (execution["status"], execution["pipelineVersion"], execution["executionType"]) == (
        "Succeeded",
        1,
        "STANDARD",
    )
    with pytest.raises(ClientError) as error:
        api.get_pipeline_execution(pipelineName="mobile-bff-prod", pipelineExecutionId="auth-prod-000")
    assert code(error) == "PipelineExecutionNotFoundException"
    with pytest.raises(ClientError) as error:
        api.get_pipeline_execution(pipelineName="nothing-prod", pipelineExecutionId="auth-prod-000")
    assert code(error) == "PipelineNotFoundException"


def test_succeeded_in_stage_lists_newest_first_and_pages_with_next_token(day):
    api = _PipelineApi(day)
    failed = day.start("auth", "prod", trigger="StartPipelineExecution")
    day.executions[failed].state = "Failed"
    day.now += timedelta(minutes=1)
    first = day.start("auth", "prod")
    deploy(day, first)
    day.now += timedelta(minutes=1)
    second = day.start("auth", "prod")
    deploy(day, second)

    ids, token, pages = [], None, 0
    while True:
        page = api.list_pipeline_executions(
            pipelineName="auth-prod",
            maxResults=1,
            filter={"succeededInStage": {"stageName": "Deploy"}},
            **({"nextToken": token} if token else {}),
        )
        pages += 1
        ids += [summary["pipelineExecutionId"] for summary in page["pipelineExecutionSummaries"]]
        token = page.get("nextToken")
        if token is None:
            break
    assert ids == [second, first, "auth-prod-000"] and pages == 3
    everything = api.list_pipeline_executions(pipelineName="auth-prod")
    assert [s["pipelineExecutionId"] for s in everything["pipelineExecutionSummaries"]] == [
        second,
        first,
        failed,
        "auth-prod-000",
    ]
    assert "nextToken" not in everything
    (source,) = everything["pipelineExecutionSummaries"][0]["sourceRevisions"]
    assert source["actionName"] == "Source" and source["revisionId"] == day.executions[second].commit.id

    with pytest.raises(ClientError) as error:
        api.list_pipeline_executions(pipelineName="auth-prod", nextToken="not-a-token")
    assert code(error) == "InvalidNextTokenException"
    with pytest.raises(ClientError) as error:
        api.list_pipeline_executions(pipelineName="auth-prod", maxResults=101)
    assert code(error) == "ValidationException"


def test_history_is_kept_twelve_months(day):
    api = _PipelineApi(day)
    day.now = DAY + timedelta(days=HISTORY_DAYS)
    assert api.list_pipeline_executions(pipelineName="auth-prod")["pipelineExecutionSummaries"] == []
    with pytest.raises(ClientError) as error:
        api.get_pipeline_execution(pipelineName="auth-prod", pipelineExecutionId="auth-prod-000")
    assert code(error) == "PipelineExecutionNotFoundException"


def test_a_start_builds_the_commit_it_names_or_else_its_branch_name(day):
    api = _PipelineApi(day)
    api.throttled = 0
    pushed = day.executions[day.start("booking", "dev")].commit
    assert pushed.branch == "feature/booking"
    pinned = {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": pushed.id}
    again = api.start_pipeline_execution(name="booking-dev", clientRequestToken="hold-1", sourceRevisions=[pinned])
    assert day.executions[again["pipelineExecutionId"]].commit == pushed
    # The same request again is the same execution.
    assert api.start_pipeline_execution(name="booking-dev", clientRequestToken="hold-1", sourceRevisions=[pinned]) == (
        again
    )
    # Without an override, BranchName: the default branch where dev follows a glob.
    unpinned = api.start_pipeline_execution(name="booking-dev", clientRequestToken="hold-2")
    assert day.executions[unpinned["pipelineExecutionId"]].commit.branch == "main"
    with pytest.raises(ClientError) as error:
        api.start_pipeline_execution(name="booking-dev", sourceRevisions=[{**pinned, "actionName": "Build"}])
    assert code(error) == "ValidationException"
