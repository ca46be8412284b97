"""A GitHub run whose pipeline execution ended is cancelled; a crafted, late or foreign event cancels nothing.

End to end: the function dispatches through the fake GitHub and the moto-backed claims table of
``test_github_dispatch``, then receives the EventBridge event of its execution's end in the shape of the
CodePipeline User Guide's "Monitoring CodePipeline events" (``tests/events/fixtures``). CodePipeline's
``GetPipelineExecution`` and ``ListActionExecutions`` come from a small fake answering as the API reference
describes (moto implements neither); the execution's status, not the event, decides.

Hostile cases: an event raised in another account or region, or naming another pipeline than the one that
dispatched; a FAILED event delivered late, after the stage was retried (the execution runs again); a stop that
lands between the claim and the dispatch; Lambda's retry of an event whose run ignored its cancel; a job
whose ``UserParameters`` ask for another pipeline's deploy while carrying its own execution id; the redelivery
of a job already dispatched after its execution was stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.github_dispatch import app_credentials, halting
from functions.github_dispatch import handler as dispatch
from functions.github_dispatch import outcomes as answers
from tests.events.aws_events import aws_event
from tests.functions.test_github_app_credentials import (
    APP_ID,
    INSTALLATION,
    KEY_ARN,
    FakeGitHubApps,
    SigningKms,
    key_pair,  # noqa: F401 - fixture
)
from tests.functions.test_github_dispatch import (  # noqa: F401 - fixtures
    ACCOUNT,
    PARAMS,
    REGION,
    aws,
    claims_table,
    clock,
    deliver,
    deps,
    fail_writes,
    github,
    job_event,
    pipeline,
    secret_arn,
    sleeps,
)

EXECUTION = "5d2c7e10-4a1b-4c3d-9e8f-0a1b2c3d4e5f"
STAGING_EXECUTION = "0b6e2f4a-8c1d-4e7f-a2b3-c4d5e6f70819"
PIPELINE_NAME = "booking-staging"
WITH_EXECUTION = {**PARAMS, "pipelineExecutionId": EXECUTION}


@dataclass
class Executions:
    """CodePipeline's view of executions: ``GetPipelineExecution`` and ``ListActionExecutions`` (API reference).

    An execution of another pipeline is not found under this one (``PipelineExecutionNotFoundException``);
    job answers are taken, or refused as for a job no longer in progress.
    """

    statuses: dict[tuple[str, str], str] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    refuse_answers: bool = False
    answers: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def get_pipeline_execution(self, pipelineName: str, pipelineExecutionId: str) -> dict[str, Any]:  # noqa: N803
        self.asked.append(f"{pipelineName}/{pipelineExecutionId}")
        status = self.statuses.get((pipelineName, pipelineExecutionId))
        if status is None:
            error = {"Code": "PipelineExecutionNotFoundException", "Message": "not found"}
            raise ClientError({"Error": error}, "GetPipelineExecution")
        execution = {"pipelineName": pipelineName, "pipelineExecutionId": pipelineExecutionId, "status": status}
        return {"pipelineExecution": {**execution, "pipelineVersion": 7}}

    def list_action_executions(self, **_: Any) -> dict[str, Any]:
        return {"actionExecutionDetails": self.actions}

    def _answer(self, operation: str) -> dict[str, Any]:
        self.answers.append(operation)
        if self.refuse_answers:
            error = {"Code": "InvalidJobStateException", "Message": "Job is not in progress"}
            raise ClientError({"Error": error}, operation)
        return {}

    def put_job_success_result(self, **_: Any) -> dict[str, Any]:
        return self._answer("PutJobSuccessResult")

    def put_job_failure_result(self, **_: Any) -> dict[str, Any]:
        return self._answer("PutJobFailureResult")


def ended(state: str, *, account: str = ACCOUNT, region: str = REGION, name: str = PIPELINE_NAME) -> dict:
    """The "CodePipeline Pipeline Execution State Change" of ``EXECUTION`` that EventBridge hands the function."""
    return aws_event(
        "codepipeline-pipeline-execution-state-change",
        account=account,
        region=region,
        pipeline=name,
        state=state,
        execution_id=EXECUTION,
    )


@pytest.fixture
def executions(deps) -> Executions:  # noqa: F811
    return Executions(statuses={(PIPELINE_NAME, EXECUTION): "InProgress"})


def dispatched(deps, pipeline, github, executions) -> answers.Continue:  # noqa: F811
    """The first delivery of a job of ``EXECUTION``: the run is dispatched and followed."""
    deps.codepipeline = executions
    first = dispatch.process(job_event(WITH_EXECUTION), deps)
    assert isinstance(first, answers.Continue) and first.state["run_id"] == 9000
    assert executions.asked == [f"{PIPELINE_NAME}/{EXECUTION}"], "the execution was confirmed before the dispatch"
    return first


def test_an_execution_stopped_between_polls_has_its_run_cancelled(deps, pipeline, github, executions) -> None:  # noqa: F811
    """ "Stop and abandon" between two polls: CodePipeline never invokes the action again; the event must."""
    github.statuses = [("waiting", None)]
    dispatched(deps, pipeline, github, executions)
    executions.statuses[(PIPELINE_NAME, EXECUTION)] = "Stopped"

    halts = halting.on_event(ended("STOPPED"), deps)

    assert github.cancels == ["cancel"]
    assert [(h.run_id, h.live) for h in halts] == [(9000, False)]


@pytest.mark.parametrize("state", ["FAILED", "SUPERSEDED", "CANCELED"])
def test_every_unsuccessful_end_cancels_the_run(deps, pipeline, github, executions, state) -> None:  # noqa: F811
    github.statuses = [("in_progress", None)]
    dispatched(deps, pipeline, github, executions)
    executions.statuses[(PIPELINE_NAME, EXECUTION)] = {"CANCELED": "Cancelled"}.get(state, state.title())

    halting.on_event(ended(state), deps)

    assert github.cancels == ["cancel"]


@pytest.mark.parametrize(
    "where",
    [
        {"account": "777766665555"},  # a team's account with a pipeline of the same name
        {"region": "us-east-1"},  # the tooling account, another region
        {"name": "payments-prod"},  # another pipeline naming this execution id
    ],
)
def test_an_event_from_elsewhere_cancels_nothing(deps, pipeline, github, executions, where) -> None:  # noqa: F811
    github.statuses = [("waiting", None)]
    dispatched(deps, pipeline, github, executions)
    executions.statuses[(PIPELINE_NAME, EXECUTION)] = "Stopped"  # even when the execution really stopped
    asked = len(executions.asked)

    assert halting.on_event(ended("STOPPED", **where), deps) == []

    assert github.cancels == []
    assert len(executions.asked) == asked, "an untrusted event costs no call to CodePipeline"


def test_a_crafted_event_for_a_running_execution_cancels_nothing(deps, pipeline, github, executions) -> None:  # noqa: F811
    """Anyone who can put events on the default bus can say STOPPED (``source`` aside): CodePipeline decides."""
    github.statuses = [("waiting", None)]
    dispatched(deps, pipeline, github, executions)

    assert halting.on_event(ended("STOPPED"), deps) == []
    assert github.cancels == []


def test_a_failed_event_delivered_after_the_stage_was_retried_leaves_the_new_run_alone(
    deps,  # noqa: F811
    pipeline,  # noqa: F811
    github,  # noqa: F811
    executions,
) -> None:
    """Reordered: the execution FAILED, an operator retried the stage (the execution is InProgress again and the
    action has a new attempt), and only then is the FAILED event delivered (EventBridge does not order events).
    """
    github.statuses = [("in_progress", None)]
    dispatched(deps, pipeline, github, executions)
    executions.actions = [
        {"stageName": "Deploy", "actionName": "DeployToGcp", "status": "Failed", "startTime": "2030-03-17T17:00:00"},
        {
            "stageName": "Deploy",
            "actionName": "DeployToGcp",
            "status": "InProgress",
            "startTime": "2030-03-17T17:30:00",
        },
    ]

    assert halting.on_event(ended("FAILED"), deps) == []
    assert github.cancels == []


def test_a_stop_between_the_claim_and_the_dispatch_keeps_the_dispatch_from_ever_going_out(
    deps,  # noqa: F811
    pipeline,  # noqa: F811
    github,  # noqa: F811
    executions,
) -> None:
    """The delivery claimed the job and recorded its execution; the execution is stopped and its event handled
    before the delivery fences its dispatch (a slow container): the dispatch is never sent."""
    deps.codepipeline = executions
    handled: list[list[halting.Halt]] = []

    def stop_now(params: dict[str, Any], **_: Any) -> None:
        if ":posting" in params.get("UpdateExpression", "") and not handled:
            executions.statuses[(PIPELINE_NAME, EXECUTION)] = "Stopped"
            handled.append(halting.on_event(ended("STOPPED"), deps))

    deps.dynamodb.meta.events.register("provide-client-params.dynamodb.UpdateItem", stop_now)

    outcome = dispatch.process(job_event(WITH_EXECUTION), deps)

    assert github.dispatches == [], "a dispatch went out for a stopped execution"
    assert isinstance(outcome, answers.NoAnswer)
    assert [(h.run_id, h.live) for h in handled[0]] == [(None, False)]


def test_lambdas_retry_of_the_event_force_cancels_a_run_that_ignored_its_cancel(
    deps,  # noqa: F811
    pipeline,  # noqa: F811
    github,  # noqa: F811
    executions,
    clock,  # noqa: F811
) -> None:
    """GitHub's cancel is asynchronous; a run whose ``always()`` steps keep it going needs "Force cancel a
    workflow run". The handler raises so Lambda retries the event a minute later ("How Lambda handles errors
    and retries with asynchronous invocation"); that retry force-cancels, and a third delivery asks nothing."""
    github.statuses = [("in_progress", None)]
    github.stops_on = ("force-cancel",)
    dispatched(deps, pipeline, github, executions)
    executions.statuses[(PIPELINE_NAME, EXECUTION)] = "Stopped"

    with pytest.raises(halting.RunsStillLive, match="cancel it by hand"):
        halting.on_event(ended("STOPPED"), deps)
    clock.advance(60)
    halts = halting.on_event(ended("STOPPED"), deps)
    halting.on_event(ended("STOPPED"), deps)  # a duplicate delivery of the event

    assert github.cancels == ["cancel", "force-cancel"]
    assert [h.live for h in halts] == [False]


