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
