"""What a change to the platform does, from two plan documents: the review ``make plan-diff`` prints.

Resources are matched the way the engine matches them: by URN, or through an alias the new resource
declares (the engine keeps a resource that moved under a new parent when an alias names its old URN).
A resource only in the new plan is created, only in the old one deleted; one in both whose inputs
differ is updated, or replaced when a changed input forces it (``replacement``) or it moved to another
provider. Components are not cloud resources and are left out, as ``resourceCount`` leaves them out.

Pipelines that change shape come first, because a lost approval or rollback is what a release
manager must not miss in a hundred lines of property changes; then every resource change, grouped
by service and environment; then the policy findings that are new or gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import replacement
from .pipeline_shape import pipeline_shape, shape_changes
from .plan_index import PIPELINE_TYPE, PLATFORM, PlanIndex, is_component, short_type
from .value_diff import Change, diff_values, render_change

Action = Literal["create", "update", "replace", "delete"]
ACTION_ORDER: tuple[Action, ...] = ("create", "update", "replace", "delete")
SYMBOL: dict[Action, str] = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}


@dataclass(frozen=True)
class ResourceChange:
    action: Action
    urn: str
    type: str
    name: str
    group: tuple[str, str | None]
    changes: tuple[Change, ...] = ()
    replaced_by: tuple[str, ...] = ()
    """The changed inputs that force the replacement (or ``"provider"``)."""
    cautions: tuple[str, ...] = ()
    unknown_type: bool = False
    """No replacement rules for this type: an update here might be a replacement."""


@dataclass(frozen=True)
class PipelineChange:
    group: tuple[str, str | None]
    pipeline: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class FindingChange:
    status: Literal["new", "gone"]
    level: str
    policy: str
    message: str
    where: str
    remediation: str = ""


@dataclass(frozen=True)
class PlanDiff:
    stack: str
    base_label: str
    head_label: str
    environments: tuple[str, ...]
    resources: tuple[ResourceChange, ...] = ()
    pipelines: tuple[PipelineChange, ...] = ()
    findings: tuple[FindingChange, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def count(self, action: Action) -> int:
        return sum(1 for change in self.resources if change.action == action)

    @property
    def is_empty(self) -> bool:
        return not (self.resources or self.pipelines or self.findings)

    def headline(self) -> str:
        findings = Counter(finding.status for finding in self.findings)
        counts = " · ".join(f"{self.count(action)} to {action}" for action in ACTION_ORDER)
        return (
            f"{len(self.pipelines)} pipeline(s) change shape · {counts} · "
            f"findings: {findings['new']} new, {findings['gone']} gone"
        )


def _former_urns(index: PlanIndex, urn: str, cache: dict[str, set[str]]) -> set[str]:
    """The URNs the engine would match this resource against: its own, its aliases, its parents' aliases."""
    if urn in cache:
        return cache[urn]
    cache[urn] = {urn}
    resource = index.resources[urn]
    found = {urn, *resource.get("aliases", [])}
    parent = resource.get("parent")
    if parent in index.resources:
        prefix, _, _ = urn.rpartition("::")
        head = "::".join(prefix.split("::")[:2])
        for former_parent in _former_urns(index, parent, cache) - {parent}:
            parent_chain = former_parent.split("::")[2]
            found.add(f"{head}::{parent_chain}${resource['type']}::{resource['name']}")
    cache[urn] = found
    return found


def _match(base: PlanIndex, head: PlanIndex) -> dict[str, str]:
    """head URN → base URN for every resource the engine would treat as the same one."""
    matched: dict[str, str] = {}
    taken: set[str] = set()
    cache: dict[str, set[str]] = {}
    for urn in head.resources:
        if urn in base.resources:
            matched[urn] = urn
            taken.add(urn)
    for urn in head.resources:
        if urn in matched:
            continue
        for former in sorted(_former_urns(head, urn, cache) - {urn}):
            if former in base.resources and former not in taken:
                matched[urn] = former
                taken.add(former)
                break
    return matched


