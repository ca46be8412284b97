"""SNS, Lambda, CloudWatch, Secrets Manager and tagging rules, scenario by scenario."""

from __future__ import annotations

import pytest

from policies.rules.cloudwatch import ALARM_ACTIONS, LOG_ENCRYPTION, LOG_RETENTION
from policies.rules.lambda_functions import LAMBDA_ACCESS, LAMBDA_ENV_SECRETS, LAMBDA_RUNTIME
from policies.rules.secrets import SECRET_ROTATION_RULE, SECRETS_ROTATED_RULE
from policies.rules.sns import SNS_HARDENING
from policies.rules.tagging import REQUIRED_TAGS
from policies.testing import UNKNOWN, Resource, secret

from .platform_shapes import KEY_ARN, TOOLING, tags
from .rule_cases import document, fires, quiet, unknown

TOPIC_ARN = f"arn:aws:sns:eu-west-1:{TOOLING}:cicd-approvals"
SECRET_ARN = f"arn:aws:secretsmanager:eu-west-1:{TOOLING}:secret:cicd/slack-token-AbCdEf"


def topic(**props):
    return Resource("aws:sns/topic:Topic", {"name": "cicd-approvals", "kmsMasterKeyId": KEY_ARN, **props}, "approvals")


def topic_policy(statement):
    return Resource(
        "aws:sns/topicPolicy:TopicPolicy", {"arn": TOPIC_ARN, "policy": document(statement)}, "approvals-policy"
    )


PUBLISH = {"Sid": "EventsPublish", "Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": TOPIC_ARN}


def function(**props):
    base = {
        "name": "cicd-deploy-gate",
        "runtime": "python3.12",
        "role": f"arn:aws:iam::{TOOLING}:role/cicd-deploy-gate",
        "tracingConfig": {"mode": "Active"},
        "deadLetterConfig": {"targetArn": f"arn:aws:sqs:eu-west-1:{TOOLING}:cicd-dlq"},
        "reservedConcurrentExecutions": 5,
        "environment": {"variables": {"SLACK_TOKEN_SECRET_ARN": SECRET_ARN, "CHANNEL": "#deploys"}},
        "tags": tags("platform", "tooling"),
    }
    return Resource("aws:lambda/function:Function", {**base, **props}, "gate")


def permission(**props):
    base = {"function": "cicd-deploy-gate", "action": "lambda:InvokeFunction", "principal": "events.amazonaws.com"}
    return Resource("aws:lambda/permission:Permission", {**base, **props}, "gate-invoke")


def log_group(**props):
    base = {"name": "/aws/codebuild/booking-build", "retentionInDays": 90, "kmsKeyId": KEY_ARN}
    return Resource("aws:cloudwatch/logGroup:LogGroup", {**base, **props}, "booking-build-logs")


def alarm(**props):
    base = {"name": "booking-prod-5xx", "actionsEnabled": True, "alarmActions": [TOPIC_ARN]}
    return Resource("aws:cloudwatch/metricAlarm:MetricAlarm", {**base, **props}, "booking-prod-5xx")


def stored_secret(**props):
    return Resource(
        "aws:secretsmanager/secret:Secret", {"name": "cicd/slack-token", "kmsKeyId": KEY_ARN, **props}, "slack"
    )


def rotation(**rules):
    return Resource(
        "aws:secretsmanager/secretRotation:SecretRotation", {"secretId": SECRET_ARN, "rotationRules": rules}, "rot"
    )


