"""A function that claims its events in the delivery ledger must not outlive its claim.

The ledger caps a claim below Lambda's one-minute retry delay, so a crash right after claiming is retried and
done; a timeout longer than the claim lets a copy of the event, arriving while the first invocation still works,
be acted on twice (a second Slack message, a second rollback report).
"""

from __future__ import annotations

import pytest

from components.governance.lambda_function import (
    DELIVERY_LEDGER,
    LEDGER_COVERED_TIMEOUT_SECONDS,
    SLACK_CLIENT,
    PlatformFunctionArgs,
    function_timeout,
)
from functions.slack_notifier.delivery_ledger import LONGEST_COVERED_INVOCATION_SECONDS

LEDGER_FUNCTIONS = {
    "cicd-slack-notifier-prod",
    "cicd-approval-auditor-prod",
    "cicd-prod-rollback-reporter",
    "cicd-failure-digest-prod",
    "cicd-secret-watch-prod",
}


def args(vendored, timeout=None) -> PlatformFunctionArgs:
    return PlatformFunctionArgs(
        stack="prod",
        region="eu-west-1",
        account_id="123456789012",
        purpose="test",
        folder="slack_notifier",
        description="test",
        key_arn="arn:aws:kms:eu-west-1:123456789012:key/k",
        dead_letter_queue_arn="arn:aws:sqs:eu-west-1:123456789012:dlq",
        policy_for=lambda _resolved: {},
        vendored=vendored,
        timeout_seconds=timeout,
    )


def test_the_programs_limit_is_the_ledgers():
    assert LEDGER_COVERED_TIMEOUT_SECONDS == LONGEST_COVERED_INVOCATION_SECONDS


def test_a_ledger_function_defaults_to_the_covered_timeout_and_refuses_more():
    assert function_timeout(args([SLACK_CLIENT, DELIVERY_LEDGER])) == LEDGER_COVERED_TIMEOUT_SECONDS
    assert function_timeout(args([SLACK_CLIENT])) == 60
    assert function_timeout(args([], timeout=180)) == 180
    with pytest.raises(ValueError, match="outlives its delivery-ledger claim"):
        function_timeout(args([DELIVERY_LEDGER], timeout=120))


def test_every_planned_ledger_function_fits_its_claim(prod_plan):
    timeouts = {
        r.inputs["name"]: r.inputs["timeout"]
        for r in prod_plan.resources
        if r.type == "aws:lambda/function:Function" and r.inputs["name"] in LEDGER_FUNCTIONS
    }
    assert set(timeouts) == LEDGER_FUNCTIONS
    assert {name: t for name, t in timeouts.items() if t > LEDGER_COVERED_TIMEOUT_SECONDS} == {}
