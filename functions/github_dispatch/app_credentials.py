"""GitHub credentials for one request: an App installation token signed by KMS, or the stored personal token.

In the ``app`` mode no secret holds a GitHub credential. The App's private key was imported once into an
asymmetric KMS key (``make import-github-app-key``) and never leaves it; for each repository the function:

1. builds the App JWT (GitHub, "Generating a JSON Web Token (JWT) for a GitHub App"): header
   ``{"alg": "RS256", "typ": "JWT"}``, claims ``iat`` 60 s in the past (GitHub's allowance for clock drift),
   ``exp`` nine minutes ahead (GitHub refuses more than ten) and ``iss`` the App id;
2. has KMS sign it: ``kms:Sign`` with ``RSASSA_PKCS1_V1_5_SHA_256`` — RS256 — over the SHA-256 digest of the
   signing input (``MessageType=DIGEST``: the function hashes, KMS adds the DigestInfo prefix and signs, so
   the signature is byte-for-byte an RS256 signature, and the message never travels to KMS);
3. exchanges the JWT for an installation token ("Create an installation access token for an app",
   ``POST /app/installations/{id}/access_tokens``) limited to the one repository and to ``actions: write``
   (plus ``metadata: read``, which reading the repository's default branch needs);
4. keeps the token in this container's memory only, until ten minutes before GitHub says it expires (at most
   50 of its 60 minutes): a delivery never starts work with a token that could expire under it.

The installation is the stack's ``installationId``, or, without one, looked up per repository with the JWT
("Get a repository installation for the authenticated app", ``GET /repos/{owner}/{repo}/installation``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .github_api import GitHub, read_token, response_message
from .outcomes import JobFailure
from .settings import Dependencies

SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
"""RS256 in KMS's words (AWS KMS API Reference, ``Sign``: ``SigningAlgorithm``)."""
JWT_BACKDATE_SECONDS = 60
JWT_LIFETIME_SECONDS = 9 * 60
"""``exp`` - now; with the backdated ``iat`` the JWT spans exactly GitHub's ten-minute maximum."""
REFRESH_MARGIN_SECONDS = 10 * 60
"""A cached token is dropped this long before it expires: longer than one delivery (the function's timeout)."""
MAX_CACHE_SECONDS = 50 * 60
"""Never keep a token longer than this, whatever ``expires_at`` says: less than its hour."""
TOKEN_PERMISSIONS = {"actions": "write", "metadata": "read"}


@dataclass(frozen=True)
class CachedToken:
    token: str
    use_until: float


_cache: dict[str, CachedToken] = {}
"""Installation tokens by App, installation and repository: this container's memory, never a secret."""
_installations: dict[str, int] = {}
"""Installation ids looked up per repository (they change only when the App is reinstalled)."""


def token_for(deps: Dependencies, repository: str) -> str:
    """The token to call GitHub with for ``repository`` (``owner/name``), in the stack's credential mode."""
    if deps.settings.credential_mode != "app":
        return read_token(deps)
    key = f"{deps.settings.app_id}:{deps.settings.installation_id or '-'}:{repository.lower()}"
    cached = _cache.get(key)
    if cached is not None and deps.clock() < cached.use_until:
        return cached.token
    token = AppAuthenticator(deps).installation_token(repository)
    _cache[key] = token
    return token.token


def github_for(deps: Dependencies, repository: str) -> GitHub:
    """A GitHub client holding the credential for ``repository`` in the stack's credential mode."""
    return GitHub(deps.settings.api_url, token_for(deps, repository), deps.settings, deps.sleep, deps.clock)


