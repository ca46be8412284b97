"""The printed policy section: findings grouped by level, mandatory first, then by rule."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from offline_plan.policy_check import Violation
from offline_plan.report import render_violations, violations_by_rule


def plan_with(*violations):
    return SimpleNamespace(violations=list(violations))


def finding(policy, level, name, message="broken"):
    return Violation(policy, level, f"urn:pulumi:dev::p::aws:x/y:Z::{name}", message, remediation=f"fix {policy}")


def test_findings_are_grouped_mandatory_first_then_by_rule_with_a_few_examples():
    plan = plan_with(
        finding("prod-queued", "advisory", "a-prod"),
        *[finding("kms-rotation", "mandatory", f"key-{i}", f"key {i} does not rotate") for i in range(5)],
        finding("s3-kms", "mandatory", "bucket"),
    )
    by_rule = violations_by_rule(plan)
    assert by_rule == {"mandatory": {"kms-rotation": 5, "s3-kms": 1}, "advisory": {"prod-queued": 1}}
    lines = render_violations(plan, by_rule, Path("out/plan-dev.json"))
    assert lines == [
        "  [mandatory] kms-rotation: 5 finding(s)",
        "      key 0 does not rotate (key-0)",
        "      key 1 does not rotate (key-1)",
        "      key 2 does not rotate (key-2)",
        "      … and 2 more in out/plan-dev.json",
        "      fix: fix kms-rotation",
        "  [mandatory] s3-kms: 1 finding(s)",
        "      broken (bucket)",
        "      fix: fix s3-kms",
        "  [advisory] prod-queued: 1 finding(s)",
        "      broken (a-prod)",
        "      fix: fix prod-queued",
    ]


def test_no_findings_print_nothing_beyond_the_counts():
    plan = plan_with()
    assert render_violations(plan, violations_by_rule(plan), Path("x")) == []
