"""A redeploy of a commit that first went out before the facts read is no new change (hostile review, finding 7).

``metrics`` documents that "deploying the same commit again (a redeploy, a restart) is a deployment but no
new change", but ``DoraMetrics.numbers`` reads only the outcomes since ``start - failure_window`` (and they
expire after ``window + failure_window + 1 day``). For a quiet service, one release a month and then a
"Release change" or a restart that rebuilds the same HEAD, the redeploy was taken for the commit's first
deployment, its lead time the commit's whole age (40 days here), which dominates the median of a service
with few deployments. Each commit's first successful deployment per service and environment is now kept
(``commit#<service>#<env>`` / ``<commit>``, put if absent or earlier, for ``REMEMBER_COMMITS_FOR``), and a
deployment of a commit authored before the window has a lead time only if it is that first one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from functions.dora_metrics.handler import DoraMetrics, graph_reader
from functions.dora_metrics.metrics import compute
from tests.functions.prod_placements import GRAPH_PARAMETER
from tests.functions.test_dora_metrics import (
    DAY,
    ONE_DAY,
    Pipelines,
    Run,
    aws,  # noqa: F401 (fixture)
    first_deployments,
    function,
    outcomes,
    stamp,
)

COMMIT = "c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffe"
EARLIER = timedelta(days=40)
AUTHORED = DAY + timedelta(hours=7, minutes=50) - EARLIER
FIRST = Run("a", "SUCCEEDED", "08:00", "08:20", committed="07:50", commit=COMMIT)  # 40 days earlier, see below
REDEPLOY = Run("b", "SUCCEEDED", "10:00", "10:20", committed="07:50", commit=COMMIT)  # a restart, "Release change"
END = DAY + timedelta(days=1)


def expect(pipelines: Pipelines, run: Run) -> None:
    """CodePipeline's answers for ``run``, its commit authored 40 days before the day measured."""
    pipelines.expect(run)
    for queued in pipelines.stubber._queue:
        for action in queued["response"][1].get("actionExecutionDetails", []):
            variables = action.get("output", {}).get("outputVariables", {})
            if "AuthorDate" in variables:
                variables["AuthorDate"] = stamp(AUTHORED)


def first_event() -> dict:
    """The commit's first deployment, 40 days before the day measured."""
    event = FIRST.event()
    event["time"] = stamp(DAY + timedelta(hours=8, minutes=20) - EARLIER)
    event["detail"]["start-time"] = stamp(DAY + timedelta(hours=8) - EARLIER, millis=True)
    return event


def test_a_redeploy_of_a_commit_first_deployed_long_ago_has_no_lead_time(aws):  # noqa: F811
    pipelines = Pipelines([FIRST, REDEPLOY])
    expect(pipelines, FIRST)
    assert "recorded" in function(aws, pipelines, DAY - EARLIER + timedelta(days=1)).handle(first_event())

    expect(pipelines, REDEPLOY)
    assert "recorded" in function(aws, pipelines, END).handle(REDEPLOY.event())
    pipelines.stubber.assert_no_pending_responses()

    numbers = function(aws, pipelines, END, ONE_DAY).numbers("booking", "prod")
    assert numbers.successes == 1
    assert numbers.lead_time_seconds is None, f"lead time {numbers.lead_time_seconds / 86400:.1f} days"


def test_the_first_deployment_arriving_after_its_redeploy_and_twice_still_is_the_first(aws):  # noqa: F811
    pipelines = Pipelines([FIRST, REDEPLOY])
    expect(pipelines, REDEPLOY)
    assert "recorded" in function(aws, pipelines, END).handle(REDEPLOY.event())
    expect(pipelines, FIRST)  # late, as EventBridge may deliver it (or a replay from the archive)
    assert "recorded" in function(aws, pipelines, END).handle(first_event())
    assert "duplicate" in function(aws, pipelines, END).handle(first_event())
    assert "duplicate" in function(aws, pipelines, END).handle(REDEPLOY.event())
    pipelines.stubber.assert_no_pending_responses()

    (first,) = first_deployments(aws).values()
    assert first.startswith(stamp(DAY + timedelta(hours=8, minutes=20) - EARLIER)[:19])
    assert len(outcomes(aws)) == 2
    assert function(aws, pipelines, END).numbers("booking", "prod").lead_time_seconds is None


def test_the_first_deployment_of_a_commit_authored_long_ago_still_has_its_lead_time(aws):  # noqa: F811
    """A branch merged 40 days after it was written, deployed once: a new change, its lead time 40 days."""
    pipelines = Pipelines([REDEPLOY])
    expect(pipelines, REDEPLOY)
    result = function(aws, pipelines, END).handle(REDEPLOY.event())
    assert result["numbers"]["LeadTimeForChanges"] == (EARLIER + timedelta(minutes=150)).total_seconds()


class FailsTheOutcomePut:
    """DynamoDB throttling the outcome's put once, after the commit's first deployment was put."""

    def __init__(self, dynamodb) -> None:
        self.dynamodb, self.failed = dynamodb, False

    def __getattr__(self, name):
        return getattr(self.dynamodb, name)

    def put_item(self, **request):
        if request["Item"]["pk"]["S"] == "booking#prod" and not self.failed:
            self.failed = True
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")
        return self.dynamodb.put_item(**request)


def test_a_retry_after_the_first_put_records_the_outcome_and_keeps_its_lead_time(aws):  # noqa: F811
    pipelines = Pipelines([REDEPLOY])
    expect(pipelines, REDEPLOY)
    failing = DoraMetrics(
        settings=ONE_DAY,
        codepipeline=pipelines.client,
        dynamodb=FailsTheOutcomePut(aws["dynamodb"]),
        cloudwatch=aws["cloudwatch"],
        graph=graph_reader(aws["ssm"], GRAPH_PARAMETER),
        now=lambda: END,
    )
    with pytest.raises(ClientError):
        failing.handle(REDEPLOY.event())
    assert outcomes(aws) == [] and len(first_deployments(aws)) == 1
    expect(pipelines, REDEPLOY)  # Lambda's retry: the outcome is absent, so CodePipeline is asked again
    result = function(aws, pipelines, END).handle(REDEPLOY.event())
    assert "recorded" in result and result["numbers"]["LeadTimeForChanges"] > 0
    assert len(outcomes(aws)) == 1 and len(first_deployments(aws)) == 1


def test_the_recorded_first_deployment_is_asked_only_about_commits_authored_before_the_window():
    asked: list[str] = []

    def first_deployed(commit: str) -> datetime | None:
        asked.append(commit)
        return DAY - EARLIER

    old = Run("b", "SUCCEEDED", "10:00", "10:20", committed="07:50", commit="old")
    new = Run("c", "SUCCEEDED", "11:00", "11:20", committed="10:50", commit="new")
    facts = [replace(old.fact(), committed_at=AUTHORED), new.fact()]
    numbers = compute(facts, DAY, END, timedelta(hours=24), first_deployed)
    assert asked == ["old"]
    assert numbers.lead_time_seconds == 30 * 60  # the new commit's alone
