"""What CodePipeline knows about an execution whose Deploy stage ended: its type, its commit, whether it deployed.

Two reads, both documented in the CodePipeline API reference:

- ``GetPipelineExecution``: ``executionType`` (``STANDARD`` or ``ROLLBACK``: a stage rollback, by
  the stage's on-failure ``ROLLBACK`` or by ``RollbackStage``, runs in an execution of its own) and
  ``trigger.triggerType`` (``ManualRollback``/``AutomatedRollback`` say the same), and each artifact
  revision's ``created`` ("the date and time when the most recent revision of the artifact was
  created");
- ``ListActionExecutions`` of the execution: the Source action's output variables, which the
  CodeStarSourceConnection action sets to the commit it fetched (``CommitId``, ``AuthorDate`` in
  ISO-8601, ``CommitMessage``; CodePipeline user guide, "CodeStarSourceConnection" action reference,
  output variables), and the Deploy stage's action executions.

A Deploy stage can fail without deploying anything: the deploy gate, a before-entry condition,
keeps the execution out (README: Dependencies between services), and then no Deploy action runs.
Only a stage whose actions ran is a deployment, so a held deploy counts neither as a deployment
nor as a failed change.

Lead time needs the commit's time. ``AuthorDate`` is when the commit was written; for a merge
commit that is the merge, not the first commit of the change. Where the Source action gives none,
the source revision's ``created`` stands in; where neither exists the deployment still counts for
frequency and failure rate, without a lead time. GitHub's own API is not asked: the commit time is
in CodePipeline already, and the function needs no GitHub credential.

A commit whose message names it a hotfix or a revert (``hotfix``, ``revert``, as words, any case,
e.g. GitHub's ``Revert "…"`` or a ``hotfix/…`` branch in a merge message) is a remediation: it
marks the deployment before it as failed (``metrics``). Only that flag is kept, never the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

ROLLBACK_TRIGGERS = frozenset({"ManualRollback", "AutomatedRollback"})
REMEDIATION = re.compile(r"\b(hotfix|revert)\b", re.IGNORECASE)
ACTION_PAGES = 20
"""An execution has tens of action executions (a page holds up to 100); a bound against a runaway pagination."""
NOT_OURS = frozenset({"PipelineNotFoundException", "PipelineExecutionNotFoundException", "AccessDeniedException"})


class UnknownExecutionError(ValueError):
    """CodePipeline does not know the execution (or it is not a pipeline this function may read)."""


@dataclass(frozen=True)
class ExecutionFacts:
    kind: str
    """``STANDARD`` or ``ROLLBACK``."""
    deployed: bool
    """Some action of the Deploy stage ran (a gate that held the execution runs none)."""
    commit: str | None
    committed_at: datetime | None
    remediation: bool


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.astimezone(UTC) if moment.tzinfo else None
    return None


def _action_executions(codepipeline: Any, pipeline: str, execution: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {"pipelineName": pipeline, "filter": {"pipelineExecutionId": execution}}
    for _ in range(ACTION_PAGES):
        page = codepipeline.list_action_executions(**request)
        found += page.get("actionExecutionDetails", [])
        token = page.get("nextToken")
        if not token:
            break
        request["nextToken"] = token
    return found


def describe(codepipeline: Any, pipeline: str, execution: str, deploy_stage: str, source_stage: str) -> ExecutionFacts:
    """The facts of one execution; ``UnknownExecutionError`` when CodePipeline has none to give."""
    try:
        found = codepipeline.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution)
        actions = _action_executions(codepipeline, pipeline, execution)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in NOT_OURS:
            raise UnknownExecutionError(f"{pipeline} execution {execution}: {code}") from error
        raise
    details = found.get("pipelineExecution") or {}
    trigger = (details.get("trigger") or {}).get("triggerType")
    kind = "ROLLBACK" if details.get("executionType") == "ROLLBACK" or trigger in ROLLBACK_TRIGGERS else "STANDARD"
    variables: dict[str, Any] = {}
    for action in actions:
        if action.get("stageName") == source_stage:
            variables.update(((action.get("output") or {}).get("outputVariables")) or {})
    committed_at = _moment(variables.get("AuthorDate"))
    if committed_at is None:
        created = [_moment(r.get("created")) for r in details.get("artifactRevisions") or []]
        committed_at = next((moment for moment in created if moment is not None), None)
    commit = variables.get("CommitId") or next(
        (r.get("revisionId") for r in details.get("artifactRevisions") or [] if r.get("revisionId")), None
    )
    message = variables.get("CommitMessage")
    return ExecutionFacts(
        kind=kind,
        deployed=any(action.get("stageName") == deploy_stage for action in actions),
        commit=str(commit)[:64] if commit else None,
        committed_at=committed_at,
        remediation=isinstance(message, str) and REMEDIATION.search(message) is not None,
    )
