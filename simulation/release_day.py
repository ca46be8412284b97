"""A release day of the reference catalog, run through the real coordinator and deploy gate (``make simulate``).

The functions run in-process against moto (DynamoDB, SNS, SSM, CloudWatch); a
small discrete-event model plays CodePipeline: each pipeline execution builds,
asks the gate before its Deploy stage, deploys, and emits the EventBridge
events a real pipeline emits. Delivery is at least once and unordered, as
EventBridge promises: every event arrives up to a minute late, some twice, some
after events emitted later. The coordinator also gets a scheduled tick every
five minutes.

CodePipeline's history is modelled as far as the coordinator reads it: every placement deployed once the
day before, every execution builds one commit of its repository (a push's, the commit a ``COMMIT_ID``
source override names, or else the head of the Source action's ``BranchName``), and ``GetPipelineExecution``
and ``ListPipelineExecutions`` (``succeededInStage``, ``nextToken``) answer from that history.

The day (prod settings, four environments; times UTC):

- dev: auth, pricing and booking change together; booking waits for both.
- staging: ledger's deploy fails and is not fixed that day; invoicing and
  payments, which depend on it, are held and aborted after the hold timeout.
- prod: auth and booking change at once, booking waits for auth; booking's
  success redeploys mobile-bff and runs the integration tests of partner-api
  and web-frontend (their ``on_upstream_deploy``). payments' deploy fails,
  loyalty is held behind it and restarted when the fix is deployed.
- prod: payments' health alarm (``cicd-payments-prod-health``, in payments'
  own PCI account, read through that account's alarm reader) goes into ALARM;
  loyalty, changed meanwhile, is held until the alarm clears, then restarted.
- prod: an end-of-day change freeze holds web-frontend until it is lifted.
- CodePipeline throttles the day's first restart beyond the coordinator's
  backoff: the deploy stays held, and the next tick restarts it.
- prod: a pipeline named ``auth-prod`` in the prod environment account (not
  this platform's) reports SUCCEEDED, and its event reaches the coordinator:
  it is ignored, and nothing is announced, started or restarted.
- dev: recommendations' unit tests fail in its build, twice in the day; the
  real failure digest (``functions/failure_digest``) reads the build, its log
  and its test report and posts one Slack message per failure naming the
  failing test, the second saying it is the same failure as last time
  (``failed_build``). Its action event arrives twice for one of them: one post.

The day's Deploy stage outcomes also reach the real DORA metrics function (``dora_day``), which
records them and computes each service's four numbers: ``make simulate`` prints them per
environment and writes the dashboard's data as ``out/dora-<stack>.md``.

It prints the timeline and asserts the invariant the gate exists for: no
service starts deploying in an environment while a dependency there is
mid-deploy (its release in flight), its last deploy failed or its health alarm
there is in ALARM. The model assumes
event delays stay below build times (seconds in AWS, minutes here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import json
import os
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from components.model import branch_pattern
from components.model.coordination_graph import coordination_graph_json
from components.model.platform_inputs import PlatformInputs, load_platform_inputs
from components.model.settings import CONFIG_KEY
from components.model.yaml_source import load_yaml_file
from components.pipeline.stages import SOURCE_ACTION, SOURCE_ARTIFACT, source_branch

from .dora_day import DoraDay, DoraRecorder, markdown_table, summary_lines
from .failed_build import BuildWorld, action_failed_event
from .moto_world import ACCOUNT, REGION, provision, scheduled_tick, set_health, settings_for

from coordinator.handler import Coordinator  # isort: skip  (functions/ is on sys.path through moto_world)
from deploy_gate.handler import DeployGate  # isort: skip
from deploy_ledger.aws import Aws  # isort: skip

PROJECT_DIR = Path(__file__).resolve().parent.parent
DAY = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BUILD_MINUTES = 8
DEPLOY_MINUTES = 6
TICK_MINUTES = 5
HOLD_TIMEOUT_MINUTES = 60
COMMIT_BEFORE_PUSH_MINUTES = 25
"""How long before a push its commit was written (the Source action's AuthorDate): lead time starts there."""
HISTORY_DAYS = 365
"""CodePipeline keeps an execution's history 12 months from its start (API reference, ListPipelineExecutions)."""
CONNECTION_ARN = f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/5b0c1f2e-release-day"


@dataclass(frozen=True)
class Change:
    """A push that starts a service's pipeline in one environment."""

    minute: int
    service: str
    environment: str
    deploy_fails: bool = False
    build_fails: bool = False


CHANGES = [
    Change(0, "auth", "dev"),
    Change(1, "pricing", "dev"),
    Change(2, "booking", "dev"),
    Change(10, "recommendations", "dev", build_fails=True),
    Change(75, "recommendations", "dev", build_fails=True),  # pushed again without the fix
    Change(30, "ledger", "staging", deploy_fails=True),
    Change(40, "invoicing", "staging"),
    Change(45, "payments", "staging"),
    Change(60, "auth", "prod"),
    Change(62, "booking", "prod"),
    Change(120, "payments", "prod", deploy_fails=True),
    Change(124, "loyalty", "prod"),
    Change(150, "payments", "prod"),  # the fix
    Change(240, "currency-rates", "prod"),
    Change(305, "loyalty", "prod"),  # while payments is unhealthy
    Change(241, "pricing", "prod"),
    Change(425, "web-frontend", "prod"),
]
HEALTH = [
    (300, "payments", "prod", "ALARM", "5xx above 5% for 3 minutes"),
    (335, "payments", "prod", "OK", "5xx back under 5%"),
]
"""Health alarm state changes: (minute, service, environment, state, reason)."""
FREEZES = [(420, "prod", "on: end-of-day change freeze"), (460, "prod", "off")]
FORGED = [(200, "auth", "prod")]
"""(minute, service, environment): a same-named pipeline in that environment's account reports SUCCEEDED."""
THROTTLED_RESTART_CALLS = 6
"""CodePipeline throttles this many restart calls, the first restart of the day: as many as the backoff tries."""
END_MINUTE = 560


@dataclass(frozen=True)
class Commit:
    """A commit of a service's repository, on the branch it was pushed to."""

    id: str
    repository: str
    branch: str
    written: datetime
    """Its AuthorDate: lead time starts there."""
    message: str


@dataclass
class Execution:
    service: str
    environment: str
    id: str
    deploy_fails: bool
    trigger: str
    started_at: datetime
    state: str = "InProgress"
    attempt: int = 1
    held_at_entry: bool = False
    commit: Commit | None = None
    """What its Source action fetched: None when the Source action failed (no such commit)."""
    deployed: bool = False
    """Its Deploy stage's actions ran (an execution the gate holds runs none)."""
    build_fails: bool = False
    succeeded_stages: set[str] = field(default_factory=set)
    """The stages that succeeded in it (``ListPipelineExecutions``' ``succeededInStage`` filter)."""
    updated_at: datetime | None = None
    """The last change of its state (``lastUpdateTime``)."""

    @property
    def pipeline(self) -> str:
        return f"{self.service}-{self.environment}"


@dataclass
class Timeline:
    lines: list[tuple[datetime, str, str]] = field(default_factory=list)

    def add(self, when: datetime, subject: str, text: str) -> None:
        self.lines.append((when, subject, text))

    def render(self) -> str:
        return "\n".join(
            f"{when:%H:%M:%S}  {subject:<24} {text}"
            for when, subject, text in sorted(self.lines, key=lambda line: line[0])
        )


@dataclass
class DayResult:
    timeline: Timeline
    deployed: list[str]
    held: list[str]
    restarted: list[str]
    aborted: list[str]
    actions: list[str]
    violations: list[str]
    events_delivered: int
    duplicates_dropped: int
    ignored: list[str] = field(default_factory=list)
    restarts_refused: list[str] = field(default_factory=list)
    dora: DoraDay | None = None
    digests: list[str] = field(default_factory=list)
    """The failure digests posted to Slack, as Slack's plain-text rendering shows them."""
    digest_outcomes: list[dict[str, Any]] = field(default_factory=list)


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class ReleaseDay:
    """The model of CodePipeline and EventBridge around the real functions."""

    settings = settings_for("release-day", hold_timeout_minutes=HOLD_TIMEOUT_MINUTES)

    @staticmethod
    def inputs_of(stack: str) -> PlatformInputs:
        stack_file = load_yaml_file(PROJECT_DIR / f"Pulumi.{stack}.yaml", f"Pulumi.{stack}.yaml")
        return load_platform_inputs(stack_file["config"][f"cicd-platform:{CONFIG_KEY}"], stack, PROJECT_DIR)

    def __init__(
        self,
        inputs: PlatformInputs,
        seed: int = 7,
        honour_gate: bool = True,
        strict_retry: bool = True,
        until_first_violation: bool = False,
    ) -> None:
        self.inputs = inputs
        self.honour_gate = honour_gate
        self.strict_retry = strict_retry
        self.until_first_violation = until_first_violation
        self._aws: Aws | None = None
        self.random = random.Random(seed)  # noqa: S311 - a reproducible day, not a secret
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.sequence = itertools.count()
        self.now = DAY
        self.timeline = Timeline()
        self.executions: dict[str, Execution] = {}
        self.latest: dict[tuple[str, str], str] = {}
        self.deploying: set[tuple[str, str]] = set()
        self.in_flight: set[tuple[str, str]] = set()
        self.last_deploy_failed: set[tuple[str, str]] = set()
        self.in_alarm: set[tuple[str, str]] = set()
        self.result = DayResult(self.timeline, [], [], [], [], [], [], 0, 0)
        self.counter = itertools.count(1)
        self.dependencies = {service.name: service.depends_on for service in inputs.catalog.services}
        self.services = {service.name: service for service in inputs.catalog.services}
        self.placements = {
            (service.name, environment.name): environment
            for service in inputs.catalog.services
            for environment in inputs.environments_for(service)
        }
        self.commits: dict[str, Commit] = {}
        """Every commit of the services' repositories, by id: a ``COMMIT_ID`` source override names one."""
        self.heads: dict[tuple[str, str], Commit] = {}
        """(repository, branch) -> the branch's newest commit: what a start without an override builds."""
        self.history: dict[str, list[str]] = {}
        """Each pipeline's executions, oldest first."""
        self.tokens: dict[tuple[str, str], str] = {}
        """(pipeline, clientRequestToken) -> the execution that request started."""
        self.previous_day()
        self.dora: DoraRecorder | None = None
        self.builds = BuildWorld(
            inputs.stack,
            {service.name: service.owner for service in inputs.catalog.services},
            coordination_graph_json(inputs),
        )

    # -- scheduling --------------------------------------------------------------------------------------------
    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (when, next(self.sequence), action))

    def minutes(self, minute: float) -> datetime:
        return DAY + timedelta(minutes=minute)

    def run(self) -> DayResult:
        for change in CHANGES:
            self.at(
                self.minutes(change.minute),
                lambda c=change: self.start(c.service, c.environment, c.deploy_fails, build_fails=c.build_fails),
            )
        for minute, service, environment, state, reason in HEALTH:
            self.at(
                self.minutes(minute),
                lambda s=service, e=environment, v=state, r=reason: self.set_health(s, e, v, r),
            )
        for minute, environment, value in FREEZES:
            self.at(self.minutes(minute), lambda e=environment, v=value: self.set_freeze(e, v))
        for minute, service, environment in FORGED:
            self.at(self.minutes(minute), lambda s=service, e=environment: self.forge(s, e))
        for minute in range(0, END_MINUTE, TICK_MINUTES):
            self.at(self.minutes(minute) + timedelta(seconds=30), self.tick)
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            if when > self.minutes(END_MINUTE):
                break
            self.now = when
            action()
            if self.until_first_violation and self.result.violations:
                break  # the question was only whether the check can fail: the rest of the day cannot undo it
        if self.dora is not None:
            placements = [
                (service.name, environment.name)
                for service in self.inputs.catalog.services
                for environment in self.inputs.environments_for(service)
            ]
            self.result.dora = self.dora.finish(placements, DAY, DAY + timedelta(days=1))
        return self.result

    # -- the AWS side the functions call -----------------------------------------------------------------------
    def aws(self) -> Aws:
        """One set of clients for the day, as a warm container keeps them; sessions per invocation."""
        if self._aws is None:
            self._aws = Aws(self.settings, clients={"codepipeline": _PipelineApi(self), "codebuild": _BuildApi(self)})
        return self._aws

    def set_freeze(self, environment: str, value: str) -> None:
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=f"{self.settings.freeze_parameter_prefix}{environment}", Value=value, Type="String", Overwrite=True
        )
        self.timeline.add(self.now, f"freeze/{environment}", f"operator sets the freeze switch to '{value}'")

    def set_health(self, service: str, environment: str, state: str, reason: str) -> None:
        """The service's health alarm changes state in the account where it runs in that environment."""
        placed = next(
            env
            for s in self.inputs.catalog.services
            if s.name == service
            for env in self.inputs.environments_for(s)
            if env.name == environment
        )
        set_health(self.settings, service, environment, placed.account_id, state, reason, placed.region)
        (self.in_alarm.add if state == "ALARM" else self.in_alarm.discard)((service, environment))
        alarm = self.settings.health_alarm_pattern.format(service=service, environment=environment)
        self.timeline.add(self.now, f"{service}/{environment}", f"{alarm} (account {placed.account_id}) -> {state}")

    # -- pipelines ---------------------------------------------------------------------------------------------
    # -- commits ---------------------------------------------------------------------------------------------
    def push_branch(self, service: str, environment: str) -> str:
        """The branch a push that reaches ``environment`` goes to: its branch filter, or a branch the glob matches."""
        pattern = self.placements[(service, environment)].branch
        if branch_pattern.is_literal(pattern):
            return pattern
        branch = re.sub(r"\*\*|\*|\?", service, pattern)
        branch = re.sub(r"\[!?([^\]])[^\]]*\]", r"\1", branch)
        branch = re.sub(r"\{([^,}]*)[^}]*\}", r"\1", branch)
        if not branch_pattern.matches(pattern, branch):
            raise ValueError(f"no branch of {service} reaches {environment} (filter {pattern!r})")
        return branch

    def commit(self, service: str, branch: str, written: datetime, message: str) -> Commit:
        repository = self.services[service].repository
        digest = hashlib.sha1(f"{repository}@{branch}@{written}".encode(), usedforsecurity=False).hexdigest()
        commit = Commit(digest, repository, branch, written, message)
        self.commits[commit.id] = commit
        self.heads[(repository, branch)] = commit
        return commit

    def branch_head(self, service: str, environment: str) -> Commit | None:
        """What a start without a source override builds: the Source action's ``BranchName`` (``source_branch``)."""
        branch = source_branch(self.services[service], self.placements[(service, environment)])
        return self.heads.get((self.services[service].repository, branch))

    def previous_day(self) -> None:
        """Before the day, every service's default branch has a commit and every placement deployed once.

        CodePipeline keeps that history: ``ListPipelineExecutions`` finds the execution that last got through
        the Deploy stage, which a redeploy of a dependent nobody changed today builds again.
        """
        eve = DAY - timedelta(days=1)
        for name, service in self.services.items():
            self.commit(name, service.default_branch, eve - timedelta(days=1), f"Release {name}")
        for index, (service, environment) in enumerate(sorted(self.placements)):
            branch = self.push_branch(service, environment)
            head = self.heads.get((self.services[service].repository, branch))
            if head is None:
                head = self.commit(service, branch, eve, f"Release {service}")
            started = eve + timedelta(minutes=30 + index)
            execution = Execution(
                service, environment, f"{service}-{environment}-000", False, "Webhook", started, commit=head
            )
            execution.state, execution.deployed = "Succeeded", True
            execution.succeeded_stages.update(("Source", "Build", "Deploy"))
            execution.updated_at = started + timedelta(minutes=BUILD_MINUTES + DEPLOY_MINUTES)
            self.executions[execution.id] = execution
            self.history.setdefault(execution.pipeline, []).append(execution.id)
            self.latest[(service, environment)] = execution.id

    def start(
        self,
        service: str,
        environment: str,
        deploy_fails: bool = False,
        trigger: str = "Webhook",
        *,
        build_fails: bool = False,
        override: str | None = None,
    ) -> str:
        """A new execution: of a push (``Webhook``), of ``override`` (a commit id, if given) or of ``BranchName``."""
        execution = f"{service}-{environment}-{next(self.counter):03d}"
        if trigger == "Webhook":  # a push: its commit was written a while before
            branch = self.push_branch(service, environment)
            written = self.now - timedelta(minutes=COMMIT_BEFORE_PUSH_MINUTES)
            commit: Commit | None = self.commit(service, branch, written, f"Release {service}")
        elif override is not None:
            commit = self.commits.get(override)
            if commit is not None and commit.repository != self.services[service].repository:
                commit = None
        else:
            commit = self.branch_head(service, environment)
        run = Execution(
            service, environment, execution, deploy_fails, trigger, self.now, commit=commit, build_fails=build_fails
        )
        self.executions[execution] = run
        self.history.setdefault(run.pipeline, []).append(execution)
        self.latest[(service, environment)] = execution
        self.in_flight.add((service, environment))
        built = f", {commit.id[:7]}" if commit else ""
        self.timeline.add(self.now, f"{service}/{environment}", f"pipeline started ({execution}, {trigger}{built})")
        self.emit(service, environment, execution, "STARTED", trigger=trigger)
        if commit is None:  # the Source action finds no such commit in the repository
            self.at(self.now + timedelta(seconds=30), lambda: self.fail_source(execution))
            return execution
        run.succeeded_stages.add("Source")
        after_build = self.fail_build if build_fails else self.enter_deploy
        self.at(self.now + timedelta(minutes=BUILD_MINUTES), lambda: after_build(execution))
        return execution

    def fail_source(self, execution_id: str) -> None:
        execution = self.executions[execution_id]
        key = (execution.service, execution.environment)
        execution.state = "Failed"
        self.in_flight.discard(key)
        self.timeline.add(self.now, f"{key[0]}/{key[1]}", f"source FAILED ({execution_id}): no such commit")
        self.emit(*key, execution_id, "FAILED", stage="Source")
        self.emit(*key, execution_id, "FAILED")

    def fail_build(self, execution_id: str) -> None:
        """The Build stage's CodeBuild action fails: the pipeline fails, the failure digest hears of the action."""
        execution = self.executions[execution_id]
        key = (execution.service, execution.environment)
        started = self.now - timedelta(minutes=BUILD_MINUTES)
        build = self.builds.fail(*key, execution_id, started, next(self.counter))
        execution.state = "Failed"
        self.in_flight.discard(key)
        self.timeline.add(self.now, f"{key[0]}/{key[1]}", f"build FAILED ({build.build_id}): unit tests failed")
        event = action_failed_event(build, f"evt-{next(self.counter)}", self.now, execution.attempt)
        copies = 2 if not any(o.get("status") == "duplicate" for o in self.result.digest_outcomes) else 1
        for _ in range(copies):  # EventBridge delivers at least once: the first failure's event arrives twice
            delay = timedelta(seconds=self.random.randint(1, 60))
            self.at(self.now + delay, lambda e=event: self.deliver_to_digest(e))
        self.emit(*key, execution_id, "FAILED", stage="Build")
        self.emit(*key, execution_id, "FAILED")

    def deliver_to_digest(self, event: dict[str, Any]) -> None:
        outcome = self.builds.digest(self.now).handle(event)
        self.result.digest_outcomes.append(outcome)
        pipeline = event["detail"]["pipeline"]
        subject = "/".join(pipeline.rsplit("-", 1))
        if outcome.get("status") == "posted":
            self.result.digests.append(self.builds.slack.rendered()[-1])
            tests = ", ".join(outcome.get("failedTests", [])) or "no failed test named"
            again = "; same failure as last time" if outcome.get("sameAsLastTime") else ""
            self.timeline.add(self.now, subject, f"failure digest posted to Slack: {tests}{again}")
        elif outcome.get("status") == "duplicate":
            self.timeline.add(self.now, subject, "failure digest: a duplicate delivery of the event, not posted")

    def enter_deploy(self, execution_id: str) -> None:
        execution = self.executions[execution_id]
        key = (execution.service, execution.environment)
        execution.succeeded_stages.add("Build")
        job = {
            "CodePipeline.job": {
                "id": f"job-{next(self.counter)}",
                "accountId": ACCOUNT,
                "data": {
                    "actionConfiguration": {
                        "configuration": {
                            "FunctionName": "gate",
                            "UserParameters": json.dumps({"service": key[0], "environment": key[1]}),
                        }
                    }
                },
            }
        }
        verdict = DeployGate(self.aws().for_invocation(), now=self.now).handle(job)
        if not verdict["allowed"] and self.honour_gate:
            self.result.held.append(f"{key[0]}/{key[1]}")
            self.timeline.add(self.now, f"{key[0]}/{key[1]}", f"HELD at Deploy: {verdict['message']}")
            self.emit(*key, execution_id, "FAILED", stage="Deploy")
            self.emit(*key, execution_id, "FAILED")
            execution.state = "Failed"
            execution.held_at_entry = True
            self.in_flight.discard(key)
            return
        self.check_invariant(key)
        self.deploying.add(key)
        execution.deployed = True
        self.timeline.add(self.now, f"{key[0]}/{key[1]}", f"deploying ({execution_id})")
        self.emit(*key, execution_id, "STARTED", stage="Deploy")
        self.at(self.now + timedelta(minutes=DEPLOY_MINUTES), lambda: self.finish_deploy(execution_id))

    def finish_deploy(self, execution_id: str) -> None:
        execution = self.executions[execution_id]
        key = (execution.service, execution.environment)
        self.deploying.discard(key)
        self.in_flight.discard(key)
        state = "FAILED" if execution.deploy_fails else "SUCCEEDED"
        execution.state = state.title()
        if execution.deploy_fails:
            self.last_deploy_failed.add(key)
            self.timeline.add(self.now, f"{key[0]}/{key[1]}", f"deploy FAILED ({execution_id})")
        else:
            execution.succeeded_stages.add("Deploy")
            self.last_deploy_failed.discard(key)
            self.result.deployed.append(f"{key[0]}/{key[1]}")
            self.timeline.add(self.now, f"{key[0]}/{key[1]}", f"deployed ({execution_id})")
        self.emit(*key, execution_id, state, stage="Deploy")
        self.emit(*key, execution_id, state)

    def retry_deploy(self, pipeline: str, execution_id: str) -> None:
        execution = self.executions.get(execution_id)
        if execution is None or self.latest[(execution.service, execution.environment)] != execution_id:
            raise _client_error("NotLatestPipelineExecutionException", "RetryStageExecution")
        if execution.held_at_entry and self.strict_retry:
            # API reference: a stage can be retried only when some of its actions failed; an entry rule ran none.
            raise _client_error("StageNotRetryableException", "RetryStageExecution")
        key = (execution.service, execution.environment)
        execution.state = "InProgress"
        execution.attempt += 1
        self.in_flight.add(key)
        self.emit(*key, execution_id, "RESUMED")
        self.at(self.now + timedelta(seconds=20), lambda: self.enter_deploy(execution_id))

    # -- EventBridge -------------------------------------------------------------------------------------------
    def emit(
        self,
        service: str,
        environment: str,
        execution: str,
        state: str,
        stage: str | None = None,
        trigger: str | None = None,
    ) -> None:
        pipeline = f"{service}-{environment}"
        run = self.executions[execution]
        run.updated_at = self.now
        detail: dict[str, Any] = {
            "pipeline": pipeline,
            "execution-id": execution,
            "start-time": run.started_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{run.started_at.microsecond // 1000:03d}Z",
            "state": state,
            "version": 1.0,
            "pipeline-execution-attempt": float(run.attempt),
        }
        if stage:
            detail["stage"] = stage
        if trigger:
            detail["execution-trigger"] = {"trigger-type": trigger}
        event = {
            "version": "0",
            "id": f"evt-{next(self.counter)}",
            "detail-type": f"CodePipeline {'Stage' if stage else 'Pipeline'} Execution State Change",
            "source": "aws.codepipeline",
            "account": ACCOUNT,
            "time": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{pipeline}"],
            "detail": detail,
        }
        copies = 2 if self.random.random() < 0.2 else 1
        for _ in range(copies):
            delay = timedelta(seconds=self.random.randint(1, 60))
            self.at(self.now + delay, lambda e=event: self.deliver(e))

    def deliver(self, event: dict[str, Any]) -> None:
        self.result.events_delivered += 1
        if self.dora is not None:
            self.dora.deliver(event, self.now)
        outcome = Coordinator(self.aws().for_invocation(), now=self.now).handle(event)
        if "duplicate" in outcome:
            self.result.duplicates_dropped += 1
        if "ignored" in outcome:
            self.result.ignored.append(outcome["ignored"])
            self.timeline.add(self.now, "coordinator", f"ignored an event: {outcome['ignored']}")
        self.record(outcome)

    def forge(self, service: str, environment: str) -> None:
        """A CodePipeline event from the environment's account, for a pipeline named like one of ours."""
        account = next(env.account_id for env in self.inputs.settings.environments if env.name == environment)
        pipeline = f"{service}-{environment}"
        self.timeline.add(self.now, f"{service}/{environment}", f"pipeline {pipeline} in account {account} SUCCEEDED")
        self.deliver(
            {
                "version": "0",
                "id": f"evt-{next(self.counter)}",
                "detail-type": "CodePipeline Pipeline Execution State Change",
                "source": "aws.codepipeline",
                "account": account,
                "time": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": [f"arn:aws:codepipeline:{REGION}:{account}:{pipeline}"],
                "detail": {
                    "pipeline": pipeline,
                    "execution-id": f"forged-{next(self.counter)}",
                    "start-time": self.now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "state": "SUCCEEDED",
                    "version": 1.0,
                    "pipeline-execution-attempt": 1.0,
                },
            }
        )

    def tick(self) -> None:
        self.record(
            Coordinator(self.aws().for_invocation(), now=self.now).handle(scheduled_tick(self.settings, self.now))
        )

    def record(self, outcome: dict[str, Any]) -> None:
        for line in outcome.get("holds", []):
            verb, service, _, environment = line.split(" ", 3)
            subject = f"{service}/{environment.split(' ')[0].rstrip(':')}"
            if verb == "aborted":
                self.result.aborted.append(subject)
                self.timeline.add(self.now, subject, "ABORTED by coordinator: " + line.split(": ", 1)[1])
            elif verb == "restarted":
                self.result.restarted.append(subject)
                self.timeline.add(self.now, subject, "restarted by coordinator: " + line.split("(", 1)[1].rstrip(")"))
            else:  # "could not restart <service> in <environment>: <code>; ..."
                _, _, _, service, _, environment = line.split(" ", 5)
                subject = f"{service}/{environment.split(':')[0]}"
                self.result.restarts_refused.append(subject)
                self.timeline.add(self.now, subject, "restart refused by CodePipeline: " + line.split(": ", 1)[1])
        for line in outcome.get("downstream", []):
            if line.startswith(("redeploy", "test")):
                self.result.actions.append(line)
                upstream = f"{outcome['service']}/{outcome['environment']}"
                self.timeline.add(self.now, upstream, f"on_upstream_deploy: {line}")

    # -- the invariant -----------------------------------------------------------------------------------------
    def check_invariant(self, key: tuple[str, str]) -> None:
        service, environment = key
        deploys_there = {
            s.name
            for s in self.inputs.catalog.services
            if environment in [placed.name for placed in self.inputs.environments_for(s)]
        }
        for dependency in self.dependencies[service]:
            if dependency not in deploys_there:
                continue
            other = (dependency, environment)
            if other in self.in_flight or other in self.last_deploy_failed or other in self.in_alarm:
                why = (
                    "mid-deploy"
                    if other in self.in_flight
                    else "after a failed deploy"
                    if other in self.last_deploy_failed
                    else "in ALARM"
                )
                self.result.violations.append(
                    f"{self.now:%H:%M:%S} {service} started deploying to {environment} while {dependency} was {why}"
                )


class _PipelineApi:
    """The CodePipeline calls the functions make, answered by the model as the API reference describes them."""

    def __init__(self, day: ReleaseDay) -> None:
        self.day = day
        self.throttled = THROTTLED_RESTART_CALLS

    def throttle_restart(self, operation: str) -> None:
        if self.throttled:
            self.throttled -= 1
            raise _client_error("ThrottlingException", operation)

    def put_job_success_result(self, jobId: str) -> dict:  # noqa: N803 - boto3's parameter names
        return {}

    def _placement(self, pipeline: str, operation: str) -> tuple[str, str]:
        service, _, environment = pipeline.rpartition("-")
        if (service, environment) not in self.day.placements:
            raise _client_error("PipelineNotFoundException", operation)
        return service, environment

    def _execution(self, pipeline: str, execution: str, operation: str) -> Execution:
        self._placement(pipeline, operation)
        run = self.day.executions.get(execution)
        if run is None or run.pipeline != pipeline or not self._kept(run):
            raise _client_error("PipelineExecutionNotFoundException", operation)
        return run

    def _kept(self, run: Execution) -> bool:
        return run.started_at >= self.day.now - timedelta(days=HISTORY_DAYS)

    @staticmethod
    def _trigger(run: Execution) -> dict[str, str]:
        return {"triggerType": {"Webhook": "WebhookV2"}.get(run.trigger, run.trigger)}

    def _execution_mode(self, run: Execution) -> str:
        return self.day.placements[(run.service, run.environment)].execution_mode

    @staticmethod
    def _revision_summary(commit: Commit) -> str:
        """A ``CodeStarSourceConnection`` revision's summary: the provider and the commit message, as JSON."""
        return json.dumps({"ProviderType": "GitHub", "CommitMessage": commit.message})

    @staticmethod
    def _revision_url(commit: Commit) -> str:
        return (
            f"https://{REGION}.console.aws.amazon.com/codesuite/settings/connections/redirect?connectionArn="
            f"{CONNECTION_ARN}&referenceType=COMMIT&FullRepositoryId={commit.repository}&Commit={commit.id}"
        )

    def get_pipeline_execution(self, pipelineName: str, pipelineExecutionId: str) -> dict:  # noqa: N803
        """``pipelineExecution``: its ``artifactRevisions`` are the source artifact's revision, once fetched.

        The API's ``PipelineExecution`` has no ``sourceRevisions``: those are in ``ListPipelineExecutions``.
        """
        run = self._execution(pipelineName, pipelineExecutionId, "GetPipelineExecution")
        execution: dict[str, Any] = {
            "pipelineName": pipelineName,
            "pipelineVersion": 1,
            "pipelineExecutionId": pipelineExecutionId,
            "status": run.state,
            "artifactRevisions": [],
            "trigger": self._trigger(run),
            "executionMode": self._execution_mode(run),
            "executionType": "STANDARD",
        }
        if run.commit is not None:
            execution["artifactRevisions"] = [
                {
                    "name": SOURCE_ARTIFACT,
                    "revisionId": run.commit.id,
                    "revisionSummary": self._revision_summary(run.commit),
                    "created": run.commit.written,
                    "revisionUrl": self._revision_url(run.commit),
                }
            ]
        return {"pipelineExecution": execution}

    def _summary(self, run: Execution) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "pipelineExecutionId": run.id,
            "status": run.state,
            "startTime": run.started_at,
            "lastUpdateTime": run.updated_at or run.started_at,
            "sourceRevisions": [],
            "trigger": self._trigger(run),
            "executionMode": self._execution_mode(run),
            "executionType": "STANDARD",
        }
        if run.commit is not None:
            summary["sourceRevisions"] = [
                {
                    "actionName": SOURCE_ACTION,
                    "revisionId": run.commit.id,
                    "revisionSummary": self._revision_summary(run.commit),
                    "revisionUrl": self._revision_url(run.commit),
                }
            ]
        return summary

    def list_pipeline_executions(
        self,
        pipelineName: str,  # noqa: N803
        maxResults: int = 100,  # noqa: N803
        filter: dict | None = None,
        nextToken: str | None = None,  # noqa: N803
    ) -> dict:
        """Newest first, of the last 12 months; ``succeededInStage`` keeps those whose stage succeeded; paged."""
        operation = "ListPipelineExecutions"
        self._placement(pipelineName, operation)
        if not 1 <= maxResults <= 100:
            raise _client_error("ValidationException", operation)
        stage = ((filter or {}).get("succeededInStage") or {}).get("stageName")
        if filter is not None and not stage:
            raise _client_error("ValidationException", operation)
        runs = [self.day.executions[e] for e in reversed(self.day.history.get(pipelineName, []))]
        runs = [run for run in runs if self._kept(run) and (stage is None or stage in run.succeeded_stages)]
        start = 0
        if nextToken is not None:
            start = self._resume(nextToken, pipelineName, stage, [run.id for run in runs])
        page = runs[start : start + maxResults]
        answer: dict[str, Any] = {"pipelineExecutionSummaries": [self._summary(run) for run in page]}
        if start + maxResults < len(runs):
            cursor = {"pipeline": pipelineName, "stage": stage, "after": page[-1].id}
            answer["nextToken"] = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
        return answer

    @staticmethod
    def _resume(token: str, pipeline: str, stage: str | None, ids: list[str]) -> int:
        """Where the page after ``token`` starts: after the execution it ended with, whatever started since."""
        try:
            cursor = json.loads(base64.urlsafe_b64decode(token.encode()))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            cursor = None
        if (
            not isinstance(cursor, dict)
            or cursor.get("pipeline") != pipeline
            or cursor.get("stage") != stage
            or cursor.get("after") not in ids
        ):
            raise _client_error("InvalidNextTokenException", "ListPipelineExecutions")
        return ids.index(cursor["after"]) + 1

    def list_action_executions(self, pipelineName: str, filter: dict, **_: Any) -> dict:  # noqa: N803
        """The Source action's output variables (the commit), and Deploy actions where the stage ran them."""
        run = self._execution(pipelineName, filter["pipelineExecutionId"], "ListActionExecutions")
        if run.commit is None:
            return {
                "actionExecutionDetails": [{"stageName": "Source", "actionName": SOURCE_ACTION, "status": "Failed"}]
            }
        variables = {
            "CommitId": run.commit.id,
            "CommitMessage": run.commit.message,
            "AuthorDate": run.commit.written.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "BranchName": run.commit.branch,
            "FullRepositoryId": run.commit.repository,
            "ConnectionArn": CONNECTION_ARN,
        }
        actions: list[dict[str, Any]] = [
            {
                "stageName": "Source",
                "actionName": SOURCE_ACTION,
                "status": "Succeeded",
                "output": {"outputVariables": variables},
            }
        ]
        if run.deployed:
            actions.append({"stageName": "Deploy", "actionName": "Deploy", "status": run.state})
        return {"actionExecutionDetails": actions}

    def put_job_failure_result(self, jobId: str, failureDetails: dict) -> dict:  # noqa: N803
        return {}

    def retry_stage_execution(self, pipelineName: str, pipelineExecutionId: str, **_: str) -> dict:  # noqa: N803
        self.throttle_restart("RetryStageExecution")
        self.day.retry_deploy(pipelineName, pipelineExecutionId)
        return {"pipelineExecutionId": pipelineExecutionId}

    def start_pipeline_execution(
        self,
        name: str,
        clientRequestToken: str | None = None,  # noqa: N803
        sourceRevisions: list[dict[str, str]] | None = None,  # noqa: N803
    ) -> dict:
        """A new execution; ``sourceRevisions`` may name the Source action's commit (``COMMIT_ID``).

        A repeated ``clientRequestToken`` is the same request: its execution, not a new one.
        """
        operation = "StartPipelineExecution"
        service, environment = self._placement(name, operation)
        overrides = sourceRevisions or []
        if len(overrides) > 50 or any(
            o.get("actionName") != SOURCE_ACTION or o.get("revisionType") != "COMMIT_ID" or not o.get("revisionValue")
            for o in overrides
        ):  # one source action, a CodeStarSourceConnection: a commit id is the revision it takes
            raise _client_error("ValidationException", operation)
        if clientRequestToken and (name, clientRequestToken) in self.day.tokens:
            return {"pipelineExecutionId": self.day.tokens[(name, clientRequestToken)]}
        if (clientRequestToken or "").startswith("hold-"):  # a restart of a held deploy
            self.throttle_restart(operation)
        override = overrides[0]["revisionValue"] if overrides else None
        started = self.day.start(service, environment, trigger=operation, override=override)
        if clientRequestToken:
            self.day.tokens[(name, clientRequestToken)] = started
        return {"pipelineExecutionId": started}


