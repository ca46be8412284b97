"""Branch filters: which pushes reach which environment."""

from __future__ import annotations

import pytest

from components.model.branch_pattern import branch_pattern_problem, is_literal, matches


@pytest.mark.parametrize(
    ("pattern", "branch", "expected"),
    [
        ("feature/**", "feature/login", True),
        ("feature/**", "feature/team/login", True),
        ("feature/**", "features/login", False),
        ("feature/*", "feature/team/login", False),
        ("release/**", "release/2026.11", True),
        ("main", "main", True),
        ("main", "main2", False),
        ("develop", "feature/develop", False),
        ("release/v[0-9]*", "release/v1.2", True),
        ("release/v[!0-9]*", "release/v1.2", False),
        ("hotfix/{api,web}", "hotfix/web", True),
        ("hotfix/{api,web}", "hotfix/db", False),
        ("rc-?", "rc-1", True),
    ],
)
def test_push_reaches_environment_only_through_its_pattern(pattern, branch, expected):
    assert branch_pattern_problem(pattern) is None
    assert matches(pattern, branch) is expected


@pytest.mark.parametrize(
    "pattern",
    ["", " main", "feature//x", "/main", "main/", "a..b", "x@{1}", "feat~1", "a:b", "x.lock", "{a,b", "a]", "***"],
)
def test_patterns_git_could_never_match_are_rejected(pattern):
    assert branch_pattern_problem(pattern)


def test_literal_patterns_are_recognised():
    assert is_literal("main") and is_literal("release/2026")
    assert not is_literal("release/**") and not is_literal("rc-?")
