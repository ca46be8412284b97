"""The one error type a user mistake turns into.

A broken catalog or stack config must stop the program before any resource is
declared, with one line that says where to look: the file, the service (or
environment) and the field. Everything that validates user input raises
``PlatformInputError`` so the entry points can print it without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


class PlatformInputError(Exception):
    """A catalog or stack-config mistake, located precisely enough to fix."""

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        subject: str | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.subject = subject
        self.field = field
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.file]
        if self.subject:
            parts.append(self.subject)
        if self.field:
            parts.append(f"field '{self.field}'")
        parts.append(self.problem)
        return ": ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        # A shard is planned in a worker process; its mistake must reach the command whole (pickle would
        # otherwise rebuild the error from its message alone and fail on the missing problem).
        return (self.__class__, (self.file, self.problem), {"subject": self.subject, "field": self.field})


def dotted_field(location: Sequence[str | int]) -> str:
    """Render a pydantic location the way a user reads YAML: ``aws.target_groups[1]``."""
    rendered = ""
    for part in location:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            rendered += f".{part}" if rendered else str(part)
    return rendered


def first_problem(error: ValidationError, skip_parts: frozenset[str] = frozenset()) -> tuple[tuple[Any, ...], str]:
    """The first problem pydantic found, without union-tag noise in its location.

    Pydantic reports a discriminated union member by its tag (``aws.ECS.cluster``);
    users never wrote that tag as a key, so it is dropped.
    """
    detail = error.errors(include_url=False)[0]
    location = tuple(part for part in detail["loc"] if part not in skip_parts)
    message = detail["msg"]
    if detail["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; see the schema for the allowed keys)"
    elif detail["type"] == "missing":
        message = "required but missing"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    elif message.startswith("Assertion failed, "):
        message = message.removeprefix("Assertion failed, ")
    return location, message
