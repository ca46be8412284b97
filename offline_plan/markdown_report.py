"""The plan report, ``out/plan-<stack>.md``: the plan as a reviewer reads it on GitHub.

Sections, in order: what changes against the base (when there is one), resources by type, every
service's pipeline in every environment with its gates, approvals, bakes and rollbacks marked, the
deploy waves, the service dependency graph coloured by wave and one representative pipeline (both
Mermaid), and the policy findings by level with their remediation. It is built from the plan
document alone, like the review, so any plan file can be reported.

GitHub stops at 65,536 characters for a comment: the report file is fitted to ``COMMENT_LIMIT``
(``markdown_fit``), and when that left something out the whole report is written beside it as
``plan-<stack>.full.md``. Text that comes from the plan (names, finding messages) is escaped, so a
crafted catalog value cannot inject Markdown or HTML into a PR comment.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .diff import PlanDiff, group_label, render_finding, render_resource_change, sorted_groups
from .markdown_fit import COMMENT_LIMIT, fit, marker
from .mermaid import MAX_GRAPH_SERVICES, pipeline_diagram, service_graph, wave_colour
from .pipeline_shape import PipelineShape, StageShape, pipeline_shape
from .plan_index import PIPELINE_TYPE, PlanIndex

EXAMPLES_PER_RULE = 5
COLLAPSE_OVER_LINES = 40
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
"""Characters that could start emphasis, code, a link or a table cell inside a line (lines never start with
plan text, so list and heading markers need no escape)."""
_LAYOUT_NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def text(value: object) -> str:
    """Plan text made inert in Markdown: HTML characters as entities, Markdown punctuation escaped."""
    escaped = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def code(value: object) -> str:
    """Inline code that survives any backticks inside it."""
    raw = str(value).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", raw)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {raw} {ticks}" if longest else f"{ticks}{raw}{ticks}"


def fenced(lines: Sequence[str], language: str = "") -> str:
    """A fenced block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([f"{fence}{language}", *lines, fence])


def collapsible(summary: str, body: str, lines: int) -> str:
    if lines <= COLLAPSE_OVER_LINES:
        return body
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _diff_block_line(line: str) -> str:
    """``"    + x"`` → ``"+     x"``: the symbol in column 0, so GitHub's ``diff`` highlighting colours it."""
    found = re.match(r"^(\s*)(\+-|[+~!-]) (.*)$", line)
    if not found:
        return f"  {line}"
    indent, symbol, rest = found.groups()
    return f"{symbol:<2}{indent}{rest}"


def _stage_markdown(stage: StageShape) -> str:
    """``**Deploy**: BlueGreenDeploy (CodeDeployToECS); **gate** DeployGate (LambdaInvoke); **rollback** …``."""
    parts = [", ".join(text(action) for action in stage.actions)] if stage.actions else []
    parts += [f"**gate** {text(gate)}" for gate in stage.gates]
    parts += [f"**approval** {text(approval)}" for approval in stage.approvals]
    parts += [f"**exit gate** {text(gate)}" for gate in stage.exit_gates]
    parts += [f"**bake** {text(bake)}" for bake in stage.bakes]
    if stage.on_failure is not None:
        parts.append("**rollback** on failure" if stage.rolls_back else f"on failure {text(stage.on_failure)}")
    return f"**{text(stage.name)}**: {'; '.join(parts)}" if parts else f"**{text(stage.name)}**"


def _section(section_id: str, title: str, body: str, drop: int | None) -> str:
    return f"{marker(section_id, drop)}\n## {title}\n\n{body.strip()}\n"


def _diff_section(diff: PlanDiff) -> str:
    parts = [f"{diff.headline()}"]
    parts += [f"> {text(note)}" for note in diff.notes]
    if diff.is_empty:
        parts.append("No changes: both plans declare the same resources with the same inputs and findings.")
    if diff.pipelines:
        shapes: list[str] = []
        for group in sorted_groups([change.group for change in diff.pipelines], diff.environments):
            for change in sorted((c for c in diff.pipelines if c.group == group), key=lambda c: c.pipeline):
                shapes.append(f"@@ {group_label(group)} ({change.pipeline}) @@")
                shapes += [_diff_block_line(line) for line in change.lines]
        parts.append("### Pipelines that change shape")
        parts.append(fenced(shapes, "diff"))
    if diff.resources:
        lines: list[str] = []
        for group in sorted_groups([change.group for change in diff.resources], diff.environments):
            lines.append(f"@@ {group_label(group)} @@")
            in_group = [change for change in diff.resources if change.group == group]
            for change in sorted(
                in_group, key=lambda c: (("create", "update", "replace", "delete").index(c.action), c.type, c.name)
            ):
                lines += [_diff_block_line(line) for line in render_resource_change(change)]
        parts.append("### Resources")
        parts.append(collapsible(f"{len(diff.resources)} resource change(s)", fenced(lines, "diff"), len(lines)))
    if diff.findings:
        parts.append("### Policy findings new or gone")
        for finding in diff.findings:
            line = f"- {text(render_finding(finding))}"
            if finding.status == "new" and finding.remediation:
                line += f"  \n  Fix: {text(finding.remediation)}"
            parts.append(line)
    title = f"What changes against {code(diff.base_label)}"
    return _section("changes", title, "\n\n".join(parts), None)


