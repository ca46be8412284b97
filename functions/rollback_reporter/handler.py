"""Rollback reporter: tell the team what broke, once, and roll back when an alarm follows a deploy.

Woken by EventBridge for two kinds of events, forwarded from the environment
accounts (why a pipeline action failed is the failure digest's to say,
``functions/failure_digest``: one message per failure):

- a CodeDeploy deployment that failed or was stopped (``aws.codedeploy``):
  reports it, unless a platform pipeline started it — the pipeline's deploy
  action then fails too, and the failure digest reports that with the failed
  lifecycle event (the deployment's ``creator``, read through the reader role,
  says which); CodeDeploy rolls back itself;
- a service's composite health alarm entering ALARM (``aws.cloudwatch``,
  forwarded): when it follows a finished, successful deploy within the window
  and no rollback is under way, rolls the pipeline's Deploy stage back to the
  last successful execution (``RollbackStage``), then reports.

An event is a claim, not a fact (``placement``): an alarm or a deployment is
believed only from the account and region where the dependency graph says its
service runs in that environment; anything else, or a malformed event, is
ignored with the reason logged. An alarm stamped before the current deploy finished is about an
earlier version and rolls nothing back.

Every event is handled once: its key is claimed in the stack's delivery ledger
(the vendored ``delivery_ledger``), and a rollback is noted on the claim before
the report goes out. A failure to reach Slack raises, so Lambda retries the
event and finally parks it on the dead-letter queue, without a second rollback.
So does a CodePipeline answer that means "not now" (throttling, a busy
pipeline, a server error: ``rollback.is_transient``): only a real answer — a
refusal, a pipeline that is not ours to read — becomes the reported outcome.
The claim lasts only as long as the invocation (``invocation_lease``): when the
function is killed at its timeout, Lambda's retry finds the claim expired and
the notes on it, and reports the rollback instead of dropping the report.

Reports go to the stack's one Slack channel the way the stack delivers Slack:
through the incoming webhook whose URL is in the secret ``WEBHOOK_SECRET_ID``
(posted by the vendored ``slack_client``, Block Kit), or, where the stack uses
AWS Chatbot and has no webhook, as a Chatbot custom notification published to
the release-news topic ``TOPIC_ARN`` (the same text, without Block Kit). Other
settings: ``LEDGER_TABLE``, ``ROLLBACK_WINDOW_MINUTES``, ``SLACK_CHANNEL``,
``ALARM_READER_ROLE_PREFIX`` (the reader roles: alarms, and a deployment's creator)
and ``GRAPH_PARAMETER`` (where events may come from).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError
from delivery_ledger import DeliveryLedger, invocation_lease
from slack_client import RetryPolicy, chatbot_notification, post_message_to_secret_webhook

try:  # imported as a package in tests, as top-level modules in Lambda
    from . import messages
    from .placement import Origins, graph_reader
    from .rollback import DEPLOY_STAGE, Decision, decide, is_transient, refusal_explanation
except ImportError:  # pragma: no cover - the Lambda runtime path
    import messages  # type: ignore[no-redef]
    from placement import Origins, graph_reader  # type: ignore[no-redef]
    from rollback import DEPLOY_STAGE, Decision, decide, is_transient, refusal_explanation  # type: ignore[no-redef]

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

HEALTH_ALARM_PREFIX, HEALTH_ALARM_SUFFIX = "cicd-", "-health"
SIGNALS = ("http-5xx", "cpu", "login-failures", "p99-latency")
"""The signal alarms behind a health alarm (``components/governance/alarm_definitions.py`` names the same)."""
PIPELINE_STARTED = "user"
"""CodeDeploy's ``creator`` of a deployment a caller created (API reference, DeploymentInfo): in the platform's
accounts only the pipelines' deploy roles may create deployments; CodeDeploy's own rollbacks are
``codeDeployRollback``."""
Deliver = Callable[[dict[str, Any]], None]
"""Sends one Block Kit message to the stack's Slack channel, or raises so the event is retried."""


