"""Deployment windows: the cron syntax of the CodePipeline ``DeploymentWindow`` rule.

The rule takes six fields and an optional year (seconds must be ``*``). The SDK
passes the string through untouched and AWS only rejects it at ``pulumi up``,
so the shape is checked here, where the stack config is read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import available_timezones

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"


def _field(value: str, special: str = "") -> str:
    atom = rf"(?:{value})"
    ranged = rf"{atom}(?:-{atom})?"
    stepped = rf"(?:\*|{ranged})(?:/\d+)?"
    extra = f"|{special}" if special else ""
    return rf"^(?:{stepped}{extra})(?:,(?:{stepped}{extra}))*$"


_FIELDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("seconds", re.compile(r"^\*$")),
    ("minutes", re.compile(_field(r"[0-5]?\d"))),
    ("hours", re.compile(_field(r"1?\d|2[0-3]"))),
    ("day-of-month", re.compile(_field(r"[1-9]|[12]\d|3[01]", r"\?|L(?:-\d{1,2})?|(?:[1-9]|[12]\d|3[01])?W|LW"))),
    ("month", re.compile(_field(rf"[1-9]|1[0-2]|{_MONTHS}"))),
    ("day-of-week", re.compile(_field(rf"[1-7]|{_DAYS}", rf"\?|(?:[1-7]|{_DAYS})?L|(?:[1-7]|{_DAYS})#[1-5]"))),
    ("year", re.compile(_field(r"19[7-9]\d|2[01]\d\d"))),
)


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a DeploymentWindow cron, or None when it is."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        return (
            f"cron {expression!r} has {len(fields)} fields; DeploymentWindow wants 6 "
            "(sec min hour day-of-month month day-of-week) or 7 with a year"
        )
    for (name, shape), value in zip(_FIELDS, fields, strict=False):
        if not shape.match(value.upper()):
            return f"cron {expression!r}: {name} field {value!r} is not valid"
    day_of_month, day_of_week = fields[3], fields[5]
    if (day_of_month == "?") == (day_of_week == "?"):
        return f"cron {expression!r}: exactly one of day-of-month and day-of-week must be '?'"
    return None


def timezone_problem(name: str) -> str | None:
    if name in _known_timezones():
        return None
    return f"time zone {name!r} is not an IANA time zone name (for example 'Europe/Paris' or 'UTC')"


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})
