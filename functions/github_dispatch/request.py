"""What one pipeline action asks for, read from its job and validated before anything reaches GitHub."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .outcomes import JobFailure

COMMIT_PATTERN = re.compile(r"^[0-9a-f]{40}$")
SERVICE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,27}$")
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
WORKFLOW_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,100}\.ya?ml$")
ENVIRONMENT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
CORRELATION_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
EXECUTION_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
"""A pipeline execution id, as the CodePipeline API reference gives its pattern."""
CLOUDS = ("gcp", "azure")
# A deliberate copy of components/model/github_run_timeout.py (the package cannot import the program);
# tests/components/test_github_dispatch_component.py keeps the two in step.
MIN_RUN_TIMEOUT_MINUTES = 10
MAX_RUN_TIMEOUT_MINUTES = 23 * 60


@dataclass(frozen=True)
class DeployRequest:
    """What one pipeline action asks for, validated: nothing unchecked reaches GitHub."""

    service: str
    repository: str
    workflow: str
    cloud: str
    environment: str
    commit: str
    ref: str | None
    timeout_minutes: int | None = None
    """How long to wait for the run before cancelling it; ``None`` means the function's default."""
    pipeline_execution_id: str | None = None
    """``#{codepipeline.PipelineExecutionId}`` resolved: the execution whose end must stop the run (``halting``).
    ``None`` for an action declared before the platform passed it, or when the variable did not resolve."""

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> DeployRequest:
        data = job.get("data", {})
        raw = data.get("actionConfiguration", {}).get("configuration", {}).get("UserParameters") or ""
        try:
            params = json.loads(raw)
        except json.JSONDecodeError as error:
            raise JobFailure(f"UserParameters is not JSON: {error}", "ConfigurationError") from error
        if not isinstance(params, dict):
            raise JobFailure("UserParameters must be a JSON object", "ConfigurationError")
        commit = str(params.get("commit") or "")
        if not COMMIT_PATTERN.fullmatch(commit):
            # Unresolved or absent variable: fall back to the source artifact's revision.
            revisions = [a.get("revision") or "" for a in data.get("inputArtifacts", [])]
            commit = next((r for r in revisions if COMMIT_PATTERN.fullmatch(r)), commit)
        request = cls(
            service=str(params.get("service") or ""),
            repository=str(params.get("repository") or ""),
            workflow=str(params.get("workflow") or ""),
            cloud=str(params.get("cloud") or ""),
            environment=str(params.get("environment") or ""),
            commit=commit,
            ref=str(params["ref"]) if params.get("ref") else None,
            timeout_minutes=params.get("timeoutMinutes"),
            pipeline_execution_id=_execution_id(params.get("pipelineExecutionId")),
        )
        request._validate()
        return request

    def _validate(self) -> None:
        checks = [
            ("service", SERVICE_PATTERN.fullmatch(self.service)),
            ("repository", REPOSITORY_PATTERN.fullmatch(self.repository)),
            ("workflow", WORKFLOW_PATTERN.fullmatch(self.workflow)),
            ("cloud", self.cloud in CLOUDS),
            ("environment", ENVIRONMENT_PATTERN.fullmatch(self.environment)),
            ("commit", COMMIT_PATTERN.fullmatch(self.commit)),
            ("ref", self.ref is None or re.fullmatch(r"[A-Za-z0-9._/-]{1,255}", self.ref)),
            ("timeoutMinutes", self.timeout_minutes is None or _whole_minutes_in_range(self.timeout_minutes)),
        ]
        bad = [name for name, ok in checks if not ok]
        if bad:
            shown = {name: getattr(self, _ATTRIBUTES.get(name, name)) for name in bad}
            raise JobFailure(f"invalid UserParameters {', '.join(bad)}: {json.dumps(shown)}", "ConfigurationError")

    @property
    def label(self) -> str:
        return f"{self.service} to {self.cloud} {self.environment} ({self.repository} {self.workflow})"

    @property
    def pipeline(self) -> str:
        """The pipeline that may ask for this deploy: ``<service>-<environment>`` (``components/model/naming.py``)."""
        return f"{self.service}-{self.environment}"


_ATTRIBUTES = {"timeoutMinutes": "timeout_minutes"}


def _execution_id(value: object) -> str | None:
    """The resolved execution id; an unresolved ``#{...}`` (or anything else) is no execution id."""
    return value if isinstance(value, str) and EXECUTION_PATTERN.fullmatch(value) else None


def _whole_minutes_in_range(value: object) -> bool:
    # bool is an int in Python; a JSON true is not a number of minutes.
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and MIN_RUN_TIMEOUT_MINUTES <= value <= MAX_RUN_TIMEOUT_MINUTES
    )