def test_a_job_asking_for_another_pipelines_deploy_is_refused_even_without_pipeline_context(
    deps,  # noqa: F811
    pipeline,  # noqa: F811
    github,  # noqa: F811
    executions,
) -> None:
    """The Lambda event's example (Lambda invoke action reference) carries no ``pipelineContext``. The staging
    pipeline's action asks for a prod deploy; CodePipeline resolved ``#{codepipeline.PipelineExecutionId}`` to
    the staging execution, which ``GetPipelineExecution`` does not find under ``booking-prod``."""
    executions.statuses[(PIPELINE_NAME, STAGING_EXECUTION)] = "InProgress"
    deps.codepipeline = executions
    crafted = {**PARAMS, "environment": "prod", "ref": "main", "pipelineExecutionId": STAGING_EXECUTION}

    outcome = dispatch.process(job_event(crafted), deps)

    assert github.dispatches == [] and not [r for r in github.requests if r.startswith("POST")]
    assert isinstance(outcome, answers.Failed) and outcome.failure_type == "ConfigurationError"
    assert "nothing was sent to GitHub" in outcome.message
    assert executions.asked == [f"booking-prod/{STAGING_EXECUTION}"]


def test_a_job_of_an_execution_that_already_ended_dispatches_nothing(deps, pipeline, github, executions) -> None:  # noqa: F811
    executions.statuses[(PIPELINE_NAME, EXECUTION)] = "Stopping"
    deps.codepipeline = executions

    outcome = dispatch.process(job_event(WITH_EXECUTION), deps)

    assert github.dispatches == []
    assert isinstance(outcome, answers.Failed) and "not in progress" in outcome.message