def forget_tokens() -> None:
    """Empty this container's memory of tokens (tests; a new container starts empty anyway)."""
    _cache.clear()
    _installations.clear()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class AppAuthenticator:
    """Signs App JWTs with the KMS key and trades them for installation tokens."""

    def __init__(self, deps: Dependencies) -> None:
        settings = deps.settings
        if settings.app_id is None or not settings.app_key_arn:
            raise JobFailure(
                "the GitHub App mode needs GITHUB_APP_ID and GITHUB_APP_KEY_ARN: redeploy the platform",
                "ConfigurationError",
            )
        self.deps, self.app_id, self.key_arn = deps, settings.app_id, settings.app_key_arn

    def jwt(self) -> str:
        """A fresh App JWT whose signature comes from ``kms:Sign``."""
        now = int(self.deps.clock())
        header = {"alg": "RS256", "typ": "JWT"}
        claims = {"iat": now - JWT_BACKDATE_SECONDS, "exp": now + JWT_LIFETIME_SECONDS, "iss": str(self.app_id)}
        signing_input = f"{b64url(_compact(header))}.{b64url(_compact(claims))}"
        digest = hashlib.sha256(signing_input.encode("ascii")).digest()
        try:
            answer = self.deps.kms.sign(
                KeyId=self.key_arn, Message=digest, MessageType="DIGEST", SigningAlgorithm=SIGNING_ALGORITHM
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            hint = (
                ": the App's private key was never imported (make import-github-app-key)"
                if code in ("KMSInvalidStateException", "DisabledException")
                else ""
            )
            raise JobFailure(f"KMS refused to sign the GitHub App JWT ({code}){hint}", "PermissionError") from error
        return f"{signing_input}.{b64url(answer['Signature'])}"

    def installation_token(self, repository: str) -> CachedToken:
        github = GitHub(self.deps.settings.api_url, self.jwt(), self.deps.settings, self.deps.sleep, self.deps.clock)
        installation = self.deps.settings.installation_id or self._installation_of(github, repository)
        owner, _, name = repository.partition("/")
        response = github._request(  # the client's retries for 5xx and rate limits, with the JWT
            "POST",
            f"/app/installations/{installation}/access_tokens",
            {"repositories": [name], "permissions": TOKEN_PERMISSIONS},
        )
        if response.status == 201 and isinstance(response.body, dict) and response.body.get("token"):
            return CachedToken(str(response.body["token"]), self._use_until(response.body.get("expires_at")))
        message = response_message(response)
        if response.status == 401:
            raise JobFailure(
                f"GitHub rejected the App JWT (401: {message}): is GITHUB_APP_ID the App whose key was imported, "
                "and is the Lambda clock right?",
                "PermissionError",
            )
        if response.status == 404:
            installation_id = installation
            _installations.pop(repository.lower(), None)
            raise JobFailure(
                f"GitHub App installation {installation_id} not found (404): install the App on {owner} or fix "
                "githubCredentials.installationId",
                "ConfigurationError",
            )
        if response.status == 422:
            raise JobFailure(
                f"GitHub refused a token for {repository} (422: {message}): the App's installation must include the "
                "repository and grant Actions read/write",
                "ConfigurationError",
            )
        if response.status == 403:
            raise JobFailure(f"GitHub refused an installation token (403: {message})", "PermissionError")
        raise JobFailure(f"GitHub answered {response.status} to the installation token request: {message}")

    def _installation_of(self, github: GitHub, repository: str) -> int:
        known = _installations.get(repository.lower())
        if known is not None:
            return known
        response = github._request("GET", f"/repos/{repository}/installation")
        if response.status == 200 and isinstance(response.body, dict) and isinstance(response.body.get("id"), int):
            _installations[repository.lower()] = response.body["id"]
            return response.body["id"]
        if response.status == 404:
            raise JobFailure(
                f"the GitHub App is not installed on {repository} (404): install it, with Actions read/write",
                "ConfigurationError",
            )
        if response.status == 401:
            raise JobFailure("GitHub rejected the App JWT (401) while finding the installation", "PermissionError")
        raise JobFailure(f"GitHub answered {response.status} while finding the App installation of {repository}")

    def _use_until(self, expires_at: Any) -> float:
        now = self.deps.clock()
        use_until = now + MAX_CACHE_SECONDS
        if isinstance(expires_at, str):
            try:
                expiry = datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                expiry = None
            if expiry is not None:
                use_until = min(use_until, expiry - REFRESH_MARGIN_SECONDS)
        return use_until


def _compact(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
