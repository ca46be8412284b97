"""Which pipeline executions the GitHub dispatch function must hear end: the EventBridge patterns.

A pipeline execution that is stopped (an operator's or the approval auditor's
"Stop and abandon"), fails, is superseded or is cancelled never invokes the
dispatch action again (CodePipeline user guide, "Stop a pipeline execution"),
so a GitHub Actions run it started would deploy on to GCP or Azure. The
function cancels such runs when it hears the execution end
(``functions/github_dispatch/halting.py``). CodePipeline reports it on the
tooling account's default bus as a "CodePipeline Pipeline Execution State
Change" with ``detail.state`` ``STOPPED``, ``FAILED``, ``SUPERSEDED`` or
``CANCELED`` ("Monitoring CodePipeline events").

Exact pipeline names and the tooling account, like the coordinator's rules: a
pipeline of the same name in an environment account, or another team's pipeline
in the tooling account, is not the platform's. The function checks the account,
region and execution itself too; the pattern only keeps it from being woken for
nothing.
"""

from __future__ import annotations

import json
from typing import Any

from ..model.coordination_graph import EVENT_PATTERN_LIMIT

DETAIL_TYPE = "CodePipeline Pipeline Execution State Change"
ENDED_STATES = ("CANCELED", "FAILED", "STOPPED", "SUPERSEDED")
"""An execution over without having succeeded; ``STOPPING`` is not over yet, ``STOPPED`` follows it."""


def ended_execution_patterns(
    pipeline_names: list[str], account_id: str, limit: int = EVENT_PATTERN_LIMIT
) -> list[dict[str, Any]]:
    """Patterns for these pipelines' executions that ended without succeeding, each within ``limit`` characters."""

    def pattern(names: list[str]) -> dict[str, Any]:
        return {
            "source": ["aws.codepipeline"],
            "account": [account_id],
            "detail-type": [DETAIL_TYPE],
            "detail": {"pipeline": names, "state": list(ENDED_STATES)},
        }

    patterns: list[dict[str, Any]] = []
    chunk: list[str] = []
    for name in sorted(set(pipeline_names)):
        if chunk and len(json.dumps(pattern([*chunk, name]))) > limit:
            patterns.append(pattern(chunk))
            chunk = []
        chunk.append(name)
    if chunk:
        patterns.append(pattern(chunk))
    return patterns
