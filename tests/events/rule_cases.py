"""For every kind of EventBridge rule the platform declares: the events it must deliver, and those it must ignore.

The cases say what each rule is *for*, in events AWS really sends (``fixtures/``), built
from the plan's own catalog: every pipeline, alarm and CodeDeploy application of every
placement. ``test_event_patterns.py`` then checks each rule of the dev and prod plans
against them with EventBridge's matcher, and checks that every value of every pattern is
needed: some delivered event passes only through it, or (for a field with one value) some
ignored event would pass without it.

To extend (a neighbour restricting a pattern, a new rule):
- a new rule: add a ``RuleKind`` to ``RULE_KINDS``: the rule's name (``{stack}``,
  ``{environment}`` and ``{n}`` stand for the variable parts, ``{-n}`` for the optional ``-2``,
  ``-3``, … of the further rules a component numbers when one pattern cannot hold a fleet),
  what it delivers, what it ignores. Rules cut from one list of names share their duty
  (``shares_duty``): an event must reach one of the rules on the same bus for the same
  environment, and cases must then cover every name, not the first few, so each part's values
  are needed by some event;
- a pattern that gains a value (an ``account``, a ``region``, an alarm-name list): the harness
  fails naming the rule and the value until an ignored event needs it: for the platform's
  alarms and deployments ``impostors(subject)`` (the same events raised where the catalog does
  not run the service), for the tooling account's pipeline events the same events from an
  environment account or another region (``elsewhere_than_tooling``);
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
    """Its rules split one duty (patterns cut in chunks): an event must reach one of the kind's rules on
    the same bus (account, region) for the same environment."""
    redundant: Mapping[str, str] = field(default_factory=dict)
    """``"<path> = <json value>"`` → why the value stays although no event needs it."""
    scheduled: bool = False

    def claims(self, rule: PlannedRule, stack: str) -> re.Match[str] | None:
        expression = re.escape(self.rule_name)
        for placeholder, group in {
            "stack": re.escape(stack),
            # Environment names have no '-' (catalog ``EnvironmentName``), so a numbered rule's
            # ``-2`` is never read as part of its environment.
            "environment": "(?P<environment>[a-z][a-z0-9]*)",
            "n": "[0-9]+",
            "-n": "(?:-[0-9]+)?",
        }.items():
            expression = expression.replace(re.escape("{" + placeholder + "}"), group)
        return re.fullmatch(expression, rule.name)


# --- events of the platform's sources ---------------------------------------------------------


Origin = tuple[str, str]
"""Where an event is raised: (account, region)."""


def pipeline_execution(world: World, pipeline: str, state: str, origin: Origin | None = None) -> dict[str, Any]:
    account, region = origin or (world.tooling_account, world.region)
    return aws_event(
        "codepipeline-pipeline-execution-state-change",
        account=account,
        region=region,
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


def action_execution(world: World, pipeline: str, state: str, origin: Origin | None = None) -> dict[str, Any]:
    account, region = origin or (world.tooling_account, world.region)
    return aws_event(
        "codepipeline-action-execution-state-change",
        account=account,
        region=region,
        pipeline=pipeline,
        state=state,
    )


def health_alarm(
    placement: Placement, state: str, *, account: str | None = None, region: str | None = None, name: str = ""
) -> dict[str, Any]:
    previous = "OK" if state == "ALARM" else "ALARM"
    return aws_event(
        "cloudwatch-alarm-state-change",
        account=account or placement.account,
        region=region or placement.region,
        alarm_name=name or placement.health_alarm,
        state=state,
        previous_state=previous,
    )


def deployment(
    placement: Placement, state: str, *, account: str | None = None, region: str | None = None, application: str = ""
) -> dict[str, Any]:
    return aws_event(
        "codedeploy-deployment-state-change",
        account=account or placement.account,
        region=region or placement.region,
        application=application or placement.application,
        deployment_group=placement.deployment_group,
        state=state,
    )


def alarm_configuration_change(placement: Placement) -> dict[str, Any]:
    """The health alarm updated while in ALARM: same source and name, another detail type."""
    return aws_event(
        "cloudwatch-alarm-configuration-change",
        account=placement.account,
        region=placement.region,
        alarm_name=placement.health_alarm,
        state="ALARM",
    )


def instance_failure(placement: Placement) -> dict[str, Any]:
    """One instance of a deployment failing: same source and application, another detail type."""
    return aws_event(
        "codedeploy-instance-state-change",
        account=placement.account,
        region=placement.region,
        application=placement.application,
        deployment_group=placement.deployment_group,
        state="FAILURE",
    )


def approval(world: World, pipeline: str, status: str = "Approved", origin: Origin | None = None) -> dict[str, Any]:
    account, region = origin or (world.tooling_account, world.region)
    return aws_event(
        "cloudtrail-put-approval-result",
        account=account,
        region=region,
        pipeline=pipeline,
        status=status,
    )


def forged(event: dict[str, Any], source: str = "bookwise.release-tools") -> dict[str, Any]:
    """The same event sent with PutEvents: the caller picks any source but the ``aws.`` ones AWS reserves."""
    copied = copy.deepcopy(event)
    copied["source"] = source
    return copied


def another_region(region: str) -> str:
    """A region other than ``region``: an event raised there is not the one the catalog placed in ``region``."""
    return "us-east-1" if region != "us-east-1" else "eu-west-1"


def elsewhere(world: World, placement: Placement) -> list[Origin]:
    """Where the catalog does not run ``placement``: the stack's other accounts, its own account in another region.

    Any team with CloudWatch or CodeDeploy there can raise an alarm, or deploy an
    application, of the same name.
    """
    origins = {(p.account, p.region) for p in world.placements}
    origins.add((placement.account, another_region(placement.region)))
    origins.discard((placement.account, placement.region))
    return sorted(origins)


def elsewhere_than_tooling(world: World) -> list[Origin]:
    """Where the platform's pipelines do not run: an environment account (a team's pipeline of the same name), or
    the tooling account in another region."""
    origins = {(p.account, p.region) for p in world.placements if p.account != world.tooling_account}
    origins.add((world.tooling_account, another_region(world.region)))
    return sorted(origins)


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
        for origin in elsewhere_than_tooling(world):  # a same-named pipeline where this stack runs none
            elsewhere = pipeline_execution(world, p.pipeline, "STARTED", origin)
            cases.append(Case(f"{p.pipeline} STARTED in {origin[0]} {origin[1]}", elsewhere))
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
        for account, region in elsewhere_than_tooling(world):
            event = action_execution(world, p.pipeline, "FAILED", (account, region))
            cases.append(Case(f"{p.pipeline} action FAILED in {account} {region}", event))
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
        for origin in elsewhere_than_tooling(world):  # a same-named pipeline approved where this stack runs none
            cases.append(
                Case(
                    f"PutApprovalResult on {pipeline} in {origin[0]} {origin[1]}",
                    approval(world, pipeline, "Approved", origin),
                )
            )
    return cases


def coordinator_delivers(subject: Subject) -> list[Case]:
    world = subject.world
    cases = []
    for p in world.placements:
        cases.append(Case(f"{p.pipeline} SUCCEEDED", pipeline_execution(world, p.pipeline, "SUCCEEDED")))
        cases.append(Case(f"{p.pipeline} Deploy stage STARTED", stage_execution(world, p.pipeline, "STARTED")))
    return cases


def coordinator_ignores(subject: Subject) -> list[Case]:
    """Its rules split the fleet's names: every pipeline gets the events that need each part's values.

    The coordinator checks the region itself (``deploy_ledger.events``); its patterns name the account only.
    """
    world = subject.world
    cases = []
    for p in world.first_in_each_environment():
        cases.append(Case(f"{p.pipeline} action SUCCEEDED", action_execution(world, p.pipeline, "SUCCEEDED")))
    for p in world.placements:
        cases.append(Case(f"forged {p.pipeline} SUCCEEDED", forged(pipeline_execution(world, p.pipeline, "SUCCEEDED"))))
        if p.account != world.tooling_account:
            team_pipeline = pipeline_execution(world, p.pipeline, "SUCCEEDED", (p.account, p.region))
            cases.append(Case(f"{p.pipeline} SUCCEEDED in {p.account} (a team's pipeline there)", team_pipeline))
    cases.append(Case(f"{FOREIGN_PIPELINE} SUCCEEDED", pipeline_execution(world, FOREIGN_PIPELINE, "SUCCEEDED")))
    return cases


DISPATCH_ENDED_STATES = ("STOPPED", "FAILED", "SUPERSEDED", "CANCELED")
"""An execution over without having succeeded (*Monitoring CodePipeline events*): its GitHub run must be cancelled."""


def dispatch_halting_delivers(subject: Subject) -> list[Case]:
    world = subject.world
    return [
        Case(f"{pipeline} {state}", pipeline_execution(world, pipeline, state))
        for pipeline in world.dispatch_pipelines
        for state in DISPATCH_ENDED_STATES
    ]


def dispatch_halting_ignores(subject: Subject) -> list[Case]:
    """The function checks the region itself (``github_dispatch.halting``); its patterns name the account only."""
    world = subject.world
    cases = []
    for pipeline in world.dispatch_pipelines:
        for state in ("STARTED", "SUCCEEDED", "RESUMED", "STOPPING"):
            cases.append(Case(f"{pipeline} {state}", pipeline_execution(world, pipeline, state)))
        cases.append(Case(f"{pipeline} Deploy stage FAILED", stage_execution(world, pipeline, "FAILED")))
        cases.append(Case(f"{pipeline} action ABANDONED", action_execution(world, pipeline, "ABANDONED")))
        cases.append(Case(f"forged {pipeline} STOPPED", forged(pipeline_execution(world, pipeline, "STOPPED"))))
        for account in sorted({p.account for p in world.placements if p.account != world.tooling_account}):
            team_pipeline = pipeline_execution(world, pipeline, "STOPPED", (account, world.region))
            cases.append(Case(f"{pipeline} STOPPED in {account} (a team's pipeline there)", team_pipeline))
    for p in world.placements:
        if p.pipeline not in world.dispatch_pipelines:
            cases.append(
                Case(f"{p.pipeline} STOPPED (dispatches nothing)", pipeline_execution(world, p.pipeline, "STOPPED"))
            )
    cases.append(Case(f"{FOREIGN_PIPELINE} STOPPED", pipeline_execution(world, FOREIGN_PIPELINE, "STOPPED")))
    return cases


DEPLOY_OUTCOMES = ("SUCCEEDED", "FAILED")
"""How a Deploy stage ends: the outcomes the DORA function records (a deploy, a failed deploy, a rollback's end)."""
QUIET_STAGE_STATES = ("STARTED", "RESUMED", "CANCELED", "STOPPING", "STOPPED")


def dora_outcomes_delivers(subject: Subject) -> list[Case]:
    world = subject.world
    return [
        Case(f"{p.pipeline} Deploy stage {state}", stage_execution(world, p.pipeline, state))
        for p in world.placements
        for state in DEPLOY_OUTCOMES
    ]


def dora_outcomes_ignores(subject: Subject) -> list[Case]:
    world = subject.world
    cases = []
    for p in world.first_in_each_environment():
        cases += [
            Case(f"{p.pipeline} Deploy stage {s}", stage_execution(world, p.pipeline, s)) for s in QUIET_STAGE_STATES
        ]
        cases.append(
            Case(f"{p.pipeline} Build stage SUCCEEDED", stage_execution(world, p.pipeline, "SUCCEEDED", "Build"))
        )
        cases.append(Case(f"{p.pipeline} SUCCEEDED", pipeline_execution(world, p.pipeline, "SUCCEEDED")))
        cases.append(Case(f"{p.pipeline} Deploy action SUCCEEDED", action_execution(world, p.pipeline, "SUCCEEDED")))
        cases.append(
            Case(f"forged {p.pipeline} Deploy stage SUCCEEDED", forged(stage_execution(world, p.pipeline, "SUCCEEDED")))
        )
        same_name_elsewhere = aws_event(
            "codepipeline-stage-execution-state-change",
            account=p.account,
            region=p.region,
            pipeline=p.pipeline,
            state="SUCCEEDED",
            stage="Deploy",
        )
        cases.append(Case(f"{p.pipeline} Deploy stage SUCCEEDED in account {p.account}", same_name_elsewhere))
    cases.append(
        Case(f"{FOREIGN_PIPELINE} Deploy stage SUCCEEDED", stage_execution(world, FOREIGN_PIPELINE, "SUCCEEDED"))
    )
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
    """Per account, the events of its own services that the reporter does not act on (with ``impostors``).

    Its rules hold one ``$or`` branch per account, kind and part of a fleet, so every
    placement gets them: each branch's source, detail type and state are then needed.
    """
    cases = []
    for p in subject.world.first_in_each_environment():
        cases.append(
            Case(
                f"{p.health_alarm} ALARM from account {STRANGER_ACCOUNT}",
                health_alarm(p, "ALARM", account=STRANGER_ACCOUNT),
            )
        )
    for p in subject.world.placements:
        cases.append(Case(f"forged {p.health_alarm} ALARM", forged(health_alarm(p, "ALARM"))))
        cases.append(Case(f"forged {p.application} STOP", forged(deployment(p, "STOP"))))
        cases.append(Case(f"{p.health_alarm} OK from {p.account}", health_alarm(p, "OK")))
        cases.append(Case(f"{p.health_alarm} updated while in ALARM", alarm_configuration_change(p)))
        cases.append(Case(f"{p.application} one instance FAILURE", instance_failure(p)))
    return cases


def forward_alarms_delivers(subject: Subject) -> list[Case]:
    here = subject.world.placed_in(subject.environment or "", subject.rule.account)
    return [Case(f"{p.health_alarm} ALARM", health_alarm(p, "ALARM")) for p in here]


def forward_alarms_ignores(subject: Subject) -> list[Case]:
    """The account's own alarms that are not news (with ``impostors``: everyone else's, and its own raised elsewhere).

    A large fleet's rules each hold part of the names, so every service here gets the
    events that need a part's source, detail type and state; the rest stay a sample.
    """
    world, environment = subject.world, subject.environment or ""
    here = world.placed_in(environment, subject.rule.account)
    cases = []
    for p in here:
        cases.append(Case(f"{p.health_alarm} OK", health_alarm(p, "OK")))
        cases.append(Case(f"{p.health_alarm} updated while in ALARM", alarm_configuration_change(p)))
        cases.append(Case(f"forged {p.health_alarm} ALARM", forged(health_alarm(p, "ALARM"))))
    for p in here[:3]:
        cases.append(Case(f"{p.health_alarm} INSUFFICIENT_DATA", health_alarm(p, "INSUFFICIENT_DATA")))
        team_alarm = f"{p.service}-{environment}-p99-latency"
        cases.append(Case(f"{team_alarm} ALARM (the team's own alarm)", health_alarm(p, "ALARM", name=team_alarm)))
        for other in world.environments:
            if other != environment:
                name = Placement(p.service, other, p.account, p.region).health_alarm
                cases.append(Case(f"{name} ALARM in this account", health_alarm(p, "ALARM", name=name)))
    return cases


def forward_deployments_delivers(subject: Subject) -> list[Case]:
    here = subject.world.placed_in(subject.environment or "", subject.rule.account)
    return [Case(f"{p.application} {state}", deployment(p, state)) for p in here for state in ("FAILURE", "STOP")]


def forward_deployments_ignores(subject: Subject) -> list[Case]:
    """The account's own deployments that are not failures (with ``impostors``), every service's for each part."""
    world, environment = subject.world, subject.environment or ""
    here = world.placed_in(environment, subject.rule.account)
    cases = []
    for p in here:
        cases.append(Case(f"{p.application} SUCCESS", deployment(p, "SUCCESS")))
        cases.append(Case(f"{p.application} one instance FAILURE", instance_failure(p)))
        cases.append(Case(f"forged {p.application} FAILURE", forged(deployment(p, "FAILURE"))))
    for p in here[:3]:
        for state in ("START", "READY"):
            cases.append(Case(f"{p.application} {state}", deployment(p, state)))
        own = f"{p.service}-nightly-batch"
        cases.append(Case(f"{own} FAILURE (the team's own application)", deployment(p, "FAILURE", application=own)))
        for other in world.environments:
            if other != environment:
                name = Placement(p.service, other, p.account, p.region).application
                cases.append(Case(f"{name} FAILURE in this account", deployment(p, "FAILURE", application=name)))
    return cases


def impostors(subject: Subject) -> list[Case]:
    """A service's health alarm and stopped deployment raised where the catalog does not run it (``elsewhere``).

    Built from the plan's placements: each service's names, raised in the stack's other
    accounts (another environment's, or the same environment's account that runs other
    services, as prod's shared account does for payments) and in its own account in
    another region. For a forwarding rule, those that concern its account: raised there,
    or naming one of its own services; for a rule with no environment (the reporter's rules
    on the deploy-events bus), all of them. The kinds whose patterns name exactly an
    account's services, account and region (issue 12, blocker 2) ignore them.
    """
    world = subject.world
    own = set(world.placed_in(subject.environment, subject.rule.account)) if subject.environment else set()
    cases = []
    for p in world.placements:
        for account, region in elsewhere(world, p):
            if subject.environment is not None and subject.rule.account != account and p not in own:
                continue
            where = f"raised in {account} {region}"
            alarm = health_alarm(p, "ALARM", account=account, region=region)
            cases.append(Case(f"{p.health_alarm} ALARM {where}", alarm))
            cases.append(Case(f"{p.application} STOP {where}", deployment(p, "STOP", account=account, region=region)))
    return cases


def joined(*events_for: EventsFor) -> EventsFor:
    """The cases of several ``EventsFor``, one after another (``ignores=joined(own_cases, impostors)``)."""

    def cases(subject: Subject) -> list[Case]:
        return [case for each in events_for for case in each(subject)]

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
        "cicd-{stack}-rollback-reporter-forwarded{-n}",
        forwarded_delivers,
        joined(forwarded_ignores, impostors),
        shares_duty=True,
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
    RuleKind("secrets: daily exemption watch", "cicd-secret-watch-{stack}", scheduled=True),
    RuleKind(
        "github dispatch: ended executions",
        "cicd-github-dispatch-{stack}-ended-executions-{n}",
        dispatch_halting_delivers,
        dispatch_halting_ignores,
        shares_duty=True,
    ),
    RuleKind(
        "DORA metrics: deploy outcomes",
        "cicd-dora-deploy-outcomes-{stack}",
        dora_outcomes_delivers,
        dora_outcomes_ignores,
    ),
    RuleKind("DORA metrics: hourly publication", "cicd-dora-publish-{stack}", scheduled=True),
    RuleKind(
        "forwarding: health alarms",
        "cicd-forward-health-alarms-{environment}{-n}",
        forward_alarms_delivers,
        joined(forward_alarms_ignores, impostors),
        shares_duty=True,
    ),
    RuleKind(
        "forwarding: failed deployments",
        "cicd-forward-failed-deployments-{environment}{-n}",
        forward_deployments_delivers,
        joined(forward_deployments_ignores, impostors),
        shares_duty=True,
    ),
)
