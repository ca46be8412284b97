"""One platform Lambda function with everything a reviewer expects around it.

Per function: a role trusted by Lambda for this account only, its inline
least-privilege policy, a KMS-encrypted log group with a retention, and the
function itself with a dead-letter queue for failed asynchronous invocations.
The package is ``functions/<folder>/handler.py`` plus vendored shared modules
(``SLACK_CLIENT``, ``DELIVERY_LEDGER``): a function that needs them lists them
in ``vendored`` and imports them by module name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming

FUNCTIONS_DIR = Path("functions")
"""Relative to the project directory, where Pulumi runs the program: plans stay the same on every checkout."""
SLACK_CLIENT = FUNCTIONS_DIR / "slack_notifier" / "slack_client.py"
"""Bounded-retry Slack webhook client; any function that posts to Slack vendors it."""
DELIVERY_LEDGER = FUNCTIONS_DIR / "slack_notifier" / "delivery_ledger.py"
"""Act-once claims in DynamoDB; any function that must not repeat itself on duplicate events vendors it."""
RUNTIME = "python3.12"
LOG_RETENTION_DAYS = 90


def function_package(folder: str, vendored: Sequence[Path] = ()) -> pulumi.AssetArchive:
    """``handler.py`` of ``functions/<folder>`` and the shared modules it vendors, side by side at the root."""
    files = {"handler.py": FUNCTIONS_DIR / folder / "handler.py"}
    files.update({path.name: path for path in vendored})
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in sorted(files.items())})


@dataclass(frozen=True)
class PlatformFunctionArgs:
    stack: str
    region: str
    account_id: str
    purpose: str
    """Short name: ``slack-notifier`` gives function ``cicd-slack-notifier-<stack>``."""
    folder: str
    description: str
    key_arn: pulumi.Input[str]
    """Encrypts the log group."""
    dead_letter_queue_arn: pulumi.Input[str]
    policy_for: Callable[[Mapping[str, str]], iam.Document]
    """The role's policy from the resolved ``policy_inputs`` plus ``log_group_arn``."""
    policy_inputs: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Outputs the policy needs, by name; resolved before ``policy_for`` runs."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    vendored: Sequence[Path] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: int = 60


class PlatformFunction(pulumi.ComponentResource):
    """Role, policy, encrypted log group and function."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]
    role_arn: str

    def __init__(self, name: str, args: PlatformFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:PlatformFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        function_name = naming.function_name(args.purpose, args.stack)
        self.role_arn = naming.role_arn(args.region, args.account_id, function_name)
        role = aws.iam.Role(
            f"{name}-role",
            name=function_name,
            description=args.description,
            assume_role_policy=iam.to_json(iam.service_trust("lambda.amazonaws.com", args.account_id)),
            tags=dict(args.tags),
            opts=child,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=naming.function_log_group_name(args.purpose, args.stack),
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=args.key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(log_group_arn=logs.arn, **args.policy_inputs).apply(
                lambda resolved: iam.to_json(args.policy_for(resolved))
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description=args.description,
            runtime=RUNTIME,
            handler="handler.handler",
            code=function_package(args.folder, args.vendored),
            role=role.arn,
            timeout=args.timeout_seconds,
            memory_size=256,
            environment={"variables": dict(args.environment)},
            dead_letter_config={"target_arn": args.dead_letter_queue_arn},
            logging_config={"log_format": "Text", "log_group": logs.name},
            tags=dict(args.tags),
            # The role must be able to log and dead-letter before the first invocation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, logs]),
        )
        self.arn = function.arn
        self.name = function.name
        self.register_outputs({"arn": function.arn, "name": function.name})
