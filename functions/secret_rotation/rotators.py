"""What each kind of secret does in a rotation: make a new credential, prove it works, retire an old one.

A rotator is chosen by the secret's kind (``ROTATED_SECRETS``, written by the platform from the stack's
settings). The vendor makes the credential, so ``create`` calls the vendor and ``setSecret`` has nothing left
to do; ``test`` proves the new credential against the vendor; ``revoke`` retires a superseded one and is
idempotent (the vendor's "not found" means it is already gone), because a step may run twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

Value = Mapping[str, Any]


class RotationError(Exception):
    """The vendor refused, or the new credential does not work: the step fails and AWSCURRENT stays."""


class Rotator(Protocol):
    kind: str

    def create(self, current: Value, token: str) -> dict[str, Any]:
        """A new credential from the vendor, as the secret's new value; ``token`` names this rotation."""
        ...

    def test(self, pending: Value) -> None:
        """Raise ``RotationError`` unless the new credential works."""
        ...

    def revoke(self, superseded: Value, current: Value) -> None:
        """Retire ``superseded`` (using ``current`` to authenticate); nothing to do when it is already gone."""
        ...


class RandomSigningSecret:
    """A signing key the platform owns and both ends read from the secret: nothing outside AWS to tell."""

    kind = "random-signing-secret"
    LENGTH = 64

    def __init__(self, secrets: Any) -> None:
        self.secrets = secrets

    def create(self, current: Value, token: str) -> dict[str, Any]:
        password = self.secrets.get_random_password(PasswordLength=self.LENGTH, ExcludePunctuation=True)
        return {"secret": password["RandomPassword"]}

    def test(self, pending: Value) -> None:
        if len(str(pending.get("secret", ""))) < self.LENGTH:
            raise RotationError("the pending signing secret is shorter than it must be")

    def revoke(self, superseded: Value, current: Value) -> None:
        """Readers verify against AWSCURRENT (and AWSPREVIOUS while it lasts): nothing to revoke elsewhere."""
