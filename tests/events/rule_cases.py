"""For every kind of EventBridge rule the platform declares: the events it must deliver, and those it must ignore.

The cases say what each rule is *for*, in events AWS really sends (``fixtures/``), built
from the plan's own catalog: every pipeline, alarm and CodeDeploy application of every
placement. ``test_event_patterns.py`` then checks each rule of the dev and prod plans
against them with EventBridge's matcher, and checks that every value of every pattern is
needed: some delivered event passes only through it, or (for a field with one value) some
ignored event would pass without it.

To extend (a neighbour restricting a pattern, a new rule):
- a new rule: add a ``RuleKind`` to ``RULE_KINDS``: the rule's name (``{stack}``,
  ``{environment}`` and ``{n}`` stand for the variable parts), what it delivers, what it ignores;
- a pattern that gains a value (an ``account``, an alarm-name list): the harness fails naming
  the rule and the value until an ignored event needs it, e.g. for the forwarding rules
  ``impostors(subject)``: the same events from an account the service does not run in;
- a value kept without an event that needs it (defence in depth): ``redundant``, with why.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.events.aws_events import aws_event
from tests.events.planned_rules import Placement, PlannedRule, World

STRANGER_ACCOUNT = "777766665555"
"""An account of the organization that is no environment of this stack (a sandbox, the security account)."""
FOREIGN_PIPELINE = "data-lake-nightly"
"""A pipeline in the tooling account that the platform does not own."""
OTHER_REGION = "ap-southeast-2"
"""A region where the stack runs no pipeline."""


@dataclass(frozen=True)
class Case:
    label: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Subject:
    """A rule to judge, with what its name says (its environment) and the world its events come from."""

    rule: PlannedRule
    world: World
    environment: str | None


EventsFor = Callable[[Subject], list[Case]]


def _none(_subject: Subject) -> list[Case]:
    return []


@dataclass(frozen=True)
class RuleKind:
    name: str
    rule_name: str
    """The rule's name; ``{stack}``, ``{environment}``, ``{n}`` stand for its variable parts."""
    delivers: EventsFor = _none
    ignores: EventsFor = _none
    shares_duty: bool = False
    """Its rules split one duty (patterns cut in chunks): an event must reach one of them."""
    redundant: Mapping[str, str] = field(default_factory=dict)
    """``"<path> = <json value>"`` → why the value stays although no event needs it."""
    scheduled: bool = False

    def claims(self, rule: PlannedRule, stack: str) -> re.Match[str] | None:
        expression = re.escape(self.rule_name)
        for placeholder, group in {
            "stack": re.escape(stack),
            "environment": "(?P<environment>[a-z0-9-]+)",
            "n": "[0-9]+",
        }.items():
            expression = expression.replace(re.escape("{" + placeholder + "}"), group)
        return re.fullmatch(expression, rule.name)


# --- events of the platform's sources ---------------------------------------------------------


def pipeline_execution(world: World, pipeline: str, state: str) -> dict[str, Any]:
    return aws_event(
        "codepipeline-pipeline-execution-state-change",
        account=world.tooling_account,
        region=world.region,
        pipeline=pipeline,
        state=state,
    )


def stage_execution(world: World, pipeline: str, state: str, stage: str = "Deploy") -> dict[str, Any]:
    return aws_event(
        "codepipeline-stage-execution-state-change",
        account=world.tooling_account,
        region=world.region,
        pipeline=pipeline,
        state=state,
        stage=stage,
    )


def action_execution(world: World, pipeline: str, state: str) -> dict[str, Any]:
    return aws_event(
        "codepipeline-action-execution-state-change",
        account=world.tooling_account,
        region=world.region,
        pipeline=pipeline,
        state=state,
    )


def health_alarm(placement: Placement, state: str, *, account: str | None = None, name: str = "") -> dict[str, Any]:
    previous = "OK" if state == "ALARM" else "ALARM"
    return aws_event(
        "cloudwatch-alarm-state-change",
        account=account or placement.account,
        region=placement.region,
        alarm_name=name or placement.health_alarm,
        state=state,
        previous_state=previous,
    )