@dataclass(frozen=True)
class Incident:
    kind: str
    """``alarm`` or ``deployment``."""
    key: str
    """What makes two deliveries the same event (the ledger key)."""
    detail: dict[str, Any]
    account: str
    region: str
    service: str = ""
    environment: str = ""
    """Whose alarm or deployment it claims to be (from its name)."""
    at: datetime | None = None
    """When the alarm entered ALARM, by its own state timestamp (not when the event arrived)."""


def incident_of(event: Any) -> Incident | None:
    """The incident an EventBridge event describes, or ``None`` for events this function does not handle.

    Malformed events (a missing or mistyped field the AWS event reference
    documents) are ``None`` too: nothing is acted on that cannot be read whole.
    """
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        return None
    source, detail = event.get("source"), event["detail"]
    account, region = event.get("account"), event.get("region")
    if not isinstance(account, str) or not isinstance(region, str):
        return None
    if source == "aws.cloudwatch":
        return _alarm_incident(detail, account, region)
    if source == "aws.codedeploy":
        return _deployment_incident(detail, account, region)
    return None


def _alarm_incident(detail: dict[str, Any], account: str, region: str) -> Incident | None:
    """CloudWatch "Alarm State Change": a platform health alarm entering ALARM, with its state timestamp."""
    state, name = detail.get("state"), detail.get("alarmName")
    if not isinstance(state, dict) or state.get("value") != "ALARM" or not isinstance(name, str):
        return None
    subject = _subject(name, HEALTH_ALARM_PREFIX, HEALTH_ALARM_SUFFIX)
    stamp = state.get("timestamp")
    at = _timestamp(stamp)
    if subject is None or at is None:
        return None
    return Incident("alarm", f"alarm#{account}#{name}#{stamp}", detail, account, region, *subject, at=at)


def _deployment_incident(detail: dict[str, Any], account: str, region: str) -> Incident | None:
    """CodeDeploy "Deployment State-change Notification" FAILURE or STOP of a platform application and group."""
    state, application, group = detail.get("state"), detail.get("application"), detail.get("deploymentGroup")
    deployment = detail.get("deploymentId")
    if state not in ("FAILURE", "STOP") or not all(isinstance(v, str) for v in (application, group, deployment)):
        return None
    subject = _subject(application, "", "")
    # The platform names application and group alike (``<service>-<env>``); the detail's region is the event's.
    if subject is None or group != application or detail.get("region", region) != region:
        return None
    return Incident("deployment", f"deployment#{deployment}#{state}", detail, account, region, *subject)


def _subject(name: str, prefix: str, suffix: str) -> tuple[str, str] | None:
    """``<prefix><service>-<env><suffix>`` → (service, env); environment names have no '-'."""
    if not (name.startswith(prefix) and name.endswith(suffix)) or len(name) <= len(prefix) + len(suffix):
        return None
    service, _, environment = name[len(prefix) : len(name) - len(suffix)].rpartition("-")
    return (service, environment) if service and environment else None


def _timestamp(value: Any) -> datetime | None:
    """CloudWatch stamps states like ``2026-11-29T10:00:00.000+0000``; anything unreadable is None."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return stamp if stamp.tzinfo is not None else None


def pipeline_of_alarm(alarm_name: str) -> str:
    """``cicd-<service>-<env>-health`` → ``<service>-<env>``, the pipeline's name."""
    return alarm_name[len(HEALTH_ALARM_PREFIX) : -len(HEALTH_ALARM_SUFFIX)]


