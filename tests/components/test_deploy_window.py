"""DeploymentWindow cron: the six-or-seven field AWS syntax."""

from __future__ import annotations

import pytest

from components.model.deploy_window import cron_problem, timezone_problem


@pytest.mark.parametrize(
    "cron",
    [
        "* * 9-17 ? * MON-FRI",
        "* 0-30 9 ? * MON,WED,FRI",
        "* */15 8-18 ? * 2-6 2026-2027",
        "* * * L * ?",
        "* * 10 ? * 6#3",
        "* * 10 15W * ?",
    ],
)
def test_valid_windows_pass(cron):
    assert cron_problem(cron) is None


@pytest.mark.parametrize(
    ("cron", "fragment"),
    [
        ("* 9-17 ? * MON-FRI", "5 fields"),
        ("0 * 9-17 ? * MON-FRI", "seconds"),
        ("* 60 9 ? * MON", "minutes"),
        ("* * 24 ? * MON", "hours"),
        ("* * 9 32 * ?", "day-of-month"),
        ("* * 9 ? 13 MON", "month"),
        ("* * 9 ? * 8", "day-of-week"),
        ("* * 9 ? * MON 1969", "year"),
        ("* * 9 * * MON", "exactly one"),
        ("* * 9 ? * ?", "exactly one"),
    ],
)
def test_invalid_windows_say_which_field(cron, fragment):
    problem = cron_problem(cron)
    assert problem and fragment in problem


def test_time_zones_are_iana_names():
    assert timezone_problem("Europe/Dublin") is None
    assert timezone_problem("UTC") is None
    assert "IANA" in (timezone_problem("CEST") or "")
