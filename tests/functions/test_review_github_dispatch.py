"""Review: the GitHub dispatch under GitHub's documented rate limits, lost answers and crafted jobs.

Reuses the fake GitHub, the stubbed CodePipeline and the moto-backed claims
table of ``test_github_dispatch``.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from functions.github_dispatch import handler as dispatch
from functions.github_dispatch import outcomes as answers
from tests.functions.test_github_dispatch import (  # noqa: F401 - fixtures
    PARAMS,
    REPO,
    aws,
    claims_table,
    clock,
    deliver,
    deps,
    github,
    job_event,
    pipeline,
    secret_arn,
    sleeps,
)

SECONDARY_LIMIT = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
}


def test_a_secondary_rate_limit_while_polling_keeps_waiting(deps, pipeline, github) -> None:  # noqa: F811
    """GitHub docs, "Rate limits for the REST API": a secondary rate limit answers 403 *or* 429 "with an error
    message that indicates that you exceeded a secondary rate limit"; without ``retry-after`` and with
    ``x-ratelimit-remaining`` not 0, "wait for at least one minute before retrying".

    Today a 403 of that kind is read as "the token needs Actions read/write": the action fails as a
    PermissionError while the run goes on, and the run (a prod run may be waiting for its reviewers) is
    never cancelled, because only ``GitHubUnavailable`` leads to ``cancellation.give_up``.
    """
    github.statuses = [("waiting", None)]
    first = deliver(job_event(), deps, pipeline)
    assert first.state["phase"] == "poll"
    github.fail("read", (403, {"x-ratelimit-remaining": "4321"}, SECONDARY_LIMIT))

    polled = deliver(job_event(token=first.state), deps, pipeline)

    assert isinstance(polled, answers.Continue), (
        f"a rate limit failed the action ({getattr(polled, 'failure_type', '')}: {getattr(polled, 'message', '')})"
        " and left the GitHub run running, uncancelled"
    )
    assert github.cancels == []


def test_a_lost_dispatch_answer_is_not_resent_when_runs_list_late(deps, pipeline, github, sleeps) -> None:  # noqa: F811
    """GitHub took the dispatch and started the run, but the answer was lost (a 502 from a proxy, or the
    function's own 10 s read timeout while GitHub was still working). The run shows up in "List workflow
    runs for a workflow" a moment later, not at once: the function looks once, right after the lost answer,
    finds nothing, and dispatches again: two runs of a deploy workflow for one pipeline action, both of
    which may deploy (and, in prod, both wait for a reviewer who cannot tell them apart).
    """
    github.lose_answers_after_creating = 1
    github.run_appears_after_lists = 1  # the first listing after the dispatch does not show the new run yet

    outcome = dispatch.process(job_event(), deps)

    assert len(github.dispatches) == 1, (
        f"{len(github.dispatches)} workflow runs were started for one job: "
        f"{[d['inputs']['correlation_id'] for d in github.dispatches]}"
    )
    assert not isinstance(outcome, answers.Succeeded)


def test_a_job_whose_pipeline_context_names_another_pipeline_dispatches_nothing(deps, pipeline, github) -> None:  # noqa: F811
    """A job is a claim (DESIGN.md, "Trust boundaries"). The deploy gate ignores a job whose
    ``pipelineContext`` (API reference, ``JobData``) names another pipeline than the service and environment its
    ``UserParameters`` ask for (``deploy_ledger.jobs``); the dispatch function reads repository, workflow,
    environment and commit from ``UserParameters`` and dispatches whatever they say. An invocation that claims
    to come from ``booking-staging`` but asks to deploy to prod (past prod's approvals) must not
    reach GitHub. Here the job comes from the staging pipeline and asks for a prod deploy of the same repository.
    """
    crafted = {**PARAMS, "environment": "prod", "ref": "main"}
    event = job_event(
        crafted,
        pipelineContext={
            "pipelineName": "booking-staging",
            "stage": {"name": "Deploy"},
            "action": {"name": "DeployGcp"},
            "pipelineArn": "arn:aws:codepipeline:eu-west-1:111111111111:booking-staging",
            "pipelineExecutionId": "0f3c1a2b-1111-2222-3333-444455556666",
        },
    )

    dispatch.process(event, deps)

    assert github.dispatches == [], f"dispatched {json.dumps(github.dispatches)} on a crafted job"
    assert not [r for r in github.requests if r.startswith("POST")], f"POSTed to {REPO}"


def test_failing_the_action_while_its_run_exists_names_the_run_and_says_to_cancel_it(deps, pipeline, github) -> None:  # noqa: F811
    """The installation token in the secret expires (GitHub App tokens last an hour; the rotation function is
    late) while a prod run waits for its reviewers. The action fails, the pipeline rolls AWS back, and the run
    stays approvable: the function cannot cancel it without a token, so the failure must at least name the run
    and say to cancel it by hand (as every other give-up path does, ``cancellation.BY_HAND``). Today it says
    only "is the rotation function running?".
    """
    github.statuses = [("waiting", None)]
    first = deliver(job_event(), deps, pipeline)
    run_url = first.state["run_url"]
    expired = {"token": "ghs-old", "expires_at": "2020-01-01T00:00:00Z"}
    deps.secrets.put_secret_value(SecretId=deps.settings.token_secret_arn, SecretString=json.dumps(expired))

    outcome = deliver(job_event(token=first.state), deps, pipeline)

    assert isinstance(outcome, answers.Failed)
    assert run_url in outcome.message and "cancel it by hand" in outcome.message, outcome.message


EXECUTION = "0f3c1a2b-1111-2222-3333-444455556666"


class AbandonedJobPipeline:
    """CodePipeline after "Stop and abandon" of the execution whose Deploy stage runs the dispatch action.

    CodePipeline user guide, "Stop a pipeline execution": with stop and abandon "the action execution is in an
    Abandoned state while the pipeline execution is in a Stopped state". The job no longer takes a result.
    """

    def __init__(self) -> None:
        self.answers: list[str] = []

    def put_job_success_result(self, **_: object) -> dict:
        self.answers.append("PutJobSuccessResult")
        raise ClientError(
            {"Error": {"Code": "InvalidJobStateException", "Message": "Job is not in progress"}}, "PutJobSuccessResult"
        )

    def put_job_failure_result(self, **_: object) -> dict:
        self.answers.append("PutJobFailureResult")
        raise ClientError(
            {"Error": {"Code": "InvalidJobStateException", "Message": "Job is not in progress"}}, "PutJobFailureResult"
        )

    def get_pipeline_execution(self, **request: object) -> dict:
        execution = {"pipelineName": "booking-staging", "pipelineExecutionId": EXECUTION, "status": "Stopped"}
        return {"pipelineExecution": {**execution, "statusSummary": "Stopped and abandoned by the approval auditor"}}

    def list_action_executions(self, **_: object) -> dict:
        return {
            "actionExecutionDetails": [
                {
                    "pipelineExecutionId": EXECUTION,
                    "stageName": "Deploy",
                    "actionName": "DeployGcp",
                    "status": "Abandoned",
                }
            ]
        }

    def get_pipeline_state(self, **_: object) -> dict:
        abandoned = {"pipelineExecutionId": EXECUTION, "status": "Stopped"}
        return {
            "pipelineName": "booking-staging",
            "stageStates": [{"stageName": "Deploy", "latestExecution": abandoned}],
        }


def test_a_run_whose_pipeline_execution_was_stopped_and_abandoned_is_cancelled(deps, pipeline, github) -> None:  # noqa: F811
    """The approval auditor answers an unauthorised prod approval by ``StopPipelineExecution`` with ``abandon``
    (and an operator's "Stop and abandon" is the same call). The Deploy stage's AWS actions stop; the GitHub
    run this action dispatched goes on and deploys the unauthorised release to GCP/Azure. While the run is
    followed, the next answer to CodePipeline is refused (the job is no longer in progress): today the function
    takes that for "another delivery answered" and walks away from a live run.
    """
    context = {"pipelineName": "booking-staging", "pipelineExecutionId": EXECUTION}
    github.statuses = [("in_progress", None)]
    first = deliver(job_event(pipelineContext=context), deps, pipeline)
    assert first.state.get("run_id") == 9000

    abandoned = AbandonedJobPipeline()
    deps.codepipeline = abandoned
    dispatch.process(job_event(token=first.state, pipelineContext=context), deps)

    assert github.cancels, (
        f"the pipeline execution was stopped and abandoned, CodePipeline refused {abandoned.answers}, "
        "and the GitHub run was left running"
    )