class _BuildApi:
    def __init__(self, day: ReleaseDay) -> None:
        self.day = day

    def start_build(self, projectName: str, idempotencyToken: str, environmentVariablesOverride: list) -> dict:  # noqa: N803
        return {"build": {"id": f"{projectName}:{next(self.day.counter)}"}}


def simulate(
    stack: str = "prod",
    seed: int = 7,
    honour_gate: bool = True,
    strict_retry: bool = True,
    until_first_violation: bool = False,
    dora: bool = True,
) -> DayResult:
    """Run the day under moto and return what happened.

    ``honour_gate=False`` lets every deploy through whatever the gate says: the
    invariant check must then find violations (the proof that it can fail).
    ``strict_retry=False`` lets CodePipeline retry a stage its entry rule stopped
    (the API reference says it needs failed actions; the default follows it).
    ``until_first_violation=True`` ends the day at the first violation of the
    invariant (the rest of the day cannot take it back): a test that only asks
    whether the check can fail need not pay for a whole day. The events up to
    that moment are the same as in the whole day (same seed, same order).
    ``dora=False`` leaves the DORA function out: it only watches the day, and a
    test that does not read its numbers need not pay for its table.
    """
    inputs = ReleaseDay.inputs_of(stack)
    # Fake credentials for moto, restored afterwards; nothing leaves the process.
    fake = {"AWS_ACCESS_KEY_ID": "simulation", "AWS_SECRET_ACCESS_KEY": "simulation", "AWS_DEFAULT_REGION": REGION}
    saved = {key: os.environ.get(key) for key in fake}
    os.environ.update(fake)
    try:
        with mock_aws():
            day = ReleaseDay(inputs, seed, honour_gate, strict_retry, until_first_violation)
            provision(
                day.settings,
                coordination_graph_json(inputs),
                [environment.name for environment in inputs.settings.environments],
                [service.name for service in inputs.catalog.services],
            )
            if dora:
                day.dora = DoraRecorder(ACCOUNT, REGION, day.settings.graph_parameter, _PipelineApi(day), "release-day")
            return day.run()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def report(result: DayResult) -> int:
    """Print the timeline and the verdict; 1 when the invariant was violated."""
    print(result.timeline.render())
    print()
    print(
        f"events delivered {result.events_delivered} (duplicates dropped {result.duplicates_dropped}); "
        f"deployed {len(result.deployed)}, held {len(result.held)}, restarted {len(result.restarted)}, "
        f"aborted {len(result.aborted)}, downstream actions {len(result.actions)}, "
        f"restarts refused {len(result.restarts_refused)}, events ignored {len(result.ignored)}, "
        f"failure digests {len(result.digests)}"
    )
    for digest in result.digests:
        print()
        print("Failure digest posted to Slack:")
        print("\n".join(f"  | {line}" for line in digest.splitlines()))
    if result.violations:
        print("INVARIANT VIOLATED: a service deployed while a dependency was unhealthy or mid-deploy:")
        print("\n".join(f"  {violation}" for violation in result.violations))
        return 1
    print("invariant held: no service started deploying while a dependency was unhealthy or mid-deploy")
    if result.dora is not None:
        dora = result.dora
        print(
            f"DORA metrics of the day (Deploy stage outcomes recorded {dora.recorded}, duplicates {dora.duplicates}, "
            f"ignored {len(dora.ignored)}):"
        )
        print("\n".join(summary_lines(dora)))
    return 0


def write_dora_table(result: DayResult, stack: str, out_dir: Path) -> Path | None:
    """``out/dora-<stack>.md``: the dashboard's data for the day, per service and environment."""
    if result.dora is None:
        return None
    order = [environment.name for environment in ReleaseDay.inputs_of(stack).settings.environments]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"dora-{stack}.md"
    path.write_text(markdown_table(result.dora, stack, DAY, order.index), encoding="utf-8")
    return path


def main(stack: str = "prod") -> int:
    result = simulate(stack)
    status = report(result)
    path = write_dora_table(result, stack, PROJECT_DIR / "out")
    if path is not None:
        print(f"DORA dashboard data -> {path.relative_to(PROJECT_DIR)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
