"""One platform Lambda function with everything a reviewer expects around it.

Per function: a role trusted by Lambda for this account only, its inline
least-privilege policy, a KMS-encrypted log group with a retention, and the
function itself with a dead-letter queue for failed asynchronous invocations;
on request X-Ray tracing, reserved concurrency and KMS-encrypted settings.
The package is the modules of ``functions/<folder>/`` plus vendored shared
modules (``SLACK_CLIENT``, ``DELIVERY_LEDGER``, ``DEPENDENCY_GRAPH``): a function that needs them
lists them in ``vendored`` and imports them by module name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming

FUNCTIONS_DIR = Path("functions")
"""Relative to the project directory, where Pulumi runs the program: plans stay the same on every checkout."""
SLACK_CLIENT = FUNCTIONS_DIR / "slack_notifier" / "slack_client.py"
"""Bounded-retry Slack webhook client; any function that posts to Slack vendors it."""
DELIVERY_LEDGER = FUNCTIONS_DIR / "slack_notifier" / "delivery_ledger.py"
LEDGER_COVERED_TIMEOUT_SECONDS = 54
"""The longest timeout of a function that claims its events in the delivery ledger (``delivery_ledger``'s
``LONGEST_COVERED_INVOCATION_SECONDS``; a test keeps the two equal): its claim must end before Lambda's retry a
minute after a crash, and cover the whole invocation, so a copy of the event that arrives meanwhile is a duplicate."""
"""Act-once claims in DynamoDB; any function that must not repeat itself on duplicate events vendors it."""
DEPENDENCY_GRAPH = FUNCTIONS_DIR / "deploy_ledger" / "graph.py"
"""The one reader of the dependency graph parameter (where each service runs); vendored as ``graph``."""
RUNTIME = "python3.12"
LOG_RETENTION_DAYS = 90
XRAY_WRITE_POLICY = "arn:{partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"


DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
"""SQS's longest retention: a failed delivery waits two weeks for someone to look."""


def dead_letter_queue(
    resource_name: str,
    queue_name: str,
    key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    *,
    data_key_reuse_seconds: int | None = None,
) -> aws.sqs.Queue:
    """A platform function's or rule's dead-letter queue, encrypted with the component's own key."""
    return aws.sqs.Queue(
        resource_name,
        name=queue_name,
        kms_master_key_id=key_arn,
        kms_data_key_reuse_period_seconds=data_key_reuse_seconds,
        message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
        tags=dict(tags),
        opts=opts,
    )


