"""The failure digest in the tooling account: the function, what it may read, and the rule that wakes it.

One per stack. It wakes on any failed action of the platform's pipelines
(default bus, ``aws.codepipeline``, events of the tooling account and region
only) and posts one Slack message saying why (``functions/failure_digest``). It
took this duty over from the rollback reporter, which used to post a shorter
report of the same event: one message per failure, not two.

It shares the release-news plumbing rather than adding its own: the
release-news key encrypts its logs (and, through DynamoDB and SQS, the ledger
and the dead letters), its claims, the execution threads and each service's
latest failure live in the delivery ledger, and what it cannot deliver waits
in the release-news dead-letter queue. Slack is reached the way the stack
delivers release news: the bot token (Web API: team channels and threads), the
webhook, or the topic AWS Chatbot reads. With ``failureDigest.summary`` the role
may invoke that one Bedrock foundation model, in the stack's region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.platform_inputs import PlatformInputs
from ..model.tags import MANAGED_BY, standard_tags
from .lambda_function import (
    DELIVERY_LEDGER,
    DEPENDENCY_GRAPH,
    SLACK_CLIENT,
    PlatformFunction,
    PlatformFunctionArgs,
    invoke_from_rule,
)

RESERVED_CONCURRENCY = 5
"""A broken main branch fails many pipelines at once: bound the burst on Slack's rate limits and on Bedrock."""
TIMEOUT_SECONDS = 54
"""The longest invocation its delivery-ledger claim covers whole (``delivery_ledger``'s
``LONGEST_COVERED_INVOCATION_SECONDS``), as for the rollback reporter: a claim ends before Lambda's retry a minute
after a crash, so a longer timeout would let a copy of the event post while the first invocation still works. The
reads are bounded, Bedrock's call is cut at 12 s and Slack's retries at 20 s of waiting; an invocation that still
times out is retried, and finds the summary it already had noted on its claim."""
FAILED_ACTIONS = "failed-actions"


def failed_action_pattern(environments: list[str], account_id: str, region: str) -> dict[str, object]:
    """Failed actions of pipelines named ``<service>-<env>`` in the tooling account and region, where pipelines run.

    The function ignores pipelines not tagged as this stack's.
    """
    return {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "account": [account_id],
        "region": [region],
        "detail": {
            "state": ["FAILED"],
            "pipeline": [{"wildcard": naming.pipeline_name("*", env)} for env in environments],
        },
    }


def failure_digest_role_arn(inputs: PlatformInputs) -> str:
    settings = inputs.settings
    return naming.role_arn(settings.region, settings.tooling_account_id, naming.failure_digest_name(inputs.stack))


@dataclass(frozen=True)
class FailureDigestArgs:
    inputs: PlatformInputs
    ledger_table_name: pulumi.Input[str]
    ledger_table_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    """The release-news key: logs, ledger and dead letters."""
    dead_letter_queue_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    """The release-news topic, where digests go when the stack uses AWS Chatbot."""


