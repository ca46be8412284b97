"""How long a pipeline's GitHub dispatch action waits for its workflow run, per environment.

The action is a CodePipeline Lambda invoke action. CodePipeline's quotas page
("Length of time before an action times out") gives it 24 hours in all, and
each answer of the function at most 20 minutes; after 24 hours CodePipeline
fails the action on its own and the GitHub run goes on. The platform therefore
gives up earlier, on its own terms: at the environment's timeout it cancels the
run and then confirms the cancel, which takes up to the reserve below, so the
largest timeout ends a full reserve before CodePipeline's limit.

Production runs wait for the GitHub environment's reviewers, people who may
need a working day; elsewhere nobody reviews and a run that has not finished
in two hours is stuck.
"""

from __future__ import annotations

CODEPIPELINE_LAMBDA_ACTION_MINUTES = 24 * 60
"""CodePipeline quotas: a Lambda invoke action times out after 24 hours."""
CANCEL_RESERVE_MINUTES = 60
"""Kept after the timeout for cancelling the run and confirming it (the function needs about 11 minutes)."""
MAX_RUN_TIMEOUT_MINUTES = CODEPIPELINE_LAMBDA_ACTION_MINUTES - CANCEL_RESERVE_MINUTES
MIN_RUN_TIMEOUT_MINUTES = 10
"""A run queues, checks out and builds an image before it deploys; less than this fails healthy deploys."""
DEFAULT_RUN_TIMEOUT_MINUTES = 120
PRODUCTION_RUN_TIMEOUT_MINUTES = 480
"""Production runs wait for a reviewer of the GitHub environment: a working day."""


def run_timeout_problem(minutes: int) -> str | None:
    """Why ``minutes`` cannot be a GitHub run timeout, or ``None`` if it can."""
    if minutes < MIN_RUN_TIMEOUT_MINUTES:
        return f"must be at least {MIN_RUN_TIMEOUT_MINUTES} minutes: a run queues and builds before it deploys"
    if minutes > MAX_RUN_TIMEOUT_MINUTES:
        return (
            f"must be at most {MAX_RUN_TIMEOUT_MINUTES} minutes: CodePipeline fails a Lambda invoke action after "
            f"{CODEPIPELINE_LAMBDA_ACTION_MINUTES // 60} hours, and the platform keeps the last "
            f"{CANCEL_RESERVE_MINUTES} minutes to cancel the GitHub run and confirm it"
        )
    return None
