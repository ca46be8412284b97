"""Approval auditor: a detective control that does not trust IAM hygiene.

An EventBridge rule sends the CloudTrail record of every ``PutApprovalResult`` on
this platform's production pipelines here. The caller is checked against the
release managers exactly: only a session of one of the configured roles passes,
compared by partition, account, path and name (``CallerIdentity``), never by a
prefix or a session name. For anyone else:

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
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role(?P<path>/(?:[\x21-\x7e]*/)?)"
    r"(?P<name>[\w+=,.@-]{1,64})$",
    re.ASCII,
)
"""IAM identifiers: ``arn:<partition>:iam::<account>:role/<path>/<name>``; the path is ``/`` unless set."""
ASSUMED_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<name>[\w+=,.@-]{1,64})/(?P<session>.+)$",
    re.ASCII,
)
"""A role session: ``arn:<partition>:sts::<account>:assumed-role/<name>/<session>`` (no path: STS drops it)."""


@dataclass(frozen=True)
class RoleIdentity:
    """An IAM role as IAM names it; equal only when partition, account, path and name all are."""

    partition: str
    account: str
    path: str
    name: str

    @classmethod
    def from_arn(cls, arn: str) -> RoleIdentity | None:
        match = ROLE_ARN.match(arn)
        if not match:
            return None
        return cls(match["partition"], match["account"], match["path"], match["name"])

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role{self.path}{self.name}"


@dataclass(frozen=True)
class CallerIdentity:
    """Who made a call, from CloudTrail's ``userIdentity``.

    ``role`` is set only for a session of an IAM role (``type: AssumedRole``, IAM Identity
    Center permission sets included) whose record names the role consistently: the issuer's
    ARN carries the path, which the session ARN lacks, so the role comes from
    ``sessionContext.sessionIssuer`` and the session ARN (and the account fields) must agree
    with it on account and name. IAM users, the root user, federated users
    (``GetFederationToken``), AWS services, Identity Center users and any record missing or
    contradicting these fields have no role: they can never be a release manager.
    """

    kind: str
    arn: str
    """The role's ARN for a role session, else the principal's own ARN: what alerts name."""
    role: RoleIdentity | None = None
    session: str | None = None


def caller_identity(user_identity: Mapping[str, Any]) -> CallerIdentity:
    kind = str(user_identity.get("type", "Unknown"))
    principal = str(user_identity.get("arn") or user_identity.get("principalId") or "unknown")
    if kind != "AssumedRole":
        return CallerIdentity(kind, principal)
    issuer = (user_identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    role = RoleIdentity.from_arn(str(issuer.get("arn", ""))) if issuer.get("type") == "Role" else None
    session = ASSUMED_ROLE_ARN.match(principal)
    consistent = (
        role is not None
        and session is not None
        and (session["partition"], session["account"], session["name"]) == (role.partition, role.account, role.name)
        and str(user_identity.get("accountId", role.account)) == role.account
        and str(issuer.get("accountId", role.account)) == role.account
    )
    if not consistent:
        LOG.warning("a role session whose record does not name its role consistently: %s", json.dumps(user_identity))
        return CallerIdentity(kind, role.arn if role else principal)
    return CallerIdentity(kind, role.arn, role, session["session"])


def caller_arn(user_identity: Mapping[str, Any]) -> str:
    """The IAM identity behind a call: the role for an assumed-role session, else the principal's ARN."""
    return caller_identity(user_identity).arn


@dataclass(frozen=True)
class ReleaseManagers:
    """The configured release-manager roles, matched exactly (the guardrail SCP's ``aws:PrincipalArn`` is too)."""

    roles: frozenset[RoleIdentity]

    @classmethod
    def from_arns(cls, arns: Iterable[str]) -> ReleaseManagers:
        roles = set()
        for arn in arns:
            role = RoleIdentity.from_arn(arn)
            if role is None:
                raise ValueError(f"RELEASE_MANAGERS: {arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/...)")
            roles.add(role)
        return cls(frozenset(roles))

    def include(self, caller: CallerIdentity) -> bool:
        return caller.role is not None and caller.role in self.roles


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
    managers: ReleaseManagers = field(init=False)

    def __post_init__(self) -> None:
        self.managers = ReleaseManagers.from_arns(self.release_managers)

    def audit(self, event: Mapping[str, Any]) -> str:
        detail = event.get("detail", {})
        if detail.get("eventName") != "PutApprovalResult":
            return "ignored: not an approval"
        params = detail.get("requestParameters") or {}
        pipeline = str(params.get("pipelineName", ""))
        if not pipeline.endswith(tuple(self.protected_suffixes)):
            return "ignored: not a protected pipeline"
        caller = caller_identity(detail.get("userIdentity") or {})
        who = caller.arn
        if detail.get("errorCode"):
            LOG.warning("refused approval attempt on %s by %s: %s", pipeline, who, detail["errorCode"])
            return "ignored: AWS refused the call"
        if self.managers.include(caller):
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
