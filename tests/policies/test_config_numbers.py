"""Numbers from the pack config print as integers on both paths.

Over the CLI's protocol a policy's config travels as a protobuf ``Struct``
(``Configure``), so every number arrives as a float: ``minimumDays: 90`` reaches
the rule as ``90.0``. ``policies.testing`` hands config over that way; the
offline plan reads the JSON file, where ``90.0`` is as valid an integer as ``90``.
Either way a message says ``90``.
"""

from __future__ import annotations

import pytest

from offline_plan.policy_check import evaluate
from offline_plan.recorder import RecordedResource
from policies import pack_config
from policies.rules.cloudwatch import LOG_GROUP, LOG_RETENTION
from policies.rules.pipeline_shape import QUOTAS
from policies.rules.secrets import SECRET, SECRET_ROTATION, SECRET_ROTATION_RULE, SECRETS_ROTATED_RULE
from policies.testing import Resource, check, wire_config

SHORT_LOGS = {"name": "/aws/lambda/cicd-short", "retentionInDays": 7}


def test_config_numbers_reach_a_policy_as_floats_like_over_the_cli_protocol():
    assert wire_config({"minimumDays": 90}) == {"minimumDays": 90.0}


@pytest.mark.parametrize(
    ("rule", "resources", "config", "expected"),
    [
        (
            LOG_RETENTION,
            [Resource(LOG_GROUP, SHORT_LOGS)],
            {"minimumDays": 90},
            "log group /aws/lambda/cicd-short keeps logs 7 days, fewer than the required 90",
        ),
        (
            SECRET_ROTATION_RULE,
            [Resource(SECRET_ROTATION, {"secretId": "slack", "rotationRules": {"automaticallyAfterDays": 45}})],
            {"maximumDays": 30},
            "secret slack rotates every 45 days, more than 30",
        ),
        (
            SECRETS_ROTATED_RULE,
            [Resource(SECRET, {"name": "slack", "kmsKeyId": "arn:aws:kms:eu-west-1:111111111111:key/k"})],
            {"maximumDays": 30},
            "secret slack is never rotated: add a SecretRotation of at most 30 days, "
            "or tag it rotation-exempt=<why it cannot rotate>",
        ),
        (
            QUOTAS,
            [
                Resource(
                    "aws:codepipeline/pipeline:Pipeline",
                    {"name": "booking-prod", "stages": [{"name": "Deploy", "actions": [{"name": "A"}, {"name": "B"}]}]},
                )
            ],
            {"maxActionsPerStage": 1},
            "pipeline booking-prod stage Deploy has 2 actions (quota 1)",
        ),
    ],
    ids=["log-retention", "secret-rotation", "secret-rotation-configured", "quotas"],
)
def test_the_grpc_path_prints_integers(rule, resources, config, expected):
    assert check(rule, *resources, config=config).messages == [expected]


def test_the_offline_path_prints_integers_even_for_a_float_in_the_file():
    log_group = RecordedResource(
        urn="urn:pulumi:dev::cicd-platform::aws:cloudwatch/logGroup:LogGroup::short",
        type=LOG_GROUP,
        name="short",
        parent=None,
        provider=None,
        custom=True,
        inputs=SHORT_LOGS,
    )
    config = pack_config.parse({"log-retention": {"minimumDays": 90.0}})
    (finding,) = [v for v in evaluate([log_group], config=config) if v.policy == "log-retention"]
    assert finding.message == "log group /aws/lambda/cicd-short keeps logs 7 days, fewer than the required 90"
