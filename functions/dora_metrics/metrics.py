"""The four DORA metrics of one service in one environment, computed from recorded deployments alone.

Every number comes from the facts (``DeployFact``: one Deploy stage that ended, once), never from a
running counter, so a duplicated or reordered event, or one recorded twice, changes nothing. Over a
window ``[start, end)``:

- **deployment frequency**: successful deployments per day (``DeploymentFrequency``, count/day);
- **lead time for changes**: the median time from a deployed commit's time to its first successful
  deployment there (``LeadTimeForChanges``, seconds); deploying the same commit again (a redeploy, a
  restart) is a deployment but no new change, also when the first deployment is older than the facts
  (``first_deployed``: when the commit first went out there, as recorded);
- **change failure rate**: the share of deployments that failed (``ChangeFailureRate``, percent).
  A deployment failed when its Deploy stage failed after its actions ran, or when, within
  ``failure_window`` and before anything else was deployed, it was followed by a rollback of the
  stage (an execution of type ``ROLLBACK``) or by a hotfix or revert commit's deployment;
- **time to restore**: the median time from a failure to the next successful Deploy stage of the
  service there, standard or rollback (``TimeToRestore``, seconds). A failure starts when the
  platform can know it: a failed deployment ends, a rollback starts, or the hotfix of a change that
  is still live starts its pipeline. A failure whose restoration is not recorded yet counts when it is.

A deployment is an execution of type ``STANDARD`` whose Deploy stage ran (a deploy the gate held
ran none). Rollbacks restore; they are not deployments.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

NAMESPACE = "CicdPlatform/DORA"
SERVICE_DIMENSION = "Service"
ENVIRONMENT_DIMENSION = "Environment"
DIMENSIONS = (SERVICE_DIMENSION, ENVIRONMENT_DIMENSION)
DEPLOYMENT_FREQUENCY = "DeploymentFrequency"
LEAD_TIME = "LeadTimeForChanges"
CHANGE_FAILURE_RATE = "ChangeFailureRate"
TIME_TO_RESTORE = "TimeToRestore"
UNITS = {
    DEPLOYMENT_FREQUENCY: "Count",
    LEAD_TIME: "Seconds",
    CHANGE_FAILURE_RATE: "Percent",
    TIME_TO_RESTORE: "Seconds",
}
"""What the function publishes, metric name to CloudWatch unit (the dashboard shows exactly these)."""
STANDARD, ROLLBACK = "STANDARD", "ROLLBACK"
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"


@dataclass(frozen=True)
class DeployFact:
    """One Deploy stage that ended: the event's claim, checked, with what CodePipeline adds."""

    execution: str
    attempt: int
    state: str
    at: datetime
    started_at: datetime | None
    kind: str = STANDARD
    deployed: bool = True
    committed_at: datetime | None = None
    remediation: bool = False
    commit: str | None = None

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.execution, self.attempt, self.state)

    @property
    def began(self) -> datetime:
        """When the execution started, or, where the event did not say, when its stage ended."""
        return self.started_at or self.at

    @property
    def is_deployment(self) -> bool:
        return self.kind == STANDARD and (self.state == SUCCEEDED or self.deployed)


@dataclass(frozen=True)
class DoraNumbers:
    deployments: int
    successes: int
    failed_changes: int
    deployment_frequency: float
    """Successful deployments per day."""
    lead_time_seconds: float | None
    change_failure_rate: float | None
    """Percent; None without a deployment."""
    time_to_restore_seconds: float | None

    def values(self) -> dict[str, float]:
        """Metric name to value, for each metric that has one in this window."""
        values = {
            DEPLOYMENT_FREQUENCY: self.deployment_frequency,
            LEAD_TIME: self.lead_time_seconds,
            CHANGE_FAILURE_RATE: self.change_failure_rate,
            TIME_TO_RESTORE: self.time_to_restore_seconds,
        }
        return {name: round(value, 3) for name, value in values.items() if value is not None}


def _latest_before(
    deployments: list[DeployFact], moment: datetime, exclude: DeployFact | None = None
) -> DeployFact | None:
    """The last deployment that ended at or before ``moment``: the one a remediation starting then repairs."""
    earlier = [d for d in deployments if d.at <= moment and d is not exclude]
    return earlier[-1] if earlier else None


def failed_changes(deployments: list[DeployFact], restorations: list[DeployFact], window: timedelta) -> set[tuple]:
    """Keys of the deployments that failed: failed stages, and successes a rollback or hotfix repaired in time."""
    failed = {d.key for d in deployments if d.state == FAILED}
    remedies = [r for r in restorations if r.kind == ROLLBACK]
    remedies += [d for d in deployments if d.state == SUCCEEDED and d.remediation]
    for remedy in remedies:
        repaired = _latest_before(deployments, remedy.began, exclude=remedy)
        if repaired is not None and repaired.state == SUCCEEDED and remedy.began - repaired.at <= window:
            failed.add(repaired.key)
    return failed