class Reporter:
    """Everything one invocation needs; clients are injected so tests can stub AWS."""

    def __init__(
        self,
        *,
        codepipeline: Any,
        ledger: DeliveryLedger,
        deliver: Deliver,
        rollback_window: timedelta,
        channel: str = "",
        origins: Origins,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        alarm_reader: Callable[[str, str, str], Any] | None = None,
        deployment_reader: Callable[[str, str, str], Any] | None = None,
    ) -> None:
        self.codepipeline = codepipeline
        self.ledger = ledger
        self.deliver = deliver
        self.rollback_window = rollback_window
        self.channel = channel
        self.origins = origins
        """Where events are believed from; everything else is ignored before anything is claimed."""
        self.now = now
        self.alarm_reader = alarm_reader
        """(account, region, environment) → a CloudWatch client in that account, through its alarm reader role."""
        self.deployment_reader = deployment_reader
        """(account, region, environment) → a CodeDeploy client in that account, through the same reader role."""

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        incident = incident_of(event)
        if incident is None:
            LOG.info("ignored event %s: not one this function handles, or malformed", _event_id(event))
            return {"status": "ignored"}
        refusal = self.origins.refusal(incident)
        if refusal is not None:
            LOG.warning("ignored event %s (%s): %s", _event_id(event), incident.key, refusal)
            return {"status": "ignored", "reason": refusal}
        claim = self.ledger.claim(incident.key)
        if claim is None:
            LOG.info("duplicate %s", incident.key)
            return {"status": "duplicate", "key": incident.key}
        try:
            result = self._handle(incident, dict(claim.notes))
        except Exception:
            self.ledger.release(incident.key)
            raise
        self.ledger.complete(incident.key)
        return {"key": incident.key, **result}

    def _handle(self, incident: Incident, earlier: dict[str, str]) -> dict[str, Any]:
        if incident.kind == "alarm":
            return self._alarm(incident, earlier)
        return self._failed_deployment(incident)

    # --- alarms -------------------------------------------------------------------------------------------

    def _alarm(self, incident: Incident, earlier: dict[str, str]) -> dict[str, Any]:
        detail = incident.detail
        alarm = detail["alarmName"]
        pipeline = pipeline_of_alarm(alarm)
        if "outcome" in earlier:
            # An earlier attempt already acted (and then failed to report): report that, do not act again.
            outcome, current = earlier["outcome"], earlier.get("current_execution") or None
            rolled_back = earlier.get("rollback_execution", "") != ""
        else:
            outcome, current, rolled_back = self._act_on_alarm(incident.key, pipeline, incident.at)
        commit = self._commit(pipeline, current) if current else None
        self.deliver(
            messages.alarm_message(
                alarm=alarm,
                service_pipeline=pipeline,
                reason=str((detail.get("state") or {}).get("reason", "")),
                signals=self._signals_in_alarm(incident, pipeline),
                account=incident.account,
                region=incident.region,
                outcome=outcome,
                commit=commit,
                channel_hint=self.channel,
            )
        )
        return {"status": "reported", "pipeline": pipeline, "rolledBack": rolled_back, "outcome": outcome}

    def _act_on_alarm(self, key: str, pipeline: str, alarm_at: datetime | None) -> tuple[str, str | None, bool]:
        try:
            state = self.codepipeline.get_pipeline_state(name=pipeline)
            executions = self.codepipeline.list_pipeline_executions(pipelineName=pipeline, maxResults=25)[
                "pipelineExecutionSummaries"
            ]
        except ClientError as error:
            if _transient(error):
                raise  # not an answer: Lambda retries the event, and the alarm is judged then
            outcome = f"could not read pipeline {pipeline} ({_code(error)}); no rollback"
            self.ledger.note(key, outcome=outcome)
            return outcome, None, False
        decision = decide(state, executions, self.now(), self.rollback_window, alarm_at)
        if not decision.rollback:
            outcome = f"No rollback: {decision.reason}."
            self.ledger.note(key, outcome=outcome, current_execution=decision.current_execution or "")
            return outcome, decision.current_execution, False
        return self._roll_back(key, pipeline, decision)

    def _roll_back(self, key: str, pipeline: str, decision: Decision) -> tuple[str, str | None, bool]:
        try:
            answer = self.codepipeline.rollback_stage(
                pipelineName=pipeline, stageName=DEPLOY_STAGE, targetPipelineExecutionId=decision.target_execution
            )
        except ClientError as error:
            if _transient(error):
                raise  # throttled, busy or failing on AWS's side: Lambda's retry decides again and rolls back then
            # Refusals (an outdated target, a stage that cannot roll back) do not improve with retries:
            # say so loudly and let a human decide.
            explanation = refusal_explanation(_code(error))
            outcome = (
                f"Rollback of {DEPLOY_STAGE} to execution {decision.target_execution} was REFUSED "
                f"({_code(error)}: {error.response.get('Error', {}).get('Message', '')}). "
                + (f"{explanation}. " if explanation else "")
                + "Act manually."
            )
            self.ledger.note(key, outcome=outcome, current_execution=decision.current_execution or "")
            return outcome, decision.current_execution, False
        rollback_execution = answer.get("pipelineExecutionId", "")
        outcome = (
            f"Rolled {DEPLOY_STAGE} back to execution {decision.target_execution} "
            f"({decision.reason}); rollback execution {rollback_execution}."
        )
        self.ledger.note(
            key,
            outcome=outcome,
            current_execution=decision.current_execution or "",
            rollback_execution=rollback_execution,
        )
        LOG.info("rolled back %s to %s", pipeline, decision.target_execution)
        return outcome, decision.current_execution, True

    def _signals_in_alarm(self, incident: Incident, pipeline: str) -> list[tuple[str, str]]:
        """The signal alarms in ALARM with their state reason (which quotes the datapoints); empty when unreadable."""
        if self.alarm_reader is None:
            return []
        service, environment = incident.service, incident.environment
        names = [f"{HEALTH_ALARM_PREFIX}{service}-{environment}-{signal}" for signal in SIGNALS]
        try:
            cloudwatch = self.alarm_reader(incident.account, incident.region, environment)
            alarms = cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])["MetricAlarms"]
        except ClientError as error:
            LOG.warning("cannot read the signal alarms of %s: %s", pipeline, _code(error))
            return []
        return [(a["AlarmName"], a.get("StateReason", "")) for a in alarms if a.get("StateValue") == "ALARM"]

    # --- CodeDeploy -----------------------------------------------------------------------------------------

    def _failed_deployment(self, incident: Incident) -> dict[str, Any]:
        detail = incident.detail
        if self._started_by_a_pipeline(incident):
            LOG.info("%s: a pipeline's deploy action failed with it; the failure digest reports it", incident.key)
            return {"status": "left to the failure digest", "rolledBack": False}
        self.deliver(
            messages.deployment_message(
                application=str(detail.get("application", "")),
                group=str(detail.get("deploymentGroup", "")),
                deployment=str(detail.get("deploymentId", "")),
                state=str(detail.get("state", "")),
                account=incident.account,
                region=str(detail.get("region") or incident.region),
            )
        )
        return {"status": "reported", "rolledBack": False}

    def _started_by_a_pipeline(self, incident: Incident) -> bool:
        """Whether a pipeline created the deployment; when that cannot be read, report (say it twice, not never)."""
        if self.deployment_reader is None:
            return False
        try:
            codedeploy = self.deployment_reader(incident.account, incident.region, incident.environment)
            info = codedeploy.get_deployment(deploymentId=incident.detail["deploymentId"])["deploymentInfo"]
        except (ClientError, KeyError) as error:
            LOG.warning("cannot read who created %s: %s", incident.key, type(error).__name__)
            return False
        return info.get("creator") == PIPELINE_STARTED

    # --- shared -----------------------------------------------------------------------------------------------

    def _commit(self, pipeline: str, execution: str) -> dict[str, str] | None:
        """The source revision of an execution. CodePipeline carries no author; the commit link leads to it."""
        try:
            found = self.codepipeline.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution)
        except ClientError:
            return None
        revisions = found.get("pipelineExecution", {}).get("artifactRevisions", [])
        if not revisions:
            return None
        revision = revisions[0]
        return {
            "id": revision.get("revisionId", ""),
            "url": revision.get("revisionUrl", ""),
            "message": _commit_message(revision.get("revisionSummary", "")),
        }