def deployment(placement: Placement, state: str, *, account: str | None = None, application: str = "") -> dict:
    return aws_event(
        "codedeploy-deployment-state-change",
        account=account or placement.account,
        region=placement.region,
        application=application or placement.application,
        deployment_group=placement.deployment_group,
        state=state,
    )


def approval(world: World, pipeline: str, status: str = "Approved") -> dict[str, Any]:
    return aws_event(
        "cloudtrail-put-approval-result",
        account=world.tooling_account,
        region=world.region,
        pipeline=pipeline,
        status=status,
    )


def forged(event: dict[str, Any], source: str = "bookwise.release-tools") -> dict[str, Any]:
    """The same event sent with PutEvents: the caller picks any source but the ``aws.`` ones AWS reserves."""
    copied = copy.deepcopy(event)
    copied["source"] = source
    return copied


# --- what each rule is for --------------------------------------------------------------------

NEWS_STATES = ("STARTED", "SUCCEEDED", "FAILED", "STOPPED")
"""Pipeline states release news reports (CodePipeline User Guide, *Monitoring CodePipeline events*)."""
QUIET_PIPELINE_STATES = ("RESUMED", "CANCELED", "SUPERSEDED", "STOPPING")


def release_news_delivers(subject: Subject) -> list[Case]:
    world = subject.world
    return [
        Case(f"{p.pipeline} {state}", pipeline_execution(world, p.pipeline, state))
        for p in world.placements
        for state in NEWS_STATES
    ]


def release_news_ignores(subject: Subject) -> list[Case]:
    world = subject.world
    cases = []
    for p in world.first_in_each_environment():
        cases += [Case(f"{p.pipeline} {s}", pipeline_execution(world, p.pipeline, s)) for s in QUIET_PIPELINE_STATES]
        cases.append(Case(f"{p.pipeline} Deploy stage STARTED", stage_execution(world, p.pipeline, "STARTED")))
        cases.append(Case(f"forged {p.pipeline} STARTED", forged(pipeline_execution(world, p.pipeline, "STARTED"))))
    cases.append(Case(f"{FOREIGN_PIPELINE} STARTED", pipeline_execution(world, FOREIGN_PIPELINE, "STARTED")))
    return cases


def failed_actions_delivers(subject: Subject) -> list[Case]:
    world = subject.world
    return [
        Case(f"{p.pipeline} action FAILED", action_execution(world, p.pipeline, "FAILED")) for p in world.placements
    ]


def failed_actions_ignores(subject: Subject) -> list[Case]:
    world = subject.world
    cases = []
    for p in world.first_in_each_environment():
        for state in ("STARTED", "SUCCEEDED", "CANCELED", "ABANDONED"):
            cases.append(Case(f"{p.pipeline} action {state}", action_execution(world, p.pipeline, state)))
        cases.append(Case(f"{p.pipeline} Deploy stage FAILED", stage_execution(world, p.pipeline, "FAILED")))
        cases.append(Case(f"forged {p.pipeline} action FAILED", forged(action_execution(world, p.pipeline, "FAILED"))))
        # The digest reads the failed pipeline in the tooling account and region: the same event from
        # another account (PutEvents on a bus that accepts it) or region names a pipeline it cannot read.
        elsewhere = action_execution(world, p.pipeline, "FAILED")
        elsewhere["account"] = STRANGER_ACCOUNT
        cases.append(Case(f"{p.pipeline} action FAILED from account {STRANGER_ACCOUNT}", elsewhere))
        other_region = action_execution(world, p.pipeline, "FAILED")
        other_region["region"] = OTHER_REGION if world.region != OTHER_REGION else "eu-central-1"
        cases.append(Case(f"{p.pipeline} action FAILED in {other_region['region']}", other_region))
    cases.append(Case(f"{FOREIGN_PIPELINE} action FAILED", action_execution(world, FOREIGN_PIPELINE, "FAILED")))
    return cases


def approval_audit_delivers(subject: Subject) -> list[Case]:
    world = subject.world
    return [
        Case(f"PutApprovalResult {status} on {pipeline}", approval(world, pipeline, status))
        for pipeline in world.approval_pipelines
        for status in ("Approved", "Rejected")
    ]