class FailureDigest(pulumi.ComponentResource):
    """Function (with role, policy, logs) + the rule on failed actions."""

    function_arn: pulumi.Output[str]

    def __init__(self, name: str, args: FailureDigestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:FailureDigest", name, None, opts)
        inputs, settings = args.inputs, args.inputs.settings
        region, account_id, stack = settings.region, settings.tooling_account_id, inputs.stack
        partition = naming.partition_of(region)
        child = pulumi.ResourceOptions(parent=self)
        tags = standard_tags(stack)
        environments = [env.name for env in settings.environments]
        readers = [
            naming.role_arn(env.region, env.account_id, naming.alarm_reader_role_name(env.name))
            for env, _ in inputs.environment_accounts()
        ]
        graph_parameter = naming.graph_parameter_name(stack)
        summary = settings.failure_digest.summary
        delivery, secrets = self._delivery(inputs, args)

        function = PlatformFunction(
            name,
            PlatformFunctionArgs(
                stack=stack,
                region=region,
                account_id=account_id,
                purpose=naming.FAILURE_DIGEST,
                folder="failure_digest",
                description="Why a pipeline action failed, for the team that owns it, in one Slack message",
                key_arn=args.key_arn,
                dead_letter_queue_arn=args.dead_letter_queue_arn,
                policy_inputs={
                    "ledger_arn": args.ledger_table_arn,
                    "key_arn": args.key_arn,
                    "queue_arn": args.dead_letter_queue_arn,
                    "topic_arn": args.topic_arn,
                },
                policy_for=lambda resolved: iam.failure_digest_policy(
                    region,
                    account_id,
                    log_group_arn=resolved["log_group_arn"],
                    ledger_table_arn=resolved["ledger_arn"],
                    ledger_key_arn=resolved["key_arn"],
                    dead_letter_arn=resolved["queue_arn"],
                    environments=environments,
                    managed_by=MANAGED_BY,
                    stack=stack,
                    graph_parameter_arns=[
                        f"arn:{partition}:ssm:{region}:{account_id}:parameter{name}"
                        for name in (graph_parameter, naming.graph_parts_pattern(graph_parameter))
                    ],
                    reader_role_arns=readers,
                    topic=(resolved["topic_arn"], resolved["key_arn"]) if "TOPIC_ARN" in delivery else None,
                    model_id=summary.model_id if summary else None,
                    **secrets,
                ),
                environment={
                    **delivery,
                    "LEDGER_TABLE": args.ledger_table_name,
                    "STACK": stack,
                    # Where events may come from, and where each service runs (its reader role) in each environment.
                    "TOOLING_ACCOUNT_ID": account_id,
                    "TOOLING_REGION": region,
                    "GRAPH_PARAMETER": graph_parameter,
                    **(
                        {"SUMMARY_MODEL_ID": summary.model_id, "SUMMARY_MAX_TOKENS": str(summary.max_tokens)}
                        if summary
                        else {}
                    ),
                },
                vendored=[SLACK_CLIENT, DELIVERY_LEDGER, DEPENDENCY_GRAPH],
                tags=tags,
                timeout_seconds=TIMEOUT_SECONDS,
                architecture="arm64",
                tracing=True,
                reserved_concurrency=RESERVED_CONCURRENCY,
                log_format="JSON",
            ),
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=3600,
            opts=child,
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-{FAILED_ACTIONS}",
            name=naming.failure_digest_rule_name(stack),
            description="Wake the failure digest: a failed action of this platform's pipelines",
            event_pattern=json.dumps(failed_action_pattern(environments, account_id, region), sort_keys=True),
            tags=tags,
            opts=child,
        )
        # An event EventBridge cannot deliver within the hour waits in the release-news dead-letter queue, whose
        # policy admits this rule, instead of being dropped.
        invoke_from_rule(
            f"{name}-{FAILED_ACTIONS}",
            rule,
            function,
            source_account=account_id,
            retry_policy={"maximum_retry_attempts": 10, "maximum_event_age_in_seconds": 3600},
            dead_letter_arn=args.dead_letter_queue_arn,
        )
        self.function_arn = function.arn
        self.register_outputs({"functionArn": function.arn})

    @staticmethod
    def _delivery(
        inputs: PlatformInputs, args: FailureDigestArgs
    ) -> tuple[dict[str, pulumi.Input[str]], dict[str, str]]:
        """The function's Slack settings and the secret its role may read, the way the stack delivers Slack."""
        settings = inputs.settings
        region, account_id = settings.region, settings.tooling_account_id
        if settings.slack_workspace_id is not None:
            return {"TOPIC_ARN": args.topic_arn}, {}
        if settings.slack_bot_token_secret_name is not None:
            return (
                {
                    "BOT_TOKEN_SECRET_ID": settings.slack_bot_token_secret_name,
                    "SLACK_CHANNEL_ID": settings.slack_channel_id or "",
                    "TEAM_CHANNELS": json.dumps(dict(sorted(settings.failure_digest.team_channels.items()))),
                },
                {
                    "bot_token_secret_arn": iam.secret_arn_pattern(
                        region, account_id, settings.slack_bot_token_secret_name
                    )
                },
            )
        return (
            {"WEBHOOK_SECRET_ID": settings.slack_webhook_secret_name},
            {"webhook_secret_arn": iam.secret_arn_pattern(region, account_id, settings.slack_webhook_secret_name)},
        )
