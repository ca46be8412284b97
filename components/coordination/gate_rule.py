"""The ``LambdaInvoke`` entry rule that puts the deploy gate in front of a Deploy stage.

Rule configuration per the CodePipeline rule reference: ``FunctionName``
(required) and ``UserParameters`` (optional, handed to the function); the
pipeline role needs ``lambda:InvokeFunction`` on the function, since
CodePipeline invokes it as that role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from ..pipeline.conditions import rule

RULE_NAME = "DeployGate"


@dataclass(frozen=True)
class DeployGateRule:
    """What a pipeline needs to know of the gate: its name (an Output, so pipelines wait for it) and ARN."""

    function_name: pulumi.Input[str]
    function_arn: str

    def for_deploy(self, service: str, environment: str) -> dict[str, object]:
        return rule(
            RULE_NAME,
            "LambdaInvoke",
            {
                "FunctionName": self.function_name,
                "UserParameters": json.dumps({"service": service, "environment": environment}, sort_keys=True),
            },
        )
