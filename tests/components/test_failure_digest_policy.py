"""The failure digest's role: Bedrock only when the summary is on, and then ``bedrock:InvokeModel`` on one model.

Amazon Bedrock API Reference, Converse: the call "requires permission for the
``bedrock:InvokeModel`` action"; a foundation model's ARN has no account
(``arn:aws:bedrock:<region>::foundation-model/<id>``, Service Authorization Reference, Amazon Bedrock).
"""

from __future__ import annotations

from components import iam

REGION, TOOLING = "eu-west-1", "123456789012"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def policy(**changes):
    arguments = {
        "log_group_arn": f"arn:aws:logs:{REGION}:{TOOLING}:log-group:/aws/lambda/cicd-failure-digest-prod",
        "ledger_table_arn": f"arn:aws:dynamodb:{REGION}:{TOOLING}:table/cicd-prod-delivery-ledger",
        "ledger_key_arn": f"arn:aws:kms:{REGION}:{TOOLING}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "dead_letter_arn": f"arn:aws:sqs:{REGION}:{TOOLING}:cicd-release-news-dead-letters-prod",
        "environments": ["dev", "prod"],
        "managed_by": "cicd-platform",
        "stack": "prod",
        "graph_parameter_arns": [
            f"arn:aws:ssm:{REGION}:{TOOLING}:parameter/cicd/prod/graph",
            f"arn:aws:ssm:{REGION}:{TOOLING}:parameter/cicd/prod/graph-part-*",
        ],
        "reader_role_arns": ["arn:aws:iam::444444444444:role/cicd-alarm-reader-prod"],
        "webhook_secret_arn": f"arn:aws:secretsmanager:{REGION}:{TOOLING}:secret:cicd-platform/slack-webhook-??????",
        **changes,
    }
    return iam.failure_digest_policy(REGION, TOOLING, **arguments)


def actions(document) -> list[str]:
    return [
        action
        for statement in document["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    ]


def test_without_the_summary_the_role_may_not_call_bedrock_at_all():
    assert not [action for action in actions(policy()) if action.startswith("bedrock:")]


def test_with_the_summary_the_role_may_invoke_that_one_foundation_model_in_the_stacks_region_and_nothing_else():
    document = policy(model_id=MODEL)
    bedrock = [s for s in document["Statement"] if str(s["Action"]).startswith("bedrock:")]
    assert bedrock == [
        {
            "Sid": "SummariseWithOneModel",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}",
        }
    ]
    assert "*" not in bedrock[0]["Resource"]


def test_it_only_reads_pipelines_builds_and_their_logs_and_nothing_on_every_resource():
    document = policy(model_id=MODEL)
    granted = [
        resource
        for statement in document["Statement"]
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]
    assert "*" not in granted
    reads = [action for action in actions(document) if action.split(":")[0] in ("codepipeline", "codebuild")]
    assert reads and all(action.split(":")[1].startswith(("Get", "List", "BatchGet", "Describe")) for action in reads)


def test_it_reads_only_its_own_stacks_pipelines():
    """A dev and a prod stack may share a tooling account: the dev digest must not read prod's executions."""
    (statement,) = [s for s in policy()["Statement"] if s["Sid"] == "ReadPlatformPipelines"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:ResourceTag/managed-by": "cicd-platform", "aws:ResourceTag/platform-stack": "prod"}
    }
