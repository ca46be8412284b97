"""Which events an environment account may forward to the tooling account, as EventBridge patterns.

An event from an environment account is a claim written by whoever can use
CloudWatch or CodeDeploy there: an alarm named ``cicd-payments-prod-health`` can
be created in any account. So every layer that passes such an event on names
exactly what the catalog places in that account (``PlatformInputs.environment_accounts``
with the services' own accounts applied): the forwarding rules in the account
match only its own services' health alarms and CodeDeploy applications, and only
events of that account and region; the tooling bus's policy admits the account
only for the sources and detail types its rules forward; and the rollback
reporter's rule on that bus matches, per account, exactly what that account's
rules forward. The reporter checks the event's account and region against the
same placements once more, at run time, from the dependency graph.

Patterns list names exactly, not by wildcard (EventBridge allows at most 30
rules with wildcards per bus, and a wildcard such as ``cicd-*-prod-health``
matches another account's service). A pattern holds at most 2,048 characters
(Amazon EventBridge quotas, "Event pattern size"), so a fleet whose names do not
fit is split into several patterns, each a rule of its own with the same target.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import naming
from .platform_inputs import PlatformInputs
from .settings import Environment

EVENT_PATTERN_LIMIT = 2048
"""EventBridge quota: an event pattern holds at most 2,048 characters by default (adjustable to 4,096)."""

ALARM_SOURCE, ALARM_DETAIL_TYPE = "aws.cloudwatch", "CloudWatch Alarm State Change"
DEPLOYMENT_SOURCE, DEPLOYMENT_DETAIL_TYPE = "aws.codedeploy", "CodeDeploy Deployment State-change Notification"
REPORTED_DEPLOYMENT_STATES = ("FAILURE", "STOP")
"""``STOP`` is a deployment stopped by its own alarm (``DEPLOYMENT_STOP_ON_ALARM``): the one most worth reporting."""

HEALTH_ALARMS, FAILED_DEPLOYMENTS = "health-alarms", "failed-deployments"
"""The two kinds of forwarded events; each is one rule (or a few, for a large fleet) per environment account."""

Pattern = dict[str, Any]


@dataclass(frozen=True)
class ForwardingPlacement:
    """One environment in one account, and the services that run there for it (service accounts applied)."""

    environment: Environment
    services: tuple[str, ...]


def forwarding_placements(inputs: PlatformInputs) -> list[ForwardingPlacement]:
    """Every (environment, account) that receives deploys, with exactly the services placed there."""
    placements = []
    for environment, _platforms in inputs.environment_accounts():
        services = tuple(
            sorted(
                service.name
                for service in inputs.catalog.services
                if any(
                    placed.name == environment.name and placed.account_id == environment.account_id
                    for placed in inputs.environments_for(service)
                )
            )
        )
        placements.append(ForwardingPlacement(environment, services))
    return placements


def _origin(source: str, detail_type: str, environment: Environment) -> Pattern:
    """Events of this account and region only: a default bus may also carry events other accounts put there."""
    return {
        "source": [source],
        "detail-type": [detail_type],
        "account": [environment.account_id],
        "region": [environment.region],
    }


def _split(names: Sequence[str], pattern_for: Callable[[list[str]], Pattern], limit: int) -> list[Pattern]:
    """``pattern_for`` over consecutive runs of ``names``, each pattern within ``limit`` characters."""
    patterns: list[Pattern] = []
    run: list[str] = []
    for name in names:
        if run and len(json.dumps(pattern_for([*run, name]))) > limit:
            patterns.append(pattern_for(run))
            run = []
        run.append(name)
    if run:
        patterns.append(pattern_for(run))
    too_long = [p for p in patterns if len(json.dumps(p)) > limit]
    if too_long:
        raise ValueError(f"an event pattern for one name alone exceeds {limit} characters: {too_long[0]}")
    return patterns


def health_alarm_patterns(placement: ForwardingPlacement, limit: int = EVENT_PATTERN_LIMIT) -> list[Pattern]:
    """The composite health alarms of the placement's services entering ALARM, in its account and region."""
    environment = placement.environment
    names = [naming.health_alarm_name(service, environment.name) for service in placement.services]

    def pattern(run: list[str]) -> Pattern:
        return {
            **_origin(ALARM_SOURCE, ALARM_DETAIL_TYPE, environment),
            "detail": {"alarmName": run, "state": {"value": ["ALARM"]}},
        }

    return _split(names, pattern, limit)


def failed_deployment_patterns(placement: ForwardingPlacement, limit: int = EVENT_PATTERN_LIMIT) -> list[Pattern]:
    """The placement's CodeDeploy applications failing or stopping, in its account and region."""
    environment = placement.environment
    names = [naming.codedeploy_application_name(service, environment.name) for service in placement.services]

    def pattern(run: list[str]) -> Pattern:
        return {
            **_origin(DEPLOYMENT_SOURCE, DEPLOYMENT_DETAIL_TYPE, environment),
            "detail": {"application": run, "state": list(REPORTED_DEPLOYMENT_STATES)},
        }

    return _split(names, pattern, limit)


def forwarding_patterns(placement: ForwardingPlacement, limit: int = EVENT_PATTERN_LIMIT) -> dict[str, list[Pattern]]:
    """Per kind of event, the patterns of the rules that forward it from this placement's account."""
    if not placement.services:
        return {}
    return {
        HEALTH_ALARMS: health_alarm_patterns(placement, limit),
        FAILED_DEPLOYMENTS: failed_deployment_patterns(placement, limit),
    }


def forwarded_patterns(placements: Sequence[ForwardingPlacement], limit: int = EVENT_PATTERN_LIMIT) -> list[Pattern]:
    """The reporter's rules on the tooling bus: per account, exactly what that account's rules forward.

    Every forwarding pattern already names its account, region and services, so
    the reporter's patterns are the same patterns joined with ``$or``, as few
    per rule as the size limit allows.
    """
    branches = [
        pattern
        for placement in placements
        for kind in forwarding_patterns(placement, limit).values()
        for pattern in kind
    ]
    rules: list[Pattern] = []
    run: list[Pattern] = []
    for branch in branches:
        if run and len(json.dumps(_any_of([*run, branch]))) > limit:
            rules.append(_any_of(run))
            run = []
        run.append(branch)
    if run:
        rules.append(_any_of(run))
    return rules


def _any_of(branches: list[Pattern]) -> Pattern:
    return branches[0] if len(branches) == 1 else {"$or": branches}
