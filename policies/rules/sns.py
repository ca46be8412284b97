"""SNS topics: encrypted with a KMS key, and no topic policy open to everyone.

Approval requests and rollback alarms travel through topics; an open or
unencrypted topic leaks release information or lets anyone inject messages.
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import (
    Config,
    Props,
    allows_everyone,
    as_mapping,
    is_unknown,
    policy_document,
    resource_rule,
    statement_id,
    statements,
)

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SCOPING_KEYS = {"aws:sourcearn", "aws:sourceaccount", "aws:principalorgid", "aws:sourceowner", "aws:principalarn"}


def check_sns(resource_type: str, props: Props, _: Config) -> Iterator[str]:
    if resource_type == TOPIC:
        key = props.get("kmsMasterKeyId")
        if not key and not is_unknown(key):
            yield f"topic {props.get('name') or '(unnamed)'} is not encrypted (no kms_master_key_id)"
        return
    for index, statement in enumerate(statements(policy_document(props.get("policy")))):
        if not allows_everyone(statement):
            continue
        condition = as_mapping(statement.get("Condition"))
        keys = {str(key).lower() for block in condition.values() if isinstance(block, dict) for key in block}
        if not keys & SCOPING_KEYS:
            everyone = (
                "every principal but those it names (NotPrincipal)"
                if "NotPrincipal" in statement
                else "any principal ('*')"
            )
            yield f"topic policy statement {statement_id(statement, index)} allows {everyone}"


SNS_HARDENING = resource_rule(
    name="sns-hardening",
    description="SNS topics are KMS-encrypted and their policies grant no unconditioned '*' principal (nor, with "
    "NotPrincipal, all but a few).",
    level="mandatory",
    resource_types={TOPIC, TOPIC_POLICY},
    check=check_sns,
    remediation="Set kms_master_key_id to a CMK whose policy lets the publishing services use it; "
    "name principals or add aws:SourceArn/aws:SourceAccount conditions.",
    anchors=("CKV_AWS_26", "CKV_AWS_169"),
)

RULES = (SNS_HARDENING,)