def _resources_section(index: PlanIndex) -> str:
    by_type = Counter(str(resource["type"]) for resource in index.custom_resources())
    rows = ["| type | count |", "| --- | ---: |"]
    rows += [f"| {code(kind)} | {count} |" for kind, count in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))]
    body = f"{sum(by_type.values())} resources.\n\n" + "\n".join(rows)
    return _section("resources-by-type", "Resources by type", body, 1)


def _pipelines(index: PlanIndex) -> dict[tuple[str, str], PipelineShape]:
    found: dict[tuple[str, str], PipelineShape] = {}
    for urn, resource in index.resources.items():
        if resource.get("type") == PIPELINE_TYPE:
            service, environment = index.group_of(urn)
            found[(service, environment or "?")] = pipeline_shape(resource.get("inputs") or {})
    return found


def _pipelines_section(index: PlanIndex, shapes: Mapping[tuple[str, str], PipelineShape]) -> str:
    environments = list(dict.fromkeys([*index.environments, *sorted({environment for _, environment in shapes})]))
    services = sorted({service for service, _ in shapes})
    layouts: dict[tuple[StageShape, ...], str] = {}
    for service in services:  # named in the order the table below meets them
        for environment in environments:
            if (service, environment) in shapes:
                layouts.setdefault(shapes[(service, environment)].stages, _layout_name(len(layouts)))
    branches = index.summary.get("pipelines") or {}
    used = Counter(layouts[shape.stages] for shape in shapes.values())
    parts = [
        f"{len(shapes)} pipelines in {len(layouts)} layout(s). A layout is the stages in order, each with its "
        "**gates** (checked before it starts), **approval**, **exit gate** and **bake** (checked after its "
        "actions; a failed bake rolls back) and what a failure does."
    ]
    rows = ["| layout | pipelines | stages |", "| --- | ---: | --- |"]
    rows += [
        f"| {name} | {used[name]} | {' → '.join(_stage_markdown(stage) for stage in stages)} |"
        for stages, name in layouts.items()
    ]
    parts.append("\n".join(rows))
    table = ["| service | " + " | ".join(text(env) for env in environments) + " |"]
    table.append("| --- |" + " --- |" * len(environments))
    for service in services:
        cells = []
        for environment in environments:
            shape = shapes.get((service, environment))
            if shape is None:
                cells.append("—")
                continue
            branch = " ".join((branches.get(service, {}).get(environment) or {}).get("branchFilter") or [])
            cells.append(f"{layouts[shape.stages]} · {code(branch)}" if branch else layouts[shape.stages])
        table.append(f"| {text(service)} | " + " | ".join(cells) + " |")
    parts.append(
        collapsible(f"{len(table) - 2} services in {len(environments)} environments", "\n".join(table), len(table))
    )
    return _section("pipelines", "Pipelines per service and environment", "\n\n".join(parts), 2)


def _layout_name(position: int) -> str:
    name = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, len(_LAYOUT_NAMES))
        name = _LAYOUT_NAMES[remainder] + name
    return name


def _waves_section(waves_by_environment: Mapping[str, Sequence[Sequence[str]]]) -> str:
    grouped: dict[str, list[str]] = {}
    for environment, waves in waves_by_environment.items():
        rendered = " → ".join(
            f"**{number}** {', '.join(text(s) for s in wave)}" for number, wave in enumerate(waves, 1)
        )
        rendered = rendered or "no services"
        grouped.setdefault(rendered, []).append(environment)
    lines = ["A service deploys in an environment only after every wave before its own has deployed there."]
    lines += [f"- {', '.join(text(env) for env in envs)}: {rendered}" for rendered, envs in grouped.items()]
    return _section("deploy-waves", "Deploy waves", "\n".join(lines), 5)


def _graph_section(summary: Mapping[str, Any], environments: Sequence[str]) -> str | None:
    depends_on = summary.get("dependsOn")
    waves_by_environment = summary.get("deployWaves") or {}
    if not isinstance(depends_on, dict):
        return None
    coloured_by = next((env for env in reversed(environments) if env in waves_by_environment), None)
    waves = waves_by_environment.get(coloured_by, []) if coloured_by else []
    if len(depends_on) > MAX_GRAPH_SERVICES:
        body = f"{len(depends_on)} services are too many to draw; the deploy waves above list them in order."
        return _section("service-graph", "Service dependency graph", body, 4)
    legend = ", ".join(f"wave {n} {wave_colour(n)[2]}" for n in range(1, len(waves) + 1))
    body = (
        f"An arrow goes from a service to one that depends on it. Colours are the deploy waves in "
        f"{text(coloured_by or '?')}: {legend}.\n\n" + fenced(service_graph(depends_on, waves).split("\n"), "mermaid")
    )
    return _section("service-graph", "Service dependency graph", body, 4)


