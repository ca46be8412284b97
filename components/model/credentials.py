"""How the platform holds the credentials it needs from vendors: rotated, replaced by a key in KMS, or watched.

Three kinds of credential reach the platform from outside AWS:

- **GitHub**, for the dispatch function. The recommended mode is a GitHub App whose private key lives only
  in an asymmetric KMS key (``app``): the function signs a short-lived App JWT with ``kms:Sign`` and swaps it
  for an hour-long installation token scoped to one repository, so no secret holds a GitHub credential. The
  ``token`` mode (a fine-grained personal access token in a secret) stays for small setups; GitHub offers
  no API to rotate such a token, so its secret is tagged rotation-exempt with a maximum age that a daily
  check watches.
- **Scanner tokens** (SonarQube, Snyk), in secrets the operator creates and the stack names. Their *kind*
  says whether the vendor lets the platform rotate them: a SonarQube user token (generate + revoke through
  the Web API) and a Snyk service account's OAuth client secret (the REST API's client-secret management)
  are rotated by the platform's rotation function; a static token is watched like the GitHub token.
- **Slack**: AWS Chatbot needs no credential; an incoming webhook is a URL that Slack cannot rotate, watched.

A rotation-exempt secret carries two tags, its reason and its maximum age in days (``exemption_tags``): the
policy pack requires both, and the watch alerts the release-news channel when the secret is older.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

EXEMPT_TAG = "rotation-exempt"
"""Value: why the secret cannot rotate (the policy pack's ``secret-rotation`` rule reads it)."""
MAX_AGE_TAG = "rotation-exempt-max-age-days"
"""Value: the age in days past which the daily watch alerts (a positive whole number)."""
MAX_ROTATION_DAYS = 30
"""The platform's rotation bound (POLICIES.md: ``secret-rotation``, 30 days where the anchors say 90)."""
DEFAULT_EXEMPT_MAX_AGE_DAYS = 90
"""A credential that cannot rotate is replaced by hand at least this often unless the stack says otherwise."""

GitHubAppId = Annotated[int, Field(gt=0, description="The GitHub App's numeric id (its settings page, 'App ID').")]
MaxAgeDays = Annotated[int, Field(ge=1, le=366)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, alias_generator=to_camel)


class GitHubApp(_Frozen):
    """The recommended GitHub credential: an App whose private key was imported into a KMS signing key."""

    mode: Literal["app"]
    app_id: GitHubAppId
    installation_id: int | None = Field(
        default=None,
        gt=0,
        description="The App's installation on the organization; looked up per repository when not given.",
    )


class GitHubToken(_Frozen):
    """A fine-grained personal access token in a secret: for small setups; rotation-exempt and watched."""

    mode: Literal["token"]
    max_age_days: MaxAgeDays = Field(
        default=DEFAULT_EXEMPT_MAX_AGE_DAYS,
        description="Days after the token was last put before the daily watch alerts; match the token's expiry.",
    )


GitHubCredentials = Annotated[GitHubApp | GitHubToken, Field(discriminator="mode")]
DEFAULT_GITHUB_CREDENTIALS = GitHubToken(mode="token")
"""What a stack that names no mode gets: the token mode it had before App support, unchanged."""

SonarQubeTokenKind = Literal["user-token", "static"]
"""``user-token``: a SonarQube user token the rotation function replaces (secret ``{"token", "name"}``);
``static``: any other token, stored as it is and never rotated by the platform."""
SnykTokenKind = Literal["service-account-client-secret", "api-token"]
"""``service-account-client-secret``: an OAuth client-credentials service account whose secret the rotation
function replaces (secret ``{"client_id", "client_secret"}``); ``api-token``: a Snyk API token, never rotated."""
RotatorKind = Literal["sonarqube-user-token", "snyk-client-secret", "random-signing-secret"]
"""The rotators of ``functions/secret_rotation``; the tag ``rotation-kind`` on a rotated secret names one."""

SnykOrgId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


def exemption_tags(reason: str, max_age_days: int) -> dict[str, str]:
    """The two tags every rotation-exempt secret carries (the pack's ``secret-rotation`` rule checks both)."""
    return {EXEMPT_TAG: reason, MAX_AGE_TAG: str(max_age_days)}
