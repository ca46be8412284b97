"""The coordination pieces of one stack, in the tooling account: shared by every service of the fleet.

- a KMS key of its own (rotated) for the ledger, the topics, the dead-letter queue, the logs and the
  functions' environment;
- the deployment ledger (DynamoDB, point-in-time recovery, TTL on idempotency markers);
- the dependency graph as SSM parameters, an index and its parts (rewritten on every ``pulumi up``;
  ``components/model/coordination_graph.py`` says why and how);
- one change-freeze switch per environment (SSM, created ``off``; operators flip it, so
  Pulumi ignores later changes of its value: a ``pulumi up`` must never lift a freeze);
- one "deployed" SNS topic per service, for dependents to subscribe to;
- the coordinator (EventBridge rules on this stack's pipelines, a five-minute schedule, a
  dead-letter queue) and the deploy gate (behind every Deploy stage's ``LambdaInvoke`` rule,
  and the bake action at the end of Deploy stages that bake), each with its own
  least-privilege role and log group. CodePipeline invokes an action's function
  asynchronously, so the gate has a dead-letter queue too, and Lambda retries a bake
  delivery at most twice, within CodePipeline's 20-minute reply window.

The runtime logic lives in ``functions/``; this component only wires it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from .. import iam
from ..governance.lambda_function import dead_letter_queue, invoke_from_rule, ledger_table
from ..model import naming
from ..model.coordination_graph import (
    alarm_reader_role_arns,
    coordination_graph_parameters,
    pipeline_event_patterns,
)
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags
from .gate_rule import DeployGateRule

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
SHARED_PACKAGE = "deploy_ledger"
RUNTIME = "python3.12"
LOG_RETENTION_DAYS = 90
TICK_SCHEDULE = "rate(5 minutes)"
COORDINATOR_CONCURRENCY = 5
"""Conditional writes make parallel events safe; five keeps a release-day burst moving without flooding the ledger."""
GATE_CONCURRENCY = 20
"""A throttled gate fails its rule and holds a deploy for nothing: room for a whole wave entering Deploy at once.
Bake invocations share it; each reads one alarm and answers within seconds, and a throttled one is retried by
Lambda (CodePipeline invokes actions asynchronously)."""
EVENT_MAX_AGE_SECONDS = 6 * 3600
FUNCTION_TIMEOUT_SECONDS = 60
"""The functions read it too: their claims on work last a little longer than this, and end before Lambda retries."""
BAKE_EVENT_MAX_AGE_SECONDS = 900
"""An asynchronous bake delivery older than this goes to the dead-letter queue: CodePipeline stops waiting for an
answer 20 minutes after its last "in progress" reply (CodePipeline quotas, Lambda invoke action)."""


@dataclass(frozen=True)
class CoordinationArgs:
    inputs: PlatformInputs
    hold_timeout_minutes: int = 120
    """A held deploy is aborted after this long; the scheduled tick notices within five minutes."""


def function_code(function: str) -> pulumi.AssetArchive:
    """``handler.py`` at the archive root, with the shared ``deploy_ledger`` package beside it (no caches)."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        "handler.py": pulumi.FileAsset(str(FUNCTIONS_DIR / function / "handler.py"))
    }
    for module in sorted((FUNCTIONS_DIR / SHARED_PACKAGE).glob("*.py")):
        assets[f"{SHARED_PACKAGE}/{module.name}"] = pulumi.FileAsset(str(module))
    return pulumi.AssetArchive(assets)


