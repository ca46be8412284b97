"""The stack's one rotation function and the schedule of every secret it rotates.

Which secrets: the scanner tokens whose kind the vendor lets the platform rotate (``sonarqube.tokenKind:
user-token``, ``snyk.tokenKind: service-account-client-secret``). Those secrets stay the operator's — they
were created before the platform rotated anything and the scan stage reads them by name — so the platform
attaches rotation to them by name (``aws.secretsmanager.SecretRotation`` accepts a name or an ARN of an
existing secret) instead of creating them. The function (``functions/secret_rotation``) learns each secret's
kind and vendor settings from ``ROTATED_SECRETS``; its role reaches only those secrets; only Secrets Manager
may invoke it, for this account and those secrets ("Lambda rotation functions": the function's resource
policy names ``secretsmanager.amazonaws.com`` with ``SourceAccount``/``SourceArn``).

The schedule is ``rotationDays`` (at most 30, POLICIES.md ``secret-rotation``); a superseded credential is
revoked at the next rotation, so no scanner credential stays valid longer than two periods.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..governance.lambda_function import PlatformFunction, PlatformFunctionArgs
from ..model import naming
from ..model.credentials import RotatorKind
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags

PURPOSE = "secret-rotation"
TIMEOUT_SECONDS = 120
"""A step's worst case: a few vendor calls, each retried within a 20-second budget."""


@dataclass(frozen=True)
class RotatedSecret:
    name: str
    kind: RotatorKind
    vendor: dict[str, str]
    """What the rotator needs besides the secret: the SonarQube URL, the Snyk org and service account."""


def rotated_secrets(inputs: PlatformInputs) -> list[RotatedSecret]:
    """The stack's secrets whose kind the platform rotates, from its settings."""
    settings, found = inputs.settings, []
    if settings.sonarqube is not None and settings.sonarqube.rotated:
        found.append(
            RotatedSecret(settings.sonarqube.token_secret_name, "sonarqube-user-token", {"url": settings.sonarqube.url})
        )
    if settings.snyk is not None and settings.snyk.rotated:
        found.append(
            RotatedSecret(
                settings.snyk.token_secret_name,
                "snyk-client-secret",
                {
                    "apiUrl": settings.snyk.api_url,
                    "orgId": str(settings.snyk.org_id),
                    "serviceAccountId": str(settings.snyk.service_account_id),
                },
            )
        )
    return found


@dataclass(frozen=True)
class SecretRotationArgs:
    inputs: PlatformInputs
    secrets: list[RotatedSecret]
    key_arn: pulumi.Input[str]
    """The release-news key: the function's logs and dead letters."""
    dead_letter_queue_arn: pulumi.Input[str]


class SecretRotation(pulumi.ComponentResource):
    """Rotation function + Secrets Manager's permission to invoke it + one rotation schedule per secret."""

    role_arn: str

    def __init__(self, name: str, args: SecretRotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:secrets:SecretRotation", name, None, opts)
        settings, stack = args.inputs.settings, args.inputs.stack
        region, account = settings.region, settings.tooling_account_id
        patterns = [naming.secret_arn_pattern(region, account, secret.name) for secret in args.secrets]
        function = PlatformFunction(
            name,
            PlatformFunctionArgs(
                stack=stack,
                region=region,
                account_id=account,
                purpose=PURPOSE,
                folder="secret_rotation",
                description="Rotates the platform's vendor credentials (Secrets Manager's four steps)",
                key_arn=args.key_arn,
                dead_letter_queue_arn=args.dead_letter_queue_arn,
                policy_inputs={"key_arn": args.key_arn, "queue_arn": args.dead_letter_queue_arn},
                policy_for=lambda resolved: iam.rotation_function_policy(
                    resolved["log_group_arn"], patterns, resolved["key_arn"], resolved["queue_arn"], region
                ),
                environment={
                    "ROTATED_SECRETS": json.dumps(
                        {secret.name: {"kind": secret.kind, **secret.vendor} for secret in args.secrets}, sort_keys=True
                    )
                },
                tags=standard_tags(stack),
                timeout_seconds=TIMEOUT_SECONDS,
                architecture="arm64",
                tracing=True,
                reserved_concurrency=2,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role_arn = function.role_arn
        for secret in args.secrets:
            logical = f"{name}-{secret.kind}"
            permission = aws.lambda_.Permission(
                f"{logical}-invoke",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="secretsmanager.amazonaws.com",
                source_account=account,
                source_arn=naming.secret_arn_pattern(region, account, secret.name),
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.secretsmanager.SecretRotation(
                logical,
                secret_id=secret.name,
                rotation_lambda_arn=function.arn,
                rotation_rules={"automatically_after_days": settings.rotation_days},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
            )
        self.register_outputs({"functionArn": function.arn})
