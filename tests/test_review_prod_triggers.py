"""Review: prod-branch-literal (mandatory) reads only the push triggers' branch filters, so a prod pipeline that
starts on pull requests or on any tag passes.

CodePipeline V2 git triggers (CodePipeline User Guide, "Filter triggers on code push or pull requests"): a
``pullRequests`` filter's branches are the pull request's *destination*, so ``includes: [main]`` starts the prod
pipeline on the head commit of any pull request opened against main, from any branch; a ``pushes`` filter on
``tags`` starts it on any commit a tag is pushed to, on any branch. Either way commits that never reached
``main`` go to production (after the approval, which shows the commit but not its branch). The rule's
promise, "one literal branch, never a glob other branches can match", is broken without a finding.
"""

from __future__ import annotations

import pytest

from policies.rules.pipeline_shape import PROD_BRANCH_LITERAL
from policies.testing import check

from .policies.platform_shapes import pipeline

ON_MAIN = {"branches": {"includes": ["main"]}}


def messages(resource):
    reports = check(PROD_BRANCH_LITERAL, resource)
    assert not reports.skipped, reports.items
    return reports.messages


def trigger(**git):
    return [{"providerType": "CodeStarSourceConnection", "gitConfiguration": {"sourceActionName": "Source", **git}}]


def test_control_prod_on_main_is_quiet():
    assert messages(pipeline()) == []


@pytest.mark.parametrize(
    "triggers",
    [
        pytest.param(
            trigger(pushes=[ON_MAIN], pullRequests=[{"events": ["OPEN", "UPDATED"], **ON_MAIN}]), id="prs-into-main"
        ),
        pytest.param(trigger(pushes=[ON_MAIN, {"tags": {"includes": ["*"]}}]), id="any-tag"),
    ],
)
def test_a_prod_pipeline_started_by_commits_not_on_its_branch_is_reported(triggers):
    assert messages(pipeline(triggers=triggers)) != []
