"""Snyk service-account client secrets: a second secret is created, proven, and the old one deleted later.

Snyk's REST API ("Manage service accounts using the Snyk API"; "Service accounts using OAuth 2.0"): an
``oauth_client_secret`` service account trades ``client_id`` + ``client_secret`` for an access token at
``POST /oauth2/token`` (form-encoded ``grant_type=client_credentials``), and its client secrets are managed
with ``POST /rest/orgs/{org_id}/service_accounts/{id}/secrets``: ``mode: create`` adds a secret beside the
existing one and answers it once, ``mode: delete`` with ``secret`` removes that one. Snyk's recommended
rotation is exactly that order: create, update the consumers, delete the old. The service account needs the
role permission to edit service accounts to manage its own secrets.

A service account holds at most two secrets, which is why the old one is deleted at the next rotation's
createSecret, before a new one is created (``handler``).
"""

from __future__ import annotations

from typing import Any

try:
    from .rotators import RotationError, Value
    from .vendor_http import VendorHttp
except ImportError:  # pragma: no cover - the Lambda runtime path
    from rotators import RotationError, Value  # type: ignore[no-redef]
    from vendor_http import VendorHttp  # type: ignore[no-redef]

API_VERSION = "2024-10-15"
"""A GA version of Snyk's REST API; every REST call names one (``?version=``)."""
JSON_API = "application/vnd.api+json"


class SnykClientSecret:
    kind = "snyk-client-secret"

    def __init__(self, api_url: str, org_id: str, service_account_id: str, http: VendorHttp) -> None:
        self.api_url, self.http = api_url.rstrip("/"), http
        self.secrets_url = (
            f"{self.api_url}/rest/orgs/{org_id}/service_accounts/{service_account_id}/secrets?version={API_VERSION}"
        )

    def create(self, current: Value, token: str) -> dict[str, Any]:
        answer = self._manage(current, {"mode": "create"})
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        attributes = data.get("attributes") if isinstance(data, dict) else None
        secret = attributes.get("client_secret") if isinstance(attributes, dict) else None
        if answer.status not in (200, 201) or not isinstance(secret, str) or not secret:
            raise RotationError(f"Snyk refused to create a client secret ({answer.status}: {answer.message()})")
        return {"client_id": _client_id(current), "client_secret": secret}

    def test(self, pending: Value) -> None:
        access = self._access_token(pending)
        answer = self.http.call(
            "GET",
            f"{self.api_url}/rest/self?version={API_VERSION}",
            headers={"Authorization": f"Bearer {access}", "Accept": JSON_API},
        )
        if answer.status != 200:
            raise RotationError(f"Snyk does not accept the new client secret ({answer.status}: {answer.message()})")

    def revoke(self, superseded: Value, current: Value) -> None:
        old = superseded.get("client_secret")
        if not isinstance(old, str) or not old or old == current.get("client_secret"):
            return
        answer = self._manage(current, {"mode": "delete", "secret": old})
        if answer.status in (200, 204, 404):
            return
        raise RotationError(f"Snyk refused to delete the old client secret ({answer.status}: {answer.message()})")

    def _manage(self, current: Value, attributes: dict[str, str]) -> Any:
        access = self._access_token(current)
        return self.http.call(
            "POST",
            self.secrets_url,
            headers={"Authorization": f"Bearer {access}", "Accept": JSON_API},
            json_body={"data": {"type": "service_account", "attributes": attributes}},
            content_type=JSON_API,
        )

    def _access_token(self, value: Value) -> str:
        secret = value.get("client_secret")
        if not isinstance(secret, str) or not secret:
            raise RotationError('the Snyk secret holds no {"client_id": ..., "client_secret": ...}')
        answer = self.http.call(
            "POST",
            f"{self.api_url}/oauth2/token",
            form={"grant_type": "client_credentials", "client_id": _client_id(value), "client_secret": secret},
        )
        access = answer.body.get("access_token") if isinstance(answer.body, dict) else None
        if answer.status != 200 or not isinstance(access, str):
            raise RotationError(f"Snyk refused the client credentials ({answer.status}: {answer.message()})")
        return access


def _client_id(value: Value) -> str:
    client_id = value.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise RotationError('the Snyk secret holds no "client_id"')
    return client_id
