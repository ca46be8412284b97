"""Coordinator: one function that turns the fleet's pipeline events into the ledger and downstream actions.

Fed by one EventBridge rule (``aws.codepipeline``, detail types ``CodePipeline
Pipeline Execution State Change`` and ``CodePipeline Stage Execution State
Change``, only this platform's pipelines, only the tooling account) and by a
schedule. An event is a claim: ``deploy_ledger.events`` accepts only events
from the tooling account and region, for pipelines of the dependency graph,
well formed; anything else is ignored with the reason, and starts, holds or
releases nothing. CodePipeline emits events at least once, so every event is
claimed in the ledger on (execution id, attempt, scope, state) before anything
happens (``detail.pipeline-execution-attempt`` counts retries of one execution).

Per event:
1. record it on the execution (once), and move the service's picture forward
   (``deploy_ledger.store``: decided by the events' start and event times, so
   late, reordered and duplicate events never move it back);
2. a pipeline that SUCCEEDED publishes to the service's "deployed" SNS topic and,
   per dependent in that environment, acts as the catalog's
   ``on_upstream_deploy`` says: ``redeploy`` starts the dependent's pipeline,
   ``test`` starts its integration-test project. The publication and each
   action are claimed once: a retry after a partial failure does only what
   is left;
3. held deploys are reviewed (also on every scheduled tick): restarted when
   everything they wait for is healthy, aborted with the reason after
   ``HOLD_TIMEOUT_MINUTES``. A hold is marked RESTARTED only after CodePipeline
   accepted the restart; a restart that fails (throttled beyond the backoff,
   refused) leaves it held, to be tried again or aborted.

Claims carry a lease that ends after the function's timeout and before
Lambda's first retry: an invocation killed mid-work is redone by the retry,
and a failure that raises gives its claims back at once.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from deploy_ledger.aws import Aws
from deploy_ledger.events import (
    PIPELINE_EVENT,
    STAGE_EVENT,
    IgnoredEventError,
    PipelineEvent,
    read_pipeline_event,
    read_scheduled_tick,
    run_time,
)
from deploy_ledger.graph import Graph
from deploy_ledger.health import blockers_for, describe, load_graph
from deploy_ledger.retry import error_code
from deploy_ledger.settings import Settings
from deploy_ledger.store import (
    HELD,
    RESTARTED,
    TERMINAL_STATES,
    WAITING_STATUSES,
    Ledger,
    iso,
    order_key,
    parse_iso,
    partition,
    revision,
    run_key,
)

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
# RetryStageExecution needs failed actions ("Before a stage can be retried, it must either have all actions
# failed or some actions failed and some succeeded", API reference); a stage stopped by its entry rule may
# have none, and a run can be gone or overtaken. A new run then builds the branch's latest commit.
NOT_RETRYABLE = frozenset(
    {
        "StageNotRetryableException",
        "NotLatestPipelineExecutionException",
        "PipelineExecutionNotFoundException",
        "ConflictException",
    }
)


class Coordinator:
    def __init__(self, aws: Aws, now: datetime | None = None) -> None:
        self.aws = aws
        self.settings = aws.settings
        self.ledger = Ledger(aws)
        self.now = now or datetime.now(UTC)

    # -- entry -------------------------------------------------------------------------------------------------
    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        graph = load_graph(self.aws)
        outcome: dict[str, Any] = {}
        try:
            if event.get("detail-type") in (PIPELINE_EVENT, STAGE_EVENT):
                outcome = self.on_pipeline_event(read_pipeline_event(event, self.settings, graph), graph)
            else:
                read_scheduled_tick(event, self.settings)
        except IgnoredEventError as ignored:
            outcome = {"ignored": str(ignored)}
            LOGGER.warning(json.dumps({"ignored": str(ignored), "id": str(event.get("id"))[:64]}))
            return outcome
        outcome["holds"] = self.review_holds(graph)
        LOGGER.info(json.dumps(outcome, default=str))
        return outcome

    def on_pipeline_event(self, event: PipelineEvent, graph: Graph) -> dict[str, Any]:
        service, environment, execution = event.service, event.environment, event.execution
        pk = partition(service, environment)
        # A retried stage repeats its states within one execution; the attempt number tells the runs apart.
        marker = f"SEEN#{execution}#{event.attempt}#{event.scope}#{event.state}"
        if not self.ledger.claim(pk, marker, self.now):
            return {"duplicate": marker, "service": service, "environment": environment}
        try:
            recorded_start = self.ledger.record_event(event)
            run = run_key(event.run_started or recorded_start or run_time(parse_iso(event.time)), execution)
            outcome: dict[str, Any] = {
                "service": service,
                "environment": environment,
                "event": f"{event.scope} {event.state}",
            }
            if event.stage is None:
                outcome["advanced"] = self._advance_release(event, run)
                if event.state == "SUCCEEDED":
                    outcome["downstream"] = self.on_success(graph, service, environment, execution, event.time)
            elif event.stage == self.settings.deploy_stage:
                outcome["advanced"] = self._advance_deploy(event, run)
        except Exception:
            self.ledger.release(pk, marker)  # let the retry of this event do the rest at once
            raise
        self.ledger.complete(pk, marker, self.now)
        return outcome

    # -- state -------------------------------------------------------------------------------------------------
    def _advance_release(self, event: PipelineEvent, run: str) -> bool:
        state = event.state
        if state not in TERMINAL_STATES and state not in ("STARTED", "RESUMED", "STOPPING"):
            return False  # QUEUED: waiting its turn is not in flight
        return self.ledger.advance(
            event.service, event.environment, "release", event.execution, state, order_key(event.time, state), run
        )

    def _advance_deploy(self, event: PipelineEvent, run: str) -> bool:
        service, environment, execution, state = event.service, event.environment, event.execution, event.state
        extra: dict[str, Any] = {}
        if state == "FAILED":
            hold = self.ledger.hold(service, environment)
            if hold is not None and hold.get("status") in WAITING_STATUSES:
                if not hold.get("execution_id"):
                    # The gate did not know the execution; this event names it (and may show the wait goes on).
                    self.ledger.learn_execution(service, environment, execution, event.time, self.now)
                    hold = self.ledger.hold(service, environment)
                if hold and hold.get("execution_id") == execution:
                    # The gate kept this deploy out; what runs there is still the previous, healthy release.
                    state = HELD
        if state == "SUCCEEDED":
            extra = {"last_deployed_at": event.time, "last_deployed_execution": execution}
        if state not in TERMINAL_STATES and state not in (HELD, "STARTED"):
            return False
        order = order_key(event.time, state)
        return self.ledger.advance(service, environment, "deploy", execution, state, order, run, **extra)

    # -- downstream --------------------------------------------------------------------------------------------
    def on_success(self, graph: Graph, service: str, environment: str, execution: str, time: str) -> list[str]:
        done: list[str] = []
        dependents = graph.dependents_in(service, environment)
        pk = partition(service, environment)
        if self.settings.deployed_topic_arn_pattern:
            done.append(
                self._once(
                    pk,
                    f"PUBLISHED#{execution}",
                    lambda: self._publish(service, environment, execution, time, dependents),
                )
            )
        for node in dependents:
            if node.on_upstream_deploy == "none":
                continue
            marker = f"ACTION#{execution}#{node.name}#{node.on_upstream_deploy}"
            done.append(
                self._once(
                    pk,
                    marker,
                    lambda node=node: self._act(node.name, node.on_upstream_deploy, service, environment, execution),
                )
            )
        return [line for line in done if line]

    def _once(self, pk: str, marker: str, work: Any) -> str:
        """Do ``work`` unless an earlier delivery did it (or is doing it now); its claim is given back if it fails."""
        if not self.ledger.claim(pk, marker, self.now):
            return ""
        try:
            result = str(work())
        except Exception:
            self.ledger.release(pk, marker)
            raise
        self.ledger.complete(pk, marker, self.now, outcome=result)
        return result

    def _publish(self, service: str, environment: str, execution: str, time: str, dependents: list[Any]) -> str:
        self.aws.call(
            "sns",
            "publish",
            TopicArn=self.settings.deployed_topic_arn_pattern.format(service=service),
            Subject=f"{service} deployed to {environment}"[:100],
            Message=json.dumps(
                {
                    "service": service,
                    "environment": environment,
                    "executionId": execution,
                    "deployedAt": time,
                    "dependents": [node.name for node in dependents],
                }
            ),
            MessageAttributes={
                "service": {"DataType": "String", "StringValue": service},
                "environment": {"DataType": "String", "StringValue": environment},
            },
        )
        return f"published {service} deployed"

    def _act(self, dependent: str, action: str, upstream: str, environment: str, execution: str) -> str:
        token = f"{upstream}-{execution}"[:64]
        if action == "redeploy":
            pipeline = self.settings.pipeline_name_pattern.format(service=dependent, environment=environment)
            self.aws.call("codepipeline", "start_pipeline_execution", name=pipeline, clientRequestToken=token)
            return f"redeploy {dependent} in {environment}"
        project = self.settings.test_project_pattern.format(service=dependent, environment=environment)
        try:
            self.aws.call(
                "codebuild",
                "start_build",
                projectName=project,
                idempotencyToken=token,
                environmentVariablesOverride=[
                    {"name": "TARGET_ENVIRONMENT", "value": environment, "type": "PLAINTEXT"},
                    {"name": "UPSTREAM_SERVICE", "value": upstream, "type": "PLAINTEXT"},
                    {"name": "UPSTREAM_EXECUTION_ID", "value": execution, "type": "PLAINTEXT"},
                ],
            )
        except ClientError as error:
            # The project is the service team's to create; retrying the event cannot make it appear,
            # and failing here would also withhold every other dependent's action.
            if error_code(error) != "ResourceNotFoundException":
                raise
            LOGGER.warning("no project %s: %s asked for tests after %s deployed", project, dependent, upstream)
            return f"no test project for {dependent} ({project} not found)"
        return f"test {dependent} in {environment}"

    # -- holds -------------------------------------------------------------------------------------------------
    def review_holds(self, graph: Graph) -> list[str]:
        """Restart held deploys whose dependencies are healthy; abort those that waited too long.

        Every transition is conditional on the hold's revision as read here: of
        two invocations reviewing one hold at once, one acts and the other
        finds the hold changed and leaves it.
        """
        outcomes: list[str] = []
        timeout = timedelta(minutes=self.settings.hold_timeout_minutes)
        for hold in self.ledger.holds():
            if hold.get("status") != HELD:
                continue
            if int(hold.get("restart_lease_until", 0)) > int(self.now.timestamp()):
                continue  # another invocation is restarting it right now
            service, environment, read = hold["service"], hold["environment"], revision(hold)
            blockers = blockers_for(self.aws, self.ledger, graph, service, environment)
            if not blockers:
                outcome = self._restart_hold(hold)
                if outcome:
                    outcomes.append(outcome)
            elif self.now - parse_iso(hold["held_since"]) >= timeout:
                reason = (
                    f"aborted after {self.settings.hold_timeout_minutes} min on hold: {describe(blockers, environment)}"
                )
                if self.ledger.update_hold(
                    service,
                    environment,
                    HELD,
                    "ABORTED",
                    self.now,
                    expected_revision=read,
                    remove=("restart_lease_until",),
                    reason=reason,
                    aborted_at=iso(self.now),
                ):
                    outcomes.append(f"aborted {service} in {environment}: {reason}")
            elif describe(blockers, environment) != hold.get("reason"):
                self.ledger.update_hold(
                    service,
                    environment,
                    HELD,
                    None,
                    self.now,
                    expected_revision=read,
                    reason=describe(blockers, environment),
                )
        return outcomes

    def _restart_hold(self, hold: dict[str, Any]) -> str:
        """Claim the restart of a hold, ask CodePipeline, and mark it RESTARTED only once CodePipeline accepted."""
        service, environment, read = hold["service"], hold["environment"], revision(hold)
        lease_until = int(self.now.timestamp()) + self.settings.lease_seconds
        if not self.ledger.update_hold(
            service, environment, HELD, None, self.now, expected_revision=read, restart_lease_until=lease_until
        ):
            return ""  # changed since it was read: another invocation acts on it
        claimed = read + 1
        restarts = int(hold.get("restarts", 0)) + 1
        token = f"hold-{environment}-{service}-{''.join(c for c in hold['held_since'] if c.isdigit())}-{restarts}"
        try:
            outcome, restarted = self._restart(service, environment, hold.get("execution_id"), token[:128])
        except ClientError as error:
            code = error_code(error) or "error"
            LOGGER.warning("could not restart %s in %s: %s", service, environment, error)
            if self.now - parse_iso(hold["held_since"]) >= timedelta(minutes=self.settings.hold_timeout_minutes):
                reason = (
                    f"aborted after {self.settings.hold_timeout_minutes} min on hold: "
                    f"CodePipeline refused to restart it: {code}"
                )
                self.ledger.update_hold(
                    service,
                    environment,
                    HELD,
                    "ABORTED",
                    self.now,
                    expected_revision=claimed,
                    remove=("restart_lease_until",),
                    reason=reason,
                    aborted_at=iso(self.now),
                )
                return f"aborted {service} in {environment}: {reason}"
            self.ledger.update_hold(
                service,
                environment,
                HELD,
                None,
                self.now,
                expected_revision=claimed,
                remove=("restart_lease_until",),
                last_restart_error=f"{code} at {iso(self.now)}",
            )
            return f"could not restart {service} in {environment}: {code}; it stays held and is tried again"
        self.ledger.update_hold(
            service,
            environment,
            HELD,
            RESTARTED,
            self.now,
            expected_revision=claimed,
            remove=("restart_lease_until",),
            restarted_at=iso(self.now),
            restarted_execution=restarted,
            restarts=restarts,
        )
        return outcome

    def _restart(self, service: str, environment: str, execution: str | None, token: str) -> tuple[str, str | None]:
        """(what was done, the execution that now deploys); ``token`` makes a repeated new execution one execution."""
        pipeline = self.settings.pipeline_name_pattern.format(service=service, environment=environment)
        if execution:
            try:
                self.aws.call(
                    "codepipeline",
                    "retry_stage_execution",
                    pipelineName=pipeline,
                    stageName=self.settings.deploy_stage,
                    pipelineExecutionId=execution,
                    retryMode="ALL_ACTIONS",
                )
                text = f"restarted {service} in {environment} (retried {self.settings.deploy_stage} of {execution})"
                return text, execution
            except ClientError as error:
                if error_code(error) not in NOT_RETRYABLE:
                    raise
        started = self.aws.call("codepipeline", "start_pipeline_execution", name=pipeline, clientRequestToken=token)
        return f"restarted {service} in {environment} (new execution)", started.get("pipelineExecutionId")


_AWS: Aws | None = None


def handle(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Lambda entry point; settings and clients are built once per container, assumed sessions once per event."""
    global _AWS
    if _AWS is None:
        _AWS = Aws(Settings.from_environ())
    return Coordinator(_AWS.for_invocation()).handle(event)
