"""Mermaid diagrams of a plan: the service dependency graph coloured by deploy wave, and one pipeline.

GitHub renders ```` ```mermaid ```` blocks in comments, job summaries and Markdown files. Node ids
are generated (``s0``, ``st1``), never taken from names: a service called ``end`` or ``graph`` would
otherwise be read as a keyword. Labels are quoted with Mermaid's entity codes for the characters
that would end them. ``tests/offline_plan/test_markdown_report.py`` parses every block with the
Mermaid parser from npm (``tools/check_mermaid.mjs``), as GitHub's renderer would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .pipeline_shape import PipelineShape

MAX_GRAPH_SERVICES = 150
"""Past this the graph is unreadable and nears Mermaid's text limit; the report lists the waves instead."""

WAVE_COLOURS = (
    ("#dbeafe", "#1d4ed8", "blue"),
    ("#dcfce7", "#15803d", "green"),
    ("#fef9c3", "#a16207", "yellow"),
    ("#fee2e2", "#b91c1c", "red"),
    ("#ede9fe", "#6d28d9", "purple"),
    ("#cffafe", "#0e7490", "cyan"),
    ("#ffedd5", "#c2410c", "orange"),
    ("#fce7f3", "#be185d", "pink"),
)
OTHER_COLOUR = ("#f3f4f6", "#6b7280", "grey")

_ENTITIES = (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;"))


def _escaped(text: str) -> str:
    for raw, code in _ENTITIES:
        text = text.replace(raw, code)
    return text


def label(*lines: str) -> str:
    """The lines as one quoted Mermaid label: entity codes for characters that would end it, ``<br/>`` between."""
    return '"' + "<br/>".join(_escaped(line) for line in lines) + '"'


def wave_colour(wave: int) -> tuple[str, str, str]:
    """Fill, stroke and name of the colour of ``wave`` (1-based); ``0`` is "not in this environment"."""
    return OTHER_COLOUR if wave <= 0 else WAVE_COLOURS[(wave - 1) % len(WAVE_COLOURS)]


def service_graph(depends_on: Mapping[str, Sequence[str]], waves: Sequence[Sequence[str]]) -> str:
    """``flowchart LR``: an arrow from each dependency to the service that waits for it, nodes coloured by wave."""
    services = sorted(set(depends_on) | {dep for deps in depends_on.values() for dep in deps})
    ids = {service: f"s{index}" for index, service in enumerate(services)}
    wave_of = {service: number for number, wave in enumerate(waves, start=1) for service in wave}
    lines = ["flowchart LR"]
    lines += [f"  {ids[service]}[{label(service)}]" for service in services]
    lines += [
        f"  {ids[dependency]} --> {ids[service]}"
        for service in services
        for dependency in sorted(depends_on.get(service, ()))
        if dependency in ids
    ]
    used = sorted({wave_of.get(service, 0) for service in services})
    for wave in used:
        fill, stroke, _ = wave_colour(wave)
        lines.append(f"  classDef wave{wave} fill:{fill},stroke:{stroke},color:#111827")
        members = ",".join(ids[service] for service in services if wave_of.get(service, 0) == wave)
        lines.append(f"  class {members} wave{wave}")
    return "\n".join(lines)


def pipeline_diagram(shape: PipelineShape) -> str:
    """``flowchart LR`` of one pipeline: stages in order, gates before them, bakes and rollbacks after."""
    lines = ["flowchart LR"]
    previous: str | None = None
    for index, stage in enumerate(shape.stages):
        node = f"st{index}"
        body = [stage.name, *stage.actions, *(f"approval: {approval}" for approval in stage.approvals)]
        lines.append(f"  {node}[{label(*body)}]")
        entry = node
        if stage.gates:
            gate = f"g{index}"
            lines.append(f"  {gate}{{{{{label('gate', *stage.gates)}}}}}")
            lines.append(f"  {gate} --> {node}")
            entry = gate
        if previous is not None:
            lines.append(f"  {previous} --> {entry}")
        previous = node
        if stage.exit_gates:
            check = f"x{index}"
            lines.append(f"  {check}{{{{{label('exit gate', *stage.exit_gates)}}}}}")
            lines.append(f"  {node} --> {check}")
            previous = check
        if stage.bakes:
            bake = f"b{index}"
            lines.append(f"  {bake}[/{label('bake', *stage.bakes)}/]")
            lines.append(f"  {node} --> {bake}")
            previous = bake
        if stage.on_failure is not None:
            outcome = f"f{index}"
            text = "roll back" if stage.rolls_back else stage.on_failure.lower()
            lines.append(f"  {outcome}([{label(text)}])")
            lines.append(f"  {node} -. on failure .-> {outcome}")
    lines.append("  classDef gate fill:#fef9c3,stroke:#a16207,color:#111827")
    lines.append("  classDef fail fill:#fee2e2,stroke:#b91c1c,color:#111827")
    gates = [f"g{i}" for i, s in enumerate(shape.stages) if s.gates]
    gates += [f"x{i}" for i, s in enumerate(shape.stages) if s.exit_gates]
    gates += [f"b{i}" for i, s in enumerate(shape.stages) if s.bakes]
    if gates:
        lines.append(f"  class {','.join(gates)} gate")
    failures = [f"f{i}" for i, s in enumerate(shape.stages) if s.on_failure is not None]
    if failures:
        lines.append(f"  class {','.join(failures)} fail")
    return "\n".join(lines)
