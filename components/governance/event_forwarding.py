"""Forward the platform's alarm and deployment events from an environment account to the tooling bus.

Alarms fire and CodeDeploy deploys in the environment accounts, but the
rollback reporter runs in the tooling account (next to the pipelines it rolls
back). EventBridge rules here match only the composite health alarms and the
CodeDeploy applications of the services the catalog places in *this* account
for this environment, only events of this account and region
(``components/model/forwarded_events.py``), and put them on the tooling
account's deploy-events bus through a role that may do nothing else. A large
fleet gets a few rules per kind, each pattern within EventBridge's size quota.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.forwarded_events import ForwardingPlacement, forwarding_patterns
from ..model.settings import Environment
from ..model.tags import standard_tags


class EventForwarding(pulumi.ComponentResource):
    """Rules (health alarms, failed deployments of ``services``) → the tooling bus, through one forwarder role."""

    def __init__(
        self,
        name: str,
        stack: str,
        environment: Environment,
        provider: aws.Provider,
        bus_arn: str,
        permissions_boundary_arn: str,
        opts: pulumi.ResourceOptions | None = None,
        *,
        services: Sequence[str],
    ) -> None:
        super().__init__("cicd:governance:EventForwarding", name, None, opts)
        in_account = pulumi.ResourceOptions(parent=self, provider=provider)
        tags = standard_tags(stack, environment=environment.name)
        role = aws.iam.Role(
            f"{name}-role",
            name=naming.event_forwarder_role_name(environment.name),
            description=f"EventBridge forwards {environment.name} alarm and deployment events to the tooling bus",
            assume_role_policy=iam.to_json(iam.service_trust("events.amazonaws.com", environment.account_id)),
            # The bootstrap's boundary, as on every role in an environment account (EnvironmentAccount).
            permissions_boundary=permissions_boundary_arn,
            tags=tags,
            opts=in_account,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=iam.to_json(iam.event_forwarder_policy(bus_arn)),
            opts=pulumi.ResourceOptions(parent=role, provider=provider),
        )
        patterns = forwarding_patterns(ForwardingPlacement(environment, tuple(services)))
        for purpose, kind in patterns.items():
            for index, pattern in enumerate(kind):
                # The first rule keeps the name it always had; a large fleet's further rules are numbered.
                suffix = "" if index == 0 else f"-{index + 1}"
                rule = aws.cloudwatch.EventRule(
                    f"{name}-{purpose}{suffix}",
                    name=f"cicd-forward-{purpose}-{environment.name}{suffix}",
                    description=f"Forward the platform's {purpose.replace('-', ' ')} to the tooling account",
                    event_pattern=json.dumps(pattern, sort_keys=True),
                    tags=tags,
                    opts=in_account,
                )
                aws.cloudwatch.EventTarget(
                    f"{name}-{purpose}{suffix}-target",
                    rule=rule.name,
                    arn=bus_arn,
                    role_arn=role.arn,
                    opts=pulumi.ResourceOptions(parent=rule, provider=provider, depends_on=[policy]),
                )
        self.register_outputs({"forwarderRoleArn": role.arn})
