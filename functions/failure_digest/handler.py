"""Failure digest: why a pipeline action failed, for the team that owns it, in one Slack message.

Woken by EventBridge for ``CodePipeline Action Execution State Change`` events
with state ``FAILED`` of the platform's pipelines. It gathers what an engineer
would otherwise click through three consoles for, and posts it once:

- the stage and action, the commit (short sha, subject, link; CodePipeline
  records no author), links to the execution and the build (``pipeline_facts``);
- for CodeBuild: the failing phase and exit code, the first error lines of the
  log read within a fixed budget (``build_log``) and picked by toolchain
  (``toolchains``), the failed tests and the scan findings over threshold from
  the build's report groups (``codebuild_facts``);
- for CodeDeploy: the deployment's error and the failed lifecycle event with its
  diagnostics, read in the environment account (``codedeploy_facts``);
- for a manual approval: who rejected it and their comment;
- "same failure as last time" when the service's previous failure had the same
  fingerprint (``recurrence``), and, when the stack enables it, a model's
  one-line cause and next step (``model_summary``).

Everything quoted is redacted first (``redaction``) and escaped for Slack
(``messages``). The message goes to the owning team's channel where the stack's
Slack delivery can reach it, threaded under the execution's release news where
it can (``delivery``).

An event is a claim: only ``aws.codepipeline`` events (no one can put an
``aws.`` source) from the tooling account and region are read, and only for
pipelines tagged as this stack's (``managed-by``/``platform-stack``); anything
else is ignored with the reason logged. Each failed action (execution, stage,
action, attempt) is claimed once in the delivery ledger for as long as the
invocation may run; what an attempt found (the recurrence hint, the model's
summary) is noted on the claim, so Lambda's retry after a Slack outage or a
timeout posts the same digest without asking Bedrock twice or comparing the
failure with itself. Slack failing raises: Lambda retries, then dead-letters.

Settings (environment): ``LEDGER_TABLE``, ``STACK``, ``TOOLING_ACCOUNT_ID``,
``TOOLING_REGION``, ``GRAPH_PARAMETER``; the delivery (``BOT_TOKEN_SECRET_ID`` with
``SLACK_CHANNEL_ID`` and ``TEAM_CHANNELS``, or ``WEBHOOK_SECRET_ID``, or
``TOPIC_ARN``); optionally ``SUMMARY_MODEL_ID`` and ``SUMMARY_MAX_TOKENS``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError
from delivery_ledger import DeliveryLedger, invocation_lease
from slack_client import bot_token_from_secret, webhook_url_from_secret

try:  # a package in tests, top-level modules in Lambda
    from . import messages
    from .build_log import LogBudget, read_failure_lines
    from .codebuild_facts import ReportFindings, build_facts, report_findings
    from .codedeploy_facts import deployment_facts
    from .delivery import BotDelivery, Delivery, TopicDelivery, WebhookDelivery
    from .digest import Approval, Digest
    from .model_summary import DEFAULT_MAX_TOKENS, Evidence, bedrock_config, summarise
    from .pipeline_facts import (
        OWNER_TAG,
        PLATFORM,
        PLATFORM_TAG,
        STACK_TAG,
        ActionRun,
        commit_of,
        failed_run,
        reviewer,
        tags_of,
    )
    from .recurrence import Failure, FailureMemory, fingerprint
    from .redaction import Redactor, secret_environment_values
    from .toolchains import excerpt
except ImportError:  # pragma: no cover - the Lambda runtime path
    import messages  # type: ignore[no-redef]
    from build_log import LogBudget, read_failure_lines  # type: ignore[no-redef]
    from codebuild_facts import ReportFindings, build_facts, report_findings  # type: ignore[no-redef]
    from codedeploy_facts import deployment_facts  # type: ignore[no-redef]
    from delivery import BotDelivery, Delivery, TopicDelivery, WebhookDelivery  # type: ignore[no-redef]
    from digest import Approval, Digest  # type: ignore[no-redef]
    from model_summary import DEFAULT_MAX_TOKENS, Evidence, bedrock_config, summarise  # type: ignore[no-redef]
    from pipeline_facts import (  # type: ignore[no-redef]
        OWNER_TAG,
        PLATFORM,
        PLATFORM_TAG,
        STACK_TAG,
        ActionRun,
        commit_of,
        failed_run,
        reviewer,
        tags_of,
    )
    from recurrence import Failure, FailureMemory, fingerprint  # type: ignore[no-redef]
    from redaction import Redactor, secret_environment_values  # type: ignore[no-redef]
    from toolchains import excerpt  # type: ignore[no-redef]

try:  # the Lambda package vendors functions/deploy_ledger/graph.py at its root
    from graph import Graph, read_graph
except ImportError:  # tests import the functions as packages of the repository
    from functions.deploy_ledger.graph import Graph, read_graph  # type: ignore[no-redef]

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

ACTION_STATE_CHANGE = "CodePipeline Action Execution State Change"
PIPELINE_NAME_PATTERN = "{service}-{environment}"
NOT_OURS = frozenset({"AccessDeniedException", "PipelineNotFoundException", "ResourceNotFoundException"})
"""The role may read only pipelines tagged as the platform's: anything else answers as if it did not exist."""
DEFAULT_LOG_BUDGET = LogBudget()
Summariser = Callable[[Evidence], str | None]
DeploymentReader = Callable[[str, str, str], Any]
"""(account, region, reader role ARN) → a CodeDeploy client in that account."""


