"""The failure digest's rule: an event EventBridge cannot deliver waits in the dead-letter queue, which admits it."""

from __future__ import annotations

import json

from components.model import naming


def test_the_digest_target_dead_letters_into_the_queue_whose_policy_admits_its_rule(prod_plan):
    rule_name = naming.failure_digest_rule_name("prod")
    (target,) = [
        r
        for r in prod_plan.resources
        if r.type == "aws:cloudwatch/eventTarget:EventTarget" and r.inputs["rule"] == rule_name
    ]
    queue_arn = target.inputs["deadLetterConfig"]["arn"]
    assert queue_arn.endswith(":cicd-release-news-dead-letters-prod")
    (queue_policy,) = [
        r
        for r in prod_plan.resources
        if r.type == "aws:sqs/queuePolicy:QueuePolicy" and "release-news-dead-letters" in r.inputs["queueUrl"]
    ]
    statements = json.loads(queue_policy.inputs["policy"])["Statement"]
    admitted = [
        arn
        for statement in statements
        if statement.get("Principal") == {"Service": "events.amazonaws.com"}
        for arn in statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    ]
    assert f"arn:aws:events:eu-west-1:123456789012:rule/{rule_name}" in admitted
