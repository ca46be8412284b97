"""Release news: one encrypted topic per stack, delivered to Slack, fed by approvals and pipeline events.

What reaches the topic:

- approval requests, published by CodePipeline (as the pipeline role) through
  each approval action's ``NotificationArn``;
- pipeline started / succeeded / failed / stopped, from **one fleet-wide
  EventBridge rule** on ``CodePipeline Pipeline Execution State Change`` for this
  platform's pipelines (names end in ``-<environment>``). CodeStar notification
  rules would give the same events, but a rule watches exactly one resource:
  one rule per pipeline (96 for this catalog, each with its own target
  reference) against one rule here, which also covers pipelines added later;
- the approval auditor's alerts.

Delivery: with ``slackWorkspaceId``/``slackChannelId`` an AWS Chatbot channel
configuration subscribes to the topic (notifications only: its role has no
permissions and the ``AWSDenyAll`` guardrail, so nobody approves through chat).
Chatbot renders EventBridge events but not CodePipeline's own approval JSON, so
in that mode a second rule forwards the approval action's ``STARTED`` event.
Without Chatbot, the ``slack_notifier`` function posts Block Kit messages to the
webhook whose URL it reads from Secrets Manager, with links to the commit, the
diff and the execution; or, with ``slackBotTokenSecretName``, through the Web API
with that bot token to ``slackChannelId``, keeping each execution's first message
in the ledger so the failure digest can reply in its thread.

Shared with the approval auditor: the key, the ledger table (act once per
event) and the dead-letter queue (EventBridge targets, subscriptions, functions).
The rollback reporter claims its events in the same ledger, and through Chatbot
publishes its reports to the same topic. Like every data store of the platform
(the ``data-stores-encrypted`` policy), the ledger and the queue are encrypted
with the channel's customer-managed key, and the ledger has point-in-time
recovery: it records what was already posted or acted on, recoverable after an
accidental delete or a bad write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags
from .lambda_function import DELIVERY_LEDGER, SLACK_CLIENT, PlatformFunction, PlatformFunctionArgs, dead_letter_queue

PIPELINE_NEWS_RULE = "pipeline-news"
APPROVAL_NEWS_RULE = "approval-news"
APPROVAL_AUDIT_RULE = "approval-audit"
NOTIFIER = "slack-notifier"
AUDITOR = "approval-auditor"
NEWS_STATES = ["STARTED", "SUCCEEDED", "FAILED", "STOPPED"]
CHATBOT_GUARDRAIL = "arn:aws:iam::aws:policy/AWSDenyAll"


def pipeline_news_pattern(environments: Sequence[str], account: str, region: str) -> dict[str, object]:
    """This stack's pipelines run in the tooling account and region: a same-named pipeline elsewhere is not news."""
    return {
        "source": ["aws.codepipeline"],
        "account": [account],
        "region": [region],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"state": NEWS_STATES, "pipeline": [{"suffix": f"-{env}"} for env in environments]},
    }


def approval_news_pattern(environments: Sequence[str], account: str, region: str) -> dict[str, object]:
    return {
        "source": ["aws.codepipeline"],
        "account": [account],
        "region": [region],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {
            "state": ["STARTED"],
            "type": {"category": ["Approval"]},
            "pipeline": [{"suffix": f"-{env}"} for env in environments],
        },
    }


@dataclass(frozen=True)
class ReleaseNewsArgs:
    inputs: PlatformInputs
    publisher_role_arns: Sequence[str]
    """Roles that publish to the topic, as ARNs or ``ArnLike`` patterns: the pipeline roles (by path and name),
    the approval auditor, the rollback reporter through Chatbot."""
    store_role_arns: Sequence[str] = ()
    """Roles of other components that keep the ledger or send dead letters to the queue (the approval auditor,
    the rollback reporter); the key policy lets them use the key through DynamoDB and SQS."""


