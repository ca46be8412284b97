"""Which commit an execution the coordinator starts must build.

CodePipeline, "Add trigger with code push or pull request event types": with trigger filters, the branch in the
Source action's ``BranchName`` is the one a manual start builds, and the program sets ``BranchName`` to the
service's default branch wherever an environment follows a branch glob (dev ``feature/**``, staging
``release/**``). A ``StartPipelineExecution`` without ``sourceRevisions`` is such a start, so it would deploy the
default branch there. The API reference (StartPipelineExecution, SourceRevisionOverride) lets a start name the
commit instead: ``{actionName, revisionType: COMMIT_ID, revisionValue}``; a commit id "applies to all content in
the repository, across all branches" (user guide, "Start a pipeline with a source revision override").

- A held deploy restarted as a new execution builds the commit the held execution built:
  ``GetPipelineExecution`` lists it in ``artifactRevisions`` (one source action, so one revision).
- A redeploy of a dependent builds the commit that dependent last deployed in that environment: that of the
  execution the ledger recorded as deployed, or else of the newest execution of its pipeline that succeeded in
  the Deploy stage (``ListPipelineExecutions`` with the ``succeededInStage`` filter, newest first), whose
  ``sourceRevisions`` name the Source action's commit.

No commit known is an answer, not an error: ``[]``. The caller decides what that means (a redeploy of something
never deployed is skipped; a new execution for a hold whose execution was never learned, or is gone, builds
``BranchName``). Throttling is retried by ``Aws.call``; any other error is raised, so the work is tried again.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .aws import Aws
from .retry import error_code

SourceRevisions = list[dict[str, str]]


def _override(action: str, commit: Any) -> SourceRevisions:
    if not isinstance(commit, str) or not commit:
        return []
    return [{"actionName": action, "revisionType": "COMMIT_ID", "revisionValue": commit}]


def of_execution(aws: Aws, pipeline: str, execution: str) -> SourceRevisions:
    """The commit ``execution`` built, as an override for a new execution of ``pipeline`` (``[]`` once CodePipeline
    no longer has the execution: its history is kept 12 months)."""
    try:
        answer = aws.call(
            "codepipeline", "get_pipeline_execution", pipelineName=pipeline, pipelineExecutionId=execution
        )
    except ClientError as error:
        if error_code(error) != "PipelineExecutionNotFoundException":
            raise
        return []
    revisions = answer.get("pipelineExecution", {}).get("artifactRevisions") or []
    return _override(aws.settings.source_action, revisions[0].get("revisionId")) if len(revisions) == 1 else []


def last_deployed(aws: Aws, pipeline: str, recorded_execution: str | None) -> SourceRevisions:
    """The commit ``pipeline`` last deployed: of the execution the ledger recorded as deployed, else of the newest
    execution that got through the Deploy stage, else ``[]`` (nothing deployed yet, or not in the last 12 months).

    The ledger comes first because the ``succeededInStage`` filter sees only executions "in the current pipeline
    version" (API Reference, SucceededInStageFilter): after the program updates a pipeline it finds none.
    """
    revisions = of_execution(aws, pipeline, recorded_execution) if recorded_execution else []
    if revisions:
        return revisions
    answer = aws.call(
        "codepipeline",
        "list_pipeline_executions",
        pipelineName=pipeline,
        maxResults=1,
        filter={"succeededInStage": {"stageName": aws.settings.deploy_stage}},
    )
    summaries = answer.get("pipelineExecutionSummaries") or []
    if not summaries:
        return []
    source = aws.settings.source_action
    commits = [r.get("revisionId") for r in summaries[0].get("sourceRevisions") or [] if r.get("actionName") == source]
    return _override(source, commits[0]) if commits else []
