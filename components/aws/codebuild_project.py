"""A CodeBuild project with its own role and encrypted log group.

Builds, image builds and Lambda releases are all CodeBuild projects, but they
must never share a role: a build runs the service team's code, an image build
may push to the service's registry, a release holds the right to assume deploy
roles. Each project therefore gets a dedicated role whose
policy the caller supplies, and a log group with a retention and the artifact key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model.build_queues import FLEET_ENVIRONMENT_TYPE, BuildQueue

BUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
LOG_RETENTION_DAYS = 90


ON_DEMAND_COMPUTE_TYPE = "BUILD_GENERAL1_SMALL"


@dataclass(frozen=True)
class BuildCapacity:
    """Where a project's builds run: on demand (optionally capped per project) or on a reserved fleet."""

    concurrent_build_limit: int | None = None
    fleet_arn: pulumi.Input[str] | None = None
    compute_type: str = ON_DEMAND_COMPUTE_TYPE


def image_build_capacity(queue: BuildQueue) -> BuildCapacity:
    """Where the privileged image build runs: always on demand, capped like its queue.

    CodeBuild destroys an on-demand machine when its build finishes, while a reserved
    fleet keeps its machines between builds (CodeBuild user guide, "Run builds on reserved
    capacity fleets"); the privileged image build must never share a host, or its Docker
    state, with another build. A fleet queue's image builds are capped at its machine count.
    """
    if queue.fleet is None:
        return BuildCapacity(concurrent_build_limit=queue.concurrent_build_limit)
    return BuildCapacity(concurrent_build_limit=queue.fleet.base_capacity)


def build_capacity(queue: BuildQueue, fleet_arn: pulumi.Input[str] | None) -> BuildCapacity:
    """A build queue as the capacity of one project; a fleet queue needs its fleet's ARN."""
    if queue.fleet is None:
        return BuildCapacity(concurrent_build_limit=queue.concurrent_build_limit)
    if fleet_arn is None:
        raise ValueError("a build queue that is a fleet needs the fleet's ARN")
    # CodeBuild runs a fleet project's builds on the fleet's machines, so the project asks for their size.
    return BuildCapacity(fleet_arn=fleet_arn, compute_type=queue.fleet.compute_type)


@dataclass(frozen=True)
class CodeBuildProjectArgs:
    project_name: str
    role_name: str
    log_group_name: str
    description: str
    account_id: str
    buildspec: str
    key_arn: pulumi.Input[str]
    policy_inputs: Mapping[str, pulumi.Input[str]]
    policy_for: Callable[[Mapping[str, str]], iam.Document]
    """Builds the role policy from the resolved ``policy_inputs`` plus ``log_group_arn``."""
    tags: Mapping[str, str]
    timeout_minutes: int = 30
    privileged: bool = False
    environment_variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    capacity: BuildCapacity = field(default_factory=BuildCapacity)


class CodeBuildProject(pulumi.ComponentResource):
    """Role + log group + project, wired to the artifact key."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CodeBuildProjectArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:build:CodeBuildProject", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=args.key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=args.description,
            assume_role_policy=iam.to_json(iam.service_trust("codebuild.amazonaws.com", args.account_id)),
            tags=dict(args.tags),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(log_group_arn=log_group.arn, **args.policy_inputs).apply(
                lambda resolved: iam.to_json(args.policy_for(resolved))
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        capacity = args.capacity
        # Only what a queue sets is declared: a project on the standard queue keeps exactly its old inputs.
        on_fleet: dict[str, object] = {"fleet": {"fleet_arn": capacity.fleet_arn}} if capacity.fleet_arn else {}
        limited: dict[str, object] = (
            {"concurrent_build_limit": capacity.concurrent_build_limit} if capacity.concurrent_build_limit else {}
        )
        project = aws.codebuild.Project(
            f"{name}-project",
            name=args.project_name,
            description=args.description,
            service_role=role.arn,
            encryption_key=args.key_arn,
            build_timeout=args.timeout_minutes,
            queued_timeout=60,
            source={"type": "CODEPIPELINE", "buildspec": args.buildspec},
            artifacts={"type": "CODEPIPELINE"},
            environment={
                "compute_type": capacity.compute_type,
                "image": BUILD_IMAGE,
                "type": FLEET_ENVIRONMENT_TYPE,
                "image_pull_credentials_type": "CODEBUILD",
                "privileged_mode": args.privileged,
                "environment_variables": [
                    {"name": key, "value": value, "type": "PLAINTEXT"}
                    for key, value in sorted(args.environment_variables.items())
                ],
                **on_fleet,
            },
            **limited,
            logs_config={
                "cloudwatch_logs": {"status": "ENABLED", "group_name": log_group.name},
                "s3_logs": {"status": "DISABLED"},
            },
            tags=dict(args.tags),
            # The first build must not start before its role may write logs and artifacts.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.arn = project.arn
        self.name = project.name
        self.role_arn = role.arn
        self.register_outputs({"arn": project.arn, "name": project.name, "roleArn": role.arn})
