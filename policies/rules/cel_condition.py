"""A workload identity provider's attribute condition, read as a conjunction of clauses.

Google Cloud, "Workload identity federation: attribute conditions": the provider exchanges a token only if
the CEL expression in ``attribute_condition`` is true for its claims (``assertion.*``) and mapped attributes
(``attribute.*``). A rule that *searches* the text for ``assertion.repository == 'ORG/REPO'`` is fooled by
``... || true``: only a conjunction makes each of its clauses a requirement. So the pack parses the subset
of CEL it can judge (the CEL language definition's grammar, restricted):

    condition := term ('&&' term)*
    term      := '(' condition ')' | 'true' | clause
    clause    := attr '==' STRING | STRING '==' attr | attr '!=' STRING
               | attr 'in' '[' STRING (',' STRING)* [','] ']'
               | attr '.' ('startsWith' | 'endsWith') '(' STRING ')'
    attr      := ('assertion' | 'attribute') ('.' IDENT)+

Anything else (``||``, ``!``, the ternary, other functions, escapes in strings) is refused with the reason,
and the rule reports the condition as one it cannot vouch for: it fails closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOTS = ("assertion", "attribute")
METHODS = ("startsWith", "endsWith")
KIND_NAMES = {"string": "a quoted string", "op": "an operator", "ident": "a name", "end": "the end"}
_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<string>'[^'\\\n]*'|"[^"\\\n]*")|(?P<op>&&|\|\||==|!=|[()\[\],.])"""
    r"""|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"""
)


class UnreadableConditionError(ValueError):
    """The condition is outside the subset the pack reads; the message says where and why."""


@dataclass(frozen=True)
class Clause:
    """One requirement of the conjunction: ``attribute`` compared by ``operator`` with ``values``."""

    attribute: str
    operator: str  # "==", "!=", "in", "startsWith", "endsWith", or "true"
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "op", "ident", "end"
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise UnreadableConditionError(
                f"{text[position]!r} at position {position} is not part of the subset read "
                "(operators && == != in, strings without escapes, startsWith/endsWith)"
            )
        if match.lastgroup != "space":
            found.append(_Token(str(match.lastgroup), match.group(), position))
        position = match.end()
    found.append(_Token("end", "", len(text)))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.current
        if token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text is not None else KIND_NAMES[kind]
            seen = repr(token.text) if token.kind != "end" else "the end"
            if token.text == "||":
                raise UnreadableConditionError(f"'||' at position {token.position} offers an alternative")
            raise UnreadableConditionError(f"expected {wanted} at position {token.position}, found {seen}")
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.current
        return token.kind == kind and (text is None or token.text == text)

    def condition(self) -> list[Clause]:
        clauses = self.term()
        while self.at("op", "&&"):
            self.take("op", "&&")
            clauses += self.term()
        return clauses

    def term(self) -> list[Clause]:
        if self.at("op", "("):
            self.take("op", "(")
            inner = self.condition()
            self.take("op", ")")
            return inner
        if self.at("ident", "true"):
            self.take("ident")
            return [Clause("", "true")]
        return [self.clause()]

    def string(self) -> str:
        return self.take("string").text[1:-1]

    def clause(self) -> Clause:
        if self.at("string"):
            value = self.string()
            self.take("op", "==")
            return Clause(self.attribute(), "==", (value,))
        attribute = self.attribute()
        if self.at("op", "==") or self.at("op", "!="):
            operator = self.take("op").text
            return Clause(attribute, operator, (self.string(),))
        if self.at("ident", "in"):
            self.take("ident", "in")
            return Clause(attribute, "in", tuple(self.string_list()))
        if self.at("op", "("):
            receiver, _, name = attribute.rpartition(".")
            if "." not in receiver or name not in METHODS:
                raise UnreadableConditionError(f"the function {name!r} is not one of {', '.join(METHODS)}")
            self.take("op", "(")
            value = self.string()
            self.take("op", ")")
            return Clause(receiver, name, (value,))
        token = self.current
        raise UnreadableConditionError(f"{attribute} is followed by {token.text or 'the end'!r}, not a comparison")

    def attribute(self) -> str:
        root = self.take("ident")
        if root.text not in ROOTS:
            raise UnreadableConditionError(f"{root.text!r} at position {root.position} is not assertion or attribute")
        parts = [root.text]
        while self.at("op", "."):
            self.take("op", ".")
            parts.append(self.take("ident").text)
        if len(parts) < 2:
            raise UnreadableConditionError(f"{root.text} at position {root.position} names no claim")
        return ".".join(parts)

    def string_list(self) -> list[str]:
        self.take("op", "[")
        values: list[str] = []
        while not self.at("op", "]"):
            values.append(self.string())
            if not self.at("op", "]"):
                self.take("op", ",")
        self.take("op", "]")
        return values


def conjunction(text: str) -> list[Clause]:
    """The clauses every token must satisfy; raises ``UnreadableConditionError`` outside the subset read."""
    parser = _Parser(text)
    clauses = parser.condition()
    parser.take("end")
    return clauses