@dataclass(frozen=True)
class FailedAction:
    """A ``FAILED`` action execution as the event states it (CodePipeline User Guide, "Monitoring CodePipeline
    events": ``execution-result`` carries the external id, summary and error code)."""

    event_id: str
    account: str
    region: str
    at: int
    pipeline: str
    execution: str
    stage: str
    action: str
    attempt: int
    provider: str = ""
    category: str = ""
    external_id: str = ""
    summary: str = ""
    action_execution_id: str = ""
    """The run of the action this event is about: a retried stage runs the action again in the same execution."""

    @property
    def key(self) -> str:
        """One digest per failed attempt of an action: a retried stage that fails again is a new failure."""
        return f"digest#{self.execution}#{self.stage}#{self.action}#{self.attempt}"


def failed_action_of(event: Any) -> FailedAction | None:
    """The failed action an event states, or None (another kind of event, or one that cannot be read whole)."""
    if not isinstance(event, dict) or event.get("source") != "aws.codepipeline":
        return None
    detail = event.get("detail")
    if event.get("detail-type") != ACTION_STATE_CHANGE or not isinstance(detail, dict):
        return None
    if detail.get("state") != "FAILED":
        return None
    fields = [event.get(name) for name in ("id", "account", "region")] + [
        detail.get(name) for name in ("pipeline", "execution-id", "stage", "action")
    ]
    if not all(isinstance(value, str) and value for value in fields):
        return None
    attempt = detail.get("pipeline-execution-attempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int | float):
        return None
    at = _epoch(event.get("time"))
    if at is None:
        return None
    kind = detail.get("type") if isinstance(detail.get("type"), dict) else {}
    result = detail.get("execution-result") if isinstance(detail.get("execution-result"), dict) else {}
    event_id, account, region, pipeline, execution, stage, action = fields
    return FailedAction(
        event_id=event_id,
        account=account,
        region=region,
        at=at,
        pipeline=pipeline,
        execution=execution,
        stage=stage,
        action=action,
        attempt=int(attempt),
        provider=str(kind.get("provider", "")),
        category=str(kind.get("category", "")),
        external_id=str(result.get("external-execution-id", "")),
        summary=str(result.get("external-execution-summary", "")),
        action_execution_id=str(detail.get("action-execution-id") or ""),
    )


def _epoch(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(stamp.timestamp()) if stamp.tzinfo is not None else None


class FailureDigest:
    """Everything one invocation needs; clients are injected so tests can stub AWS."""

    def __init__(
        self,
        *,
        codepipeline: Any,
        codebuild: Any,
        logs: Any,
        ledger: DeliveryLedger,
        memory: FailureMemory,
        delivery: Delivery,
        stack: str,
        tooling_account: str,
        tooling_region: str,
        graph: Callable[[], Graph],
        deployment_reader: DeploymentReader | None = None,
        summariser: Summariser | None = None,
        known_secrets: Callable[[], list[str]] = list,
        log_budget: LogBudget = DEFAULT_LOG_BUDGET,
    ) -> None:
        self.codepipeline, self.codebuild, self.logs = codepipeline, codebuild, logs
        self.ledger, self.memory, self.delivery = ledger, memory, delivery
        self.stack, self.tooling_account, self.tooling_region = stack, tooling_account, tooling_region
        self.graph = graph
        self.deployment_reader = deployment_reader
        self.summariser = summariser
        self.known_secrets = known_secrets
        self.log_budget = log_budget

    def handle(self, event: Any) -> dict[str, Any]:
        failed = failed_action_of(event)
        if failed is None:
            LOG.info("ignored event %s: not a failed pipeline action, or malformed", _event_id(event))
            return {"status": "ignored"}
        if (failed.account, failed.region) != (self.tooling_account, self.tooling_region):
            reason = (
                f"a pipeline action event from {failed.account}/{failed.region}, but the platform's pipelines run "
                f"in {self.tooling_account}/{self.tooling_region}"
            )
            LOG.warning("ignored event %s: %s", failed.event_id, reason)
            return {"status": "ignored", "reason": reason}
        claim = self.ledger.claim(failed.key)
        if claim is None:
            LOG.info("duplicate %s", failed.key)
            return {"status": "duplicate", "key": failed.key}
        try:
            result = self._digest(failed, dict(claim.notes))
        except Exception:
            self.ledger.release(failed.key)
            raise
        self.ledger.complete(failed.key)
        return {"key": failed.key, **result}

    def _digest(self, failed: FailedAction, notes: dict[str, str]) -> dict[str, Any]:
        region = self.tooling_region
        pipeline_arn = f"arn:{_partition(region)}:codepipeline:{region}:{self.tooling_account}:{failed.pipeline}"
        try:
            tags = tags_of(self.codepipeline, pipeline_arn)
        except ClientError as error:
            if _code(error) in NOT_OURS:
                return {"status": "ignored", "reason": f"not a platform pipeline ({_code(error)})"}
            raise
        if tags.get(PLATFORM_TAG) != PLATFORM or tags.get(STACK_TAG) != self.stack:
            return {"status": "ignored", "reason": f"{failed.pipeline} is not a pipeline of stack {self.stack}"}
        graph = self.graph()
        located = graph.locate(failed.pipeline, PIPELINE_NAME_PATTERN)
        service, environment = located if located else (failed.pipeline, "")
        redactor = Redactor(self.known_secrets())
        digest = Digest(
            pipeline=failed.pipeline,
            service=service,
            environment=environment,
            stage=failed.stage,
            action=failed.action,
            execution=failed.execution,
            attempt=failed.attempt,
            region=region,
            owner=tags.get(OWNER_TAG, ""),
            provider=failed.provider,
            summary=failed.summary,
        )
        run = self._action_run(failed)
        digest = _with_run(digest, run)
        # The event's own external id first: the build or deployment of the attempt that failed, not a later one.
        external_id = failed.external_id or (run.external_id if run else "")
        digest = self._with_commit(digest)
        if digest.provider == "CodeBuild" and external_id:
            digest, redactor = self._with_build(digest, external_id, redactor)
        elif digest.provider.startswith("CodeDeploy") and external_id:  # CodeDeploy, CodeDeployToECS
            digest = self._with_deployment(digest, external_id, graph)
        digest = _redacted(digest, redactor)
        digest = self._with_recurrence(digest, failed, notes)
        digest = self._with_summary(digest, failed, notes)
        where = self.delivery.deliver(
            messages.digest_message(digest), owner=digest.owner, pipeline=failed.pipeline, execution=failed.execution
        )
        LOG.info("posted the digest of %s to %s", failed.key, where)
        return {
            "status": "posted",
            "pipeline": failed.pipeline,
            "toolchain": digest.excerpt.toolchain if digest.excerpt else "",
            "failedTests": list(digest.reports.failed_tests or (digest.excerpt.failed_tests if digest.excerpt else ())),
            "sameAsLastTime": digest.same_as is not None,
            "modelSummary": bool(digest.model_summary),
            "postedTo": where,
        }

    # --- what CodePipeline knows ------------------------------------------------------------------------------

    def _action_run(self, failed: FailedAction) -> ActionRun | None:
        try:
            return failed_run(
                self.codepipeline,
                failed.pipeline,
                failed.execution,
                failed.stage,
                failed.action,
                action_execution_id=failed.action_execution_id,
                external_id=failed.external_id,
            )
        except ClientError as error:
            LOG.warning("no action details for %s: %s", failed.key, _code(error))
            return None

    def _with_commit(self, digest: Digest) -> Digest:
        try:
            return replace(digest, commit=commit_of(self.codepipeline, digest.pipeline, digest.execution))
        except ClientError as error:
            LOG.warning("no commit for %s: %s", digest.execution, _code(error))
            return digest

    # --- CodeBuild --------------------------------------------------------------------------------------------

    def _with_build(self, digest: Digest, build_id: str, redactor: Redactor) -> tuple[Digest, Redactor]:
        try:
            facts = build_facts(self.codebuild, build_id)
        except ClientError as error:
            LOG.warning("no build details for %s: %s", build_id, _code(error))
            return digest, redactor
        if facts is None:
            return digest, redactor
        redactor = redactor.with_values(secret_environment_values(facts.environment))
        lines: tuple[str, ...] = ()
        if facts.log_group and facts.log_stream:
            lines = read_failure_lines(self.logs, facts.log_group, facts.log_stream, self.log_budget).lines
        # Redacted before the excerpt clips each line: a secret cut at the limit no longer has the shape it is
        # known by. ``_redacted`` redacts the excerpt again (it is cheap, and covers the names it parsed).
        lines = redactor.lines(lines)
        return replace(
            digest,
            build=replace(facts, environment=()),
            excerpt=excerpt(lines) if lines else None,
            reports=report_findings(self.codebuild, facts.report_arns),
        ), redactor

    # --- CodeDeploy -------------------------------------------------------------------------------------------

    def _with_deployment(self, digest: Digest, deployment_id: str, graph: Graph) -> Digest:
        reader = graph.alarm_reader(digest.service, digest.environment)
        if reader is None or self.deployment_reader is None:
            return digest
        try:
            codedeploy = self.deployment_reader(reader.account_id, reader.region, reader.role_arn)
            return replace(digest, deployment=deployment_facts(codedeploy, deployment_id))
        except ClientError as error:
            LOG.warning("cannot read deployment %s: %s", deployment_id, _code(error))
            return digest

    # --- what an earlier attempt found, or what this one finds -------------------------------------------------

    def _with_recurrence(self, digest: Digest, failed: FailedAction, notes: dict[str, str]) -> Digest:
        if digest.approval is not None:
            return digest  # a rejection is a decision, not a failure that recurs
        if "recurrence" in notes:
            same = json.loads(notes["recurrence"]) if notes["recurrence"] else None
            return replace(digest, same_as=Failure(**same) if same else None)
        lines = digest.excerpt.lines if digest.excerpt else ()
        said = lines or tuple(filter(None, [digest.summary, *(digest.reports.failed_tests or ())]))
        if not said:
            return digest
        toolchain = digest.excerpt.toolchain if digest.excerpt else digest.provider
        current = Failure(
            fingerprint(digest.stage, digest.action, toolchain, said), digest.execution, digest.environment, failed.at
        )
        previous = self.memory.previous(digest.service)
        same = (
            previous if previous and previous.fingerprint == current.fingerprint and previous.at < failed.at else None
        )
        self.ledger.note(failed.key, **{**notes, "recurrence": json.dumps(same.__dict__) if same else ""})
        notes["recurrence"] = json.dumps(same.__dict__) if same else ""
        self.memory.record(digest.service, current)
        return replace(digest, same_as=same)

    def _with_summary(self, digest: Digest, failed: FailedAction, notes: dict[str, str]) -> Digest:
        if self.summariser is None or digest.excerpt is None or not digest.excerpt.lines:
            return digest
        if "model_summary" in notes:
            return replace(digest, model_summary=notes["model_summary"])
        evidence = Evidence(
            pipeline=digest.pipeline,
            stage=digest.stage,
            action=digest.action,
            toolchain=digest.excerpt.toolchain,
            phase=digest.build.phase if digest.build else "",
            exit_code=digest.build.exit_code if digest.build else None,
            failed_tests=digest.reports.failed_tests or digest.excerpt.failed_tests,
            lines=digest.excerpt.lines,
        )
        summary = self.summariser(evidence) or ""
        notes["model_summary"] = summary
        self.ledger.note(failed.key, **notes)
        return replace(digest, model_summary=summary)


def _with_run(digest: Digest, run: ActionRun | None) -> Digest:
    """What the action's own record adds: its provider, summary, page, and for an approval who decided."""
    if run is None:
        return digest
    digest = replace(
        digest,
        provider=run.provider or digest.provider,
        summary=run.summary or run.error or digest.summary,
        details_url=run.external_url,
    )
    if run.category == "Approval" or run.provider == "Manual":
        # PutApprovalResult's summary is the reviewer's comment; updatedBy is who called it. An approval that
        # timed out (after 7 days) was decided by nobody.
        decided_by = reviewer(run.updated_by) if run.updated_by else ""
        return replace(digest, approval=Approval(decided_by, run.summary), summary="")
    return digest


def _redacted(digest: Digest, redactor: Redactor) -> Digest:
    """Every text quoted from the build, the deployment, the commit or a reviewer, with secrets taken out."""
    text = redactor.text
    reports = digest.reports
    excerpt_ = digest.excerpt
    return replace(
        digest,
        summary=text(digest.summary),
        commit=replace(digest.commit, subject=text(digest.commit.subject)) if digest.commit else None,
        # Test names too: a parametrised test's id carries its parameters (``test_connect[postgres://u:pw@db]``).
        excerpt=replace(
            excerpt_, lines=redactor.lines(excerpt_.lines), failed_tests=tuple(map(text, excerpt_.failed_tests))
        )
        if excerpt_
        else None,
        reports=ReportFindings(
            tuple(map(text, reports.failed_tests)),
            tuple(map(text, reports.scan_findings)),
            {text(name): text(said) for name, said in reports.details.items()},
        ),
        approval=replace(digest.approval, comment=text(digest.approval.comment)) if digest.approval else None,
        deployment=replace(
            digest.deployment,
            error_message=text(digest.deployment.error_message),
            diagnostics=text(digest.deployment.diagnostics),
            log_tail=redactor.lines(digest.deployment.log_tail),
        )
        if digest.deployment
        else None,
    )


def _event_id(event: Any) -> str:
    return str(event.get("id", "?")) if isinstance(event, dict) else "?"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


# --- the Lambda entry point -------------------------------------------------------------------------------------


def deployment_reader(sts: Any) -> DeploymentReader:
    """CodeDeploy in an environment account, as that account's read-only reader role (15-minute session)."""

    def read(account: str, region: str, role_arn: str) -> Any:
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="failure-digest", DurationSeconds=900)[
            "Credentials"
        ]
        return boto3.client(
            "codedeploy",
            region_name=region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    return read


def graph_reader(ssm: Any, parameter: str) -> Callable[[], Graph]:
    """Read the dependency graph (where each service runs, and its reader role) when a digest needs it: the
    index and the parts it names (``read_graph``), since one SSM value cannot hold a large fleet's graph."""

    def read() -> Graph:
        return read_graph(lambda operation, **kwargs: getattr(ssm, operation)(**kwargs), parameter)

    return read


def delivery_from_environment(ledger: DeliveryLedger) -> tuple[Delivery, Callable[[], list[str]]]:
    """The stack's way to Slack, and the credential values it holds (redacted wherever they appear)."""
    secrets = boto3.client("secretsmanager")
    if os.environ.get("TOPIC_ARN"):
        return TopicDelivery(boto3.client("sns"), os.environ["TOPIC_ARN"]), list
    if os.environ.get("BOT_TOKEN_SECRET_ID"):
        secret_id = os.environ["BOT_TOKEN_SECRET_ID"]
        bot = BotDelivery(
            secrets,
            secret_id,
            stack_channel=os.environ["SLACK_CHANNEL_ID"],
            team_channels=json.loads(os.environ.get("TEAM_CHANNELS", "{}")),
            ledger=ledger,
            api_url=os.environ.get("SLACK_API_URL", "https://slack.com/api"),
        )
        return bot, lambda: [bot_token_from_secret(secret_id, secrets)]
    secret_id = os.environ["WEBHOOK_SECRET_ID"]
    return WebhookDelivery(secrets, secret_id), lambda: [webhook_url_from_secret(secret_id, secrets)]


def digest_from_environment(context: object = None, *, clock: Callable[[], float] = time.time) -> FailureDigest:
    """The digest maker of one invocation: its claims last as long as the invocation (``context``) may run."""
    dynamodb = boto3.client("dynamodb")
    table = os.environ["LEDGER_TABLE"]
    ledger = DeliveryLedger(table, dynamodb, lease_seconds=invocation_lease(context), clock=clock)
    delivery, held = delivery_from_environment(ledger)
    model_id = os.environ.get("SUMMARY_MODEL_ID", "")
    max_tokens = int(os.environ.get("SUMMARY_MAX_TOKENS", str(DEFAULT_MAX_TOKENS)))
    summariser: Summariser | None = None
    if model_id:
        bedrock = boto3.client("bedrock-runtime", config=bedrock_config())
        summariser = lambda evidence: summarise(bedrock, model_id, evidence, max_tokens)  # noqa: E731
    return FailureDigest(
        codepipeline=boto3.client("codepipeline"),
        codebuild=boto3.client("codebuild"),
        logs=boto3.client("logs"),
        ledger=ledger,
        memory=FailureMemory(table, dynamodb),
        delivery=delivery,
        stack=os.environ["STACK"],
        tooling_account=os.environ["TOOLING_ACCOUNT_ID"],
        tooling_region=os.environ["TOOLING_REGION"],
        graph=graph_reader(boto3.client("ssm"), os.environ["GRAPH_PARAMETER"]),
        deployment_reader=deployment_reader(boto3.client("sts")),
        summariser=summariser,
        known_secrets=held,
    )


def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    result = digest_from_environment(context).handle(event)
    LOG.info(json.dumps(result))
    return result
