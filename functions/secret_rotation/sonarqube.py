"""SonarQube user tokens: the CI user generates its next token, proves it, and later revokes the old one.

SonarQube's Web API ("api/user_tokens"): ``POST api/user_tokens/generate`` with a ``name`` unique for the
user answers the token once (it cannot be read again); ``POST api/user_tokens/revoke`` with that ``name``
retires it; ``GET api/authentication/validate`` answers ``{"valid": true}`` for a working credential. A
token authenticates as the HTTP basic user name with an empty password, which every SonarQube version
accepts. The secret holds ``{"token": ..., "name": ...}``: the name is what revocation needs.

The new token's name carries the rotation's ``ClientRequestToken``, so a createSecret that died after
SonarQube made the token but before Secrets Manager stored it finds the name taken on its retry: the orphan
(whose value nobody holds) is revoked and a fresh token generated under the same name.
"""

from __future__ import annotations

import base64
from typing import Any

try:
    from .rotators import RotationError, Value
    from .vendor_http import Answer, VendorHttp
except ImportError:  # pragma: no cover - the Lambda runtime path
    from rotators import RotationError, Value  # type: ignore[no-redef]
    from vendor_http import Answer, VendorHttp  # type: ignore[no-redef]

NAME_PREFIX = "cicd-rotation-"


class SonarQubeUserToken:
    kind = "sonarqube-user-token"

    def __init__(self, url: str, http: VendorHttp) -> None:
        self.url, self.http = url.rstrip("/"), http

    def create(self, current: Value, token: str) -> dict[str, Any]:
        name = f"{NAME_PREFIX}{token}"[:100]
        answer = self._post("api/user_tokens/generate", {"name": name}, _token_of(current))
        if answer.status == 400 and "already exists" in answer.message():
            self._revoke_name(name, _token_of(current))  # an earlier attempt's token nobody holds
            answer = self._post("api/user_tokens/generate", {"name": name}, _token_of(current))
        if answer.status != 200 or not isinstance(answer.body, dict) or not answer.body.get("token"):
            raise RotationError(f"SonarQube refused to generate a token ({answer.status}: {answer.message()})")
        return {"token": answer.body["token"], "name": name}

    def test(self, pending: Value) -> None:
        answer = self.http.call("GET", f"{self.url}/api/authentication/validate", headers=_basic(_token_of(pending)))
        if answer.status != 200 or not isinstance(answer.body, dict) or answer.body.get("valid") is not True:
            raise RotationError(f"SonarQube does not accept the new token ({answer.status}: {answer.body!r:.80})")

    def revoke(self, superseded: Value, current: Value) -> None:
        name = superseded.get("name")
        if not isinstance(name, str) or not name:
            return  # an operator's first token, stored without its name: README says to revoke it by hand
        if name == current.get("name"):
            return
        self._revoke_name(name, _token_of(current))

    def _revoke_name(self, name: str, token: str) -> None:
        answer = self._post("api/user_tokens/revoke", {"name": name}, token)
        if answer.status in (200, 204, 404):
            return
        raise RotationError(f"SonarQube refused to revoke token {name} ({answer.status}: {answer.message()})")

    def _post(self, path: str, form: dict[str, str], token: str) -> Answer:
        return self.http.call("POST", f"{self.url}/{path}", headers=_basic(token), form=form)


def _token_of(value: Value) -> str:
    token = value.get("token")
    if not isinstance(token, str) or not token:
        raise RotationError('the SonarQube secret holds no {"token": ...}')
    return token


def _basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}
