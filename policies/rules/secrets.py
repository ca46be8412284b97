"""Secrets Manager: customer-key encryption, and rotation at least every ``maximumDays``.

A secret opts out of rotation only with a ``rotation-exempt`` tag whose value
says why (e.g. a webhook token the vendor cannot rotate) and a
``rotation-exempt-max-age-days`` tag: the age in days (a positive whole number)
past which the platform's daily watch alerts that the credential must be
replaced. An exemption without a limit is a credential nobody will ever replace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from .base import (
    Config,
    PolicyResource,
    Props,
    dig,
    is_unknown,
    number,
    present,
    resource_rule,
    stack_rule,
    tags_of,
)

SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 - type tokens
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"  # noqa: S105
EXEMPT_TAG = "rotation-exempt"
MAX_AGE_TAG = "rotation-exempt-max-age-days"
RATE_EXPRESSION = re.compile(r"^rate\((\d+)\s+(day|days|hour|hours)\)$")


def _rotation_days(rules: object) -> float | None:
    days = dig(rules, "automaticallyAfterDays")
    if isinstance(days, (int, float)):
        return float(days)
    schedule = dig(rules, "scheduleExpression")
    if isinstance(schedule, str) and not is_unknown(schedule):
        match = RATE_EXPRESSION.match(schedule.strip())
        if match:
            amount = float(match.group(1))
            return amount if match.group(2).startswith("day") else amount / 24
    return None


def check_secret_rotation(resource_type: str, props: Props, config: Config) -> Iterator[str]:
    if resource_type == SECRET:
        name = props.get("name")
        key = props.get("kmsKeyId")
        if not present(key):
            yield f"secret {name} is encrypted with the AWS-managed key, not a customer key (kms_key_id)"
        tags = tags_of(props)
        exempt = tags.get(EXEMPT_TAG)
        if isinstance(exempt, str) and not exempt.strip():
            yield f"secret {name} is tagged {EXEMPT_TAG} without a reason"
        if EXEMPT_TAG in tags and not is_unknown(exempt):
            max_age = tags.get(MAX_AGE_TAG)
            if not is_unknown(max_age) and not (
                isinstance(max_age, str) and max_age.strip().isdigit() and int(max_age) > 0
            ):
                yield (
                    f"secret {name} is tagged {EXEMPT_TAG} without {MAX_AGE_TAG}=<days>: the daily watch needs the age "
                    "past which its credential must be replaced"
                )
        return
    rules = props.get("rotationRules")
    if is_unknown(rules):
        return
    days = _rotation_days(rules)
    if days is not None and days > config["maximumDays"]:
        yield f"secret {props.get('secretId')} rotates every {days:g} days, more than {number(config['maximumDays'])}"


SECRET_ROTATION_RULE = resource_rule(
    name="secret-rotation",
    description="Secrets use a customer key and rotate at least every maximumDays (exempt only with a reason "
    f"and a `{MAX_AGE_TAG}` tag the daily watch enforces).",
    level="mandatory",
    resource_types={SECRET, SECRET_ROTATION},
    check=check_secret_rotation,
    remediation="Set kms_key_id on the secret and a SecretRotation with rotation_rules.automatically_after_days "
    f"≤ maximumDays; or tag the secret {EXEMPT_TAG}=<why it cannot rotate> and {MAX_AGE_TAG}=<days>.",
    anchors=("CKV2_AWS_57", "CKV_AWS_304", "CKV_AWS_149"),
    config_schema={
        "maximumDays": {
            "type": "integer",
            "minimum": 1,
            "default": 30,
            "description": "Longest acceptable rotation interval (the platform's rule; the anchors say 90).",
        }
    },
)


def _rotates(secret_name: str, rotated_ids: set[str]) -> bool:
    """A SecretRotation names its secret by name or ARN (``…:secret:<name>-AbCdEf``)."""
    return any(ref == secret_name or f":secret:{secret_name}-" in ref for ref in rotated_ids)


def check_secrets_rotated(resources: Sequence[PolicyResource], config: Config) -> Iterator[tuple[str | None, str]]:
    rotated: set[str] = set()
    for resource in resources:
        if resource.type == SECRET_ROTATION:
            secret_id = resource.props.get("secretId")
            if not isinstance(secret_id, str) or is_unknown(secret_id):
                return  # a rotation whose secret is not known yet could be any secret's: prove nothing
            rotated.add(secret_id)
    for resource in resources:
        if resource.type != SECRET:
            continue
        name, tags = resource.props.get("name"), resource.props.get("tags")
        if not isinstance(name, str) or is_unknown(name) or is_unknown(tags):
            continue
        # An exemption (its reason is the resource rule's concern) or a rotation of this secret settles it.
        if EXEMPT_TAG in tags_of(resource.props) or _rotates(name, rotated):
            continue
        yield (
            resource.urn,
            f"secret {name} is never rotated: add a SecretRotation of at most {number(config['maximumDays'])} days, "
            f"or tag it {EXEMPT_TAG}=<why it cannot rotate>",
        )


SECRETS_ROTATED_RULE = stack_rule(
    name="secret-rotation-configured",
    description="Every secret is rotated by a SecretRotation, or tagged exempt with a reason.",
    level="mandatory",
    check=check_secrets_rotated,
    remediation=f"Declare aws.secretsmanager.SecretRotation for the secret, or tag it {EXEMPT_TAG}=<reason>.",
    anchors=("CKV2_AWS_57",),
    config_schema={
        "maximumDays": {
            "type": "integer",
            "minimum": 1,
            "default": 30,
            "description": "Rotation interval the message asks for (the resource rule enforces it).",
        }
    },
)

RULES = (SECRET_ROTATION_RULE,)
STACK_RULES = (SECRETS_ROTATED_RULE,)