class ReleaseNews(pulumi.ComponentResource):
    """Key, topic, ledger, dead-letter queue, pipeline-event rule(s) and the Slack delivery."""

    topic_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    ledger_table_name: pulumi.Output[str]
    ledger_table_arn: pulumi.Output[str]
    dead_letter_queue_arn: pulumi.Output[str]
    uses_chatbot: bool

    def __init__(self, name: str, args: ReleaseNewsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:ReleaseNews", name, None, opts)
        inputs, settings = args.inputs, args.inputs.settings
        region, account, stack = settings.region, settings.tooling_account_id, inputs.stack
        tags = standard_tags(stack)
        child = pulumi.ResourceOptions(parent=self)
        self.uses_chatbot = settings.slack_workspace_id is not None
        self._inputs = inputs

        dead_letters_name = f"cicd-release-news-dead-letters-{stack}"
        dead_letters_arn = f"arn:{naming.partition_of(region)}:sqs:{region}:{account}:{dead_letters_name}"
        notifier_roles = (
            [] if self.uses_chatbot else [naming.role_arn(region, account, naming.function_name(NOTIFIER, stack))]
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts release news (approvals, pipeline events, audit alerts) of stack {stack}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=iam.to_json(
                iam.notification_key_policy(
                    region,
                    account,
                    naming.notification_topic_arn(region, account, stack),
                    args.publisher_role_arns,
                    store_role_arns=[*notifier_roles, *args.store_role_arns],
                    dead_letter_queue_arn=dead_letters_arn,
                )
            ),
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/cicd-release-news-{stack}", target_key_id=key.key_id, opts=child
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=naming.notification_topic_name(stack),
            display_name=f"Release news ({stack})",
            kms_master_key_id=key.arn,
            tags=tags,
            opts=child,
        )
        news_rules = [PIPELINE_NEWS_RULE, APPROVAL_NEWS_RULE] if self.uses_chatbot else [PIPELINE_NEWS_RULE]
        publishing_rule_arns = [
            naming.event_rule_arn(region, account, naming.event_rule_name(rule, stack)) for rule in news_rules
        ]
        all_rule_arns = [
            *publishing_rule_arns,
            naming.event_rule_arn(region, account, naming.event_rule_name(APPROVAL_AUDIT_RULE, stack)),
            naming.event_rule_arn(region, account, naming.failure_digest_rule_name(stack)),
        ]
        topic_policy = aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: iam.to_json(
                    iam.notification_topic_policy(region, account, arn, args.publisher_role_arns, publishing_rule_arns)
                )
            ),
            opts=pulumi.ResourceOptions(parent=topic),
        )
        # The key policy lets EventBridge and SNS encrypt for this queue, and the functions send through SQS.
        dead_letters = dead_letter_queue(f"{name}-dead-letters", dead_letters_name, key.arn, tags, child)
        aws.sqs.QueuePolicy(
            f"{name}-dead-letters-policy",
            queue_url=dead_letters.url,
            policy=pulumi.Output.all(dead_letters.arn, topic.arn).apply(
                lambda values: iam.to_json(iam.dead_letter_queue_policy(values[0], all_rule_arns, values[1]))
            ),
            opts=pulumi.ResourceOptions(parent=dead_letters),
        )
        ledger = aws.dynamodb.Table(
            f"{name}-ledger",
            name=naming.delivery_ledger_table_name(stack),
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            attributes=[{"name": "pk", "type": "S"}],
            ttl={"attribute_name": "expires_at", "enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
            point_in_time_recovery={"enabled": True},
            tags=tags,
            opts=child,
        )
        environments = [environment.name for environment in settings.environments]
        self._route(
            f"{name}-pipeline-news",
            PIPELINE_NEWS_RULE,
            pipeline_news_pattern(environments, account, region),
            topic,
            dead_letters,
            topic_policy,
            stack,
            tags,
        )
        if self.uses_chatbot:
            self._route(
                f"{name}-approval-news",
                APPROVAL_NEWS_RULE,
                approval_news_pattern(environments, account, region),
                topic,
                dead_letters,
                topic_policy,
                stack,
                tags,
            )
            self._chatbot(name, topic, stack, tags)
        else:
            self._webhook_notifier(name, topic, key, ledger, dead_letters, tags)

        self.topic_arn = topic.arn
        self.key_arn = key.arn
        self.ledger_table_name = ledger.name
        self.ledger_table_arn = ledger.arn
        self.dead_letter_queue_arn = dead_letters.arn
        self.register_outputs({"topicArn": topic.arn, "keyArn": key.arn, "deadLetterQueueArn": dead_letters.arn})

    def _route(
        self,
        name: str,
        purpose: str,
        pattern: dict[str, object],
        topic: aws.sns.Topic,
        dead_letters: aws.sqs.Queue,
        topic_policy: aws.sns.TopicPolicy,
        stack: str,
        tags: dict[str, str],
    ) -> None:
        """One EventBridge rule → the topic, raw events (Chatbot and the notifier both read them)."""
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=naming.event_rule_name(purpose, stack),
            description="CodePipeline events of this platform's pipelines → release news",
            event_pattern=json.dumps(pattern),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            arn=topic.arn,
            dead_letter_config={"arn": dead_letters.arn},
            retry_policy={"maximum_event_age_in_seconds": 24 * 3600, "maximum_retry_attempts": 50},
            opts=pulumi.ResourceOptions(parent=rule, depends_on=[topic_policy]),
        )

    def _chatbot(self, name: str, topic: aws.sns.Topic, stack: str, tags: dict[str, str]) -> None:
        settings = self._inputs.settings
        role = aws.iam.Role(
            f"{name}-chatbot-role",
            name=f"cicd-chatbot-{stack}",
            description="AWS Chatbot channel role for release news: notifications only, no permissions",
            assume_role_policy=iam.to_json(
                iam.document(
                    {
                        "Sid": "AssumedByChatbot",
                        "Effect": "Allow",
                        "Principal": {"Service": "chatbot.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                )
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.chatbot.SlackChannelConfiguration(
            f"{name}-slack-channel",
            configuration_name=f"cicd-release-news-{stack}",
            iam_role_arn=role.arn,
            slack_team_id=settings.slack_workspace_id,
            slack_channel_id=settings.slack_channel_id,
            sns_topic_arns=[topic.arn],
            guardrail_policy_arns=[CHATBOT_GUARDRAIL],
            user_authorization_required=True,
            logging_level="ERROR",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _webhook_notifier(
        self,
        name: str,
        topic: aws.sns.Topic,
        key: aws.kms.Key,
        ledger: aws.dynamodb.Table,
        dead_letters: aws.sqs.Queue,
        tags: dict[str, str],
    ) -> None:
        settings, stack = self._inputs.settings, self._inputs.stack
        region, account = settings.region, settings.tooling_account_id
        bot_secret = settings.slack_bot_token_secret_name
        secret = iam.secret_arn_pattern(region, account, bot_secret or settings.slack_webhook_secret_name)
        slack: dict[str, str] = (
            {"BOT_TOKEN_SECRET_ID": bot_secret, "SLACK_CHANNEL_ID": settings.slack_channel_id or ""}
            if bot_secret
            else {"WEBHOOK_SECRET_ID": settings.slack_webhook_secret_name}
        )
        notifier = PlatformFunction(
            f"{name}-notifier",
            PlatformFunctionArgs(
                stack=stack,
                region=region,
                account_id=account,
                purpose=NOTIFIER,
                folder="slack_notifier",
                description=f"Posts release news of stack {stack} to Slack {settings.slack_channel}",
                key_arn=key.arn,
                dead_letter_queue_arn=dead_letters.arn,
                policy_inputs={"ledger_arn": ledger.arn, "queue_arn": dead_letters.arn, "key_arn": key.arn},
                policy_for=lambda resolved: iam.slack_notifier_policy(
                    resolved["log_group_arn"],
                    secret,
                    resolved["ledger_arn"],
                    resolved["queue_arn"],
                    region=region,
                    key_arn=resolved["key_arn"],
                    bot_token=bot_secret is not None,
                ),
                environment={"LEDGER_TABLE": ledger.name, **slack},
                vendored=[SLACK_CLIENT, DELIVERY_LEDGER],
                tags=tags,
                tracing=True,
                # Bounds what a burst of release news can cost and how hard it can hit Slack's rate limits.
                reserved_concurrency=5,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        permission = aws.lambda_.Permission(
            f"{name}-notifier-invoke",
            action="lambda:InvokeFunction",
            function=notifier.name,
            principal="sns.amazonaws.com",
            source_arn=topic.arn,
            source_account=account,
            opts=pulumi.ResourceOptions(parent=notifier),
        )
        aws.sns.TopicSubscription(
            f"{name}-notifier-subscription",
            topic=topic.arn,
            protocol="lambda",
            endpoint=notifier.arn,
            redrive_policy=dead_letters.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn})),
            opts=pulumi.ResourceOptions(parent=notifier, depends_on=[permission]),
        )