def representative(
    shapes: Mapping[tuple[str, str], PipelineShape],
) -> tuple[tuple[str, str], PipelineShape, int] | None:
    """The pipeline with the most guard rails, among the most common layouts: ``(where, shape, sharing)``."""
    if not shapes:
        return None
    sharing = Counter(shape.stages for shape in shapes.values())

    def weight(item: tuple[tuple[str, str], PipelineShape]) -> tuple[int, int, tuple[str, str]]:
        where, shape = item
        rails = sum(len(stage.markers()) for stage in shape.stages)
        return (-rails, -sharing[shape.stages], where)

    where, shape = min(shapes.items(), key=weight)
    return where, shape, sharing[shape.stages]


def _pipeline_diagram_section(shapes: Mapping[tuple[str, str], PipelineShape]) -> str | None:
    chosen = representative(shapes)
    if chosen is None:
        return None
    (service, environment), shape, sharing = chosen
    body = (
        f"{text(service)} in {text(environment)} ({code(shape.name)}), the layout with the most guard rails; "
        f"{sharing} pipeline(s) share it.\n\n" + fenced(pipeline_diagram(shape).split("\n"), "mermaid")
    )
    return _section("pipeline-diagram", "A representative pipeline", body, 3)


def _findings_section(document: Mapping[str, Any], plan_file: str) -> str:
    violations = list((document.get("policy") or {}).get("violations") or [])
    if not violations:
        return _section("findings", "Policy findings", "No findings.", None)
    parts: list[str] = []
    for level in ("mandatory", "advisory"):
        at_level = [v for v in violations if v.get("level") == level]
        parts.append(f"### {level.capitalize()} ({len(at_level)})")
        if not at_level:
            parts.append("None.")
            continue
        by_rule = Counter(str(v.get("policy")) for v in at_level)
        for rule, count in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0])):
            found = [v for v in at_level if v.get("policy") == rule]
            lines = [f"- **{text(rule)}**: {count} finding(s)"]
            if found[0].get("remediation"):
                lines.append(f"  - Fix: {text(found[0]['remediation'])}")
            for violation in found[:EXAMPLES_PER_RULE]:
                where = str(violation.get("urn") or "stack").rsplit("::", 1)[-1]
                lines.append(f"  - {text(violation.get('message', ''))} ({code(where)})")
            if count > EXAMPLES_PER_RULE:
                lines.append(f"  - … and {count - EXAMPLES_PER_RULE} more in {code(plan_file)}")
            parts.append("\n".join(lines))
    return _section("findings", "Policy findings", "\n\n".join(parts), None)


def render_report(document: Mapping[str, Any], diff: PlanDiff | None = None) -> str:
    """The whole report, every section, before any fitting to a size limit."""
    index = PlanIndex(document)
    summary = index.summary
    stack = index.stack
    plan_file = f"plan-{stack}.json"
    shapes = _pipelines(index)
    levels = Counter(str(v.get("level")) for v in (document.get("policy") or {}).get("violations") or [])
    custom = sum(1 for _ in index.custom_resources())
    header = [
        f"# Offline plan of stack {code(stack)}",
        "",
        f"{custom} resources ({len(index.resources) - custom} components) · {len(shapes)} pipelines · "
        f"policy: {levels['mandatory']} mandatory, {levels['advisory']} advisory · plan file {code(plan_file)}",
        "",
    ]
    sections = [_diff_section(diff)] if diff is not None else []
    sections += [
        _resources_section(index),
        _pipelines_section(index, shapes),
        _waves_section(summary.get("deployWaves") or {}),
    ]
    sections += [s for s in (_graph_section(summary, index.environments), _pipeline_diagram_section(shapes)) if s]
    sections.append(_findings_section(document, plan_file))
    return "\n".join(header) + "\n" + "\n".join(sections)


def write_report(document: Mapping[str, Any], out_dir: Path, diff: PlanDiff | None = None) -> Path:
    """``plan-<stack>.md`` (fitted to a comment) and, when fitting left something out, ``plan-<stack>.full.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stack = str(document.get("stack", "?"))
    full = render_report(document, diff)
    full_path = out_dir / f"plan-{stack}.full.md"
    fitted = fit(full, COMMENT_LIMIT, f"see {code(full_path.name)} and {code(f'plan-{stack}.json')}")
    if fitted != full:
        full_path.write_text(full, encoding="utf-8")
    else:
        full_path.unlink(missing_ok=True)
    path = out_dir / f"plan-{stack}.md"
    path.write_text(fitted, encoding="utf-8")
    return path
