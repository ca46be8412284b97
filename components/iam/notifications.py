"""Documents of the release-news channel: its key, its topic and the Slack notifier's role.

The topic carries approval requests (published by the pipeline roles), pipeline
state changes (published by EventBridge) and the approval auditor's alerts. It is
encrypted with its own key, so the key policy names those publishers (the pipeline
roles by their path and name, ``ArnLike``, so the policy does not grow with the fleet);
subscribers (Chatbot, the notifier function) receive plaintext from SNS and
need no key access. The same key encrypts the channel's delivery ledger
(DynamoDB) and dead-letter queue (SQS): the functions that keep the ledger or
send dead letters use it through those services, and EventBridge and SNS, which
put undeliverable events on the queue themselves, may encrypt for that queue only.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import naming
from .documents import (
    DEAD_LETTER_SENDERS,
    PUBLISH_KEY_ACTIONS,
    Document,
    document,
    key_administration,
    logs_may_encrypt,
    role_uses_data_store_key,
    roles_use_data_store_key,
    services_send_dead_letters,
    write_own_logs,
)


def notification_key_policy(
    region: str,
    account_id: str,
    topic_arn: str,
    publisher_role_arns: Sequence[str],
    *,
    store_role_arns: Sequence[str] = (),
    dead_letter_queue_arn: str | None = None,
) -> Document:
    """Admins; the roles that publish; EventBridge (pipeline events); CloudWatch Logs for the functions' logs;
    the roles that keep the ledger or send dead letters (``store_role_arns``), and the services that
    dead-letter undeliverable events to ``dead_letter_queue_arn``.

    EventBridge's KMS requests carry no ``aws:SourceAccount``/``aws:SourceArn``
    (AWS documents them as unsupported there), so its grants are narrowed by the
    encryption context each service sets: the topic's ARN (SNS), the queue's (SQS).
    """
    root = naming.account_root_arn(region, account_id)
    function_logs = naming.log_group_arn(region, account_id, "/aws/lambda/cicd-*")
    stores: list[Document] = []
    if store_role_arns:
        stores.append(roles_use_data_store_key("FunctionsUseLedgerAndDeadLetters", root, store_role_arns, region))
    if dead_letter_queue_arn is not None:
        stores.append(
            services_send_dead_letters("ServicesSendDeadLetters", [dead_letter_queue_arn], DEAD_LETTER_SENDERS)
        )
    return document(
        key_administration(root),
        {
            "Sid": "PublishersUseKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": PUBLISH_KEY_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": sorted(publisher_role_arns)}},
        },
        {
            "Sid": "EventBridgePublishes",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": PUBLISH_KEY_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}},
        },
        logs_may_encrypt("FunctionLogsEncryption", region, function_logs),
        *stores,
    )


def notification_topic_policy(
    region: str, account_id: str, topic_arn: str, publisher_role_arns: Sequence[str], rule_arns: Sequence[str]
) -> Document:
    """Only the named roles (ARNs or ``ArnLike`` patterns) and this stack's EventBridge rules publish; nothing is
    public; TLS only."""
    return document(
        {
            "Sid": "PlatformRolesPublish",
            "Effect": "Allow",
            "Principal": {"AWS": naming.account_root_arn(region, account_id)},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"ArnLike": {"aws:PrincipalArn": sorted(publisher_role_arns)}},
        },
        {
            "Sid": "PipelineEventsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
        },
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": {"AWS": naming.account_root_arn(region, account_id)},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def slack_notifier_policy(
    log_group_arn: str,
    webhook_secret_arn_pattern: str,
    ledger_table_arn: str,
    dead_letter_queue_arn: str,
    *,
    region: str,
    key_arn: str,
    bot_token: bool = False,
) -> Document:
    """Read the webhook URL (or the bot token), post once per message (ledger), keep what could not be delivered
    (both encrypted). With a bot token the ledger also keeps each execution's first message (an UpdateItem)."""
    return document(
        write_own_logs("Logs", log_group_arn),
        {
            "Sid": "BotToken" if bot_token else "WebhookUrl",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": webhook_secret_arn_pattern,
        },
        # The delivery ledger claims, notes, completes and releases with conditional updates only.
        {"Sid": "PostOnce", "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": ledger_table_arn},
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_queue_arn},
        role_uses_data_store_key("LedgerAndDeadLetterKey", key_arn, region),
    )


def dead_letter_queue_policy(queue_arn: str, rule_arns: Sequence[str], topic_arn: str) -> Document:
    """Where undeliverable events wait: EventBridge targets of this stack's rules and the topic's subscriptions.

    The functions' own dead letters come through their roles (same account).
    """
    return document(
        {
            "Sid": "EventBridgeDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
        },
        {
            "Sid": "SubscriptionDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        },
    )


def secret_arn_pattern(region: str, account_id: str, secret_name: str) -> str:
    """Secrets Manager appends ``-`` and six random characters to a secret's name in its ARN."""
    return f"arn:{naming.partition_of(region)}:secretsmanager:{region}:{account_id}:secret:{secret_name}-??????"