def restore_times(
    deployments: list[DeployFact], restorations: list[DeployFact], window: timedelta
) -> list[tuple[datetime, float]]:
    """(failure start, seconds to the next successful Deploy stage) of every failure that was restored."""
    failures = [d.at for d in deployments if d.state == FAILED]
    failures += [r.began for r in restorations if r.kind == ROLLBACK]
    rolled_back = [r.at for r in restorations if r.state == SUCCEEDED]
    for hotfix in (d for d in deployments if d.state == SUCCEEDED and d.remediation):
        repaired = _latest_before(deployments, hotfix.began, exclude=hotfix)
        # A hotfix of a live change that failed: the failure is known when the fix starts. One that follows a
        # failed deployment, or a change already rolled back, fixes forward what is no longer broken.
        if (
            repaired is not None
            and repaired.state == SUCCEEDED
            and hotfix.began - repaired.at <= window
            and not any(repaired.at < moment <= hotfix.began for moment in rolled_back)
        ):
            failures.append(hotfix.began)
    successes = sorted({d.at for d in [*deployments, *restorations] if d.state == SUCCEEDED})
    episodes: list[tuple[datetime, float]] = []
    opened: datetime | None = None
    timeline = sorted([(moment, 0) for moment in failures] + [(moment, 1) for moment in successes])
    for moment, is_success in timeline:
        if not is_success and opened is None:
            opened = moment
        elif is_success and opened is not None:
            episodes.append((opened, (moment - opened).total_seconds()))
            opened = None
    return episodes


def first_deployments(
    deployments: list[DeployFact],
    successes: list[DeployFact],
    first_deployed: Callable[[str], datetime | None] | None = None,
    authored_before: datetime | None = None,
) -> list[DeployFact]:
    """The successes that first brought their commit to the environment (and have a commit time).

    ``deployments`` are those read; a commit authored before ``authored_before`` may have gone out before
    them, so ``first_deployed`` (when the commit first went out there, if recorded) is asked about it too.
    """
    deployed_before: set[str] = set()
    firsts = {}
    for deployment in deployments:
        if deployment.state != SUCCEEDED:
            continue
        if deployment.commit is None or deployment.commit not in deployed_before:
            firsts[deployment.key] = deployment
        if deployment.commit is not None:
            deployed_before.add(deployment.commit)
    found = [d for d in successes if d.key in firsts and d.committed_at is not None]
    if first_deployed is None or authored_before is None:
        return found
    return [d for d in found if not _went_out_earlier(d, first_deployed, authored_before)]


def _went_out_earlier(
    deployment: DeployFact, first_deployed: Callable[[str], datetime | None], authored_before: datetime
) -> bool:
    if deployment.commit is None or deployment.committed_at is None or deployment.committed_at >= authored_before:
        return False
    first = first_deployed(deployment.commit)
    return first is not None and first < deployment.at


def compute(
    facts: Iterable[DeployFact],
    start: datetime,
    end: datetime,
    failure_window: timedelta,
    first_deployed: Callable[[str], datetime | None] | None = None,
) -> DoraNumbers:
    """The four numbers over ``[start, end)`` from ``facts`` (give those from ``start - failure_window`` on).

    ``first_deployed(commit)``, when given, is asked only for the commits authored before ``start``: a later
    one cannot have gone out before the facts (even with a commit clock a failure window fast).
    """
    unique = {fact.key: fact for fact in facts if fact.at < end}
    ordered = sorted(unique.values(), key=lambda fact: (fact.at, fact.execution, fact.attempt, fact.state))
    deployments = [fact for fact in ordered if fact.is_deployment]
    restorations = [fact for fact in ordered if fact.kind == ROLLBACK]
    in_window = [d for d in deployments if start <= d.at < end]
    successes = [d for d in in_window if d.state == SUCCEEDED]
    failed = failed_changes(deployments, restorations, failure_window)
    failed_here = [d for d in in_window if d.key in failed]
    firsts = first_deployments(deployments, successes, first_deployed, start)
    lead_times = [max(0.0, (d.at - d.committed_at).total_seconds()) for d in firsts]
    restored = [
        seconds for opened, seconds in restore_times(deployments, restorations, failure_window) if start <= opened < end
    ]
    days = (end - start).total_seconds() / 86400
    return DoraNumbers(
        deployments=len(in_window),
        successes=len(successes),
        failed_changes=len(failed_here),
        deployment_frequency=len(successes) / days if days > 0 else 0.0,
        lead_time_seconds=statistics.median(lead_times) if lead_times else None,
        change_failure_rate=100 * len(failed_here) / len(in_window) if in_window else None,
        time_to_restore_seconds=statistics.median(restored) if restored else None,
    )
