"""lambda-ops: tracing and reserved concurrency everywhere; a dead-letter queue only where it can do something.

A DLQ keeps events of *asynchronous* invocations that failed every retry (Lambda
developer guide, "Invoking a Lambda function asynchronously"). CodePipeline
invokes a ``LambdaInvoke`` rule's function for the rule's verdict, so a queued
retry is of no use there; it invokes an ``Invoke``/``Lambda`` action's function
asynchronously ("Using AWS Lambda with AWS CodePipeline"). The deploy gate is
the first kind today and may become both (a bake action on the same function):
the rule is right either way.
"""

from __future__ import annotations

import pytest

from policies.rules.lambda_functions import LAMBDA_OPS
from policies.testing import UNKNOWN, Resource

from .platform_shapes import TOOLING
from .rule_cases import fires, quiet, unknown

GATE = "cicd-prod-deploy-gate"
GATE_ARN = f"arn:aws:lambda:eu-west-1:{TOOLING}:function:{GATE}"
DLQ_ARN = f"arn:aws:sqs:eu-west-1:{TOOLING}:cicd-prod-gate-dlq"
NO_DLQ = f"function {GATE} has no dead-letter queue for failed asynchronous invocations"


def function(**props):
    base = {
        "name": GATE,
        "runtime": "python3.12",
        "role": f"arn:aws:iam::{TOOLING}:role/{GATE}",
        "tracingConfig": {"mode": "Active"},
        "reservedConcurrentExecutions": 20,
    }
    return Resource("aws:lambda/function:Function", {**base, **props}, "coordination-deploy_gate")


def pipeline(*, rule=True, action=False, rule_function=GATE):
    """booking-prod with the gate as its Deploy stage's entry rule and/or as a (bake) action."""
    deploy = {
        "name": "Deploy",
        "actions": [
            {
                "name": "Deploy",
                "category": "Deploy",
                "owner": "AWS",
                "provider": "CodeDeployToECS",
                "version": "1",
                "configuration": {"ApplicationName": "booking-prod"},
            }
        ],
    }
    if rule:
        deploy["beforeEntry"] = {
            "condition": {
                "result": "FAIL",
                "rules": [
                    {
                        "name": "DeployGate",
                        "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "LambdaInvoke", "version": "1"},
                        "configuration": {"FunctionName": rule_function, "UserParameters": '{"service": "booking"}'},
                    }
                ],
            }
        }
    if action:
        deploy["actions"].append(
            {
                "name": "Bake",
                "category": "Invoke",
                "owner": "AWS",
                "provider": "Lambda",
                "version": "1",
                "runOrder": 2,
                "configuration": {"FunctionName": GATE},
            }
        )
    return Resource(
        "aws:codepipeline/pipeline:Pipeline",
        {"name": "booking-prod", "pipelineType": "V2", "stages": [{"name": "Source", "actions": []}, deploy]},
        "booking-prod-pipeline",
    )


def event_target(arn=GATE_ARN):
    return Resource(
        "aws:cloudwatch/eventTarget:EventTarget", {"rule": "cicd-prod-tick", "arn": arn}, "coordination-tick-target"
    )


def permission(principal, function_ref=GATE):
    return Resource(
        "aws:lambda/permission:Permission",
        {"action": "lambda:InvokeFunction", "function": function_ref, "principal": principal},
        "gate-invoke",
    )


def on_failure_destination(function_ref=GATE, destination=DLQ_ARN):
    return Resource(
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        {"functionName": function_ref, "destinationConfig": {"onFailure": {"destination": destination}}},
        "gate-async",
    )


CASES = [
    fires(
        LAMBDA_OPS,
        "a bare function an EventBridge rule invokes",
        [function(tracingConfig=None, reservedConcurrentExecutions=None), event_target()],
        f"function {GATE} has no active X-Ray tracing",
        f"{NO_DLQ} (from EventBridge target coordination-tick-target)",
        f"function {GATE} has no reserved concurrency",
    ),
    fires(
        LAMBDA_OPS,
        "nothing declared invokes it: any caller may invoke it asynchronously",
        function(),
        f"{NO_DLQ} (from any caller: no invocation of it is declared in the stack)",
    ),
    fires(
        LAMBDA_OPS,
        "the gate also serves a CodePipeline Lambda action (asynchronous), without a DLQ",
        [function(), pipeline(rule=True, action=True)],
        f"{NO_DLQ} (from the Lambda action of pipeline booking-prod stage Deploy)",
    ),
    fires(
        LAMBDA_OPS,
        "an SNS subscription delivers to it",
        [
            function(),
            Resource(
                "aws:sns/topicSubscription:TopicSubscription",
                {"topic": f"arn:aws:sns:eu-west-1:{TOOLING}:news", "protocol": "lambda", "endpoint": GATE_ARN},
                "news-subscription",
            ),
        ],
        f"{NO_DLQ} (from SNS subscription news-subscription)",
    ),
    fires(
        LAMBDA_OPS,
        "another account may invoke it, either way",
        [function(), pipeline(), permission("444444444444")],
        f"{NO_DLQ} (from a permission for 444444444444 (it may invoke asynchronously))",
    ),
    quiet(LAMBDA_OPS, "only a pipeline's LambdaInvoke rule invokes it: no DLQ needed", [function(), pipeline()]),
    quiet(
        LAMBDA_OPS,
        "the gate serves the rule and a Lambda action, with a DLQ",
        [function(deadLetterConfig={"targetArn": DLQ_ARN}), pipeline(rule=True, action=True)],
    ),
    quiet(
        LAMBDA_OPS,
        "invoked by EventBridge, failures kept by an on-failure destination instead of a DLQ",
        [function(), event_target(), on_failure_destination()],
    ),
    quiet(
        LAMBDA_OPS,
        "an event source mapping polls for it (its failures go to the mapping's destination)",
        [
            function(),
            Resource(
                "aws:lambda/eventSourceMapping:EventSourceMapping",
                {"functionName": GATE_ARN, "eventSourceArn": f"arn:aws:sqs:eu-west-1:{TOOLING}:work"},
                "work-mapping",
            ),
        ],
    ),
    quiet(LAMBDA_OPS, "API Gateway invokes it synchronously", [function(), permission("apigateway.amazonaws.com")]),
    unknown(
        LAMBDA_OPS,
        "the rule's function is not known yet: it may be this one, synchronously",
        [function(), pipeline(rule_function=UNKNOWN)],
    ),
    unknown(
        LAMBDA_OPS,
        "an EventBridge target not known yet may be this function's only invoker",
        [function(), event_target(arn=UNKNOWN)],
    ),
    unknown(
        LAMBDA_OPS,
        "the DLQ ARN is not known yet",
        [function(deadLetterConfig={"targetArn": UNKNOWN}), event_target()],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_lambda_ops(case):
    case.verify()


def test_the_dlq_advice_names_every_asynchronous_invoker_once_per_function():
    (message,) = [
        m
        for m in CASES[0].run([function(), event_target(), permission("events.amazonaws.com")]).messages
        if "dead-letter" in m
    ]
    invokers = "EventBridge target coordination-tick-target; a permission for events.amazonaws.com"
    assert message == f"{NO_DLQ} (from {invokers})"