def approval_audit_ignores(subject: Subject) -> list[Case]:
    world = subject.world
    protected = set(world.approval_pipelines)
    unprotected = sorted({p.pipeline for p in world.placements} - protected)
    cases = [Case(f"PutApprovalResult on {pipeline}", approval(world, pipeline)) for pipeline in unprotected[:8]]
    for pipeline in world.approval_pipelines[:3]:
        stop = aws_event(
            "cloudtrail-stop-pipeline-execution", account=world.tooling_account, region=world.region, pipeline=pipeline
        )
        cases.append(Case(f"StopPipelineExecution on {pipeline}", stop))
        cases.append(Case(f"forged PutApprovalResult on {pipeline}", forged(approval(world, pipeline))))
    return cases


def coordinator_delivers(subject: Subject) -> list[Case]:
    world = subject.world
    cases = []
    for p in world.placements:
        cases.append(Case(f"{p.pipeline} SUCCEEDED", pipeline_execution(world, p.pipeline, "SUCCEEDED")))
        cases.append(Case(f"{p.pipeline} Deploy stage STARTED", stage_execution(world, p.pipeline, "STARTED")))
    return cases


def coordinator_ignores(subject: Subject) -> list[Case]:
    world = subject.world
    cases = []
    for p in world.first_in_each_environment():
        cases.append(Case(f"{p.pipeline} action SUCCEEDED", action_execution(world, p.pipeline, "SUCCEEDED")))
        cases.append(Case(f"forged {p.pipeline} SUCCEEDED", forged(pipeline_execution(world, p.pipeline, "SUCCEEDED"))))
    cases.append(Case(f"{FOREIGN_PIPELINE} SUCCEEDED", pipeline_execution(world, FOREIGN_PIPELINE, "SUCCEEDED")))
    return cases


def forwarded_delivers(subject: Subject) -> list[Case]:
    """What the environment accounts' forwarding rules put on the deploy-events bus (account and source kept)."""
    cases = []
    for p in subject.world.placements:
        cases.append(Case(f"{p.health_alarm} ALARM from {p.account}", health_alarm(p, "ALARM")))
        for state in ("FAILURE", "STOP"):
            cases.append(Case(f"{p.application} {state} from {p.account}", deployment(p, state)))
    return cases


def forwarded_ignores(subject: Subject) -> list[Case]:
    cases = []
    for p in subject.world.first_in_each_environment():
        cases.append(
            Case(
                f"{p.health_alarm} ALARM from account {STRANGER_ACCOUNT}",
                health_alarm(p, "ALARM", account=STRANGER_ACCOUNT),
            )
        )
        cases.append(Case(f"forged {p.health_alarm} ALARM", forged(health_alarm(p, "ALARM"))))
    return cases


def forward_alarms_delivers(subject: Subject) -> list[Case]:
    here = subject.world.placed_in(subject.environment or "", subject.rule.account)
    return [Case(f"{p.health_alarm} ALARM", health_alarm(p, "ALARM")) for p in here]


def forward_alarms_ignores(subject: Subject) -> list[Case]:
    world, environment = subject.world, subject.environment or ""
    cases = []
    for p in world.placed_in(environment, subject.rule.account)[:3]:
        cases.append(Case(f"{p.health_alarm} OK", health_alarm(p, "OK")))
        cases.append(Case(f"{p.health_alarm} INSUFFICIENT_DATA", health_alarm(p, "INSUFFICIENT_DATA")))
        reconfigured = aws_event(
            "cloudwatch-alarm-configuration-change",
            account=p.account,
            region=p.region,
            alarm_name=p.health_alarm,
            state="ALARM",
        )
        cases.append(Case(f"{p.health_alarm} updated while in ALARM", reconfigured))
        team_alarm = f"{p.service}-{environment}-p99-latency"
        cases.append(Case(f"{team_alarm} ALARM (the team's own alarm)", health_alarm(p, "ALARM", name=team_alarm)))
        for other in world.environments:
            if other != environment:
                name = Placement(p.service, other, p.account, p.region).health_alarm
                cases.append(Case(f"{name} ALARM in this account", health_alarm(p, "ALARM", name=name)))
        cases.append(Case(f"forged {p.health_alarm} ALARM", forged(health_alarm(p, "ALARM"))))
    return cases


