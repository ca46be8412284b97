"""The health alarms of one service in one environment, in that environment's account.

One metric alarm per catalog health signal (``alarm_definitions``), plus one
composite ``cicd-<service>-<env>-health`` alarm that is in ALARM when any of
them is. CodeDeploy watches the signal alarms (it stops and rolls back a
deployment on any of them); the pipeline's CloudWatchAlarm gates and the
rollback reporter watch the composite, so a stage condition needs one rule
per service, not one per signal (a condition holds at most five rules).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..model import naming
from ..model.catalog import EcsTarget, Service
from ..model.settings import Environment
from ..model.tags import standard_tags
from .alarm_definitions import EcsDimensions, composite_rule, definitions_for


@dataclass(frozen=True)
class ServiceAlarmsArgs:
    stack: str
    service: Service
    environment: Environment
    provider: aws.Provider
    topic_arn: pulumi.Input[str]


class ServiceAlarms(pulumi.ComponentResource):
    """Signal alarms + the composite health alarm of one service in one environment."""

    signal_alarm_names: list[str]
    health_alarm_name: str
    alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: ServiceAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:ServiceAlarms", name, None, opts)
        service, environment = args.service, args.environment
        in_account = pulumi.ResourceOptions(parent=self, provider=args.provider)
        tags = standard_tags(args.stack, service=service.name, owner=service.owner, environment=environment.name)
        actions = [args.topic_arn]

        definitions = definitions_for(service, self._ecs_dimensions(service, args.provider))
        self.signal_alarm_names = [naming.alarm_name(service.name, environment.name, d.signal) for d in definitions]
        self.alarms = []
        for definition, alarm_name in zip(definitions, self.signal_alarm_names, strict=True):
            self.alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{definition.signal}",
                    name=alarm_name,
                    alarm_description=f"{definition.description} in {environment.name}",
                    actions_enabled=True,
                    alarm_actions=actions,
                    ok_actions=actions,
                    tags=tags,
                    opts=in_account,
                    **definition.arguments(),
                )
            )
        self.health_alarm_name = naming.health_alarm_name(service.name, environment.name)
        health = aws.cloudwatch.CompositeAlarm(
            f"{name}-health",
            alarm_name=self.health_alarm_name,
            alarm_description=f"{service.name} is unhealthy in {environment.name} (any signal alarm)",
            alarm_rule=composite_rule(self.signal_alarm_names),
            actions_enabled=True,
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(self.alarms)),
        )
        self.register_outputs({"signalAlarmNames": self.signal_alarm_names, "healthAlarmName": health.alarm_name})

    def _ecs_dimensions(self, service: Service, provider: aws.Provider) -> EcsDimensions | None:
        """ALB metrics are keyed by ARN suffixes (``app/<name>/<id>``), which only a lookup can tell."""
        target = service.aws
        if not isinstance(target, EcsTarget):
            return None
        invoke = pulumi.InvokeOptions(parent=self, provider=provider)
        load_balancer = aws.lb.get_load_balancer_output(name=target.load_balancer, opts=invoke)
        blue, green = (aws.lb.get_target_group_output(name=group, opts=invoke) for group in target.target_groups)
        return EcsDimensions(load_balancer.arn_suffix, (blue.arn_suffix, green.arn_suffix))
