"""Forward the platform's alarm and deployment events from an environment account to the tooling bus.

Alarms fire and CodeDeploy deploys in the environment accounts, but the
rollback reporter runs in the tooling account (next to the pipelines it rolls
back). EventBridge rules here match only the platform's composite health
alarms entering ALARM and the platform's deployments failing or stopping, and
put them on the tooling account's deploy-events bus through a role that may
do nothing else.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.settings import Environment
from ..model.tags import standard_tags


def health_alarm_pattern(environment: str) -> dict[str, object]:
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "alarmName": [{"wildcard": naming.health_alarm_name("*", environment)}],
            "state": {"value": ["ALARM"]},
        },
    }


def failed_deployment_pattern(environment: str) -> dict[str, object]:
    return {
        "source": ["aws.codedeploy"],
        "detail-type": ["CodeDeploy Deployment State-change Notification"],
        "detail": {
            "application": [{"wildcard": naming.codedeploy_application_name("*", environment)}],
            "state": ["FAILURE", "STOP"],
        },
    }


class EventForwarding(pulumi.ComponentResource):
    """Two rules (health alarms, failed deployments) → the tooling bus, through one forwarder role."""

    def __init__(
        self,
        name: str,
        stack: str,
        environment: Environment,
        provider: aws.Provider,
        bus_arn: str,
        permissions_boundary_arn: str,
        opts: pulumi.ResourceOptions | None = None,
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
        patterns = {
            "health-alarms": health_alarm_pattern(environment.name),
            "failed-deployments": failed_deployment_pattern(environment.name),
        }
        for purpose, pattern in patterns.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{purpose}",
                name=f"cicd-forward-{purpose}-{environment.name}",
                description=f"Forward the platform's {purpose.replace('-', ' ')} to the tooling account",
                event_pattern=json.dumps(pattern, sort_keys=True),
                tags=tags,
                opts=in_account,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{purpose}-target",
                rule=rule.name,
                arn=bus_arn,
                role_arn=role.arn,
                opts=pulumi.ResourceOptions(parent=rule, provider=provider, depends_on=[policy]),
            )
        self.register_outputs({"forwarderRoleArn": role.arn})
