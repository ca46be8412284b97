"""Approval auditor: a detective control that does not trust IAM hygiene.

An EventBridge rule sends the CloudTrail record of every ``PutApprovalResult`` on
this platform's production pipelines here. The caller (for an assumed role, the
role that issued the session) is checked against the release managers. For
anyone else:

- an approval stops the run it approved (``StopPipelineExecution`` with
  ``abandon``), found through the approval token: the approval action's latest
  token in ``GetPipelineState``, or, when a newer run has reached the stage since,
  the action execution whose ``externalExecutionId`` is that token;
- an approval or a rejection is reported on the release-news topic, as a
  Chatbot custom notification the webhook notifier also renders (the vendored
  ``slack_client`` writes it).

A call AWS refused (``errorCode`` set, e.g. denied by the SCP) changed nothing
and is only logged. Duplicate events (EventBridge delivers at least once) act
once: the CloudTrail ``eventID`` is claimed in the delivery ledger; a failed
attempt releases it and raises, so the retry or the dead-letter queue keeps it.
Checking the run's status alone would not do: the alert must not repeat either.
The claim lasts only as long as the invocation (``invocation_lease``), so an
invocation killed at its timeout is retried by Lambda, not taken for a duplicate.

Everything the alert quotes from the CloudTrail record (the caller, the
approval's comment, names, addresses) is escaped for Slack: the caller chose
some of it (an IAM user may be called ``@channel``; a comment may hold links).

Environment: ``RELEASE_MANAGERS`` (JSON list of role ARNs), ``PROTECTED_SUFFIXES``
(JSON list, e.g. ``["-prod"]``), ``TOPIC_ARN``, ``LEDGER_TABLE``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from delivery_ledger import DeliveryLedger, invocation_lease
from slack_client import chatbot_notification, escape

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
MAX_EXECUTION_PAGES = 5
SUBJECT_LIMIT = 99
"""SNS Publish: a subject must be less than 100 characters, or the alert is refused."""
COMMENT_LIMIT = 500


def caller_arn(user_identity: Mapping[str, Any]) -> str:
    """The IAM identity behind a call: the role for an assumed-role session, else the user's ARN."""
    issuer = user_identity.get("sessionContext", {}).get("sessionIssuer", {})
    if user_identity.get("type") == "AssumedRole" and issuer.get("arn"):
        return str(issuer["arn"])
    return str(user_identity.get("arn", "unknown"))


def execution_of_token(codepipeline: Any, pipeline: str, stage: str, action: str, token: str) -> str | None:
    """The pipeline execution an approval token belongs to, or None when it cannot be found."""
    state = codepipeline.get_pipeline_state(name=pipeline)
    for stage_state in state.get("stageStates", []):
        if stage_state.get("stageName") != stage:
            continue
        for action_state in stage_state.get("actionStates", []):
            latest = action_state.get("latestExecution", {})
            if action_state.get("actionName") == action and latest.get("token") == token:
                return stage_state.get("latestExecution", {}).get("pipelineExecutionId")
    # A newer run has reached the stage since: look the token up among past action executions.
    request: dict[str, Any] = {"pipelineName": pipeline, "maxResults": 100}
    for _ in range(MAX_EXECUTION_PAGES):
        page = codepipeline.list_action_executions(**request)
        for detail in page.get("actionExecutionDetails", []):
            result = detail.get("output", {}).get("executionResult", {})
            if (
                detail.get("stageName") == stage
                and detail.get("actionName") == action
                and result.get("externalExecutionId") == token
            ):
                return detail.get("pipelineExecutionId")
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    return None


def stop_run(codepipeline: Any, pipeline: str, execution_id: str, reason: str) -> str:
    try:
        codepipeline.stop_pipeline_execution(
            pipelineName=pipeline, pipelineExecutionId=execution_id, abandon=True, reason=reason[:200]
        )
    except codepipeline.exceptions.PipelineExecutionNotStoppableException:
        return "not stoppable (already finished or stopping)"
    except codepipeline.exceptions.DuplicatedStopRequestException:
        return "already being stopped"
    return "stopped (abandoned)"


