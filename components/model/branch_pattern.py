"""Branch filters: the glob syntax of CodePipeline V2 git triggers.

The stack maps each environment to a branch pattern (``feature/**`` → dev). A
pattern that git could never produce would make a pipeline that never runs, so
patterns are checked against git's ref-name rules before anything is declared,
and ``matches`` lets tests and the plan say which environment a branch reaches.
"""

from __future__ import annotations

import re
from functools import lru_cache

_FORBIDDEN_CHARACTERS = set(" ~^:\\\t\n\r")


def branch_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable branch filter, or None when it is."""
    if not pattern:
        return "branch pattern is empty"
    if len(pattern) > 255:
        return "branch pattern is longer than 255 characters"
    bad = sorted({c for c in pattern if c in _FORBIDDEN_CHARACTERS or ord(c) < 32 or ord(c) == 127})
    if bad:
        return f"branch pattern {pattern!r} contains characters git forbids in branch names: {''.join(bad)!r}"
    if pattern.startswith("/") or pattern.endswith("/") or "//" in pattern:
        return f"branch pattern {pattern!r} has an empty path segment"
    if ".." in pattern or "@{" in pattern:
        return f"branch pattern {pattern!r} contains '..' or '@{{', which git forbids in branch names"
    if pattern.endswith(".") or pattern.endswith(".lock") or pattern.startswith("-"):
        return f"branch pattern {pattern!r} is not a valid git branch name"
    if pattern.startswith("refs/"):
        return f"branch pattern {pattern!r} must name branches, not refs (drop 'refs/heads/')"
    depth = {"[": 0, "{": 0}
    closing = {"]": "[", "}": "{"}
    for c in pattern:
        if c in depth:
            depth[c] += 1
        elif c in closing:
            depth[closing[c]] -= 1
            if depth[closing[c]] < 0:
                return f"branch pattern {pattern!r} closes a {closing[c]!r} group it never opened"
    if any(depth.values()):
        return f"branch pattern {pattern!r} has an unclosed '[' or '{{' group"
    if "***" in pattern:
        return f"branch pattern {pattern!r} has '***'; use '**' to match across '/'"
    return None


def is_literal(pattern: str) -> bool:
    """True when the pattern names exactly one branch (no glob operators)."""
    return not any(c in pattern for c in "*?[{")


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    regex = ""
    index = 0
    while index < len(pattern):
        c = pattern[index]
        if pattern.startswith("**", index):
            regex += ".*"
            index += 2
            continue
        if c == "*":
            regex += "[^/]*"
        elif c == "?":
            regex += "[^/]"
        elif c == "[":
            end = pattern.index("]", index)
            body = pattern[index + 1 : end]
            regex += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            index = end + 1
            continue
        elif c == "{":
            end = pattern.index("}", index)
            regex += "(?:" + "|".join(re.escape(alt) for alt in pattern[index + 1 : end].split(",")) + ")"
            index = end + 1
            continue
        else:
            regex += re.escape(c)
        index += 1
    return re.compile(regex)


def matches(pattern: str, branch: str) -> bool:
    """Whether a push to ``branch`` passes the filter ``pattern``."""
    return _compiled(pattern).fullmatch(branch) is not None


_REGEX_PLAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-")


def _literal_regex(text: str) -> str:
    """``text`` as a regex without backslashes: safe to put in a CEL or JSON string unescaped."""
    return "".join(c if c in _REGEX_PLAIN else f"[{c}]" for c in text)


def portable_regex(pattern: str) -> str:
    """The pattern as an unanchored regex that RE2 (CEL's ``matches``) and Python read alike.

    Same meaning as ``matches``: ``**`` crosses ``/``, ``*`` and ``?`` do not, ``[...]`` / ``[!...]`` are
    classes and ``{a,b}`` alternatives. Literal characters other than letters, digits, ``/``, ``_`` and ``-``
    become one-character classes (``.`` → ``[.]``), so the result holds no backslash to escape.
    """
    regex, index = "", 0
    while index < len(pattern):
        c = pattern[index]
        if pattern.startswith("**", index):
            regex, index = regex + ".*", index + 2
            continue
        if c == "[":
            end = pattern.index("]", index)
            body = pattern[index + 1 : end]
            regex += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            index = end + 1
            continue
        if c == "{":
            end = pattern.index("}", index)
            regex += "(" + "|".join(_literal_regex(alt) for alt in pattern[index + 1 : end].split(",")) + ")"
            index = end + 1
            continue
        regex += {"*": "[^/]*", "?": "[^/]"}.get(c) or _literal_regex(c)
        index += 1
    return regex
