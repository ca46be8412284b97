"""CodeDeploy deployment groups in production: automatic rollback on failure and on alarm; no all-at-once.

Production is read from the group's ``environment`` tag (``prodEnvironments``).
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import PROD_ENVIRONMENTS_SCHEMA, Config, Props, as_list, dig, is_prod, is_unknown, known_list, resource_rule

DEPLOYMENT_GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM")
ALL_AT_ONCE = {"CodeDeployDefault.LambdaAllAtOnce", "CodeDeployDefault.ECSAllAtOnce"}


def check_auto_rollback(_: str, props: Props, config: Config) -> Iterator[str]:
    if not is_prod(props, config):
        return
    name = dig(props, "deploymentGroupName")
    rollback = props.get("autoRollbackConfiguration")
    if not is_unknown(rollback):
        enabled, events = dig(rollback, "enabled"), dig(rollback, "events")
        if enabled is not True and not is_unknown(enabled):
            yield f"deployment group {name} does not roll back automatically"
        elif known_list(events) is not None:
            missing = [event for event in ROLLBACK_EVENTS if event not in as_list(events)]
            if missing:
                yield f"deployment group {name} does not roll back on {', '.join(missing)}"
    alarms = props.get("alarmConfiguration")
    if is_unknown(alarms) or is_unknown(dig(alarms, "alarms")) or is_unknown(dig(alarms, "enabled")):
        return
    if dig(alarms, "enabled") is not True or not as_list(dig(alarms, "alarms")):
        yield f"deployment group {name} watches no CloudWatch alarm (alarm_configuration)"


CODEDEPLOY_AUTO_ROLLBACK = resource_rule(
    name="codedeploy-auto-rollback",
    description="Production deployment groups roll back automatically on failure and on alarm, watching ≥1 alarm.",
    level="mandatory",
    resource_types={DEPLOYMENT_GROUP},
    check=check_auto_rollback,
    remediation="Set auto_rollback_configuration(enabled=True, events=[DEPLOYMENT_FAILURE, "
    "DEPLOYMENT_STOP_ON_ALARM]) and alarm_configuration(enabled=True, alarms=[the service's health alarms]).",
    anchors=("Cfg codedeploy-auto-rollback-monitor-enabled",),
    config_schema={"prodEnvironments": PROD_ENVIRONMENTS_SCHEMA},
)


def check_safe_shift(_: str, props: Props, config: Config) -> Iterator[str]:
    if not is_prod(props, config):
        return
    deployment_config = props.get("deploymentConfigName")
    if deployment_config is None and dig(props, "ecsService") and not is_unknown(dig(props, "ecsService")):
        deployment_config = "CodeDeployDefault.ECSAllAtOnce"  # what CodeDeploy uses for ECS when none is named
    if deployment_config in ALL_AT_ONCE:
        yield (
            f"deployment group {dig(props, 'deploymentGroupName')} shifts all traffic at once "
            f"({deployment_config}); use a canary or linear configuration"
        )


CODEDEPLOY_SAFE_SHIFT = resource_rule(
    name="codedeploy-safe-shift",
    description="Production Lambda and ECS deployments shift traffic gradually (canary or linear), not all at once.",
    level="advisory",
    resource_types={DEPLOYMENT_GROUP},
    check=check_safe_shift,
    remediation="Use e.g. CodeDeployDefault.ECSCanary10Percent5Minutes "
    "or CodeDeployDefault.LambdaCanary10Percent5Minutes.",
    anchors=("Cfg codedeploy-lambda-allatonce-traffic-shift-disabled",),
    config_schema={"prodEnvironments": PROD_ENVIRONMENTS_SCHEMA},
)

RULES = (CODEDEPLOY_AUTO_ROLLBACK, CODEDEPLOY_SAFE_SHIFT)
