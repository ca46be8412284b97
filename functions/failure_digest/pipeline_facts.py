"""What CodePipeline knows about a failed action: whose pipeline, which commit, what the action said.

- **Whose**: the pipeline's tags. The platform tags every pipeline it creates
  ``managed-by: cicd-platform``, ``platform-stack: <stack>`` and ``owner: <team>``
  (``components/model/tags.py``); a pipeline without them is not this stack's,
  and the owner tag routes the digest to the team's channel.
- **Which commit**: ``GetPipelineExecution``'s first artifact revision. For a
  CodeStar (GitHub) connection its ``revisionSummary`` is JSON with the commit
  message (``{"ProviderType": "GitHub", "CommitMessage": ...}``) and its
  ``revisionUrl`` the commit page; CodePipeline records no author, so the digest
  names none (the commit link leads to it; asking GitHub would need a token this
  function does not hold).
- **What the action said**: its ``ListActionExecutions`` record of the run the
  event names (``actionExecutionId`` = the event's ``action-execution-id``, else
  the event's external id; the latest run only when the event names neither):
  the provider, its configuration (the CodeBuild project, the CodeDeploy
  application), the external id (the build, the deployment), the summary (for a
  manual approval, the reviewer's comment) and ``updatedBy`` (who approved or
  rejected). A retried stage runs its actions again in the same execution, so the
  latest run may be a later attempt (still running, or failing otherwise) than
  the one a late or retried event is about.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PLATFORM_TAG, STACK_TAG, OWNER_TAG = "managed-by", "platform-stack", "owner"
PLATFORM = "cicd-platform"


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    url: str


@dataclass(frozen=True)
class ActionRun:
    provider: str
    category: str
    external_id: str = ""
    external_url: str = ""
    summary: str = ""
    error: str = ""
    updated_by: str = ""
    configuration: dict[str, str] = field(default_factory=dict)


def tags_of(codepipeline: Any, pipeline_arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    request: dict[str, Any] = {"resourceArn": pipeline_arn}
    for _ in range(5):  # a pipeline has at most 50 tags; the platform sets a handful
        page = codepipeline.list_tags_for_resource(**request)
        tags.update({tag["key"]: tag["value"] for tag in page.get("tags", [])})
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    return tags


def commit_of(codepipeline: Any, pipeline: str, execution: str) -> Commit | None:
    found = codepipeline.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution)
    revisions = found.get("pipelineExecution", {}).get("artifactRevisions", [])
    if not revisions:
        return None
    revision = revisions[0]
    return Commit(
        sha=str(revision.get("revisionId", "")),
        subject=_subject(str(revision.get("revisionSummary", ""))),
        url=str(revision.get("revisionUrl", "")),
    )


def _subject(summary: str) -> str:
    try:
        parsed = json.loads(summary)
    except ValueError:
        parsed = None
    message = str(parsed.get("CommitMessage", "")) if isinstance(parsed, dict) else summary
    return message.strip().splitlines()[0] if message.strip() else ""


def failed_run(
    codepipeline: Any,
    pipeline: str,
    execution: str,
    stage: str,
    action: str,
    *,
    action_execution_id: str = "",
    external_id: str = "",
) -> ActionRun | None:
    """The run of ``stage``/``action`` in the execution that the event names: the one with its action execution
    id, else its external id (the build, the deployment). A run named but not listed is None, never another
    attempt's run (a retried stage runs its actions again); only an event naming neither takes the latest."""
    runs: list[dict[str, Any]] = []
    request: dict[str, Any] = {"pipelineName": pipeline, "filter": {"pipelineExecutionId": execution}}
    for _ in range(5):  # 100 per page; an execution of this platform's pipelines runs a few dozen actions
        page = codepipeline.list_action_executions(**request)
        runs += [
            run
            for run in page.get("actionExecutionDetails", [])
            if run.get("stageName") == stage and run.get("actionName") == action
        ]
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    chosen = _named(runs, action_execution_id, external_id)
    if chosen is None:
        return None
    given = chosen.get("input") or {}
    kind = given.get("actionTypeId") or {}
    result = (chosen.get("output") or {}).get("executionResult") or {}
    error = result.get("errorDetails") or {}
    return ActionRun(
        provider=str(kind.get("provider", "")),
        category=str(kind.get("category", "")),
        external_id=str(result.get("externalExecutionId", "")),
        external_url=str(result.get("externalExecutionUrl", "")),
        summary=str(result.get("externalExecutionSummary", "")),
        error=str(error.get("message", "")),
        updated_by=str(chosen.get("updatedBy", "")),
        configuration={str(k): str(v) for k, v in (given.get("configuration") or {}).items()},
    )


def _named(runs: list[dict[str, Any]], action_execution_id: str, external_id: str) -> dict[str, Any] | None:
    if action_execution_id:
        for run in runs:
            if run.get("actionExecutionId") == action_execution_id:
                return run
    if external_id:
        for run in runs:
            if ((run.get("output") or {}).get("executionResult") or {}).get("externalExecutionId") == external_id:
                return run
    if action_execution_id or external_id or not runs:
        return None
    return max(runs, key=lambda run: _time(run.get("startTime")))


def _time(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0


def reviewer(updated_by: str) -> str:
    """``arn:aws:sts::123:assumed-role/release-manager/jane`` → ``jane (release-manager)``; an IAM user's name."""
    resource = updated_by.split(":", 5)[-1] if updated_by.startswith("arn:") else updated_by
    parts = resource.split("/")
    if parts[0] == "assumed-role" and len(parts) >= 3:
        return f"{parts[2]} ({parts[1]})"
    return parts[-1] if parts and parts[-1] else updated_by
