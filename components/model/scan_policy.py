"""How strict the Scan and Verify stages are in each environment, and which scanners the stack adds.

Severity thresholds are per environment because the cost of a finding is: a
HIGH finding should stop a release to production but not a feature branch in
dev, where it would only teach people to ignore the scan. DAST crawls the
running service, so it runs only outside production. SonarQube and Snyk are
optional stack-level servers; the stack names the Secrets Manager secrets that
hold their tokens, never the tokens themselves.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from .credentials import SnykOrgId, SnykTokenKind, SonarQubeTokenKind

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
Severity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]

PRODUCTION_FAIL_ON: Severity = "HIGH"
DEFAULT_FAIL_ON: Severity = "CRITICAL"
DEFAULT_LICENSE_DENY_LIST = ("AGPL-3.0-only", "AGPL-3.0-or-later", "SSPL-1.0")
"""Network-copyleft licenses: using them in a hosted service obliges publishing its source."""

SpdxLicenseId = Annotated[str, StringConstraints(pattern=r"^(?:LicenseRef-)?[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$")]
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$")]

_TOKEN_SHAPES = (
    re.compile(r"^sq[uap]_[0-9a-f]{40}$"),  # SonarQube user, project and global analysis tokens
    re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE),  # Snyk API token
)


def _a_name_not_a_token(value: str) -> str:
    if any(shape.match(value) for shape in _TOKEN_SHAPES):
        raise ValueError(
            "this looks like a token, not a secret name: store the token in Secrets Manager and give the secret's name"
        )
    return value


TokenSecretName = Annotated[SecretName, AfterValidator(_a_name_not_a_token)]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[^\s]*)?$")]

URL_PLACEHOLDERS = ("{service}", "{environment}")


def url_pattern_problem(pattern: str) -> str | None:
    """Why a ``serviceUrlPattern`` cannot produce a URL per service and environment, or None."""
    unknown = sorted(set(re.findall(r"\{[^}]*\}", pattern)) - set(URL_PLACEHOLDERS))
    if unknown:
        return f"unknown placeholder {unknown[0]}; use {{service}} and {{environment}}"
    if "{service}" not in pattern:
        return "must contain {service}, or every service would be scanned at the same URL"
    sample = expand_url_pattern(pattern, "service-name", "env")
    if not re.match(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[^\s]*)?$", sample):
        return f"does not expand to an http(s) URL (for example {sample!r})"
    return None


def expand_url_pattern(pattern: str, service: str, environment: str) -> str:
    return pattern.replace("{service}", service).replace("{environment}", environment)


def _valid_pattern(value: str) -> str:
    problem = url_pattern_problem(value)
    if problem:
        raise ValueError(problem)
    return value


UrlPattern = Annotated[str, AfterValidator(_valid_pattern)]


def at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, alias_generator=to_camel, str_strip_whitespace=True
    )


class ScanPolicy(_Frozen):
    """The scan thresholds of one environment."""

    fail_on: Severity
    """Findings at or above this severity fail the Scan stage and go to Security Hub."""
    license_deny_list: tuple[SpdxLicenseId, ...] = DEFAULT_LICENSE_DENY_LIST
    dast: bool
    """An OWASP ZAP baseline scan of the deployed service in a Verify stage."""


def default_scan_policy(production: bool) -> dict[str, object]:
    """Stricter for production; DAST only where crawling the service harms nobody."""
    return {"failOn": PRODUCTION_FAIL_ON if production else DEFAULT_FAIL_ON, "dast": not production}


class SonarQube(_Frozen):
    """A SonarQube server that replaces Semgrep for SAST."""

    url: HttpsUrl
    token_secret_name: TokenSecretName
    token_kind: SonarQubeTokenKind = Field(
        default="static",
        description='user-token: the platform rotates it (secret {"token", "name"}); static: never rotated.',
    )

    @property
    def rotated(self) -> bool:
        return self.token_kind == "user-token"  # noqa: S105 - a kind, not a token


SNYK_API_URL = "https://api.snyk.io"


class Snyk(_Frozen):
    """Snyk Open Source, run beside OSV-Scanner for dependency vulnerabilities."""

    token_secret_name: TokenSecretName
    token_kind: SnykTokenKind = Field(
        default="api-token",
        description="service-account-client-secret: an OAuth client-credentials service account whose secret the "
        'platform rotates (secret {"client_id", "client_secret"}); api-token: never rotated.',
    )
    org_id: SnykOrgId | None = Field(default=None, description="The Snyk organization owning the service account.")
    service_account_id: SnykOrgId | None = Field(default=None, description="The service account's id.")
    api_url: HttpsUrl = Field(default=SNYK_API_URL, description="Snyk's API host for the tenant's region.")

    @property
    def rotated(self) -> bool:
        return self.token_kind == "service-account-client-secret"  # noqa: S105 - a kind

    @model_validator(mode="after")
    def _rotation_needs_the_account(self) -> Snyk:
        if self.rotated and (self.org_id is None or self.service_account_id is None):
            raise ValueError(
                "tokenKind service-account-client-secret needs orgId and serviceAccountId: the rotation function "
                "manages that service account's client secrets"
            )
        return self
