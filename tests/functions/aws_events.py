"""Events as AWS sends them, shaped after AWS's event reference, not after our code.

- CloudWatch "Alarm State Change" of a composite alarm: CloudWatch user guide,
  "Alarm events and EventBridge" (``state.timestamp`` like
  ``2019-10-02T17:04:40.985+0000``; ``resources`` holds the alarm ARN).
- CodeDeploy "Deployment State-change Notification": Amazon EventBridge events
  reference, "AWS CodeDeploy events", and the CodeDeploy user guide's example
  (``detail`` carries ``application``, ``deploymentGroup``, ``deploymentId``,
  ``state``, ``region`` and ``instanceGroupId``; ``resources`` the application
  and deployment group ARNs).
- CodePipeline "Action Execution State Change", FAILED: CodePipeline user
  guide, "Monitoring CodePipeline events" (``execution-result``,
  ``action-execution-id``, ``pipeline-execution-attempt`` counting the
  attempts of one execution id, a float as AWS sends it).

The envelope's ``account`` and ``region`` are set by EventBridge: the account
and region where the alarm, deployment or pipeline is.
"""

from __future__ import annotations

import json
import uuid
from functools import lru_cache
from typing import Any

ALARM_STAMP = "2026-11-29T10:00:00.000+0000"


def _envelope(source: str, detail_type: str, account: str, region: str, event_id: str | None, time: str):
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time,
        "region": region,
    }


def alarm_state_change(
    alarm: str,
    *,
    account: str,
    region: str,
    value: str = "ALARM",
    stamp: str = ALARM_STAMP,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A composite alarm (``cicd-<service>-<env>-health``) changing state."""
    signal = alarm.removesuffix("-health") + "-http-5xx"
    return {
        **_envelope("aws.cloudwatch", "CloudWatch Alarm State Change", account, region, event_id, stamp[:19] + "Z"),
        "resources": [f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "state": {
                "actionsSuppressedBy": "None",
                "value": value,
                "reason": f"arn:aws:cloudwatch:{region}:{account}:alarm:{signal} transitioned to ALARM at "
                "Sunday 29 November, 2026 09:59:00 UTC",
                "timestamp": stamp,
            },
            "previousState": {
                "value": "OK",
                "reason": f"arn:aws:cloudwatch:{region}:{account}:alarm:{signal} transitioned to OK",
                "timestamp": "2026-11-28T18:00:00.000+0000",
            },
            "configuration": {
                "alarmRule": f'ALARM("{signal}") OR ALARM("{alarm.removesuffix("-health")}-cpu")',
                "actionsSuppressor": "",
                "actionsSuppressorWaitPeriod": 0,
                "actionsSuppressorExtensionPeriod": 0,
            },
        },
    }


def deployment_state_change(
    application: str,
    *,
    account: str,
    region: str,
    state: str = "FAILURE",
    group: str | None = None,
    deployment: str = "d-ABCDEF123",
    detail_region: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A CodeDeploy deployment of ``application`` (group of the same name, as the platform creates them)."""
    group = application if group is None else group
    return {
        **_envelope(
            "aws.codedeploy",
            "CodeDeploy Deployment State-change Notification",
            account,
            region,
            event_id,
            "2026-11-29T10:00:00Z",
        ),
        "resources": [
            f"arn:aws:codedeploy:{region}:{account}:application:{application}",
            f"arn:aws:codedeploy:{region}:{account}:deploymentgroup:{application}/{group}",
        ],
        "detail": {
            "instanceGroupId": "9fd2fbef-2157-40d8-91e7-6845af69e2d2",
            "region": detail_region or region,
            "application": application,
            "deploymentId": deployment,
            "state": state,
            "deploymentGroup": group,
        },
    }


def action_failed(
    pipeline: str,
    *,
    account: str,
    region: str,
    execution: str = "12345678-1234-5678-abcd-12345678abcd",
    stage: str = "Build",
    action: str = "BuildAndUnitTest",
    attempt: float = 1.0,
    state: str = "FAILED",
    event_id: str | None = None,
) -> dict[str, Any]:
    """A CodeBuild action of a pipeline failing; ``attempt`` grows when the stage is retried."""
    return {
        **_envelope(
            "aws.codepipeline",
            "CodePipeline Action Execution State Change",
            account,
            region,
            event_id,
            "2026-11-29T10:00:00Z",
        ),
        "resources": [f"arn:aws:codepipeline:{region}:{account}:{pipeline}"],
        "detail": {
            "pipeline": pipeline,
            "execution-id": execution,
            "start-time": "2026-11-29T09:51:09.981Z",
            "stage": stage,
            "execution-result": {
                "external-execution-url": f"https://{region}.console.aws.amazon.com/codebuild/home",
                "external-execution-summary": "Build terminated with state: FAILED",
                "external-execution-id": f"{pipeline.rsplit('-', 1)[0]}-build:1234",
                "error-code": "JobFailed",
            },
            "action-execution-id": str(uuid.uuid4()),
            "action": action,
            "state": state,
            "region": region,
            "type": {"owner": "AWS", "provider": "CodeBuild", "category": "Build", "version": "1"},
            "version": 3.0,
            "pipeline-execution-attempt": attempt,
        },
    }


def eventbridge_matches(pattern: dict[str, Any] | str, event: dict[str, Any]) -> bool:
    """Whether EventBridge would deliver ``event`` to a rule with ``pattern``, as moto's EventBridge decides it.

    moto's rule matcher (the one its ``PutEvents`` routes with) implements
    exact values, ``prefix``, ``suffix``, ``wildcard``, ``anything-but``,
    ``exists``, ``numeric`` and ``$or``: a real matcher, not one written here.
    """
    raw = pattern if isinstance(pattern, str) else json.dumps(pattern, sort_keys=True)
    return _loaded(raw).matches_event(event)


@lru_cache(maxsize=4096)
def _loaded(raw: str) -> Any:
    from moto.events.models import EventPattern

    return EventPattern.load(raw)
