"""Take secrets out of text quoted from a build before it goes anywhere (Slack, and Bedrock when enabled).

A failing build often prints what it should not: a token in a ``curl`` command,
an ``Authorization`` header in a stack trace, a database URL with its password,
a private key a test fixture loaded. Two kinds of redaction, in this order:

- **values the function holds**: the Slack credentials it reads itself, and the
  PLAINTEXT environment variables of the build whose names say they are secret
  (the ``codebuild-no-plaintext-creds`` policy already forbids them in platform
  projects; a team's override could still add one). Each is replaced wherever it
  appears, whatever its shape;
- **shapes**: AWS access key ids and secret keys in ``key = value`` form, GitHub
  tokens (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``), Slack
  tokens (``xox…-``, ``xapp-``) and webhook URLs, JSON Web Tokens, ``Bearer``
  values, ``Basic`` credentials (``Authorization: Basic <base64>``), ``curl``'s
  ``-u``/``--user user:password``, PEM private keys, credentials in URLs
  (``scheme://user:password@``, a password holding ``@`` included) and the value
  of any ``password=``/``secret:``/``token=``/``api_key=`` pair.

Lines are redacted before they are clipped to a quotable length, so a secret
cut at the limit cannot slip through as a fragment its shape no longer matches.

The limit, stated plainly: the function does not read the secrets it does not
need (the scanners' SonarQube and Snyk tokens, the GitHub App key, any secret a
build names in ``env.secrets-manager``), because a role that may read every
secret to recognise it would be the most valuable role of the platform. Such a
secret printed by a build is caught only if it has one of the shapes above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
MIN_KNOWN_VALUE = 8
"""A held value shorter than this (``true``, a region) is not a secret worth replacing everywhere it appears."""
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)
"""Names of environment variables whose values are treated as held secrets."""

SHAPES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "pem private key",
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL),
        REDACTED,
    ),
    ("aws access key id", re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), REDACTED),
    (
        "aws secret access key",
        re.compile(r"(?i)(aws_?secret_?access_?key|secretaccesskey)(\W{0,3}[:=]\s*\W?)[A-Za-z0-9/+=]{40}\b"),
        r"\1\2" + REDACTED,
    ),
    ("github token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"), REDACTED),
    ("github fine-grained token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"), REDACTED),
    ("slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}"), REDACTED),
    ("slack webhook", re.compile(r"https://hooks\.slack\.com/(services|workflows|triggers)/[^\s\"'<>]+"), REDACTED),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
    ("bearer", re.compile(r"(?i)\b(bearer|token)\s+[A-Za-z0-9._~+/-]{16,}=*"), r"\1 " + REDACTED),
    (
        # ``curl -v``: ``> Authorization: Basic <base64 of user:password>``; a bare ``Basic`` value only when it
        # looks like base64 (a digit, ``+``, ``/`` or padding), so "basic authentication" stays as written.
        "basic auth",
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization\W{0,3}basic\s+|\bbasic\s+(?=[A-Za-z0-9+/]{0,512}[0-9+/=]))"
            r"[A-Za-z0-9+/]{8,}={0,2}"
        ),
        r"\1" + REDACTED,
    ),
    (
        # ``set -x`` prints ``curl -u user:password`` / ``--user user:password`` (also ``-uuser:password``).
        "user option",
        re.compile(r"(?<![\w-])(-u\s*|--(?:proxy-)?user[ =]\s*)([\"']?)[^\s:\"']+:[^\s\"']+"),
        r"\1\2" + REDACTED,
    ),
    # Up to the last ``@`` before the path: a password may hold an ``@`` (printed raw, not as ``%40``).
    ("url credentials", re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}://)[^/\s:@]+:[^/\s]+@"), r"\1" + REDACTED + "@"),
    (
        "secret assignment",
        re.compile(
            r"(?i)\b([\w.-]*(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?))"
            r"(\W{0,3}[:=]\s*)(?!\[REDACTED\])(\"[^\"]+\"|'[^']+'|[^\s,;&]+)"
        ),
        r"\1\3" + REDACTED,
    ),
)


class Redactor:
    """Redacts the values it was given and every secret-shaped string, the longest values first."""

    def __init__(self, known_values: Iterable[str] = ()) -> None:
        values = {value.strip() for value in known_values if value and len(value.strip()) >= MIN_KNOWN_VALUE}
        self._known = sorted(values, key=len, reverse=True)

    def with_values(self, values: Iterable[str]) -> Redactor:
        return Redactor([*self._known, *values])

    def text(self, text: str) -> str:
        for value in self._known:
            text = text.replace(value, REDACTED)
        for _name, shape, replacement in SHAPES:
            text = shape.sub(replacement, text)
        return text

    def lines(self, lines: Iterable[str]) -> tuple[str, ...]:
        """Lines redacted as one text, so a private key spread over lines goes as a whole."""
        return tuple(self.text("\n".join(lines)).split("\n")) if lines else ()


def secret_environment_values(variables: Iterable[dict[str, str]]) -> list[str]:
    """The values of a build's PLAINTEXT environment variables whose names say they are secret (BatchGetBuilds
    returns PLAINTEXT values as set; for PARAMETER_STORE and SECRETS_MANAGER variables it returns only the name
    of the parameter or secret, never the value)."""
    return [
        str(variable.get("value", ""))
        for variable in variables
        if variable.get("type", "PLAINTEXT") == "PLAINTEXT" and SECRET_NAME.search(str(variable.get("name", "")))
    ]
