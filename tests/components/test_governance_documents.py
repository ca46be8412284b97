"""IAM documents of the rollback machinery: what each principal may do, and that they fit IAM's limits."""

from __future__ import annotations

from components import iam

REGION, TOOLING, ENV_ACCOUNT = "eu-west-1", "123456789012", "444444444444"


WEBHOOK_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cicd-platform/slack-webhook-??????"
RELEASE_NEWS = ("arn:aws:sns:eu-west-1:123456789012:cicd-release-news-prod", "arn:aws:kms:eu-west-1:123456789012:key/n")


def reporter_policy(environments, **delivery):
    return iam.reporter_role_policy(
        REGION,
        TOOLING,
        log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cicd-prod-rollback-reporter",
        table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/ledger",
        key_arn="arn:aws:kms:eu-west-1:123456789012:key/k",
        dead_letter_arn="arn:aws:sqs:eu-west-1:123456789012:dlq",
        environments=environments,
        managed_by="cicd-platform",
        **(delivery or {"webhook_secret_arn": WEBHOOK_SECRET}),
    )


def test_reporter_policy_does_not_grow_with_the_catalog_and_fits_an_inline_policy():
    many = [f"env{i}" for i in range(12)]
    assert len(iam.to_json(reporter_policy(many))) < 10240
    statements = {s["Sid"]: s for s in reporter_policy(["dev", "prod"])["Statement"]}
    assert statements["RollBackDeployStage"]["Resource"] == [
        "arn:aws:codepipeline:eu-west-1:123456789012:*-dev/Deploy",
        "arn:aws:codepipeline:eu-west-1:123456789012:*-prod/Deploy",
    ]
    assert statements["ReadPipelines"]["Condition"] == {"StringEquals": {"aws:ResourceTag/managed-by": "cicd-platform"}}
    assert all(statement["Resource"] != "*" for statement in statements.values())


def test_the_reporter_reaches_slack_through_the_stacks_webhook_secret_or_the_release_news_topic_never_both():
    webhook = {s["Sid"]: s for s in reporter_policy(["prod"])["Statement"]}
    assert webhook["WebhookSecret"]["Resource"] == WEBHOOK_SECRET
    assert webhook["DedupeLedger"]["Action"] == "dynamodb:UpdateItem"
    assert "ReportToReleaseNews" not in webhook
    chatbot = {s["Sid"]: s for s in reporter_policy(["prod"], topic=RELEASE_NEWS)["Statement"]}
    assert "WebhookSecret" not in chatbot
    assert chatbot["ReportToReleaseNews"] == {
        "Sid": "ReportToReleaseNews",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": RELEASE_NEWS[0],
    }
    assert chatbot["ReleaseNewsKey"]["Resource"] == RELEASE_NEWS[1]
    assert not [s for s in chatbot.values() if str(s["Action"]).startswith("secretsmanager")]


def test_only_cloudwatch_of_the_account_may_use_the_alarm_topic_key_and_publish():
    key = {s["Sid"]: s for s in iam.alarm_topic_key_policy(REGION, ENV_ACCOUNT)["Statement"]}
    assert key["CloudWatchAlarmsPublish"]["Condition"] == {"StringEquals": {"aws:SourceAccount": ENV_ACCOUNT}}
    assert set(key["CloudWatchAlarmsPublish"]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    (publish,) = iam.alarm_topic_policy(REGION, ENV_ACCOUNT, "arn:aws:sns:eu-west-1:444444444444:t", "prod")[
        "Statement"
    ]
    assert publish["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:444444444444:alarm:cicd-*-prod-*"
    }


def test_the_alarm_reader_reads_alarm_state_and_nothing_else_on_the_scope_composite_alarms_need():
    """Amazon CloudWatch API Reference, DescribeAlarms: composite alarms are returned only on ``*``."""
    statement = iam.alarm_reader_policy("aws", REGION, ENV_ACCOUNT, "prod")["Statement"][0]
    assert statement["Action"] == ["cloudwatch:DescribeAlarms"]
    assert statement["Resource"] == "*"
    assert "Condition" not in statement


def test_the_reader_reads_the_platforms_deployments_of_its_environment_and_the_targets_iam_cannot_scope():
    """For the failure digest: GetDeployment on ``<service>-<env>`` groups only; ListDeploymentTargets and
    GetDeploymentTarget have no resource type in IAM (Service Authorization Reference, AWS CodeDeploy)."""
    _, deployments, targets = iam.alarm_reader_policy("aws", REGION, ENV_ACCOUNT, "prod")["Statement"]
    assert deployments["Action"] == "codedeploy:GetDeployment"
    assert deployments["Resource"] == f"arn:aws:codedeploy:{REGION}:{ENV_ACCOUNT}:deploymentgroup:*-prod/*-prod"
    assert targets["Action"] == ["codedeploy:GetDeploymentTarget", "codedeploy:ListDeploymentTargets"]
    assert targets["Resource"] == "*"
    everything = [
        a
        for s in iam.alarm_reader_policy("aws", REGION, ENV_ACCOUNT, "prod")["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert all(action.split(":")[1].startswith(("Describe", "Get", "List")) for action in everything)


def test_forwarders_may_only_put_events_on_the_tooling_bus():
    bus = "arn:aws:events:eu-west-1:123456789012:event-bus/cicd-prod-deploy-events"
    (statement,) = iam.event_forwarder_policy(bus)["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", bus)


def test_only_the_reporter_role_may_decrypt_what_its_key_protects():
    role = "arn:aws:iam::123456789012:role/cicd-prod-rollback-reporter"
    statements = iam.reporter_key_policy(REGION, TOOLING, role)["Statement"]
    decrypting = [s for s in statements if "AWS" in s["Principal"] and "kms:Decrypt" in s["Action"]]
    assert [s["Condition"] for s in decrypting] == [{"ArnEquals": {"aws:PrincipalArn": role}}]
    through = next(s for s in statements if s["Sid"] == "AccountEncryptsThroughServices")
    assert "kms:Decrypt" not in through["Action"]
    # It protects the function's settings and the dead letters; the Slack secret is the operator's, not under this key.
    assert through["Condition"]["StringEquals"]["kms:ViaService"] == [
        "lambda.eu-west-1.amazonaws.com",
        "sqs.eu-west-1.amazonaws.com",
    ]
