"""AWS clients for the coordination functions, every call wrapped in the throttling backoff.

Clients are created on first use so a test can hand in its own (a moto-backed
client, or one wrapped in ``botocore.stub.Stubber`` for CodePipeline calls moto
lacks) and so a cold start only pays for the clients an event needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from .retry import with_backoff
from .settings import Settings

# botocore retries transient network errors itself; throttling is retried by ``with_backoff`` on top.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


@dataclass
class Aws:
    settings: Settings
    clients: dict[str, Any] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

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