CASES = [
    fires(
        SNS_HARDENING,
        "unencrypted topic",
        topic(kmsMasterKeyId=None),
        "topic cicd-approvals is not encrypted (no kms_master_key_id)",
    ),
    fires(
        SNS_HARDENING,
        "anyone may publish",
        topic_policy(PUBLISH),
        "topic policy statement EventsPublish allows any principal ('*')",
    ),
    quiet(SNS_HARDENING, "encrypted topic", topic()),
    quiet(
        SNS_HARDENING,
        "'*' narrowed to our account's events",
        topic_policy({**PUBLISH, "Condition": {"StringEquals": {"aws:SourceAccount": TOOLING}}}),
    ),
    unknown(SNS_HARDENING, "key not known", topic(kmsMasterKeyId=UNKNOWN)),
    fires(
        LAMBDA_ACCESS,
        "public invoke",
        permission(principal="*"),
        "permission lets any principal ('*') invoke cicd-deploy-gate",
    ),
    fires(
        LAMBDA_ACCESS,
        "service principal without a source",
        permission(),
        "permission lets events.amazonaws.com invoke cicd-deploy-gate "
        "on behalf of any account (no source_arn/source_account)",
    ),
    fires(
        LAMBDA_ACCESS,
        "function URL without auth",
        Resource(
            "aws:lambda/functionUrl:FunctionUrl", {"functionName": "cicd-deploy-gate", "authorizationType": "NONE"}
        ),
        "function URL of cicd-deploy-gate has authorization_type NONE: anyone can invoke it",
    ),
    quiet(
        LAMBDA_ACCESS,
        "EventBridge rule as source",
        permission(sourceArn=f"arn:aws:events:eu-west-1:{TOOLING}:rule/gate"),
    ),
    unknown(LAMBDA_ACCESS, "source ARN not known yet", permission(sourceArn=UNKNOWN)),
    fires(
        LAMBDA_RUNTIME,
        "python3.8",
        function(runtime="python3.8"),
        "function cicd-deploy-gate uses the deprecated runtime python3.8",
    ),
    quiet(LAMBDA_RUNTIME, "python3.12", function()),
    unknown(LAMBDA_RUNTIME, "runtime not known", function(runtime=UNKNOWN)),
    fires(
        LAMBDA_ENV_SECRETS,
        "token in the environment",
        function(environment={"variables": {"SLACK_TOKEN": "xoxb-123-456"}}),
        "environment variable SLACK_TOKEN carries a secret value; pass its Secrets Manager ARN instead",
    ),
    fires(
        LAMBDA_ENV_SECRETS,
        "a secret-marked value is still in the environment in clear",
        function(environment={"variables": {"GITHUB_TOKEN": secret("ghp_abcdef")}}),
        "environment variable GITHUB_TOKEN carries a secret value; pass its Secrets Manager ARN instead",
    ),
    quiet(LAMBDA_ENV_SECRETS, "secret passed by ARN", function()),
    quiet(
        LAMBDA_ENV_SECRETS,
        "secret passed by name",
        function(environment={"variables": {"WEBHOOK_SECRET_ID": "cicd-platform/slack-webhook"}}),
    ),
    unknown(LAMBDA_ENV_SECRETS, "value not known", function(environment={"variables": {"API_KEY": UNKNOWN}})),
    fires(
        LOG_RETENTION,
        "kept forever",
        log_group(retentionInDays=None),
        "log group /aws/codebuild/booking-build has no retention: logs are kept (and billed) forever",
    ),
    fires(
        LOG_RETENTION,
        "shorter than the configured minimum",
        log_group(retentionInDays=30),
        "log group /aws/codebuild/booking-build keeps logs 30 days, fewer than the required 90",
        config={"minimumDays": 90},
    ),
    quiet(LOG_RETENTION, "90 days", log_group()),
    unknown(LOG_RETENTION, "retention not known", log_group(retentionInDays=UNKNOWN)),
    fires(
        LOG_ENCRYPTION,
        "no key",
        log_group(kmsKeyId=None),
        "log group /aws/codebuild/booking-build is not encrypted with a KMS key (kms_key_id)",
    ),
    quiet(LOG_ENCRYPTION, "artifact key", log_group()),
    unknown(LOG_ENCRYPTION, "key not known", log_group(kmsKeyId=UNKNOWN)),
    fires(
        ALARM_ACTIONS,
        "no action",
        alarm(alarmActions=[]),
        "alarm booking-prod-5xx has no alarm action: nobody is told when it fires",
    ),
    fires(
        ALARM_ACTIONS,
        "actions disabled",
        alarm(actionsEnabled=False),
        "alarm booking-prod-5xx has actions_enabled=False",
    ),
    fires(
        ALARM_ACTIONS,
        "composite alarm without actions",
        Resource(
            "aws:cloudwatch/compositeAlarm:CompositeAlarm",
            {"alarmName": "booking-prod-health", "alarmRule": 'ALARM("booking-prod-5xx")', "alarmActions": []},
            "health",
        ),
        "alarm booking-prod-health has no alarm action: nobody is told when it fires",
    ),
    quiet(ALARM_ACTIONS, "notifies the topic", alarm()),
    unknown(ALARM_ACTIONS, "topic ARN not known", alarm(alarmActions=[UNKNOWN])),
    fires(
        SECRET_ROTATION_RULE,
        "AWS-managed key",
        stored_secret(kmsKeyId=None),
        "secret cicd/slack-token is encrypted with the AWS-managed key, not a customer key (kms_key_id)",
    ),
    fires(
        SECRET_ROTATION_RULE,
        "exempt without a reason",
        stored_secret(tags={"rotation-exempt": " ", "rotation-exempt-max-age-days": "90"}),
        "secret cicd/slack-token is tagged rotation-exempt without a reason",
    ),
    fires(
        SECRET_ROTATION_RULE,
        "exempt without a maximum age",
        stored_secret(tags={"rotation-exempt": "vendor webhook token"}),
        "secret cicd/slack-token is tagged rotation-exempt without rotation-exempt-max-age-days=<days>: the daily "
        "watch needs the age past which its credential must be replaced",
    ),
    fires(
        SECRET_ROTATION_RULE,
        "a maximum age that is not a number of days",
        stored_secret(tags={"rotation-exempt": "vendor webhook token", "rotation-exempt-max-age-days": "0"}),
        "secret cicd/slack-token is tagged rotation-exempt without rotation-exempt-max-age-days=<days>: the daily "
        "watch needs the age past which its credential must be replaced",
    ),
    unknown(
        SECRET_ROTATION_RULE,
        "maximum age not known",
        stored_secret(tags={"rotation-exempt": "vendor webhook token", "rotation-exempt-max-age-days": UNKNOWN}),
    ),
    fires(
        SECRET_ROTATION_RULE,
        "90-day rotation",
        rotation(automaticallyAfterDays=90),
        f"secret {SECRET_ARN} rotates every 90 days, more than 30",
    ),
    fires(
        SECRET_ROTATION_RULE,
        "rate expression",
        rotation(scheduleExpression="rate(60 days)"),
        f"secret {SECRET_ARN} rotates every 60 days, more than 30",
    ),
    quiet(SECRET_ROTATION_RULE, "30-day rotation", rotation(automaticallyAfterDays=30)),
    quiet(
        SECRET_ROTATION_RULE,
        "customer key, exempt with a reason and a maximum age",
        stored_secret(tags={"rotation-exempt": "vendor webhook token", "rotation-exempt-max-age-days": "90"}),
    ),
    unknown(
        SECRET_ROTATION_RULE,
        "rules not known",
        Resource(
            "aws:secretsmanager/secretRotation:SecretRotation", {"secretId": SECRET_ARN, "rotationRules": UNKNOWN}
        ),
    ),
    fires(
        SECRETS_ROTATED_RULE,
        "secret without rotation or exemption",
        stored_secret(),
        "secret cicd/slack-token is never rotated: add a SecretRotation of at most 30 days, "
        "or tag it rotation-exempt=<why it cannot rotate>",
    ),
    fires(
        SECRETS_ROTATED_RULE,
        "a rotation of another secret",
        [stored_secret(), rotation(automaticallyAfterDays=30), stored_secret(name="cicd/unrotated")],
        "secret cicd/unrotated is never rotated: add a SecretRotation of at most 30 days, "
        "or tag it rotation-exempt=<why it cannot rotate>",
    ),
    quiet(
        SECRETS_ROTATED_RULE,
        "rotated by ARN",
        [
            stored_secret(name="cicd/db-password"),
            Resource(
                "aws:secretsmanager/secretRotation:SecretRotation",
                {
                    "secretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cicd/db-password-AbCdEf",
                    "rotationRules": {"automaticallyAfterDays": 30},
                },
                "rot",
            ),
        ],
    ),
    quiet(SECRETS_ROTATED_RULE, "exempt with a reason", stored_secret(tags={"rotation-exempt": "vendor token"})),
    unknown(
        SECRETS_ROTATED_RULE,
        "the rotation's secret is not known yet",
        [
            stored_secret(),
            Resource(
                "aws:secretsmanager/secretRotation:SecretRotation",
                {"secretId": UNKNOWN, "rotationRules": {"automaticallyAfterDays": 30}},
                "rot",
            ),
        ],
    ),
    fires(
        REQUIRED_TAGS,
        "no owner tag",
        log_group(tags={"service": "booking", "environment": "tooling", "managed-by": "cicd-platform"}),
        "missing tag(s): owner",
    ),
    fires(REQUIRED_TAGS, "no tags", topic(), "missing tag(s): service, owner, environment, managed-by"),
    quiet(REQUIRED_TAGS, "standard tags", function()),
    unknown(REQUIRED_TAGS, "tags not known", function(tags=UNKNOWN)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_runtime_rule(case):
    case.verify()
