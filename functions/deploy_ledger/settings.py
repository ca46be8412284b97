"""Settings of the coordination functions, read once from environment variables set by the Coordination component."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


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
    job_lease_seconds: int = 60
    """A bake job's claim lease: the function's timeout, so a delivery that died has released it before
    Lambda's retry of it can arrive (the retry starts after the failed delivery ended)."""

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
            job_lease_seconds=int(env.get("JOB_LEASE_SECONDS", cls.job_lease_seconds)),
        )
