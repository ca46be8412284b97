"""What CodeDeploy knows about a failed deployment: its error, the lifecycle event that failed and why.

The deployment lives in the environment account, so it is read through that
account's read-only reader role (``cicd-alarm-reader-<env>``, which the rollback
reporter and the deploy gate already assume for alarms; its policy also grants
the three CodeDeploy reads below, nothing else).

- ``GetDeployment``: status and ``errorInformation`` (code and message, e.g.
  ``HEALTH_CONSTRAINTS`` or ``ALARM_ACTIVE``);
- ``ListDeploymentTargets`` filtered on ``TargetStatus: Failed``, then
  ``GetDeploymentTarget`` for the first failed target: its lifecycle events,
  and for the failed one its ``diagnostics`` (error code, script name, message
  and the tail of the script's log, for EC2/on-premises), or the ECS task set's
  or Lambda function's event status. IAM knows no resource type for these two
  calls (Service Authorization Reference, CodeDeploy), so the reader holds them on ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

TARGET_KINDS = ("instanceTarget", "ecsTarget", "lambdaTarget", "cloudFormationTarget")


@dataclass(frozen=True)
class DeploymentFacts:
    deployment_id: str
    status: str = ""
    error_code: str = ""
    error_message: str = ""
    target: str = ""
    lifecycle_event: str = ""
    diagnostics: str = ""
    log_tail: tuple[str, ...] = ()


def deployment_facts(codedeploy: Any, deployment_id: str) -> DeploymentFacts:
    info = codedeploy.get_deployment(deploymentId=deployment_id).get("deploymentInfo", {})
    error = info.get("errorInformation") or {}
    facts = DeploymentFacts(
        deployment_id=deployment_id,
        status=str(info.get("status", "")),
        error_code=str(error.get("code", "")),
        error_message=str(error.get("message", "")),
    )
    try:
        failed = codedeploy.list_deployment_targets(
            deploymentId=deployment_id, targetFilters={"TargetStatus": ["Failed"]}
        ).get("targetIds", [])
        if not failed:
            return facts
        target = codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=failed[0]).get(
            "deploymentTarget", {}
        )
    except ClientError:
        return facts  # the deployment's own error still says what happened
    detail = next((target[kind] for kind in TARGET_KINDS if isinstance(target.get(kind), dict)), {})
    events = detail.get("lifecycleEvents") or []
    event = next((e for e in events if e.get("status") == "Failed"), None)
    if event is None:
        return replace(facts, target=str(detail.get("targetId", failed[0])))
    diagnostics = event.get("diagnostics") or {}
    said = " ".join(
        str(part)
        for part in (diagnostics.get("errorCode"), diagnostics.get("scriptName"), diagnostics.get("message"))
        if part
    )
    return replace(
        facts,
        target=str(detail.get("targetId", failed[0])),
        lifecycle_event=str(event.get("lifecycleEventName", "")),
        diagnostics=said,
        log_tail=tuple(str(diagnostics.get("logTail", "")).splitlines()[-10:]),
    )
