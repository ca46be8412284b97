"""The dependency graph as the coordination functions read it (an SSM parameter written on ``pulumi up``).

The format is ``functions/deploy_ledger/graph.py``'s contract; it carries only
what the functions decide with, so the fleet's graph stays within one parameter.
"""

from __future__ import annotations

import json
from typing import Any

from .platform_inputs import PlatformInputs

GRAPH_FORMAT_VERSION = 1


def coordination_graph(inputs: PlatformInputs) -> dict[str, Any]:
    return {
        "formatVersion": GRAPH_FORMAT_VERSION,
        "services": {
            service.name: {
                "dependsOn": list(service.depends_on),
                "environments": [environment.name for environment in inputs.environments_for(service)],
                "onUpstreamDeploy": service.on_upstream_deploy,
            }
            for service in inputs.catalog.services
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


def pipeline_event_patterns(pipeline_names: list[str], limit: int = EVENT_PATTERN_LIMIT) -> list[dict[str, Any]]:
    """EventBridge patterns matching exactly these pipelines' execution and stage events, each within ``limit``.

    Exact names, not prefixes: another team's ``booking-legacy`` pipeline must
    not reach the coordinator. A fleet whose names do not fit one pattern gets
    several rules with the same target.
    """

    def pattern(names: list[str]) -> dict[str, Any]:
        return {
            "source": ["aws.codepipeline"],
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