def ledger_table(
    resource_name: str,
    table_name: str,
    key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.dynamodb.Table:
    """A ledger of ``pk``/``sk`` items that expire by ``expires_at``: own key, point-in-time recovery, kept on delete.

    Functions remember what they already did here (claims, holds, deployments); losing it would
    repeat deploys or lose history, hence recovery and deletion protection.
    """
    return aws.dynamodb.Table(
        resource_name,
        name=table_name,
        billing_mode="PAY_PER_REQUEST",
        hash_key="pk",
        range_key="sk",
        attributes=[{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
        server_side_encryption={"enabled": True, "kms_key_arn": key_arn},
        point_in_time_recovery={"enabled": True},
        ttl={"attribute_name": "expires_at", "enabled": True},
        deletion_protection_enabled=True,
        tags=dict(tags),
        opts=opts,
    )


def function_package(folder: str, vendored: Sequence[Path] = ()) -> pulumi.AssetArchive:
    """The modules of ``functions/<folder>`` and the shared modules it vendors, side by side at the root.

    ``__init__.py`` stays out: it exists only so tests can import the folder as a package.
    """
    files = {path.name: path for path in sorted((FUNCTIONS_DIR / folder).glob("*.py")) if path.name != "__init__.py"}
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
    timeout_seconds: int | None = None
    """Default 60 s, or ``LEDGER_COVERED_TIMEOUT_SECONDS`` for a function that vendors the delivery ledger (more
    is refused for one)."""
    function_name: str | None = None
    """Default ``cicd-<purpose>-<stack>``; a function named before that convention keeps its name."""
    architecture: str | None = None
    """``arm64`` or ``x86_64``; Lambda's default (x86_64) when not given."""
    tracing: bool = False
    """X-Ray active tracing, with the AWS-managed write policy on the role."""
    reserved_concurrency: int | None = None
    encrypt_environment: bool = False
    """Encrypt the function's settings with ``key_arn`` (whose policy must let Lambda use it)."""
    log_format: str = "Text"
    adopted_from: pulumi.Resource | None = None
    """The component that declared this function's role, log group and function itself before they moved here:
    aliases keep their URNs, so ``pulumi up`` updates them in place instead of replacing named resources."""


class PlatformFunction(pulumi.ComponentResource):
    """Role, policy, encrypted log group and function."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]
    role_arn: str

    def __init__(self, name: str, args: PlatformFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:PlatformFunction", name, None, opts)
        aliases = [pulumi.Alias(parent=args.adopted_from)] if args.adopted_from is not None else None
        child = pulumi.ResourceOptions(parent=self, aliases=aliases)
        function_name = args.function_name or naming.function_name(args.purpose, args.stack)
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
            name=f"/aws/lambda/{function_name}",
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
        ready: list[pulumi.Resource] = [policy, logs]
        if args.tracing:
            ready.append(
                aws.iam.RolePolicyAttachment(
                    f"{name}-tracing",
                    role=role.name,
                    policy_arn=XRAY_WRITE_POLICY.format(partition=naming.partition_of(args.region)),
                    opts=pulumi.ResourceOptions(parent=role),
                )
            )
        optional: dict[str, object] = {}
        if args.architecture:
            optional["architectures"] = [args.architecture]
        if args.tracing:
            optional["tracing_config"] = {"mode": "Active"}
        if args.reserved_concurrency is not None:
            optional["reserved_concurrent_executions"] = args.reserved_concurrency
        if args.encrypt_environment:
            optional["kms_key_arn"] = args.key_arn
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description=args.description,
            runtime=RUNTIME,
            handler="handler.handler",
            code=function_package(args.folder, args.vendored),
            role=role.arn,
            timeout=function_timeout(args),
            memory_size=256,
            environment={"variables": dict(args.environment)},
            dead_letter_config={"target_arn": args.dead_letter_queue_arn},
            logging_config={"log_format": args.log_format, "log_group": logs.name},
            tags=dict(args.tags),
            # The role must be able to log, dead-letter (and trace) before the first invocation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready, aliases=aliases),
            **optional,
        )
        self.arn = function.arn
        self.name = function.name
        self.register_outputs({"arn": function.arn, "name": function.name})


def function_timeout(args: PlatformFunctionArgs) -> int:
    """The function's timeout; a delivery-ledger function's stays within what its claims cover."""
    claims_in_ledger = DELIVERY_LEDGER in args.vendored
    if args.timeout_seconds is None:
        return LEDGER_COVERED_TIMEOUT_SECONDS if claims_in_ledger else 60
    if claims_in_ledger and args.timeout_seconds > LEDGER_COVERED_TIMEOUT_SECONDS:
        raise ValueError(
            f"function {args.folder}: a timeout of {args.timeout_seconds} s outlives its delivery-ledger claim "
            f"(at most {LEDGER_COVERED_TIMEOUT_SECONDS} s), so a copy of an event could be acted on twice"
        )
    return args.timeout_seconds


class InvocableFunction(Protocol):
    """A Lambda function as the rule wiring needs it: a ``PlatformFunction`` or an ``aws.lambda_.Function``."""

    @property
    def name(self) -> pulumi.Output[str]: ...

    @property
    def arn(self) -> pulumi.Output[str]: ...


def invoke_from_rule(
    name: str,
    rule: aws.cloudwatch.EventRule,
    function: InvocableFunction,
    *,
    source_account: str | None = None,
    event_bus_name: pulumi.Input[str] | None = None,
    retry_policy: Mapping[str, int] | None = None,
    dead_letter_arn: pulumi.Input[str] | None = None,
) -> None:
    """Let ``rule`` invoke ``function``: the Lambda permission (``<name>-invoke``) and the target (``<name>-target``).

    The target waits for the permission, so EventBridge never delivers to a function that would still refuse it;
    ``dead_letter_arn`` keeps what EventBridge cannot deliver within ``retry_policy`` instead of dropping it.
    """
    permission = aws.lambda_.Permission(
        f"{name}-invoke",
        action="lambda:InvokeFunction",
        function=function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        **({"source_account": source_account} if source_account is not None else {}),
        opts=pulumi.ResourceOptions(parent=rule),
    )
    optional: dict[str, object] = {}
    if event_bus_name is not None:
        optional["event_bus_name"] = event_bus_name
    if retry_policy is not None:
        optional["retry_policy"] = dict(retry_policy)
    if dead_letter_arn is not None:
        optional["dead_letter_config"] = {"arn": dead_letter_arn}
    aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        arn=function.arn,
        **optional,
        opts=pulumi.ResourceOptions(parent=rule, depends_on=[permission]),
    )
