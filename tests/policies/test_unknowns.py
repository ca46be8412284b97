"""No rule crashes on a value that is not known during preview, and none reports what it cannot prove.

Each scenario is re-run with one value at a time (a leaf, an object or a list,
anywhere in any resource) replaced by the engine's unknown sentinel.
"""

from __future__ import annotations

import pytest

from .all_cases import ALL_CASES
from .rule_cases import resource_variants


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.kind == "quiet"], ids=str)
def test_a_quiet_resource_stays_quiet_whatever_is_unknown(case):
    for variant in resource_variants(case.resources):
        reports = case.run(variant)
        assert not reports.skipped, f"{case}: could not run with {variant}"
        assert reports.messages == [], f"{case}: reported {reports.messages} for {variant}"


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.kind == "fires"], ids=str)
def test_an_unknown_value_never_adds_a_finding(case):
    for variant in resource_variants(case.resources):
        reports = case.run(variant)
        assert not reports.skipped, f"{case}: could not run with {variant}"
        assert len(reports.messages) <= len(case.expected), f"{case}: {reports.messages} for {variant}"
