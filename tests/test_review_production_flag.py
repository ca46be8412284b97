"""Review: the stack's `production: true` does not reach the policy pack, so a second production environment
deploys with no approval and no prod rule notices.

The program treats an environment as production by its settings flag (bake, HIGH scan threshold, QUEUED,
the approval guardrail SCP, GitHub reviewers), while every prod rule of the pack recognises production by the
``environment`` tag being in ``prodEnvironments`` (default ``["prod"]``), a list kept by hand in
``policies/policy-config.json`` (which sets none). Issue 17 asked for no hand-kept lists between the catalog and
the pack. Here: the dev stack gains a disaster-recovery production environment ``dr`` (``production: true``;
``approval`` defaults to false for a name outside staging/prod) and plans with no mandatory finding, although
its pipelines deploy to production without a manual approval (prod-manual-approval), with no deployment window
(deploy-gates), and nothing restricts who may approve them (approval-restricted).
"""

from __future__ import annotations

import pytest
import yaml

from offline_plan.runner import Plan
from tests.conftest import PROJECT_DIR, with_dependencies
from tests.shared_plans import shared_plan


@pytest.fixture(scope="module")
def dr_plan(tmp_path_factory) -> Plan:
    """The dev stack with a ``dr`` production environment; its files are written with the same bytes each time,
    so the plan is computed once for every worker and session (``tests/shared_plans.py``)."""
    project = tmp_path_factory.mktemp("project")
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((PROJECT_DIR / name).read_text())
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    settings = stack["config"]["cicd-platform:settings"]
    prod = next(environment for environment in settings["environments"] if environment["name"] == "prod")
    dr = {"name": "dr", "accountId": "310000000015", "branch": "dr", "production": True, "azure": prod["azure"]}
    dr["gcp"] = {**prod["gcp"], "workloadIdentityPoolId": "github-dr"}
    settings["environments"].append(dr)
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    # Any one service shows it: auth alone (its pipelines in every environment, dr included).
    catalog = project / "services.yaml"
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    catalog.write_text(yaml.safe_dump(with_dependencies(raw, ["auth"])))
    return shared_plan(project, "dev", str(catalog))


def test_a_production_environment_without_approval_is_a_mandatory_finding(dr_plan):
    assert dr_plan.inputs.settings.environments[-1].production is True
    unapproved = [
        r.inputs["name"]
        for r in dr_plan.resources
        if r.type == "aws:codepipeline/pipeline:Pipeline"
        and r.inputs["tags"]["environment"] == "dr"
        and not any(a["category"] == "Approval" for stage in r.inputs["stages"] for a in stage["actions"])
    ]
    assert unapproved, "the scenario: dr pipelines deploy to production with no approval"
    flagged = {v.urn for v in dr_plan.mandatory_violations if v.policy == "prod-manual-approval"}
    assert flagged, f"{len(unapproved)} production pipelines without approval (e.g. {unapproved[0]}), no finding"