def _commit_message(summary: str) -> str:
    """CodeStar connections put ``{"ProviderType": "GitHub", "CommitMessage": "…"}`` in the summary."""
    try:
        parsed = json.loads(summary)
    except ValueError:
        return summary.splitlines()[0] if summary else ""
    message = parsed.get("CommitMessage", "") if isinstance(parsed, dict) else ""
    return message.splitlines()[0] if message else ""


def _event_id(event: Any) -> str:
    return str(event.get("id", "?")) if isinstance(event, dict) else "?"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _transient(error: ClientError) -> bool:
    return is_transient(_code(error), error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


def webhook_delivery(
    secrets: Any, secret_id: str, *, policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep
) -> Deliver:
    """Post through the stack's incoming webhook; the URL is read only when a message is about to go out, and
    again when Slack says the webhook is gone (an operator may have replaced it in the secret)."""

    def deliver(message: dict[str, Any]) -> None:
        post_message_to_secret_webhook(secret_id, secrets, message, policy=policy or RetryPolicy(), sleep=sleep)

    return deliver


def topic_delivery(sns: Any, topic_arn: str) -> Deliver:
    """Publish the message's text to the release-news topic as a Chatbot custom notification."""

    def deliver(message: dict[str, Any]) -> None:
        title, description = messages.as_text(message)
        sns.publish(TopicArn=topic_arn, Message=chatbot_notification(title, description))

    return deliver


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _alarm_reader(sts: Any, role_prefix: str, service: str = "cloudwatch") -> Callable[[str, str, str], Any]:
    """CloudWatch (or CodeDeploy) in an environment account, as that account's read-only reader role."""

    def reader(account: str, region: str, environment: str) -> Any:
        role_arn = f"arn:{_partition(region)}:iam::{account}:role/{role_prefix}{environment}"
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="rollback-reporter", DurationSeconds=900)[
            "Credentials"
        ]
        return boto3.client(
            service,
            region_name=region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    return reader


def delivery_from_environment() -> Deliver:
    """Chatbot stacks name the release-news topic; webhook stacks name the webhook secret."""
    topic_arn = os.environ.get("TOPIC_ARN")
    if topic_arn:
        return topic_delivery(boto3.client("sns"), topic_arn)
    return webhook_delivery(boto3.client("secretsmanager"), os.environ["WEBHOOK_SECRET_ID"])


def reporter_from_environment(context: object = None, *, clock: Callable[[], float] = time.time) -> Reporter:
    """The reporter for one invocation: its claims last as long as the invocation (``context``) may run."""
    reader_prefix = os.environ.get("ALARM_READER_ROLE_PREFIX")
    ledger = DeliveryLedger(
        os.environ["LEDGER_TABLE"], boto3.client("dynamodb"), lease_seconds=invocation_lease(context), clock=clock
    )
    origins = Origins(graph=graph_reader(boto3.client("ssm"), os.environ["GRAPH_PARAMETER"]))
    sts = boto3.client("sts")
    return Reporter(
        codepipeline=boto3.client("codepipeline"),
        ledger=ledger,
        deliver=delivery_from_environment(),
        rollback_window=timedelta(minutes=int(os.environ.get("ROLLBACK_WINDOW_MINUTES", "60"))),
        channel=os.environ.get("SLACK_CHANNEL", ""),
        origins=origins,
        alarm_reader=_alarm_reader(sts, reader_prefix) if reader_prefix else None,
        deployment_reader=_alarm_reader(sts, reader_prefix, "codedeploy") if reader_prefix else None,
    )


def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    result = reporter_from_environment(context).handle(event)
    LOG.info(json.dumps(result))
    return result