def _resource_change(
    head: PlanIndex, urn: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> ResourceChange | None:
    changes = diff_values(old.get("inputs") or {}, new.get("inputs") or {})
    provider_moved = (old.get("provider") or None) != (new.get("provider") or None)
    if not changes and not provider_moved:
        return None
    resource_type = str(new["type"])
    changed_inputs = list(dict.fromkeys(change.top_level_input for change in changes))
    replaced_by = replacement.replacing_inputs(resource_type, changed_inputs)
    if provider_moved:
        replaced_by.append(replacement.PROVIDER_CHANGE)
        changes.append(Change("(provider)", old.get("provider") or "default", new.get("provider") or "default"))
    return ResourceChange(
        action="replace" if replaced_by else "update",
        urn=urn,
        type=resource_type,
        name=str(new["name"]),
        group=head.group_of(urn),
        changes=tuple(changes),
        replaced_by=tuple(replaced_by),
        cautions=tuple(replacement.cautions_for(resource_type, changed_inputs)),
        unknown_type=replacement.rules_for(resource_type) is None,
    )


def _resource_changes(base: PlanIndex, head: PlanIndex, matched: Mapping[str, str]) -> list[ResourceChange]:
    found: list[ResourceChange] = []
    for urn, resource in head.resources.items():
        if is_component(resource):
            continue
        if urn not in matched:
            found.append(
                ResourceChange("create", urn, str(resource["type"]), str(resource["name"]), head.group_of(urn))
            )
            continue
        change = _resource_change(head, urn, base.resources[matched[urn]], resource)
        if change is not None:
            found.append(change)
    kept = set(matched.values())
    for urn, resource in base.resources.items():
        if urn not in kept and not is_component(resource):
            found.append(
                ResourceChange("delete", urn, str(resource["type"]), str(resource["name"]), base.group_of(urn))
            )
    return found


def _pipeline_changes(base: PlanIndex, head: PlanIndex, matched: Mapping[str, str]) -> list[PipelineChange]:
    found: list[PipelineChange] = []
    for urn, resource in head.resources.items():
        if resource.get("type") != PIPELINE_TYPE:
            continue
        new = pipeline_shape(resource.get("inputs") or {})
        if urn not in matched:
            found.append(PipelineChange(head.group_of(urn), new.name, (f"+ new pipeline: {new.describe()}",)))
            continue
        old = pipeline_shape(base.resources[matched[urn]].get("inputs") or {})
        lines = shape_changes(old, new)
        if lines:
            found.append(PipelineChange(head.group_of(urn), new.name, tuple(lines)))
    kept = set(matched.values())
    for urn, resource in base.resources.items():
        if resource.get("type") == PIPELINE_TYPE and urn not in kept:
            old = pipeline_shape(resource.get("inputs") or {})
            found.append(PipelineChange(base.group_of(urn), old.name, (f"- pipeline removed: {old.describe()}",)))
    return found


def _where(urn: str | None) -> str:
    return urn.rsplit("::", 1)[-1] if urn else "stack"


def _finding_key(violation: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(violation.get("level", "")),
        str(violation.get("policy", "")),
        _where(violation.get("urn")),
        str(violation.get("message", "")),
    )


def _finding_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[FindingChange]:
    """Findings compared by level, rule, resource name and message (URNs of moved resources may differ)."""

    def violations(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return list((document.get("policy") or {}).get("violations") or [])

    before = Counter(_finding_key(v) for v in violations(base))
    after = Counter(_finding_key(v) for v in violations(head))
    remediation = {_finding_key(v): str(v.get("remediation") or "") for v in violations(base) + violations(head)}
    found: list[FindingChange] = []
    for status, keys in (("new", after - before), ("gone", before - after)):
        for key in sorted(keys.elements(), key=lambda k: (k[0] != "mandatory", k[1], k[2], k[3])):
            level, policy, where, message = key
            found.append(FindingChange(status, level, policy, message, where, remediation[key]))  # type: ignore[arg-type]
    return found


def diff_plans(
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    *,
    base_label: str = "base",
    head_label: str = "working tree",
) -> PlanDiff:
    """The review of going from the ``base`` plan document to the ``head`` one (same stack)."""
    base_index, head_index = PlanIndex(base), PlanIndex(head)
    matched = _match(base_index, head_index)
    environments = tuple(dict.fromkeys(head_index.environments + base_index.environments))
    notes = []
    if base_index.stack != head_index.stack:
        notes.append(f"the plans are of different stacks ({base_index.stack} and {head_index.stack})")
    return PlanDiff(
        stack=head_index.stack,
        base_label=base_label,
        head_label=head_label,
        environments=environments,
        resources=tuple(_resource_changes(base_index, head_index, matched)),
        pipelines=tuple(_pipeline_changes(base_index, head_index, matched)),
        findings=tuple(_finding_changes(base, head)),
        notes=tuple(notes),
    )


def group_label(group: tuple[str, str | None]) -> str:
    service, environment = group
    return f"{service} / {environment}" if environment else service


def sorted_groups(
    groups: Sequence[tuple[str, str | None]], environments: Sequence[str]
) -> list[tuple[str, str | None]]:
    """Platform first, then services by name; within each, the environment-wide group first, then by stage."""

    def key(group: tuple[str, str | None]) -> tuple[int, str, int]:
        service, environment = group
        position = environments.index(environment) + 1 if environment in environments else 0
        if environment is not None and environment not in environments:
            position = len(environments) + 1
        return (service != PLATFORM, service, position)

    return sorted(set(groups), key=key)


def resource_line(change: ResourceChange) -> str:
    line = f"{SYMBOL[change.action]} {short_type(change.type)} {change.name}"
    if change.replaced_by:
        line += f" (replaced: {', '.join(change.replaced_by)} changed)"
    elif change.action == "update" and change.unknown_type:
        line += " (replacement rules unknown for this type: it may be replaced)"
    return line


def render_resource_change(change: ResourceChange) -> list[str]:
    lines = [resource_line(change)]
    for detail in change.changes:
        lines += [f"    {line}" for line in render_change(detail)]
    lines += [f"    ! {caution}" for caution in change.cautions]
    return lines


def render_finding(finding: FindingChange) -> str:
    symbol = "+" if finding.status == "new" else "-"
    return f"{symbol} [{finding.level}] {finding.policy}: {finding.message} ({finding.where})"


def render_review(diff: PlanDiff) -> list[str]:
    """The review as plain text lines, as ``make plan-diff`` prints it."""
    lines = [f"Review of stack '{diff.stack}': {diff.base_label} → {diff.head_label}", diff.headline()]
    lines += [f"note: {note}" for note in diff.notes]
    if diff.is_empty:
        lines.append("No changes: both plans declare the same resources with the same inputs and findings.")
        return lines
    if diff.pipelines:
        lines += ["", "Pipelines that change shape:"]
        by_group = {change.group for change in diff.pipelines}
        for group in sorted_groups(list(by_group), diff.environments):
            for change in sorted((c for c in diff.pipelines if c.group == group), key=lambda c: c.pipeline):
                lines.append(f"  {group_label(group)} ({change.pipeline}):")
                lines += [f"    {line}" for line in change.lines]
    if diff.resources:
        lines += ["", "Resources:"]
        for group in sorted_groups([change.group for change in diff.resources], diff.environments):
            lines.append(f"  {group_label(group)}:")
            in_group = [change for change in diff.resources if change.group == group]
            for change in sorted(in_group, key=lambda c: (ACTION_ORDER.index(c.action), c.type, c.name)):
                lines += [f"    {line}" for line in render_resource_change(change)]
    if diff.findings:
        lines += ["", "Policy findings:"]
        lines += [f"  {render_finding(finding)}" for finding in diff.findings]
    return lines
