"""A pipeline as a release manager reads it: stages, and on each the gates, approvals, bake and rollback.

Read from the CodePipeline V2 inputs in the plan: a stage's ``beforeEntry`` rules are its gates, its
``onSuccess`` rules run after its actions (a rule whose result is ``ROLLBACK`` is a bake: the stage
watches it and rolls back), ``onFailure.result`` says what a failure does, and an action of category
``Approval`` is a manual approval. The platform bakes a deploy with a Lambda ``Invoke`` action after the
deploy (its deploy gate called with ``bakeMinutes``; a failed action fails the stage, which rolls back),
because a ``CloudWatchAlarm`` rule cannot read an alarm in another account; that action is a bake too.
The shapes of two plans are compared here, so a removed approval or
rollback is called out before any property diff.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ROLLBACK = "ROLLBACK"
APPROVAL_CATEGORY = "Approval"


@dataclass(frozen=True)
class StageShape:
    name: str
    actions: tuple[str, ...] = ()
    """``"<name> (<provider>)"`` for every action but the approvals."""
    approvals: tuple[str, ...] = ()
    gates: tuple[str, ...] = ()
    """Rules that must pass before the stage starts (``beforeEntry``)."""
    exit_gates: tuple[str, ...] = ()
    """Rules checked after the actions succeed; failing one fails the stage."""
    bakes: tuple[str, ...] = ()
    """Rules checked after the actions succeed, or bake actions after the deploy; failing one rolls back."""
    on_failure: str | None = None
    """What a failed stage does (``ROLLBACK``, ``RETRY``, ``FAIL``), when the pipeline says."""

    @property
    def rolls_back(self) -> bool:
        return self.on_failure == ROLLBACK

    def markers(self) -> list[str]:
        """The stage's guard rails, in the order they act."""
        marks = [f"gate {gate}" for gate in self.gates]
        marks += [f"approval {approval}" for approval in self.approvals]
        marks += [f"exit gate {gate}" for gate in self.exit_gates]
        marks += [f"bake {bake}" for bake in self.bakes]
        if self.on_failure is not None:
            marks.append("rollback on failure" if self.rolls_back else f"on failure {self.on_failure}")
        return marks

    def describe(self) -> str:
        """The stage and its guard rails: ``Deploy [gate DeployGate (LambdaInvoke); rollback on failure]``."""
        marks = self.markers()
        return f"{self.name} [{'; '.join(marks)}]" if marks else self.name

    def details(self) -> str:
        """The stage, its actions and its guard rails: what a stage added or removed takes with it."""
        parts = [", ".join(self.actions)] if self.actions else []
        parts += self.markers()
        return f"{self.name}: {'; '.join(parts)}" if parts else self.name


@dataclass(frozen=True)
class PipelineShape:
    name: str
    stages: tuple[StageShape, ...]

    def describe(self) -> str:
        return " → ".join(stage.describe() for stage in self.stages)


def _rule_label(rule: Mapping[str, Any]) -> str:
    provider = (rule.get("ruleTypeId") or {}).get("provider", "?")
    return f"{rule.get('name', '?')} ({provider})"


def _condition(block: Mapping[str, Any] | None) -> tuple[str | None, tuple[str, ...]]:
    condition = (block or {}).get("condition") or {}
    return condition.get("result"), tuple(_rule_label(rule) for rule in condition.get("rules") or [])


def _is_bake_action(action: Mapping[str, Any]) -> bool:
    """A Lambda ``Invoke`` whose parameters ask the function to watch the deploy for ``bakeMinutes``."""
    if action.get("category") != "Invoke" or action.get("provider") != "Lambda":
        return False
    parameters = (action.get("configuration") or {}).get("UserParameters")
    try:
        decoded = json.loads(parameters) if isinstance(parameters, str) else None
    except ValueError:
        return False
    return isinstance(decoded, dict) and "bakeMinutes" in decoded


def _action_label(action: Mapping[str, Any]) -> str:
    return f"{action.get('name', '?')} ({action.get('provider', '?')})"


def stage_shape(stage: Mapping[str, Any]) -> StageShape:
    actions = stage.get("actions") or []
    _, gates = _condition(stage.get("beforeEntry"))
    success_result, success_rules = _condition(stage.get("onSuccess"))
    bake_actions = tuple(_action_label(action) for action in actions if _is_bake_action(action))
    bakes = (success_rules if success_result == ROLLBACK else ()) + bake_actions
    exit_gates = () if success_result == ROLLBACK else success_rules
    on_failure = (stage.get("onFailure") or {}).get("result")
    return StageShape(
        name=str(stage.get("name", "?")),
        actions=tuple(
            _action_label(action)
            for action in actions
            if action.get("category") != APPROVAL_CATEGORY and not _is_bake_action(action)
        ),
        approvals=tuple(
            str(action.get("name", "?")) for action in actions if action.get("category") == APPROVAL_CATEGORY
        ),
        gates=gates,
        exit_gates=exit_gates,
        bakes=bakes,
        on_failure=on_failure,
    )


def pipeline_shape(inputs: Mapping[str, Any]) -> PipelineShape:
    """The shape of a ``aws:codepipeline/pipeline:Pipeline`` from its plan inputs."""
    return PipelineShape(
        name=str(inputs.get("name", "?")), stages=tuple(stage_shape(stage) for stage in inputs.get("stages") or [])
    )


def _added_removed(label: str, stage: str, before: tuple[str, ...], after: tuple[str, ...]) -> list[str]:
    lines = [f"- {stage}: {label} {item}" for item in before if item not in after]
    lines += [f"+ {stage}: {label} {item}" for item in after if item not in before]
    return lines


def shape_changes(old: PipelineShape, new: PipelineShape) -> list[str]:
    """What changed in the shape, one line each: stages first, then per stage its guard rails and actions."""
    before = {stage.name: stage for stage in old.stages}
    after = {stage.name: stage for stage in new.stages}
    lines = [f"- stage {stage.details()}" for stage in old.stages if stage.name not in after]
    lines += [f"+ stage {stage.details()}" for stage in new.stages if stage.name not in before]
    kept_before = [stage.name for stage in old.stages if stage.name in after]
    kept_after = [stage.name for stage in new.stages if stage.name in before]
    if kept_before != kept_after:
        lines.append(f"~ stage order: {' → '.join(kept_before)} ⇒ {' → '.join(kept_after)}")
    for name in kept_after:
        was, now = before[name], after[name]
        lines += _added_removed("gate", name, was.gates, now.gates)
        lines += _added_removed("approval", name, was.approvals, now.approvals)
        lines += _added_removed("exit gate", name, was.exit_gates, now.exit_gates)
        lines += _added_removed("bake", name, was.bakes, now.bakes)
        if was.on_failure != now.on_failure:
            if was.rolls_back:
                lines.append(f"- {name}: rollback on failure")
            if now.rolls_back:
                lines.append(f"+ {name}: rollback on failure")
            if not was.rolls_back and not now.rolls_back:
                lines.append(f"~ {name}: on failure {was.on_failure or 'default'} → {now.on_failure or 'default'}")
        lines += _added_removed("action", name, was.actions, now.actions)
    return lines
