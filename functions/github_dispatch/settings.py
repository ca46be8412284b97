"""What the function knows about its surroundings: settings from environment variables, and its AWS clients."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass(frozen=True)
class Settings:
    """What the function needs to know about its surroundings, from its environment variables."""

    token_secret_arn: str
    """The personal-token mode's secret; empty in the App mode, where no secret holds a GitHub credential."""
    claims_table: str
    credential_mode: str = "token"
    """``token`` (a secret) or ``app`` (a GitHub App whose key is in KMS: ``app_credentials``)."""
    app_id: int | None = None
    installation_id: int | None = None
    """``None``: looked up per repository."""
    app_key_arn: str = ""
    api_url: str = "https://api.github.com"
    find_run_max_polls: int = 20
    default_run_timeout_minutes: int = 120
    """For an action whose UserParameters carry no ``timeoutMinutes`` (declared by an older platform)."""
    cancel_confirm_seconds: float = 300.0
    """How long a cancel (then a force-cancel) may take before the function escalates or gives up on it."""
    poll_wait_seconds: float = 15.0
    http_max_attempts: int = 4
    http_backoff_seconds: float = 1.0
    max_rate_limit_wait_seconds: float = 30.0
    max_unavailable_polls: int = 10
    claim_lease_seconds: int = 45
    """Below Lambda's first retry of a failed delivery (one minute later): see ``claims``."""
    http_timeout_seconds: float = 10.0

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            return float(env[name]) if env.get(name) else default

        mode = env.get("GITHUB_AUTH_MODE") or cls.credential_mode
        app = mode == "app"  # each mode's own settings are required (a KeyError names the missing one)
        return cls(
            token_secret_arn="" if app else env["GITHUB_TOKEN_SECRET_ARN"],
            claims_table=env["CLAIMS_TABLE"],
            credential_mode=mode,
            app_id=int(env["GITHUB_APP_ID"]) if app else None,
            installation_id=int(env["GITHUB_APP_INSTALLATION_ID"]) if env.get("GITHUB_APP_INSTALLATION_ID") else None,
            app_key_arn=env["GITHUB_APP_KEY_ARN"] if app else "",
            api_url=env.get("GITHUB_API_URL") or cls.api_url,
            find_run_max_polls=int(number("FIND_RUN_MAX_POLLS", cls.find_run_max_polls)),
            default_run_timeout_minutes=int(number("DEFAULT_RUN_TIMEOUT_MINUTES", cls.default_run_timeout_minutes)),
            cancel_confirm_seconds=number("CANCEL_CONFIRM_SECONDS", cls.cancel_confirm_seconds),
            poll_wait_seconds=number("POLL_WAIT_SECONDS", cls.poll_wait_seconds),
            http_max_attempts=int(number("HTTP_MAX_ATTEMPTS", cls.http_max_attempts)),
            http_backoff_seconds=number("HTTP_BACKOFF_SECONDS", cls.http_backoff_seconds),
            max_rate_limit_wait_seconds=number("MAX_RATE_LIMIT_WAIT_SECONDS", cls.max_rate_limit_wait_seconds),
            max_unavailable_polls=int(number("MAX_UNAVAILABLE_POLLS", cls.max_unavailable_polls)),
            claim_lease_seconds=int(number("CLAIM_LEASE_SECONDS", cls.claim_lease_seconds)),
            http_timeout_seconds=number("HTTP_TIMEOUT_SECONDS", cls.http_timeout_seconds),
        )


@dataclass
class Dependencies:
    """The clients one invocation uses; tests hand in stubbed or moto-backed ones."""

    settings: Settings
    codepipeline: Any
    secrets: Any
    dynamodb: Any
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    kms: Any = None
    """Signs the GitHub App JWT; only the App mode has it."""

    @classmethod
    def from_environment(cls, codepipeline: Any) -> Dependencies:
        settings = Settings.from_environment()
        return cls(
            settings=settings,
            codepipeline=codepipeline,
            secrets=boto3.client("secretsmanager"),
            dynamodb=boto3.client("dynamodb"),
            kms=boto3.client("kms") if settings.credential_mode == "app" else None,
        )
