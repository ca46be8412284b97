"""The EventBridge rules a plan declares, and the world their events come from.

A rule is read from the plan as Pulumi would create it: its name, bus, pattern or schedule,
its targets, and the account and region its provider deploys it to (the tooling account for
rules without an explicit provider). The world is the catalog's placements (which service
runs in which environment, account and region), from the same plan's validated inputs: the
events a rule must deliver or ignore are built from it, so they follow the catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from components.model import naming, release_approvals

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
DEFAULT_BUS = "default"


@dataclass(frozen=True)
class PlannedRule:
    name: str
    bus: str
    account: str
    region: str
    pattern: dict[str, Any] | None
    schedule: str | None
    targets: tuple[str, ...]

    def __str__(self) -> str:
        where = f"account {self.account}" + ("" if self.bus == DEFAULT_BUS else f", bus {self.bus}")
        return f"{self.name} ({where})"

    @property
    def bus_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:event-bus/{self.bus}"


@dataclass(frozen=True)
class Placement:
    """One service in one environment: where its deploys, alarms and pipeline live."""

    service: str
    environment: str
    account: str
    region: str

    @property
    def pipeline(self) -> str:
        return naming.pipeline_name(self.service, self.environment)

    @property
    def health_alarm(self) -> str:
        return naming.health_alarm_name(self.service, self.environment)

    @property
    def application(self) -> str:
        return naming.codedeploy_application_name(self.service, self.environment)

    @property
    def deployment_group(self) -> str:
        return naming.deployment_group_name(self.service, self.environment)


@dataclass(frozen=True)
class World:
    stack: str
    tooling_account: str
    region: str
    environments: tuple[str, ...]
    placements: tuple[Placement, ...]
    approval_pipelines: tuple[str, ...]
    """Pipelines whose approval only a release manager may answer."""
    dispatch_pipelines: tuple[str, ...] = ()
    """Pipelines with a GitHub dispatch action (a service that also deploys to GCP or Azure)."""

    def placed_in(self, environment: str, account: str) -> list[Placement]:
        return [p for p in self.placements if p.environment == environment and p.account == account]

    def placed_elsewhere(self, environment: str, account: str) -> list[Placement]:
        """The environment's services that run in another account: their events must not come from this one."""
        return [p for p in self.placements if p.environment == environment and p.account != account]

    def first_in_each_environment(self) -> list[Placement]:
        firsts = {}
        for placement in self.placements:
            firsts.setdefault(placement.environment, placement)
        return [firsts[env] for env in self.environments if env in firsts]


def world_of(plan: Any) -> World:
    inputs, settings = plan.inputs, plan.inputs.settings
    placements = tuple(
        Placement(service.name, environment.name, environment.account_id, environment.region)
        for service in inputs.catalog.services
        for environment in inputs.environments_for(service)
    )
    return World(
        stack=plan.stack,
        tooling_account=settings.tooling_account_id,
        region=settings.region,
        environments=tuple(environment.name for environment in settings.environments),
        placements=placements,
        approval_pipelines=tuple(release_approvals.production_approval_pipelines(inputs)),
        dispatch_pipelines=tuple(
            naming.pipeline_name(service.name, environment.name)
            for service in inputs.catalog.services
            if service.also_deploy_to
            for environment in inputs.environments_for(service)
        ),
    )


def planned_rules(plan: Any) -> list[PlannedRule]:
    settings = plan.inputs.settings
    providers = {r.urn: r.inputs for r in plan.resources if r.type == "pulumi:providers:aws"}

    def where(provider: str | None) -> tuple[str, str]:
        if provider is None or provider not in providers:
            return settings.tooling_account_id, settings.region
        inputs = providers[provider]
        (account,) = json.loads(inputs["allowedAccountIds"])
        return account, inputs.get("region", settings.region)

    targets: dict[tuple[str, str, str | None], list[str]] = {}
    for target in (r for r in plan.resources if r.type == EVENT_TARGET):
        key = (target.inputs["rule"], target.inputs.get("eventBusName") or DEFAULT_BUS, target.provider)
        targets.setdefault(key, []).append(target.inputs["arn"])
    rules = []
    for rule in (r for r in plan.resources if r.type == EVENT_RULE):
        account, region = where(rule.provider)
        name, bus = rule.inputs["name"], rule.inputs.get("eventBusName") or DEFAULT_BUS
        pattern = rule.inputs.get("eventPattern")
        rules.append(
            PlannedRule(
                name=name,
                bus=bus,
                account=account,
                region=region,
                pattern=json.loads(pattern) if pattern else None,
                schedule=rule.inputs.get("scheduleExpression"),
                targets=tuple(sorted(targets.get((name, bus, rule.provider), []))),
            )
        )
    return rules
