"""The platform's one Secrets Manager rotation function: the four steps, for every kind of secret it rotates.

Secrets Manager rotates a secret by invoking this function four times with the same ``ClientRequestToken``
(AWS Secrets Manager User Guide, "Lambda rotation functions" and "How rotation works"): before the first
step it has already attached ``AWSPENDING`` to an empty version whose id is that token.

- ``createSecret``: unless the pending version already has a value (a replay), ask the vendor for a new
  credential (``rotators``) and store it as that version, still ``AWSPENDING``;
- ``setSecret``: the vendor made the credential, so there is nothing to tell it: a no-op, logged;
- ``testSecret``: prove the pending credential against the vendor; a failure fails the rotation and
  ``AWSCURRENT`` never moves;
- ``finishSecret``: move ``AWSCURRENT`` to the token's version (Secrets Manager moves ``AWSPREVIOUS``).

Each step is idempotent: Secrets Manager retries a failed rotation with the same token, and Lambda may
deliver a step twice. Every step first checks what AWS's rotation template checks: rotation is enabled, the
token is a version of this secret, and it is ``AWSPENDING`` (or already ``AWSCURRENT``: nothing to do).

**When the old credential dies.** Never before ``finishSecret``: until then it is the current one. Not at
``finishSecret`` either: a scan that read the secret a minute earlier still holds it (CodeBuild reads its
secrets when the build starts). The superseded credential (``AWSPREVIOUS``) is revoked at the *next*
rotation's ``createSecret``, before a new credential is made — which also keeps a Snyk service account
within its two client secrets. So at most two credentials of a kind are valid at once, and each is revoked
one rotation period after it was superseded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

try:  # imported as a package in tests, as top-level modules in Lambda
    from .rotators import RandomSigningSecret, RotationError, Rotator
    from .snyk import SnykClientSecret
    from .sonarqube import SonarQubeUserToken
    from .vendor_http import VendorHttp
except ImportError:  # pragma: no cover - the Lambda runtime path
    from rotators import RandomSigningSecret, RotationError, Rotator  # type: ignore[no-redef]
    from snyk import SnykClientSecret  # type: ignore[no-redef]
    from sonarqube import SonarQubeUserToken  # type: ignore[no-redef]
    from vendor_http import VendorHttp  # type: ignore[no-redef]

LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class NotRotatable(Exception):  # noqa: N818 - a refusal of the event, said in the rotation's failure
    """The event names a secret, version or step this function must not act on."""


@dataclass
class Dependencies:
    secrets: Any
    rotated: Mapping[str, Mapping[str, str]]
    """``ROTATED_SECRETS``: secret name → its kind and the vendor settings that kind needs."""
    http: VendorHttp

    @classmethod
    def from_environment(cls) -> Dependencies:
        return cls(
            secrets=boto3.client("secretsmanager"),
            rotated=json.loads(os.environ.get("ROTATED_SECRETS") or "{}"),
            http=VendorHttp(),
        )

    def rotator_for(self, secret_name: str) -> Rotator:
        spec = self.rotated.get(secret_name)
        if spec is None:
            raise NotRotatable(f"secret {secret_name} is not one this function rotates (ROTATED_SECRETS)")
        kind = spec.get("kind")
        if kind == "sonarqube-user-token":
            return SonarQubeUserToken(spec["url"], self.http)
        if kind == "snyk-client-secret":
            return SnykClientSecret(spec["apiUrl"], spec["orgId"], spec["serviceAccountId"], self.http)
        if kind == "random-signing-secret":
            return RandomSigningSecret(self.secrets)
        raise NotRotatable(f"secret {secret_name} has an unknown rotation kind {kind!r}")


def rotate(event: Mapping[str, Any], deps: Dependencies) -> str:
    """Run one step; returns what it did (for the log). Raises to fail the step."""
    try:
        arn, token, step = str(event["SecretId"]), str(event["ClientRequestToken"]), str(event["Step"])
    except (KeyError, TypeError) as error:
        raise NotRotatable(f"not a rotation event: missing {error}") from None
    if step not in STEPS:
        raise NotRotatable(f"unknown rotation step {step!r}")
    metadata = deps.secrets.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise NotRotatable(f"secret {arn} does not have rotation enabled")
    versions: dict[str, list[str]] = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise NotRotatable(f"secret version {token} has no stage for rotation of {arn}")
    if CURRENT in versions[token]:
        return f"{step}: version {token} is already AWSCURRENT"
    if PENDING not in versions[token]:
        raise NotRotatable(f"secret version {token} is not AWSPENDING for rotation of {arn}")
    rotator = deps.rotator_for(metadata["Name"])
    handlers: dict[str, Callable[[str, str, dict[str, list[str]], Rotator, Dependencies], str]] = {
        "createSecret": create_secret,
        "setSecret": set_secret,
        "testSecret": test_secret,
        "finishSecret": finish_secret,
    }
    return handlers[step](arn, token, versions, rotator, deps)


def create_secret(arn: str, token: str, versions: dict[str, list[str]], rotator: Rotator, deps: Dependencies) -> str:
    current = _value(deps, arn, stage=CURRENT)
    try:
        deps.secrets.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
        return "createSecret: the pending version already has its credential"
    except deps.secrets.exceptions.ResourceNotFoundException:
        pass
    # The credential the last rotation superseded has been out of use for a whole rotation period: retire it
    # now, before a new one exists (never earlier than the finishSecret that superseded it).
    for version_id, stages in versions.items():
        if PREVIOUS in stages and version_id != token and CURRENT not in stages:
            rotator.revoke(_value(deps, arn, version_id=version_id), current)
    new_value = rotator.create(current, token)
    deps.secrets.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(new_value), VersionStages=[PENDING]
    )
    return f"createSecret: stored a new {rotator.kind} as AWSPENDING"


def set_secret(arn: str, token: str, versions: dict[str, list[str]], rotator: Rotator, deps: Dependencies) -> str:
    return f"setSecret: nothing to do, {rotator.kind} credentials are made by their vendor in createSecret"


def test_secret(arn: str, token: str, versions: dict[str, list[str]], rotator: Rotator, deps: Dependencies) -> str:
    rotator.test(_value(deps, arn, version_id=token, stage=PENDING))
    return f"testSecret: the pending {rotator.kind} works"


def finish_secret(arn: str, token: str, versions: dict[str, list[str]], rotator: Rotator, deps: Dependencies) -> str:
    current = next((version for version, stages in versions.items() if CURRENT in stages), None)
    if current == token:
        return "finishSecret: already AWSCURRENT"
    deps.secrets.update_secret_version_stage(
        SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=current
    )
    return f"finishSecret: {token} is AWSCURRENT; the superseded credential is revoked at the next rotation"


def _value(deps: Dependencies, arn: str, *, stage: str | None = None, version_id: str | None = None) -> dict[str, Any]:
    request: dict[str, str] = {"SecretId": arn}
    if stage:
        request["VersionStage"] = stage
    if version_id:
        request["VersionId"] = version_id
    raw = deps.secrets.get_secret_value(**request).get("SecretString") or ""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        # An operator's first SonarQube token may be stored bare: it works, but cannot be revoked by name.
        return {"token": raw.strip()} if raw.strip() else {}
    return value


def handler(event: dict[str, Any], context: Any) -> None:
    step = event.get("Step") if isinstance(event, dict) else None
    try:
        LOGGER.info("%s", rotate(event, Dependencies.from_environment()))
    except (NotRotatable, RotationError) as error:
        LOGGER.error("rotation step %s failed: %s", step, error)  # never the event's values: none are secret,
        raise  # but a credential must never reach a log line; Secrets Manager records the failed rotation
    except ClientError as error:
        LOGGER.error("rotation step %s failed: %s", step, error.response["Error"]["Code"])
        raise
