"""The deploy gate in a pipeline: the ``LambdaInvoke`` entry rule of a Deploy stage, and the bake at its end.

Entry rule, per the CodePipeline rule reference (rule-reference-LambdaInvoke):
``FunctionName`` (required) and ``UserParameters`` (optional, handed to the
function). The bake is a Lambda invoke action (category ``Invoke``, provider
``Lambda``; action reference "AWS Lambda invoke action") of the same function,
the last action of the stage. Both name the service, the environment and the
health alarm the function reads (``healthAlarm``), so the policy pack can see
what each checks; the bake also names its ``bakeMinutes``, which is how the
function tells a bake job from a gate decision. The pipeline role needs
``lambda:InvokeFunction`` on the function: CodePipeline invokes it as that role
for the rule and for the action.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from ..model import naming
from ..pipeline.conditions import rule

RULE_NAME = "DeployGate"
BAKE_ACTION = "BakeHealthAlarm"


@dataclass(frozen=True)
class DeployGateRule:
    """What a pipeline needs to know of the gate: its name (an Output, so pipelines wait for it) and ARN."""

    function_name: pulumi.Input[str]
    function_arn: str

    def for_deploy(self, service: str, environment: str) -> dict[str, object]:
        """Entry only when the environment is not frozen and the service and its dependencies are healthy."""
        return rule(
            RULE_NAME,
            "LambdaInvoke",
            {"FunctionName": self.function_name, "UserParameters": _parameters(service, environment)},
        )

    def bake_after(self, service: str, environment: str, minutes: int, run_order: int) -> dict[str, object]:
        """The stage's last action: the health alarm stays out of ALARM for ``minutes``, or the stage fails.

        ``run_order`` must come after every deploy action of the stage, so the
        bake watches the release as a whole (AWS, then GCP and Azure).
        """
        if minutes < 1:
            raise ValueError("a bake watches the health alarm for at least one minute; leave it out for none")
        return {
            "name": BAKE_ACTION,
            "category": "Invoke",
            "owner": "AWS",
            "provider": "Lambda",
            "version": "1",
            "run_order": run_order,
            "configuration": {
                "FunctionName": self.function_name,
                "UserParameters": _parameters(service, environment, bakeMinutes=minutes),
            },
        }


def _parameters(service: str, environment: str, **extra: object) -> str:
    return json.dumps(
        {
            "service": service,
            "environment": environment,
            "healthAlarm": naming.health_alarm_name(service, environment),
            **extra,
        },
        sort_keys=True,
    )