def forward_deployments_delivers(subject: Subject) -> list[Case]:
    here = subject.world.placed_in(subject.environment or "", subject.rule.account)
    return [Case(f"{p.application} {state}", deployment(p, state)) for p in here for state in ("FAILURE", "STOP")]


def forward_deployments_ignores(subject: Subject) -> list[Case]:
    world, environment = subject.world, subject.environment or ""
    cases = []
    for p in world.placed_in(environment, subject.rule.account)[:3]:
        for state in ("START", "SUCCESS", "READY"):
            cases.append(Case(f"{p.application} {state}", deployment(p, state)))
        instance = aws_event(
            "codedeploy-instance-state-change",
            account=p.account,
            region=p.region,
            application=p.application,
            deployment_group=p.deployment_group,
            state="FAILURE",
        )
        cases.append(Case(f"{p.application} one instance FAILURE", instance))
        own = f"{p.service}-nightly-batch"
        cases.append(Case(f"{own} FAILURE (the team's own application)", deployment(p, "FAILURE", application=own)))
        for other in world.environments:
            if other != environment:
                name = Placement(p.service, other, p.account, p.region).application
                cases.append(Case(f"{name} FAILURE in this account", deployment(p, "FAILURE", application=name)))
        cases.append(Case(f"forged {p.application} FAILURE", forged(deployment(p, "FAILURE"))))
    return cases


def impostors(subject: Subject) -> list[Case]:
    """Events of services raised in an account of their environment that they do not run in.

    For a forwarding rule, the impostors of its own account; for a rule with no environment
    (the reporter's rule on the deploy-events bus), those of every environment account. Not
    yet in any ``ignores``: today's patterns do not restrict names to an account's own
    services (issue 12, blocker 2). The change that restricts them adds this to the
    ``ignores`` of the kinds it restricts.
    """
    world = subject.world
    if subject.environment is not None:
        where = [(subject.environment, subject.rule.account)]
    else:
        where = sorted({(p.environment, p.account) for p in world.placements})
    cases = []
    for environment, account in where:
        for p in world.placed_elsewhere(environment, account):
            cases.append(Case(f"{p.health_alarm} ALARM raised in {account}", health_alarm(p, "ALARM", account=account)))
            cases.append(Case(f"{p.application} STOP in {account}", deployment(p, "STOP", account=account)))
    return cases


CLOUDTRAIL_DETAIL_TYPE = (
    "AWS documents API calls recorded by CloudTrail reaching EventBridge with this detail-type only; "
    "kept because a pattern names its source and detail-type (EventBridge best practice)"
)

RULE_KINDS: tuple[RuleKind, ...] = (
    RuleKind("release news", "cicd-pipeline-news-{stack}", release_news_delivers, release_news_ignores),
    RuleKind(
        "failure digest: failed actions",
        "cicd-failure-digest-{stack}-failed-actions",
        failed_actions_delivers,
        failed_actions_ignores,
    ),
    RuleKind(
        "rollback reporter: forwarded events",
        "cicd-{stack}-rollback-reporter-forwarded",
        forwarded_delivers,
        forwarded_ignores,
    ),
    RuleKind(
        "approval audit",
        "cicd-approval-audit-{stack}",
        approval_audit_delivers,
        approval_audit_ignores,
        redundant={
            'detail-type = "AWS API Call via CloudTrail"': CLOUDTRAIL_DETAIL_TYPE,
            'detail.eventSource = "codepipeline.amazonaws.com"': (
                "every CloudTrail event whose source is aws.codepipeline has this eventSource; "
                "kept so the pattern reads as the API call it watches"
            ),
        },
    ),
    RuleKind(
        "coordinator: pipeline events",
        "cicd-{stack}-coordinator-pipeline-events-{n}",
        coordinator_delivers,
        coordinator_ignores,
        shares_duty=True,
    ),
    RuleKind("coordinator: tick", "cicd-{stack}-coordinator-tick", scheduled=True),
    RuleKind(
        "forwarding: health alarms",
        "cicd-forward-health-alarms-{environment}",
        forward_alarms_delivers,
        forward_alarms_ignores,
    ),
    RuleKind(
        "forwarding: failed deployments",
        "cicd-forward-failed-deployments-{environment}",
        forward_deployments_delivers,
        forward_deployments_ignores,
    ),
)
