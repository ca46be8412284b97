"""Judge a plan's EventBridge rules against ``rule_cases``: each check returns the problems it found.

Every check answers with sentences that name the rule (and its account or bus) and the value or
event at fault, so a failing test says what to change. The checks:

- ``unclaimed``: a rule no ``RuleKind`` claims (no cases say what it is for), or claimed twice;
- ``undocumented_filters``: a content filter EventBridge does not document;
- ``misdelivered``: an event a rule must deliver that it does not, or one it must ignore that it
  delivers (for kinds whose rules share a duty: that none, or one, of them does);
- ``needless_values``: a value of a pattern that no event needs (the mutation test: take the
  value out; a field of several values must then lose a delivered event, a field of one value
  must let an ignored event in), or a ``redundant`` entry that names no value any more;
- ``lost_on_the_way``: an event a rule forwards to an event bus that no rule on that bus takes;
- ``bad_schedules``: a scheduled rule without a valid ``rate(...)``/``cron(...)`` expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.events.patterns import matches, unknown_operators, values, without
from tests.events.planned_rules import PlannedRule, World, planned_rules, world_of
from tests.events.rule_cases import RULE_KINDS, Case, RuleKind, Subject

SCHEDULE = re.compile(r"^(rate\((1 (minute|hour|day)|[1-9][0-9]* (minutes|hours|days))\)|cron\(\S+( \S+){5}\))$")
"""EventBridge User Guide, *Schedule expressions for rules*: ``rate(value unit)`` or six-field ``cron(...)``."""


@dataclass(frozen=True)
class Group:
    """Rules judged together: one rule, or the rules of a kind that share one duty."""

    kind: RuleKind
    rules: tuple[PlannedRule, ...]
    delivers: tuple[Case, ...]
    ignores: tuple[Case, ...]

    def __str__(self) -> str:
        return ", ".join(str(rule) for rule in self.rules)


@dataclass(frozen=True)
class Judgement:
    world: World
    rules: tuple[PlannedRule, ...]
    groups: tuple[Group, ...]
    unclaimed: tuple[str, ...]


def judge(plan: Any, kinds: tuple[RuleKind, ...] = RULE_KINDS, rules: list[PlannedRule] | None = None) -> Judgement:
    """Sort the plan's rules (or ``rules``, e.g. mutated ones) into groups, each with its cases."""
    world = world_of(plan)
    rules = planned_rules(plan) if rules is None else rules
    problems: list[str] = []
    claimed: dict[str, list[tuple[PlannedRule, str | None]]] = {}
    for rule in rules:
        owners = [(kind, kind.claims(rule, world.stack)) for kind in kinds]
        owners = [(kind, match) for kind, match in owners if match]
        if len(owners) != 1:
            names = ", ".join(kind.name for kind, _ in owners) or "no kind"
            problems.append(f"{rule}: claimed by {names}; add one RuleKind for it in tests/events/rule_cases.py")
            continue
        kind, match = owners[0]
        claimed.setdefault(kind.name, []).append((rule, match.groupdict().get("environment")))
    groups = []
    for kind in kinds:
        for batch in _batches(kind, claimed.get(kind.name, [])):
            subject = Subject(batch[0][0], world, batch[0][1])
            members_of_batch = tuple(rule for rule, _ in batch)
            groups.append(Group(kind, members_of_batch, tuple(kind.delivers(subject)), tuple(kind.ignores(subject))))
    return Judgement(world, tuple(rules), tuple(groups), tuple(problems))


def _batches(
    kind: RuleKind, members: list[tuple[PlannedRule, str | None]]
) -> list[list[tuple[PlannedRule, str | None]]]:
    """One batch per rule; for a kind whose rules share a duty, one per bus (account, region) and environment.

    The rules that split a duty are those one component cut from one list of names: a
    forwarding account's rules for one environment, the coordinator's or the reporter's rules
    on one bus. Rules of another account or environment have a duty of their own.
    """
    if not kind.shares_duty:
        return [[member] for member in members]
    batches: dict[tuple[str, str, str, str | None], list[tuple[PlannedRule, str | None]]] = {}
    for rule, environment in members:
        batches.setdefault((rule.account, rule.region, rule.bus, environment), []).append((rule, environment))
    return list(batches.values())


def undocumented_filters(judgement: Judgement) -> list[str]:
    return [f"{rule}: {problem}" for rule in judgement.rules for problem in unknown_operators(rule.pattern or {})]


def misdelivered(group: Group) -> list[str]:
    if group.kind.scheduled:
        return []
    problems = []
    patterns = [rule.pattern or {} for rule in group.rules]
    if not group.delivers:
        problems.append(f"{group}: no event it must deliver; say what it is for in tests/events/rule_cases.py")
    for case in group.delivers:
        if not any(matches(pattern, case.event) for pattern in patterns):
            problems.append(f"{group}: must deliver {case.label}, and does not")
    for case in group.ignores:
        for rule, pattern in zip(group.rules, patterns, strict=True):
            if matches(pattern, case.event):
                problems.append(f"{rule}: must ignore {case.label}, and delivers it")
    return problems


def needless_values(group: Group) -> list[str]:
    problems = []
    redundant = dict(group.kind.redundant)
    for rule in group.rules:
        if rule.pattern is None:
            continue
        others = [other.pattern or {} for other in group.rules if other is not rule]
        delivered = [case for case in group.delivers if matches(rule.pattern, case.event)]
        delivered = [case for case in delivered if not any(matches(other, case.event) for other in others)]
        ignored = [case for case in group.ignores if not matches(rule.pattern, case.event)]
        named = set()
        for value in values(rule.pattern):
            named.add(str(value))
            if str(value) in redundant:
                continue
            mutated = without(rule.pattern, value)
            if value.only_one:
                needed = any(matches(mutated, case.event) for case in ignored)
                missing = "an ignored event that would pass without it"
            else:
                needed = any(not matches(mutated, case.event) for case in delivered)
                missing = "a delivered event that passes only through it"
            if not needed:
                problems.append(
                    f"{rule}: {value} is needed by no event (no {missing}); add the case to "
                    f"{group.kind.name!r} in tests/events/rule_cases.py, or drop the value"
                )
        stale = [entry for entry in redundant if entry not in named]
        problems += [f"{rule}: redundant entry {entry!r} names no value of the pattern" for entry in stale]
    return problems


def lost_on_the_way(judgement: Judgement) -> list[str]:
    """Events a rule forwards to another bus must reach a rule there (EventBridge keeps account and source)."""
    problems = []
    for group in judgement.groups:
        for rule in group.rules:
            for target in rule.targets:
                if ":event-bus/" not in target:
                    continue
                there = [r for r in judgement.rules if r.bus_arn == target and r.pattern]
                forwarded = [case for case in group.delivers if rule.pattern and matches(rule.pattern, case.event)]
                for case in forwarded:
                    if not any(matches(r.pattern or {}, case.event) for r in there):
                        problems.append(f"{rule}: forwards {case.label} to {target}, where no rule takes it")
    return problems


def bad_schedules(judgement: Judgement) -> list[str]:
    problems = []
    for group in judgement.groups:
        for rule in group.rules:
            if group.kind.scheduled and not SCHEDULE.match(rule.schedule or ""):
                problems.append(f"{rule}: schedule {rule.schedule!r} is not a valid rate(...) or cron(...)")
            if not group.kind.scheduled and rule.schedule:
                problems.append(f"{rule}: has a schedule but its kind {group.kind.name!r} expects events")
    return problems
