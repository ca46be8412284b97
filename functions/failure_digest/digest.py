"""The digest of one failed action: everything the message says, gathered, redacted, before it is rendered."""

from __future__ import annotations

from dataclasses import dataclass, field

try:  # a package in tests, top-level modules in Lambda
    from .codebuild_facts import BuildFacts, ReportFindings
    from .codedeploy_facts import DeploymentFacts
    from .pipeline_facts import Commit
    from .recurrence import Failure
    from .toolchains import Excerpt
except ImportError:  # pragma: no cover - the Lambda runtime path
    from codebuild_facts import BuildFacts, ReportFindings  # type: ignore[no-redef]
    from codedeploy_facts import DeploymentFacts  # type: ignore[no-redef]
    from pipeline_facts import Commit  # type: ignore[no-redef]
    from recurrence import Failure  # type: ignore[no-redef]
    from toolchains import Excerpt  # type: ignore[no-redef]


@dataclass(frozen=True)
class Approval:
    reviewer: str
    """Who rejected (from ``updatedBy``); empty when nobody did (the approval expired)."""
    comment: str


@dataclass(frozen=True)
class Digest:
    pipeline: str
    service: str
    environment: str
    stage: str
    action: str
    execution: str
    attempt: int
    region: str
    owner: str
    provider: str = ""
    summary: str = ""
    """What the action's provider said (CodePipeline's ``externalExecutionSummary`` or error message)."""
    details_url: str = ""
    """The provider's page for this run (the build, the deployment), as CodePipeline records it."""
    commit: Commit | None = None
    build: BuildFacts | None = None
    excerpt: Excerpt | None = None
    reports: ReportFindings = field(default_factory=ReportFindings)
    deployment: DeploymentFacts | None = None
    approval: Approval | None = None
    same_as: Failure | None = None
    """The service's previous failure when it failed the same way."""
    model_summary: str = ""
