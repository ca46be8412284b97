"""What changed between two values of a resource input, as a reviewer reads it.

Inputs are JSON-shaped, and many strings are JSON documents themselves (IAM and key policies, event
patterns, CodePipeline action variables): those are parsed and compared as documents, so a widened
IAM statement shows up as its one changed field, not as two 2,000-character strings. Lists of
objects that carry an identity (``Sid`` in a policy, ``name`` in pipeline stages, actions and rules)
are matched by it; other lists by position when they keep their length, else by content, so a
statement added or removed reads as that statement.

Secrets never show: the plan already holds ``"[secret]"`` in their place, and when a value became
secret (or stopped being one) the old plain value is not repeated either, because the change may be
exactly the fix for a leak.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .recorder import REDACTED


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The side of a change where the value does not exist (an added or removed key or element)."""

IDENTITY_FIELDS = ("Sid", "name", "Name", "id")
"""Fields that identify an element of a list of objects, tried in this order."""

MAX_VALUE_CHARS = 160
MAX_TEXT_LINES = 12
LONG_STRING_CHARS = 80
"""Past this, a changed one-line string is shown around what changed (an IAM condition, a CEL expression)."""
CONTEXT_CHARS = 20
CONTENT_DIGEST_FIELD = "sha256"
"""Field that ``asset_digest`` adds beside an asset's path; a change of it means the file's content changed."""

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Change:
    """One difference at ``path``: ``old`` is ``MISSING`` for an addition, ``new`` for a removal."""

    path: str
    old: Any = MISSING
    new: Any = MISSING

    @property
    def top_level_input(self) -> str:
        """The input property the change is under (what replacement rules are written against)."""
        return re.split(r"[.\[]", self.path, maxsplit=1)[0]


def diff_values(old: Any, new: Any, path: str = "") -> list[Change]:
    """Every difference between ``old`` and ``new``, deepest first where both sides are containers."""
    if old == new:
        return []
    if REDACTED in (old, new):
        return [Change(path, old, new)]
    old_document, new_document = _document(old), _document(new)
    if old_document is not None and new_document is not None:
        return diff_values(old_document, new_document, path)
    if isinstance(old, dict) and isinstance(new, dict):
        return _diff_objects(old, new, path)
    if isinstance(old, list) and isinstance(new, list):
        return _diff_lists(old, new, path)
    return [Change(path, old, new)]


def _document(value: Any) -> dict[str, Any] | list[Any] | None:
    """A string that holds a JSON object or array, parsed; ``None`` for anything else."""
    if not isinstance(value, str) or not value.lstrip().startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def _key_path(path: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _diff_objects(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(old) | set(new)):
        child = _key_path(path, key)
        if key not in new:
            changes.append(Change(child, old[key], MISSING))
        elif key not in old:
            changes.append(Change(child, MISSING, new[key]))
        else:
            changes += diff_values(old[key], new[key], child)
    return changes


def _identity_field(old: list[Any], new: list[Any]) -> str | None:
    """The field that names every element of both lists uniquely, if there is one."""
    elements = old + new
    if not elements or not all(isinstance(element, dict) for element in elements):
        return None
    for candidate in IDENTITY_FIELDS:
        for side in (old, new):
            names = [element.get(candidate) for element in side]
            if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
                break
        else:
            return candidate
    return None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _diff_lists(old: list[Any], new: list[Any], path: str) -> list[Change]:
    identity = _identity_field(old, new)
    if identity is not None:
        return _diff_named(old, new, identity, path)
    if len(old) == len(new) and any(isinstance(element, (dict, list)) for element in old + new):
        changes: list[Change] = []
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            changes += diff_values(before, after, f"{path}[{index}]")
        return changes
    before, after = Counter(map(_canonical, old)), Counter(map(_canonical, new))
    if before == after:
        return [Change(f"{path} (order)", old, new)]
    element = f"{path}[]"
    removed = [json.loads(text) for text in (before - after).elements()]
    added = [json.loads(text) for text in (after - before).elements()]
    return [Change(element, value, MISSING) for value in removed] + [Change(element, MISSING, value) for value in added]


def _diff_named(old: list[dict[str, Any]], new: list[dict[str, Any]], identity: str, path: str) -> list[Change]:
    before = {element[identity]: element for element in old}
    after = {element[identity]: element for element in new}
    changes: list[Change] = []
    for name in before:
        if name not in after:
            changes.append(Change(f"{path}[{json.dumps(name)}]", before[name], MISSING))
    for name in after:
        if name not in before:
            changes.append(Change(f"{path}[{json.dumps(name)}]", MISSING, after[name]))
    kept_before = [name for name in before if name in after]
    kept_after = [name for name in after if name in before]
    if kept_before != kept_after:
        changes.append(Change(f"{path} (order)", kept_before, kept_after))
    for name in kept_before:
        changes += diff_values(before[name], after[name], f"{path}[{json.dumps(name)}]")
    return changes


def show(value: Any) -> str:
    """A value on one line: JSON, secrets as ``[secret]``, clipped to ``MAX_VALUE_CHARS``."""
    if value == REDACTED:
        return REDACTED
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def render_change(change: Change) -> list[str]:
    """The change as lines: ``+ path: new``, ``- path: old`` or ``~ path: old → new`` (plus text lines)."""
    old, new, path = change.old, change.new, change.path
    if old is MISSING:
        return [f"+ {path}: {show(new)}"]
    if new is MISSING:
        return [f"- {path}: {show(old)}"]
    if new == REDACTED:
        return [f"~ {path}: now secret (neither value shown)"]
    if old == REDACTED:
        return [f"~ {path}: no longer secret → {show(new)}"]
    if path.endswith(f".{CONTENT_DIGEST_FIELD}") and isinstance(old, str) and isinstance(new, str):
        return [f"~ {path.removesuffix('.' + CONTENT_DIGEST_FIELD)}: content changed"]
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
        return _render_text_change(path, old, new)
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > LONG_STRING_CHARS:
        before, after = _around_the_difference(old, new)
        return [f"~ {path}: {before} → {after}"]
    return [f"~ {path}: {show(old)} → {show(new)}"]


def _around_the_difference(old: str, new: str) -> tuple[str, str]:
    """Two long strings shown by what differs, with a little context and ``…`` for the common rest."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    start = max(prefix - CONTEXT_CHARS, 0)

    def middle(text: str) -> str:
        end = min(len(text) - suffix + CONTEXT_CHARS, len(text))
        shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
        return show(shown)

    return middle(old), middle(new)


def _render_text_change(path: str, old: str, new: str) -> list[str]:
    """A multi-line text (a buildspec, a script): the lines that differ, not two walls of text."""
    edits = [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    added = sum(1 for line in edits if line.startswith("+"))
    lines = [f"~ {path}: text changed (+{added} -{len(edits) - added} lines)"]
    lines += [f"    {line[0]} {line[1:].strip()}"[: MAX_VALUE_CHARS + 6] for line in edits[:MAX_TEXT_LINES]]
    if len(edits) > MAX_TEXT_LINES:
        lines.append(f"    … {len(edits) - MAX_TEXT_LINES} more changed lines")
    return lines
