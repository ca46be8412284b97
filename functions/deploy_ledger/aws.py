"""AWS clients for the coordination functions, every call wrapped in the throttling backoff.

Clients are created on first use so a test can hand in its own (a moto-backed
client, or one wrapped in ``botocore.stub.Stubber`` for CodePipeline calls moto
lacks) and so a cold start only pays for the clients an event needs.

Dependency alarms live in the environment accounts: ``call_as`` assumes a
role there (the account's alarm reader) once per invocation and reuses the
credentials for every alarm read through it. Credentials are never kept across
invocations: ``for_invocation`` hands each event a fresh cache, so a warm
container never reads with credentials about to expire.

Clients for an assumed role are made from the default session with the
credentials passed as parameters (boto3 user guide, "Credentials": passing
credentials as parameters), not from a new ``boto3.Session`` per role: a new
session reads and parses botocore's service descriptions from disk again,
about a tenth of a second of CPU for every role of every invocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.config import Config

from .retry import with_backoff
from .settings import Settings

# botocore retries transient network errors itself; throttling is retried by ``with_backoff`` on top.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
SESSION_NAME = "cicd-dependency-health"
SESSION_SECONDS = 900
"""The shortest session STS grants: one invocation needs minutes at most."""


@dataclass
class Aws:
    settings: Settings
    clients: dict[str, Any] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)
    """Credentials of the roles assumed in this invocation, by role ARN."""
    assumed_clients: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def for_invocation(self) -> Aws:
        """The same settings and clients with an empty cache of assumed sessions."""
        return replace(self, sessions={}, assumed_clients={})

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service, config=CLIENT_CONFIG)
        return self.clients[service]

    def call(self, service: str, operation: str, **kwargs: Any) -> Any:
        return with_backoff(
            getattr(self.client(service), operation),
            attempts=self.settings.retry_attempts,
            base_seconds=self.settings.retry_base_seconds,
            sleep=self.sleep,
            **kwargs,
        )

    def assumed_client(self, role_arn: str, region: str, service: str) -> Any:
        """A client of ``service`` in ``region`` running as ``role_arn``; the role is assumed once per invocation."""
        key = (role_arn, region, service)
        if key not in self.assumed_clients:
            if role_arn not in self.sessions:
                credentials = self.call(
                    "sts",
                    "assume_role",
                    RoleArn=role_arn,
                    RoleSessionName=SESSION_NAME,
                    DurationSeconds=SESSION_SECONDS,
                )["Credentials"]
                self.sessions[role_arn] = {
                    "aws_access_key_id": credentials["AccessKeyId"],
                    "aws_secret_access_key": credentials["SecretAccessKey"],
                    "aws_session_token": credentials["SessionToken"],
                }
            self.assumed_clients[key] = boto3.client(
                service, region_name=region, config=CLIENT_CONFIG, **self.sessions[role_arn]
            )
        return self.assumed_clients[key]

    def call_as(self, role_arn: str, region: str, service: str, operation: str, **kwargs: Any) -> Any:
        """``call`` through an assumed role, with the same throttling backoff (for the assume as well)."""
        return with_backoff(
            getattr(self.assumed_client(role_arn, region, service), operation),
            attempts=self.settings.retry_attempts,
            base_seconds=self.settings.retry_base_seconds,
            sleep=self.sleep,
            **kwargs,
        )