@dataclass
class ApprovalAuditor:
    codepipeline: Any
    sns: Any
    ledger: DeliveryLedger
    topic_arn: str
    release_managers: frozenset[str]
    protected_suffixes: Sequence[str]

    def audit(self, event: Mapping[str, Any]) -> str:
        detail = event.get("detail", {})
        if detail.get("eventName") != "PutApprovalResult":
            return "ignored: not an approval"
        params = detail.get("requestParameters") or {}
        pipeline = str(params.get("pipelineName", ""))
        if not pipeline.endswith(tuple(self.protected_suffixes)):
            return "ignored: not a protected pipeline"
        who = caller_arn(detail.get("userIdentity", {}))
        if detail.get("errorCode"):
            LOG.warning("refused approval attempt on %s by %s: %s", pipeline, who, detail["errorCode"])
            return "ignored: AWS refused the call"
        if who in self.release_managers:
            return "allowed: release manager"
        key = f"audit#{detail.get('eventID') or event.get('id')}"
        if not self.ledger.claim(key):
            return "duplicate"
        try:
            outcome = self._respond(detail, params, pipeline, who)
        except Exception:
            self.ledger.release(key)
            raise
        self.ledger.complete(key)
        return outcome

    def _respond(self, detail: Mapping[str, Any], params: Mapping[str, Any], pipeline: str, who: str) -> str:
        stage, action, token = params.get("stageName", ""), params.get("actionName", ""), params.get("token", "")
        result = params.get("result") or {}
        status, comment = str(result.get("status", "?")), str(result.get("summary") or "")
        run = "no run to stop (rejected)"
        execution_id = None
        if status == "Approved":
            execution_id = execution_of_token(self.codepipeline, pipeline, stage, action, token) if token else None
            if execution_id:
                reason = f"Approved by {who}, who is not a release manager"
                run = f"execution {execution_id}: " + stop_run(self.codepipeline, pipeline, execution_id, reason)
            else:
                run = "run not found from the approval token: stop it by hand"
        where = f"`{escape(pipeline)}` ({escape(stage)}/{escape(action)})"
        lines = [
            f"*{escape(who)}* answered `{escape(status)}` on {where} but is not a release manager.",
            f"Run: {escape(run)}.",
            f"When: {escape(detail.get('eventTime', '?'))} · from {escape(detail.get('sourceIPAddress', '?'))}",
            f"CloudTrail event: {escape(detail.get('eventID', '?'))}",
        ]
        if comment:
            lines.insert(1, f"Their comment: {escape(comment[:COMMENT_LIMIT])}")
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=f"Approval by a non-release-manager on {pipeline}"[:SUBJECT_LIMIT],
            Message=chatbot_notification(
                f":rotating_light: Unauthorized approval on {escape(pipeline)}", "\n".join(lines)
            ),
        )
        return f"alerted: {run}"


def auditor_from_environment(context: Any = None, *, clock: Callable[[], float] = time.time) -> ApprovalAuditor:
    """The auditor for one invocation: its claims last as long as the invocation (``context``) may run."""
    ledger = DeliveryLedger(
        os.environ["LEDGER_TABLE"], boto3.client("dynamodb"), lease_seconds=invocation_lease(context), clock=clock
    )
    return ApprovalAuditor(
        codepipeline=boto3.client("codepipeline"),
        sns=boto3.client("sns"),
        ledger=ledger,
        topic_arn=os.environ["TOPIC_ARN"],
        release_managers=frozenset(json.loads(os.environ["RELEASE_MANAGERS"])),
        protected_suffixes=tuple(json.loads(os.environ["PROTECTED_SUFFIXES"])),
    )


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    outcome = auditor_from_environment(context).audit(event)
    LOG.info("approval audit: %s", outcome)
    return {"outcome": outcome}
