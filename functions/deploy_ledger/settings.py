"""Settings of the coordination functions, read once from environment variables set by the Coordination component."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

FIRST_RETRY_AFTER_SECONDS = 60
"""Lambda developer guide, "How Lambda handles errors and retries with asynchronous invocation": one minute
between the first two attempts (a timeout, a crash or an out-of-memory kill is a function error like any other)."""


@dataclass(frozen=True)
class Settings:
    ledger_table: str
    graph_parameter: str
    freeze_parameter_prefix: str
    """SSM prefix; the parameter of environment ``prod`` is ``<prefix>prod``."""
    deployed_topic_arn_pattern: str
    """SNS topic ARN with a ``{service}`` placeholder."""
    pipeline_name_pattern: str = "{service}-{environment}"
    test_project_pattern: str = "{service}-integration-tests"
    health_alarm_pattern: str = "cicd-{service}-{environment}-health"
    """The composite alarm of a service in an environment, in the account where it runs there."""
    deploy_stage: str = "Deploy"
    hold_timeout_minutes: int = 120
    retry_attempts: int = 6
    retry_base_seconds: float = 0.2
    marker_ttl_days: int = 90
    account_id: str = ""
    """The tooling account: its pipelines are the only ones whose events and jobs the functions act on."""
    region: str = ""
    """The tooling region, where this stack's pipelines run."""
    function_timeout_seconds: int = 60
    """The functions' timeout; claims on work last exactly as long (``lease_seconds``)."""

    @property
    def lease_seconds(self) -> int:
        """How long a claim on work holds: the whole invocation that made it, and not a second past the earliest
        moment Lambda's retry of that invocation can arrive (the attempt may die at any point, an out-of-memory
        kill included, and the retry comes a minute after). Only a timeout of at most a minute has both."""
        return min(self.function_timeout_seconds, FIRST_RETRY_AFTER_SECONDS)

    @classmethod
    def from_environ(cls, environ: Any = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            ledger_table=env["LEDGER_TABLE"],
            graph_parameter=env["GRAPH_PARAMETER"],
            freeze_parameter_prefix=env["FREEZE_PARAMETER_PREFIX"],
            deployed_topic_arn_pattern=env.get("DEPLOYED_TOPIC_ARN_PATTERN", ""),
            pipeline_name_pattern=env.get("PIPELINE_NAME_PATTERN", cls.pipeline_name_pattern),
            test_project_pattern=env.get("TEST_PROJECT_PATTERN", cls.test_project_pattern),
            health_alarm_pattern=env.get("HEALTH_ALARM_PATTERN", cls.health_alarm_pattern),
            deploy_stage=env.get("DEPLOY_STAGE", cls.deploy_stage),
            hold_timeout_minutes=int(env.get("HOLD_TIMEOUT_MINUTES", cls.hold_timeout_minutes)),
            retry_attempts=int(env.get("RETRY_MAX_ATTEMPTS", cls.retry_attempts)),
            retry_base_seconds=float(env.get("RETRY_BASE_SECONDS", cls.retry_base_seconds)),
            # Required: without them no event could be trusted, so a missing one fails the cold start loudly.
            account_id=env["TOOLING_ACCOUNT_ID"],
            region=env["TOOLING_REGION"],
            function_timeout_seconds=int(env.get("FUNCTION_TIMEOUT_SECONDS", cls.function_timeout_seconds)),
        )
