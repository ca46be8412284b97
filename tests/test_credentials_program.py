"""The whole program's credentials: nothing exempt in the recommended configuration, everything else watched.

Issue 13's "done when": no secret in the plan is rotation-exempt in the recommended configuration (the prod
stack: a GitHub App whose key is in KMS, rotated scanner kinds); in any configuration every secret rotates at
most every 30 days or carries an exemption with its reason and maximum age, and a daily watch enforces that age.
"""

from __future__ import annotations

import json

from components.model.credentials import EXEMPT_TAG, MAX_AGE_TAG
from tests.conftest import inputs_of


def test_the_recommended_configuration_plans_no_rotation_exempt_secret(prod_plan) -> None:
    exempt = [
        s["name"] for s in inputs_of(prod_plan, "aws:secretsmanager/secret:Secret") if EXEMPT_TAG in s.get("tags", {})
    ]
    assert exempt == []
    assert inputs_of(prod_plan, "aws:kms/externalKey:ExternalKey"), "the GitHub App's key lives in KMS instead"


def test_every_secret_rotates_or_carries_a_reason_and_a_maximum_age(dev_plan, prod_plan) -> None:
    for plan in (dev_plan, prod_plan):
        rotated = {r["secretId"] for r in inputs_of(plan, "aws:secretsmanager/secretRotation:SecretRotation")}
        for secret in inputs_of(plan, "aws:secretsmanager/secret:Secret"):
            tags = secret.get("tags", {})
            assert secret["name"] in rotated or (tags.get(EXEMPT_TAG) and int(tags[MAX_AGE_TAG]) > 0), secret["name"]


def test_a_daily_watch_enforces_the_maximum_ages(dev_plan, prod_plan) -> None:
    for plan in (dev_plan, prod_plan):
        rules = [
            r
            for r in inputs_of(plan, "aws:cloudwatch/eventRule:EventRule")
            if r["name"].startswith("cicd-secret-watch-")
        ]
        assert [rule["scheduleExpression"] for rule in rules] == ["cron(0 7 * * ? *)"]
        function = next(
            f for f in inputs_of(plan, "aws:lambda/function:Function") if f["name"].startswith("cicd-secret-watch-")
        )
        assert function["environment"]["variables"]["SCHEDULE_RULE_ARN"].endswith(f":rule/{rules[0]['name']}")


def test_no_plan_holds_a_mandatory_finding(dev_plan, prod_plan) -> None:
    assert dev_plan.mandatory_violations == [] and prod_plan.mandatory_violations == []
    assert not [r for r in prod_plan.resources if "github-dispatch-token" in json.dumps(r.inputs)]
