"""Documents of the secret rotation function and of the exempt-secret watch.

The rotation role touches only the secrets it rotates, by their ARN patterns (Secrets Manager appends six
random characters to a name): read, describe, write the pending version and move the stage — the calls of
"Lambda rotation functions" — plus ``GetRandomPassword``, which AWS does not scope to a resource. The watch
lists secrets (``ListSecrets`` takes no resource) and reads version dates only of secrets tagged exempt; it
never reads a value except the Slack webhook's, when it posts through one.
"""

from __future__ import annotations

from collections.abc import Sequence

from .documents import PUBLISH_KEY_ACTIONS, Document, document, role_uses_data_store_key, write_own_logs

ROTATION_ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
]


def rotation_function_policy(
    log_group_arn: str, secret_arn_patterns: Sequence[str], key_arn: str, dead_letter_queue_arn: str, region: str
) -> Document:
    return document(
        write_own_logs("Logs", log_group_arn),
        {
            "Sid": "RotateOwnSecrets",
            "Effect": "Allow",
            "Action": ROTATION_ACTIONS,
            "Resource": sorted(secret_arn_patterns),
        },
        {
            # Secrets Manager documents no resource type for GetRandomPassword.
            "Sid": "RandomValues",
            "Effect": "Allow",
            "Action": "secretsmanager:GetRandomPassword",
            "Resource": "*",
        },
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_queue_arn},
        role_uses_data_store_key("DeadLetterKey", key_arn, region),
    )


def secret_watch_policy(
    log_group_arn: str,
    *,
    region: str,
    account_id: str,
    partition: str,
    exempt_tag: str,
    ledger_table_arn: str,
    key_arn: str,
    dead_letter_queue_arn: str,
    webhook_secret_arn: str | None,
    topic_arn: str | None,
) -> Document:
    delivery: list[Document] = []
    if webhook_secret_arn is not None:
        delivery.append(
            {
                "Sid": "ReadWebhook",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": webhook_secret_arn,
            }
        )
    if topic_arn is not None:
        delivery.append({"Sid": "Alert", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn})
        delivery.append(
            {"Sid": "EncryptedTopic", "Effect": "Allow", "Action": PUBLISH_KEY_ACTIONS, "Resource": key_arn}
        )
    return document(
        write_own_logs("Logs", log_group_arn),
        {
            # ListSecrets supports no resource-level permissions (Secrets Manager's permissions reference).
            "Sid": "FindExemptSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:ListSecrets",
            "Resource": "*",
        },
        {
            "Sid": "DatesOfExemptSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:ListSecretVersionIds",
            "Resource": f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:*",
            "Condition": {"Null": {f"secretsmanager:ResourceTag/{exempt_tag}": "false"}},
        },
        *delivery,
        {"Sid": "ActOnce", "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": ledger_table_arn},
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_queue_arn},
        role_uses_data_store_key("LedgerAndDeadLetterKey", key_arn, region),
    )
