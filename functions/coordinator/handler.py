"""Coordinator: one function that turns the fleet's pipeline events into the ledger and downstream actions.

Fed by one EventBridge rule (``aws.codepipeline``, detail types ``CodePipeline
Pipeline Execution State Change`` and ``CodePipeline Stage Execution State
Change``, only this platform's pipelines) and by a schedule. Event shape, from
the CodePipeline user guide ("Monitoring CodePipeline events"): ``time`` at the
top, and ``detail.pipeline``, ``detail.execution-id``, ``detail.state``,
``detail.stage`` (stage events), ``detail.execution-trigger.trigger-type``.
CodePipeline emits these at least once, so every event is claimed in the ledger
with a conditional write on (execution id, attempt, scope, state) before anything
happens (``detail.pipeline-execution-attempt`` counts retries of one execution).

Per event:
1. record it on the execution, and move the service's picture forward
   (``deploy_ledger.store``; late and duplicate events never move it back);
2. a pipeline that SUCCEEDED publishes to the service's "deployed" SNS topic and,
   per dependent in that environment, acts as the catalog's
   ``on_upstream_deploy`` says: ``redeploy`` starts the dependent's pipeline,
   ``test`` starts its integration-test project (each action claimed once);
3. held deploys are reviewed (also on every scheduled tick): restarted when
   everything they wait for is healthy, aborted with the reason after
   ``HOLD_TIMEOUT_MINUTES``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from deploy_ledger.aws import Aws
from deploy_ledger.graph import Graph
from deploy_ledger.health import blockers_for, describe, load_graph
from deploy_ledger.retry import error_code
from deploy_ledger.settings import Settings
from deploy_ledger.store import HELD, TERMINAL_STATES, Ledger, iso, order_key, parse_iso, partition

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
PIPELINE_EVENT = "CodePipeline Pipeline Execution State Change"
STAGE_EVENT = "CodePipeline Stage Execution State Change"
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
        if event.get("detail-type") in (PIPELINE_EVENT, STAGE_EVENT):
            outcome = self.on_pipeline_event(event, graph)
        outcome["holds"] = self.review_holds(graph)
        LOGGER.info(json.dumps(outcome, default=str))
        return outcome

    def on_pipeline_event(self, event: dict[str, Any], graph: Graph) -> dict[str, Any]:
        detail = event.get("detail", {})
        located = graph.locate(str(detail.get("pipeline")), self.settings.pipeline_name_pattern)
        if located is None:
            return {"ignored": f"pipeline {detail.get('pipeline')} is not one of this platform's"}
        service, environment = located
        execution, state = str(detail["execution-id"]), str(detail["state"])
        stage = detail.get("stage") if event["detail-type"] == STAGE_EVENT else None
        scope = f"STAGE#{stage}" if stage else "PIPELINE"
        time = str(event.get("time") or iso(self.now))
        pk = partition(service, environment)
        # A retried stage repeats its states within one execution; the attempt number tells the runs apart.
        attempt = detail.get("pipeline-execution-attempt", 1)
        marker = f"SEEN#{execution}#{attempt}#{scope}#{state}"
        if not self.ledger.claim(pk, marker, self.now):
            return {"duplicate": marker, "service": service, "environment": environment}
        try:
            trigger = (detail.get("execution-trigger") or {}).get("trigger-type")
            self.ledger.record_event(service, environment, execution, scope, state, time, trigger)
            outcome: dict[str, Any] = {"service": service, "environment": environment, "event": f"{scope} {state}"}
            if stage is None:
                outcome["advanced"] = self._advance_release(service, environment, execution, state, time)
                if state == "SUCCEEDED":
                    outcome["downstream"] = self.on_success(graph, service, environment, execution, time)
            elif stage == self.settings.deploy_stage:
                outcome["advanced"] = self._advance_deploy(service, environment, execution, state, time)
            return outcome
        except Exception:
            self.ledger.release(pk, marker)  # let the retry of this event do the work again
            raise

    # -- state -------------------------------------------------------------------------------------------------
    def _advance_release(self, service: str, environment: str, execution: str, state: str, time: str) -> bool:
        if state not in TERMINAL_STATES and state not in ("STARTED", "RESUMED", "STOPPING"):
            return False  # QUEUED: waiting its turn is not in flight
        return self.ledger.advance(service, environment, "release", execution, state, order_key(time, state))

    def _advance_deploy(self, service: str, environment: str, execution: str, state: str, time: str) -> bool:
        extra: dict[str, Any] = {}
        if state == "FAILED":
            hold = self.ledger.hold(service, environment)
            held = hold is not None and hold.get("status") in (HELD, "RESTARTED")
            if held and hold and hold.get("execution_id") in (None, "", execution):
                # The gate kept this deploy out; what runs there is still the previous, healthy release.
                if not hold.get("execution_id"):
                    self.ledger.update_hold(service, environment, HELD, None, self.now, execution_id=execution)
                state = HELD
        if state == "SUCCEEDED":
            extra = {"last_deployed_at": time, "last_deployed_execution": execution}
        if state not in TERMINAL_STATES and state not in (HELD, "STARTED"):
            return False
        return self.ledger.advance(service, environment, "deploy", execution, state, order_key(time, state), **extra)

    # -- downstream --------------------------------------------------------------------------------------------
    def on_success(self, graph: Graph, service: str, environment: str, execution: str, time: str) -> list[str]:
        done: list[str] = []
        dependents = graph.dependents_in(service, environment)
        if self.settings.deployed_topic_arn_pattern:
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
            done.append(f"published {service} deployed")
        for node in dependents:
            if node.on_upstream_deploy == "none":
                continue
            marker = f"ACTION#{execution}#{node.name}#{node.on_upstream_deploy}"
            pk = partition(service, environment)
            if not self.ledger.claim(pk, marker, self.now):
                continue
            try:
                done.append(self._act(node.name, node.on_upstream_deploy, service, environment, execution))
            except Exception:
                self.ledger.release(pk, marker)
                raise
        return done

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
        """Restart held deploys whose dependencies are healthy; abort those that waited too long."""
        outcomes: list[str] = []
        timeout = timedelta(minutes=self.settings.hold_timeout_minutes)
        for hold in self.ledger.holds():
            if hold.get("status") != HELD:
                continue
            service, environment = hold["service"], hold["environment"]
            blockers = blockers_for(self.aws, self.ledger, graph, service, environment)
            if not blockers:
                if self.ledger.update_hold(
                    service, environment, HELD, "RESTARTED", self.now, restarted_at=iso(self.now)
                ):
                    outcomes.append(self._restart(service, environment, hold.get("execution_id")))
            elif self.now - parse_iso(hold["held_since"]) >= timeout:
                reason = (
                    f"aborted after {self.settings.hold_timeout_minutes} min on hold: {describe(blockers, environment)}"
                )
                if self.ledger.update_hold(
                    service, environment, HELD, "ABORTED", self.now, reason=reason, aborted_at=iso(self.now)
                ):
                    outcomes.append(f"aborted {service} in {environment}: {reason}")
            else:
                self.ledger.update_hold(
                    service, environment, HELD, None, self.now, reason=describe(blockers, environment)
                )
        return outcomes

    def _restart(self, service: str, environment: str, execution: str | None) -> str:
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
                return f"restarted {service} in {environment} (retried {self.settings.deploy_stage} of {execution})"
            except ClientError as error:
                if error_code(error) not in NOT_RETRYABLE:
                    raise
        self.aws.call("codepipeline", "start_pipeline_execution", name=pipeline)
        return f"restarted {service} in {environment} (new execution)"


_AWS: Aws | None = None


def handle(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Lambda entry point; settings and clients are built once per container, assumed sessions once per event."""
    global _AWS
    if _AWS is None:
        _AWS = Aws(Settings.from_environ())
    return Coordinator(_AWS.for_invocation()).handle(event)
