"""The dependency graph as the coordination functions read it (an SSM parameter written on ``pulumi up``).

The format is ``functions/deploy_ledger/graph.py``'s contract; it carries only
what the functions decide with, so the fleet's graph stays within one parameter:
per service its dependencies, environments and the accounts it runs in where they
differ from the environment's (``accounts``), the environment's accounts and
regions, and the alarm reader role of every (environment, account) whose health
alarms a gate reads: every account a service runs in, since the gate reads each
service's own health alarm (and the bake watches it) as well as its dependencies'.
The rollback reporter reads it too: an alarm or deployment event is believed only
from the account and region the graph places its service in.
"""

from __future__ import annotations

import json
from typing import Any

from . import naming
from .catalog import Service
from .platform_inputs import PlatformInputs
from .settings import Environment

GRAPH_FORMAT_VERSION = 1


def checked_placements(inputs: PlatformInputs) -> dict[str, dict[str, Environment]]:
    """Environment name to account id to placement, for every account whose health alarms the gate reads.

    The gate reads a service's own health alarm before its Deploy stage and the
    bake watches it after, so every placement of every service is read; a
    dependency's alarm is read where the dependency runs (service account
    overrides applied), which is one of those placements too.
    """
    checked: dict[str, dict[str, Environment]] = {}
    for service in inputs.catalog.services:
        for environment in inputs.environments_for(service):
            checked.setdefault(environment.name, {})[environment.account_id] = environment
    return checked


def alarm_reader_role_arns(inputs: PlatformInputs) -> list[str]:
    """The alarm reader roles the coordinator and the gate assume: exactly those of the checked placements."""
    return sorted(
        {
            naming.role_arn(env.region, env.account_id, naming.alarm_reader_role_name(env.name))
            for by_account in checked_placements(inputs).values()
            for env in by_account.values()
        }
    )


def own_accounts(inputs: PlatformInputs, service: Service) -> dict[str, str]:
    """The environments where the service runs in an account of its own (e.g. a PCI account), to that account."""
    defaults = {environment.name: environment.account_id for environment in inputs.settings.environments}
    return {
        environment.name: environment.account_id
        for environment in inputs.environments_for(service)
        if environment.account_id != defaults[environment.name]
    }


def coordination_graph(inputs: PlatformInputs) -> dict[str, Any]:
    return {
        "formatVersion": GRAPH_FORMAT_VERSION,
        "services": {
            service.name: {
                "dependsOn": list(service.depends_on),
                "environments": [environment.name for environment in inputs.environments_for(service)],
                "onUpstreamDeploy": service.on_upstream_deploy,
                # Only where the service runs outside the environment's account: keeps the graph a standard parameter.
                **({"accounts": overrides} if (overrides := own_accounts(inputs, service)) else {}),
            }
            for service in inputs.catalog.services
        },
        "accounts": {environment.name: environment.account_id for environment in inputs.settings.environments},
        # Where events about a service may come from: its account (above) in its environment's region.
        "regions": {environment.name: environment.region for environment in inputs.settings.environments},
        "alarmReaders": {
            environment: {
                account: {
                    "region": placed.region,
                    "roleArn": naming.role_arn(placed.region, account, naming.alarm_reader_role_name(environment)),
                }
                for account, placed in sorted(by_account.items())
            }
            for environment, by_account in sorted(checked_placements(inputs).items())
        },
    }


def coordination_graph_json(inputs: PlatformInputs) -> str:
    return json.dumps(coordination_graph(inputs), separators=(",", ":"), sort_keys=True)


PIPELINE_EVENT_TYPES = (
    "CodePipeline Pipeline Execution State Change",
    "CodePipeline Stage Execution State Change",
)
EVENT_PATTERN_LIMIT = 2048
"""EventBridge quota: an event pattern holds at most 2,048 characters by default."""


def pipeline_event_patterns(
    pipeline_names: list[str], account_id: str | None = None, limit: int = EVENT_PATTERN_LIMIT
) -> list[dict[str, Any]]:
    """EventBridge patterns matching exactly these pipelines' execution and stage events, each within ``limit``.

    Exact names, not prefixes: another team's ``booking-legacy`` pipeline must
    not reach the coordinator. With ``account_id``, only that account's events:
    a pipeline of the same name in an environment account is not ours, and its
    events can reach this bus. A fleet whose names do not fit one pattern gets
    several rules with the same target.
    """

    def pattern(names: list[str]) -> dict[str, Any]:
        return {
            "source": ["aws.codepipeline"],
            **({"account": [account_id]} if account_id else {}),
            "detail-type": list(PIPELINE_EVENT_TYPES),
            "detail": {"pipeline": names},
        }

    patterns: list[dict[str, Any]] = []
    chunk: list[str] = []
    for name in sorted(pipeline_names):
        if chunk and len(json.dumps(pattern([*chunk, name]))) > limit:
            patterns.append(pattern(chunk))
            chunk = []
        chunk.append(name)
    if chunk:
        patterns.append(pattern(chunk))
    return patterns
