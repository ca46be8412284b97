"""The rule counts the READMEs state come from the pack, not from prose.

Every "N resource rules", "N stack rules", "N mandatory" and "N advisory" in
README.md and policies/README.md is compared with ``policies.rules``; a rule
added or removed without the prose following fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.rules import ALL_RULES, RESOURCE_RULES, STACK_RULES

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "policies" / "README.md"]
# "40 resource rules", "16 stack rules", "49 mandatory, 7 advisory" — with any line break between number and noun.
COUNTED = re.compile(r"\b(\d+)\s+(resource rules|stack rules|mandatory|advisory)\b")


def pack_counts() -> dict[str, int]:
    return {
        "resource rules": len(RESOURCE_RULES),
        "stack rules": len(STACK_RULES),
        "mandatory": sum(rule.level == "mandatory" for rule in ALL_RULES),
        "advisory": sum(rule.level == "advisory" for rule in ALL_RULES),
    }


FENCED = re.compile(r"^(`{3,})[^\n]*\n.*?^\1`*[ \t]*$", re.MULTILINE | re.DOTALL)
"""Code blocks quote program output ("policy: 0 mandatory, 0 advisory violation(s)"), not claims about the pack.
A block closes only on a line of nothing but at least as many backticks (CommonMark): a quoted Slack message's
line starting "```E …" does not end it."""


def stated_counts(path: Path) -> list[tuple[str, int]]:
    text = FENCED.sub("", path.read_text(encoding="utf-8"))
    return [(noun, int(number)) for number, noun in COUNTED.findall(text)]


@pytest.mark.parametrize("path", READMES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_count_a_readme_states_is_the_packs(path):
    counts = pack_counts()
    stated = stated_counts(path)
    assert stated, f"{path.name} states no rule counts; the pattern or the prose moved"
    assert [(noun, number) for noun, number in stated if number != counts[noun]] == [], (
        f"{path.name} says otherwise than the pack: {counts}"
    )


def test_each_readme_states_both_kinds_of_rule():
    for path in READMES:
        nouns = {noun for noun, _ in stated_counts(path)}
        assert {"resource rules", "stack rules"} <= nouns, path.name


def test_the_pack_readme_states_the_levels_too():
    nouns = {noun for noun, _ in stated_counts(ROOT / "policies" / "README.md")}
    assert {"mandatory", "advisory"} <= nouns


def test_the_levels_add_up():
    counts = pack_counts()
    assert counts["mandatory"] + counts["advisory"] == counts["resource rules"] + counts["stack rules"]