class Coordination(pulumi.ComponentResource):
    """Ledger, graph, freeze switches, deployed topics, coordinator and deploy gate of one stack."""

    gate: DeployGateRule
    table_name: pulumi.Output[str]
    coordinator_arn: pulumi.Output[str]
    deploy_gate_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CoordinationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:coordination:Coordination", name, None, opts)
        inputs = args.inputs
        stack, settings = inputs.stack, inputs.settings
        region, account = settings.region, settings.tooling_account_id
        partition = naming.partition_of(region)
        self._name, self._tags, self._child = name, standard_tags(stack), pulumi.ResourceOptions(parent=self)
        self._region, self._account = region, account

        coordinator_name = naming.coordination_function_name(stack, "coordinator")
        gate_name = naming.coordination_function_name(stack, "deploy-gate")
        role_arns = [naming.role_arn(region, account, fn) for fn in (coordinator_name, gate_name)]
        dlq_name = f"{coordinator_name}-dlq"
        dlq_arn = f"arn:{partition}:sqs:{region}:{account}:{dlq_name}"
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the deployment ledger, topics and coordination logs of platform stack {stack}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=iam.to_json(iam.coordination_key_policy(region, account, stack, role_arns, dlq_arn)),
            tags=self._tags,
            opts=self._child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/cicd-coordination-{stack.lower()}",
            target_key_id=key.key_id,
            opts=self._child,
        )

        table_name = naming.ledger_table_name(stack)
        table = ledger_table(f"{name}-ledger", table_name, key.arn, self._tags, self._child)

        graph = coordination_graph_parameters(inputs)
        graph_name = graph.index_name
        parts = [
            aws.ssm.Parameter(
                f"{name}-graph-part-{number}",
                name=part_name,
                type="String",
                tier="Standard",
                # Not a secret (the provider marks ``value`` secret and would hide the graph from plans and diffs).
                insecure_value=value,
                description=f"Part {number} of the service dependency graph (its index: {graph_name})",
                tags=self._tags,
                opts=self._child,
            )
            for number, (part_name, value) in enumerate(graph.parts.items(), 1)
        ]
        aws.ssm.Parameter(
            f"{name}-graph",
            name=graph_name,
            type="String",
            # The index grows by a digest per part only: standard while it fits, advanced past 4 KB.
            tier="Intelligent-Tiering",
            insecure_value=graph.index,
            description="Index of the service dependency graph read by the platform's functions (written by pulumi up)",
            tags=self._tags,
            # Last: the index is the commit point, and readers find the parts it names already written.
            opts=pulumi.ResourceOptions(parent=self, depends_on=parts),
        )
        for environment in settings.environments:
            aws.ssm.Parameter(
                f"{name}-freeze-{environment.name}",
                name=naming.freeze_parameter_name(stack, environment.name),
                type="String",
                insecure_value="off",
                description=(
                    f"Change freeze of {environment.name}: only 'off' lets deploys in; 'on' or 'on: <reason>' "
                    "(or anything else) freezes it. Operators flip it"
                ),
                tags=standard_tags(stack, environment=environment.name),
                # Operators own the value once it exists; pulumi up must not lift a freeze.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["insecureValue"]),
            )

        for service in inputs.catalog.services:
            aws.sns.Topic(
                f"{name}-{service.name}-deployed",
                name=naming.deployed_topic_name(stack, service.name),
                kms_master_key_id=key.arn,
                # The platform owns and publishes to the topic; which service it announces is its own tag.
                tags={**self._tags, "announces": service.name},
                opts=self._child,
            )
        topics_pattern = f"arn:{partition}:sns:{region}:{account}:{naming.deployed_topic_name(stack, '*')}"

        scope_inputs = {"region": region, "account_id": account, "stack": stack}
        environments = [environment.name for environment in settings.environments]
        table_arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{table_name}"
        dlq = dead_letter_queue(f"{name}-coordinator-dlq", dlq_name, key.arn, self._tags, self._child)
        gate_dlq_name = f"{gate_name}-dlq"
        gate_dlq_arn = f"arn:{partition}:sqs:{region}:{account}:{gate_dlq_name}"
        # Bake deliveries Lambda could not get answered (the job then times out and the stage fails).
        gate_dlq = dead_letter_queue(f"{name}-deploy-gate-dlq", gate_dlq_name, key.arn, self._tags, self._child)
        test_projects = (
            f"arn:{partition}:codebuild:{region}:{account}:project/{naming.integration_test_project_name('*')}"
            if any(s.on_upstream_deploy == "test" for s in inputs.catalog.services)
            else None
        )
        environment_variables = {
            "LEDGER_TABLE": table_name,
            "GRAPH_PARAMETER": graph_name,
            "FREEZE_PARAMETER_PREFIX": naming.freeze_parameter_prefix(stack),
            "DEPLOYED_TOPIC_ARN_PATTERN": (
                f"arn:{partition}:sns:{region}:{account}:{naming.deployed_topic_name(stack, '{service}')}"
            ),
            "PIPELINE_NAME_PATTERN": naming.pipeline_name("{service}", "{environment}"),
            "TEST_PROJECT_PATTERN": naming.integration_test_project_name("{service}"),
            # Read in the dependency's account through the reader role the graph names for it.
            "HEALTH_ALARM_PATTERN": naming.health_alarm_name("{service}", "{environment}"),
            "DEPLOY_STAGE": "Deploy",
            "SOURCE_ACTION": "Source",
            "HOLD_TIMEOUT_MINUTES": str(args.hold_timeout_minutes),
            # Events and jobs from anywhere else are claims the functions do not act on.
            "TOOLING_ACCOUNT_ID": account,
            "TOOLING_REGION": region,
            "FUNCTION_TIMEOUT_SECONDS": str(FUNCTION_TIMEOUT_SECONDS),
        }

        def scope(key_arn: str) -> iam.CoordinationScope:
            return iam.CoordinationScope(
                table_arn=table_arn,
                key_arn=key_arn,
                environments=environments,
                alarm_reader_role_arns=alarm_reader_role_arns(inputs),
                **scope_inputs,
            )

        gate = self._function(
            gate_name,
            "deploy_gate",
            "Deploy gate and bake: Deploy is entered only when nothing holds it, and watched after a deploy",
            key,
            lambda key_arn, log_arn: iam.deploy_gate_role_policy(scope(key_arn), log_arn, gate_dlq_arn),
            environment_variables,
            GATE_CONCURRENCY,
            dead_letter_arn=gate_dlq.arn,
            depends_on=[table],
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-deploy-gate-async",
            function_name=gate.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=BAKE_EVENT_MAX_AGE_SECONDS,
            opts=pulumi.ResourceOptions(parent=gate),
        )
        coordinator = self._function(
            coordinator_name,
            "coordinator",
            "Records pipeline events in the ledger, announces deploys, restarts or aborts held deploys",
            key,
            lambda key_arn, log_arn: iam.coordinator_role_policy(
                scope(key_arn), log_arn, topics_pattern, dlq_arn, test_projects
            ),
            environment_variables,
            COORDINATOR_CONCURRENCY,
            dead_letter_arn=dlq.arn,
            depends_on=[table],
        )

        pipeline_names = [
            naming.pipeline_name(service.name, environment.name)
            for service in inputs.catalog.services
            for environment in inputs.environments_for(service)
        ]
        rules: list[tuple[str, aws.cloudwatch.EventRule]] = []
        for index, pattern in enumerate(pipeline_event_patterns(pipeline_names, account), start=1):
            logical = f"{name}-pipeline-events-{index}"
            rules.append(
                (
                    logical,
                    aws.cloudwatch.EventRule(
                        logical,
                        name=f"{coordinator_name}-pipeline-events-{index}",
                        description=f"State changes of platform stack {stack}'s pipelines (part {index})",
                        event_pattern=json.dumps(pattern),
                        tags=self._tags,
                        opts=self._child,
                    ),
                )
            )
        tick = aws.cloudwatch.EventRule(
            f"{name}-tick",
            name=f"{coordinator_name}-tick",
            description="Reviews held deploys: restarts them when healthy, aborts them after the hold timeout",
            schedule_expression=TICK_SCHEDULE,
            tags=self._tags,
            opts=self._child,
        )
        rules.append((f"{name}-tick", tick))
        for logical, rule in rules:
            invoke_from_rule(
                logical,
                rule,
                coordinator,
                retry_policy={"maximum_event_age_in_seconds": EVENT_MAX_AGE_SECONDS, "maximum_retry_attempts": 185},
                dead_letter_arn=dlq.arn,
            )
        # The coordinator's rules by their name prefix: a large fleet's pipeline events need further numbered rules,
        # and an SQS policy holds 8,192 bytes (SQS developer guide, "Amazon SQS policy quotas").
        rules_pattern = naming.event_rule_arn(region, account, f"{coordinator_name}-*")
        aws.sqs.QueuePolicy(
            f"{name}-coordinator-dlq-policy",
            queue_url=dlq.url,
            policy=iam.to_json(
                iam.document(
                    {
                        "Sid": "UndeliverableEventsFromOurRules",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": dlq_arn,
                        "Condition": {"ArnLike": {"aws:SourceArn": rules_pattern}},
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=dlq, depends_on=[rule for _, rule in rules]),
        )

        self.gate = DeployGateRule(
            function_name=gate.name, function_arn=naming.lambda_function_arn(region, account, gate_name)
        )
        self.table_name = table.name
        self.coordinator_arn = coordinator.arn
        self.deploy_gate_arn = gate.arn
        self.register_outputs({"ledgerTable": table.name, "coordinatorArn": coordinator.arn, "deployGateArn": gate.arn})

    def _function(
        self,
        function_name: str,
        code_dir: str,
        description: str,
        key: aws.kms.Key,
        policy_for: Callable[[str, str], iam.Document],
        environment_variables: dict[str, str],
        reserved_concurrency: int,
        dead_letter_arn: pulumi.Input[str] | None = None,
        depends_on: list[pulumi.Resource] | None = None,
    ) -> aws.lambda_.Function:
        """A function with its own role (trusted by Lambda only), log group and least-privilege inline policy."""
        region, account = self._region, self._account
        log_group_name = f"/aws/lambda/{function_name}"
        log_group_arn = f"arn:{naming.partition_of(region)}:logs:{region}:{account}:log-group:{log_group_name}"
        role = aws.iam.Role(
            f"{self._name}-{code_dir}-role",
            name=function_name,
            description=f"Runs {function_name}",
            # Lambda assumes execution roles for this account's functions only; no source condition applies.
            assume_role_policy=iam.to_json(
                iam.document(
                    {
                        "Sid": "AssumedByLambda",
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                )
            ),
            tags=self._tags,
            opts=self._child,
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-{code_dir}-policy",
            role=role.id,
            policy=key.arn.apply(lambda key_arn: iam.to_json(policy_for(key_arn, log_group_arn))),
            opts=pulumi.ResourceOptions(parent=role),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-{code_dir}-logs",
            name=log_group_name,
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=key.arn,
            tags=self._tags,
            opts=self._child,
        )
        return aws.lambda_.Function(
            f"{self._name}-{code_dir}",
            name=function_name,
            description=description,
            role=role.arn,
            runtime=RUNTIME,
            architectures=["arm64"],
            handler="handler.handle",
            code=function_code(code_dir),
            timeout=FUNCTION_TIMEOUT_SECONDS,
            memory_size=256,
            reserved_concurrent_executions=reserved_concurrency,
            tracing_config={"mode": "Active"},
            kms_key_arn=key.arn,
            environment={"variables": environment_variables},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            dead_letter_config={"target_arn": dead_letter_arn} if dead_letter_arn else None,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, log_group, *(depends_on or [])]),
        )
