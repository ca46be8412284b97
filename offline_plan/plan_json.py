"""The plan file's text: exactly ``json.dumps(document, indent=2)``, in about half the time.

With ``indent`` set, the standard library leaves its C encoder for a generator-based Python one:
a 200-service fleet's merged plan (40 MB) took 1.1 s to write, on the critical path of every
sharded plan, and each shard paid half a second for its own. This writer builds the same text
from a list of fragments, strings still escaped by the C ``encode_basestring_ascii``;
``tests/offline_plan/test_plan_json.py`` holds it byte for byte equal to ``json.dumps`` on
generated documents and on both stacks' plans.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii
from typing import Any

INDENT = "  "
_CONSTANTS = {True: "true", False: "false", None: "null"}


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    """A dict key as ``json.dumps`` writes it: strings as they are, numbers, booleans and null as their JSON text."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return _CONSTANTS[key]
    if isinstance(key, float):
        return _float(key)
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def dumps(document: Any) -> str:
    """``json.dumps(document, indent=2)``, byte for byte (ASCII only, non-finite floats as JavaScript writes them)."""
    parts: list[str] = []
    append = parts.append

    def encode(value: Any, level: int) -> None:
        if isinstance(value, str):
            append(encode_basestring_ascii(value))
        elif value is None or value is True or value is False:
            append(_CONSTANTS[value])
        elif isinstance(value, int):
            append(int.__repr__(value))
        elif isinstance(value, float):
            append(_float(value))
        elif isinstance(value, dict):
            if not value:
                append("{}")
                return
            opening = "{\n" + INDENT * (level + 1)
            separator = ",\n" + INDENT * (level + 1)
            for index, (key, item) in enumerate(value.items()):
                append((separator if index else opening) + encode_basestring_ascii(_key(key)) + ": ")
                encode(item, level + 1)
            append("\n" + INDENT * level + "}")
        elif isinstance(value, (list, tuple)):
            if not value:
                append("[]")
                return
            opening = "[\n" + INDENT * (level + 1)
            separator = ",\n" + INDENT * (level + 1)
            for index, item in enumerate(value):
                append(separator if index else opening)
                encode(item, level + 1)
            append("\n" + INDENT * level + "]")
        else:
            raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")

    encode(document, 0)
    return "".join(parts)
