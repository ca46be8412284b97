"""The plan file (``out/plan-<stack>.json``) and the short summary printed after a run.

The JSON shape is a contract other tools read: fields are added, never renamed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from components.model.artifact_retention import render_retention, retention_summary

from . import plan_json
from .runner import Plan

PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"
SERVICE_COMPONENT = "cicd:service:ServicePipeline"
PLAN_FORMAT_VERSION = 1


def service_of(plan: Plan) -> dict[str, str]:
    """URN → owning service, found by walking parents up to a ServicePipeline."""
    by_urn = {resource.urn: resource for resource in plan.resources}
    owners: dict[str, str] = {}
    for resource in plan.resources:
        current = resource
        while current is not None:
            if current.type == SERVICE_COMPONENT:
                owners[resource.urn] = current.name
                break
            current = by_urn.get(current.parent) if current.parent else None
    return owners


def pipelines_by_service(plan: Plan, owners: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    """service → environment → {name, branchFilter, pipelineType, stages}; ``owners`` from ``service_of``."""
    pipelines: dict[str, dict[str, dict[str, Any]]] = {}
    for resource in plan.resources:
        if resource.type != PIPELINE_TYPE:
            continue
        inputs = resource.inputs
        service = owners.get(resource.urn, "(none)")
        environment = inputs.get("tags", {}).get("environment", "?")
        branches = [
            branch
            for trigger in inputs.get("triggers", [])
            for push in trigger.get("gitConfiguration", {}).get("pushes", [])
            for branch in push.get("branches", {}).get("includes", [])
        ]
        pipelines.setdefault(service, {})[environment] = {
            "name": inputs.get("name"),
            "pipelineType": inputs.get("pipelineType"),
            "branchFilter": branches,
            "stages": [stage.get("name") for stage in inputs.get("stages", [])],
        }
    order = [environment.name for environment in plan.inputs.settings.environments]
    return {
        service: dict(sorted(by_env.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
        for service, by_env in sorted(pipelines.items())
    }


LEVEL_ORDER = ("mandatory", "advisory")
EXAMPLES_PER_RULE = 3


def violations_by_rule(plan: Plan) -> dict[str, dict[str, int]]:
    """level → rule → count, mandatory first, rules by count then name."""
    counts = Counter((violation.level, violation.policy) for violation in plan.violations)
    return {
        level: dict(
            sorted(((rule, n) for (lvl, rule), n in counts.items() if lvl == level), key=lambda kv: (-kv[1], kv[0]))
        )
        for level in LEVEL_ORDER
    }


def summary(plan: Plan) -> dict[str, Any]:
    custom = [resource for resource in plan.resources if resource.custom]
    owners = service_of(plan)
    levels = Counter(violation.level for violation in plan.violations)
    return {
        "resourceCount": len(custom),
        "componentCount": len(plan.resources) - len(custom),
        "resourcesByType": dict(sorted(Counter(resource.type for resource in custom).items())),
        "resourcesByService": dict(sorted(Counter(owners.get(r.urn, "(shared)") for r in custom).items())),
        "pipelines": pipelines_by_service(plan, owners),
        "deployOrder": plan.inputs.catalog.deploy_order,
        "dependsOn": {service.name: list(service.depends_on) for service in plan.inputs.catalog.services},
        "deployWaves": plan.inputs.deploy_waves(),
        # Who shares which CodeBuild capacity (README: Scaling to a large fleet, build queues).
        "buildQueues": plan.inputs.build_queue_summary(),
        # What lives how long (README: Artifact retention): the bucket's kinds of objects, logs and images.
        "artifactRetention": retention_summary(plan.inputs.catalog, plan.inputs.settings, plan.inputs.stack),
        "violations": {"mandatory": levels.get("mandatory", 0), "advisory": levels.get("advisory", 0)},
        "violationsByRule": violations_by_rule(plan),
        "durationSeconds": round(plan.seconds, 3),
        # Where the time went (bench/ reads it): reading inputs, running the program, judging it with the pack.
        "phaseSeconds": {phase: round(seconds, 3) for phase, seconds in plan.phase_seconds.items()},
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "formatVersion": PLAN_FORMAT_VERSION,
        "stack": plan.stack,
        "project": plan.project,
        # Registration order depends on asyncio scheduling; URN order keeps plans diffable.
        "resources": [resource.as_plan_entry() for resource in sorted(plan.resources, key=lambda r: r.urn)],
        "outputs": plan.outputs,
        "policy": {"violations": [violation.as_plan_entry() for violation in plan.violations]},
        "summary": summary(plan),
    }


def write_plan(document: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"plan-{document['stack']}.json"
    path.write_text(plan_json.dumps(document) + "\n", encoding="utf-8")
    return path


GUARDRAIL_SCP_OUTPUT = "approvalGuardrailScp"


def write_guardrail_scp(document: dict[str, Any], out_dir: Path) -> Path | None:
    """``out/scp-<stack>.json``: the approval guardrail SCP, exactly as an organization admin pastes it."""
    scp = document.get("outputs", {}).get(GUARDRAIL_SCP_OUTPUT)
    if not isinstance(scp, str):
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"scp-{document['stack']}.json"
    path.write_text(scp + "\n", encoding="utf-8")
    return path


def render_summary(plan: Plan, facts: dict[str, Any], path: Path) -> str:
    """The printed summary, from the ``summary`` already computed for the plan file."""
    lines = [
        f"offline plan of stack '{plan.stack}': {facts['resourceCount']} resources "
        f"in {facts['durationSeconds']:.1f}s -> {path}"
    ]
    lines.append("resources by type:")
    lines += [
        f"  {count:5d}  {kind}"
        for kind, count in sorted(facts["resourcesByType"].items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    lines.append("resources per service:")
    lines += [f"  {count:5d}  {service}" for service, count in facts["resourcesByService"].items()]
    lines.append("pipelines per service and environment (branch filter):")
    for service in facts["deployOrder"]:
        environments = facts["pipelines"].get(service, {})
        rendered = ", ".join(f"{env} ({' '.join(p['branchFilter'])})" for env, p in environments.items())
        lines.append(f"  {service}: {rendered}")
    lines.append("deploy waves per environment (a wave waits for the ones before it):")
    for environment, waves in facts["deployWaves"].items():
        rendered = "  ".join(f"{index}) {', '.join(wave)}" for index, wave in enumerate(waves, start=1))
        lines.append(f"  {environment}: {rendered}")
    lines.append("build queues (CodeBuild capacity and who builds there):")
    lines += [f"  {queue}: {render_queue(entry)}" for queue, entry in facts["buildQueues"].items()]
    lines.append(f"artifact retention: {render_retention(facts['artifactRetention'])}")
    counts = facts["violations"]
    lines.append(f"policy: {counts['mandatory']} mandatory, {counts['advisory']} advisory violation(s)")
    lines += render_violations(plan, facts["violationsByRule"], path)
    return "\n".join(lines)


def render_queue(entry: dict[str, Any]) -> str:
    """One queue of the summary: its capacity, then its services."""
    fleet = entry.get("fleet")
    if fleet:
        capacity = f"fleet of {fleet['baseCapacity']} {fleet['computeType']}, overflow {fleet['overflowBehavior']}"
    elif "concurrentBuildLimit" in entry:
        capacity = f"on demand, at most {entry['concurrentBuildLimit']} builds per project"
    else:
        capacity = "on demand"
    return f"{capacity} — {', '.join(entry['services'])}"


def render_violations(plan: Plan, by_rule: dict[str, dict[str, int]], path: Path) -> list[str]:
    """Findings grouped by level (mandatory first) and rule, a few examples each; the plan file has them all."""
    lines: list[str] = []
    for level in LEVEL_ORDER:
        for rule, count in by_rule.get(level, {}).items():
            found = [v for v in plan.violations if v.level == level and v.policy == rule]
            lines.append(f"  [{level}] {rule}: {count} finding(s)")
            for violation in found[:EXAMPLES_PER_RULE]:
                where = violation.urn.rsplit("::", 1)[-1] if violation.urn else "stack"
                lines.append(f"      {violation.message} ({where})")
            if count > EXAMPLES_PER_RULE:
                lines.append(f"      … and {count - EXAMPLES_PER_RULE} more in {path}")
            if found and found[0].remediation:
                lines.append(f"      fix: {found[0].remediation}")
    return lines