def test_the_redelivery_of_a_dispatched_job_after_its_execution_stopped_never_says_nothing_was_sent(
    deps,  # noqa: F811
    pipeline,  # noqa: F811
    github,  # noqa: F811
    executions,
) -> None:
    """Lambda retries the first delivery (its answer timed out) after the execution was stopped: the run exists,
    and the retry must not dispatch again nor claim that nothing was sent."""
    github.statuses = [("waiting", None)]
    deps.codepipeline = executions
    event = job_event(WITH_EXECUTION)
    first = dispatch.process(event, deps)
    assert isinstance(first, answers.Continue)
    executions.statuses[(PIPELINE_NAME, EXECUTION)] = "Stopped"
    executions.refuse_answers = True

    retried = dispatch.process(json.loads(json.dumps(event)), deps)

    assert len(github.dispatches) == 1
    assert "nothing was sent" not in str(getattr(retried, "message", "")), retried
    assert github.cancels == ["cancel"], "the refused answer led to the stopped execution, and to its run"


def test_in_the_github_app_mode_the_job_and_the_event_each_get_a_one_repository_token(
    deps,  # noqa: F811
    pipeline,  # noqa: F811
    github,  # noqa: F811
    executions,
    httpserver,
    key_pair,  # noqa: F811
) -> None:
    """main's secrets rotation: no secret holds a GitHub credential; the function signs an App JWT with KMS and
    trades it for an installation token of the job's one repository. The event arrives in a new container (an
    empty memory), which mints its own token from the repository its claim recorded, and cancels the run."""
    apps = FakeGitHubApps(httpserver, key_pair.public_key())
    app_settings = replace(
        deps.settings,
        credential_mode="app",
        token_secret_arn="",
        app_id=APP_ID,
        installation_id=INSTALLATION,
        app_key_arn=KEY_ARN,
    )
    app_deps = replace(deps, settings=app_settings, secrets=None, kms=SigningKms(key_pair).client)
    github.tokens = ("ghs_token1", "ghs_token2")
    github.statuses = [("waiting", None)]
    app_credentials.forget_tokens()
    try:
        dispatched(app_deps, pipeline, github, executions)
        app_credentials.forget_tokens()  # a new container receives the event
        executions.statuses[(PIPELINE_NAME, EXECUTION)] = "Stopped"

        halts = halting.on_event(ended("STOPPED"), app_deps)
    finally:
        app_credentials.forget_tokens()

    assert github.cancels == ["cancel"] and [h.live for h in halts] == [False]
    assert [r["repositories"] for r in apps.token_requests] == [["booking"], ["booking"]]


def test_a_dispatch_its_execution_could_not_be_recorded_for_is_not_sent(deps, pipeline, github, executions) -> None:  # noqa: F811
    """Without the ``execution#`` record, a stop of that execution could not find the run (``halting``): the
    run would deploy on after the stop. DynamoDB throttling past its retries fails the action instead."""
    deps.codepipeline = executions
    refused = fail_writes(deps.dynamodb, "jobIds")

    outcome = dispatch.process(job_event(WITH_EXECUTION), deps)

    assert refused and github.dispatches == []
    assert isinstance(outcome, answers.Failed) and outcome.failure_type == "SystemUnavailable"
    assert "nothing was sent to GitHub: retry the stage" in outcome.message
