"""Rollback reporter: one report per event, a rollback only after a finished deploy, never twice.

AWS state the function reads is built with moto where moto implements the call
(DynamoDB ledger, Secrets Manager, CloudWatch Logs); CodePipeline state, its
executions and ``RollbackStage`` and CodeBuild builds go through
``botocore.stub.Stubber``, whose unexpected-call errors prove what was *not*
called. Slack is a local HTTP server reached through the shared ``slack_client``
(the webhook URL read from the stack's one webhook secret), and claims go to the
shared ``delivery_ledger`` table; with Chatbot, reports arrive on the
release-news topic (moto SNS, read through an SQS subscription).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from delivery_ledger import Claim, DeliveryLedger
from moto import mock_aws
from slack_client import SlackDeliveryError, _webhook_cache, fit_message
from werkzeug import Response

from components.governance import alarm_definitions
from components.governance.rollback_reporter import TIMEOUT_SECONDS as REPORTER_TIMEOUT_SECONDS
from functions.rollback_reporter import handler as reporter_module
from functions.rollback_reporter import messages
from functions.rollback_reporter.handler import Reporter, incident_of, pipeline_of_alarm, webhook_delivery
from tests.functions.conftest import create_ledger_table
from tests.functions.lambda_runtime import (
    Clock,
    InvocationTimedOut,
    LambdaContext,
    lambda_retry_after_timeout,
    time_out,
)
from tests.functions.prod_placements import GRAPH_PARAMETER, TOOLING, prod_origins, put_prod_graph
from tests.functions.slack_limits import assert_inert, assert_within_slack_limits

REGION = "eu-west-1"
TABLE = "cicd-delivery-ledger-prod"
WEBHOOK_SECRET = "cicd-platform/slack-webhook"
NOW = datetime(2026, 11, 29, 10, 5, tzinfo=UTC)
PIPELINE = "booking-prod"


def alarm_event(state="ALARM", name="cicd-booking-prod-health", stamp="2026-11-29T10:00:00.000+0000", event_id="e-1"):
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "444444444444",
        "time": "2026-11-29T10:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:444444444444:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {
                "value": state,
                "reason": f"arn:aws:cloudwatch:{REGION}:444444444444:alarm:cicd-booking-prod-http-5xx "
                "transitioned to ALARM at Sunday 29 November, 2026 09:59:00 UTC",
                "timestamp": stamp,
            },
            "previousState": {"value": "OK"},
        },
    }


def action_event(state="FAILED", stage="Build", action="BuildAndUnitTest", pipeline=PIPELINE):
    return {
        "id": "a-1",
        "detail-type": "CodePipeline Action Execution State Change",
        "source": "aws.codepipeline",
        "account": "123456789012",
        "region": REGION,
        "detail": {
            "pipeline": pipeline,
            "execution-id": "exec-9",
            "stage": stage,
            "action": action,
            "state": state,
            "region": REGION,
            "type": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
            "version": 3.0,
            "pipeline-execution-attempt": 1.0,
        },
    }


def deployment_event(state="FAILURE"):
    return {
        "id": "d-1",
        "detail-type": "CodeDeploy Deployment State-change Notification",
        "source": "aws.codedeploy",
        "account": "444444444444",
        "region": REGION,
        "detail": {
            "application": "booking-prod",
            "deploymentGroup": "booking-prod",
            "deploymentId": "d-ABCDEF123",
            "state": state,
            "region": REGION,
        },
    }


def deploy_state(status="Succeeded", finished=NOW - timedelta(minutes=15), current="exec-3"):
    return {
        "pipelineName": PIPELINE,
        "stageStates": [
            {"stageName": "Build", "latestExecution": {"pipelineExecutionId": current, "status": "Succeeded"}},
            {
                "stageName": "Deploy",
                "latestExecution": {"pipelineExecutionId": current, "status": status},
                "actionStates": [
                    {
                        "actionName": "BlueGreenDeploy",
                        "latestExecution": {"status": status, "lastStatusChange": finished},
                    }
                ],
            },
        ],
    }


def executions(*rows):
    return {
        "pipelineExecutionSummaries": [
            {"pipelineExecutionId": execution_id, "status": status, "executionType": kind}
            for execution_id, status, kind in rows
        ]
    }


HISTORY = executions(
    ("exec-3", "Succeeded", "STANDARD"),
    ("exec-2", "Failed", "STANDARD"),
    ("exec-1", "Succeeded", "STANDARD"),
    ("exec-0", "Succeeded", "STANDARD"),
)
REVISION = {
    "pipelineExecution": {
        "pipelineName": PIPELINE,
        "pipelineExecutionId": "exec-3",
        "status": "Succeeded",
        "artifactRevisions": [
            {
                "name": "source_output",
                "revisionId": "0123456789abcdef0123",
                "revisionSummary": json.dumps({"ProviderType": "GitHub", "CommitMessage": "Cache prices\n\nlonger"}),
                "revisionUrl": "https://github.com/bookwise/booking/commit/0123456789abcdef0123",
            }
        ],
    }
}


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    _webhook_cache.clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(dynamodb, TABLE)
        put_prod_graph(boto3.client("ssm", region_name=REGION))
        yield dynamodb
    _webhook_cache.clear()


@pytest.fixture
def slack(httpserver):
    """The webhook; every test says what it answers, and ``posts()`` lists what arrived."""

    class Slack:
        url = httpserver.url_for("/hook")

        @staticmethod
        def answers(*responses):
            for response in responses:
                httpserver.expect_ordered_request("/hook", method="POST").respond_with_response(response)

        @staticmethod
        def posts():
            return [json.loads(request.get_data()) for request, _ in httpserver.log]

    return Slack()


OK = Response("ok", status=200)
DOWN = Response("down", status=500)


class World:
    """The reporter with stubbed CodePipeline, moto DynamoDB and secret, and the local Slack."""

    def __init__(self, dynamodb, slack_url):
        self.codepipeline = boto3.client("codepipeline", region_name=REGION)
        self.pipeline_stub = Stubber(self.codepipeline)
        self.sleeps: list[float] = []
        self.ledger = DeliveryLedger(TABLE, dynamodb, clock=lambda: NOW.timestamp())
        self.dynamodb = dynamodb
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name=WEBHOOK_SECRET, SecretString=slack_url)
        self.reporter = Reporter(
            codepipeline=self.codepipeline,
            ledger=self.ledger,
            deliver=webhook_delivery(secrets, WEBHOOK_SECRET, sleep=self.sleeps.append),
            rollback_window=timedelta(minutes=60),
            channel="#deploys",
            origins=prod_origins(boto3.client("ssm", region_name=REGION)),
            now=lambda: NOW,
            alarm_reader=self.read_alarms,
        )
        self.reader = reporter_module._alarm_reader(boto3.client("sts", region_name=REGION), "cicd-alarm-reader-")
        self.reader_calls: list[tuple[str, str, str]] = []

    def read_alarms(self, account, region, environment):
        self.reader_calls.append((account, region, environment))
        return self.reader(account, region, environment)

    def handle(self, event):
        with self.pipeline_stub:
            return self.reporter.handle(event)

    def expect(self, operation, response, params=None):
        self.pipeline_stub.add_response(operation, response, params)

    def expect_error(self, operation, code, message="refused"):
        self.pipeline_stub.add_client_error(operation, service_error_code=code, service_message=message)

    def item(self, key):
        return self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}}).get("Item")

    def done(self):
        self.pipeline_stub.assert_no_pending_responses()


@pytest.fixture
def world(aws, slack):
    return World(aws, slack.url)


def expect_alarm_rollback(world):
    world.expect("get_pipeline_state", deploy_state(), {"name": PIPELINE})
    world.expect("list_pipeline_executions", HISTORY, {"pipelineName": PIPELINE, "maxResults": 25})
    world.expect(
        "rollback_stage",
        {"pipelineExecutionId": "rollback-7"},
        {"pipelineName": PIPELINE, "stageName": "Deploy", "targetPipelineExecutionId": "exec-1"},
    )
    world.expect("get_pipeline_execution", REVISION, {"pipelineName": PIPELINE, "pipelineExecutionId": "exec-3"})


# --- alarms -----------------------------------------------------------------------------------------------------


def test_alarm_after_a_recent_successful_deploy_rolls_back_to_the_last_success_before_it(world, slack):
    slack.answers(OK)
    expect_alarm_rollback(world)
    result = world.handle(alarm_event())
    world.done()
    assert result["rolledBack"] is True
    assert result["pipeline"] == PIPELINE
    (post,) = slack.posts()
    text = json.dumps(post)
    assert "Rolled Deploy back to execution exec-1" in text
    assert "rollback-7" in text
    assert "cicd-booking-prod-http-5xx transitioned to ALARM" in text
    assert "Cache prices" in text and "longer" not in text
    assert post["blocks"][0]["type"] == "header"
    assert world.item(result["key"])["state"]["S"] == "done"


def test_the_same_alarm_delivered_twice_rolls_back_once_and_posts_once(world, slack):
    slack.answers(OK)
    expect_alarm_rollback(world)
    first = world.handle(alarm_event(event_id="e-1"))
    # A forwarded copy gets a new event id; the alarm and its transition time are the same.
    second = world.handle(alarm_event(event_id="e-2"))
    world.done()
    assert first["rolledBack"] is True
    assert second == {"status": "duplicate", "key": first["key"]}
    assert len(slack.posts()) == 1


def test_a_new_transition_of_the_same_alarm_is_a_new_incident(world, slack):
    slack.answers(OK, OK)
    expect_alarm_rollback(world)
    world.handle(alarm_event())
    rolling_back = executions(
        ("rollback-7", "InProgress", "ROLLBACK"),
        *[(s["pipelineExecutionId"], s["status"], s["executionType"]) for s in HISTORY["pipelineExecutionSummaries"]],
    )
    world.expect("get_pipeline_state", deploy_state(), {"name": PIPELINE})
    world.expect("list_pipeline_executions", rolling_back)
    world.expect("get_pipeline_execution", REVISION)
    result = world.handle(alarm_event(stamp="2026-11-29T10:03:00.000+0000"))
    world.done()
    assert result["rolledBack"] is False
    assert "a rollback is already under way" in json.dumps(slack.posts()[1])


@pytest.mark.parametrize(
    ("state", "history", "reason"),
    [
        (deploy_state(status="InProgress"), HISTORY, "a deploy is in progress"),
        (deploy_state(status="Failed"), HISTORY, "the last deploy ended Failed"),
        (
            deploy_state(finished=NOW - timedelta(hours=5)),
            HISTORY,
            "finished 295 min before the alarm went off, outside the 60 min window",
        ),
        (deploy_state(), executions(("exec-3", "Succeeded", "STANDARD")), "no earlier successful execution"),
        (
            deploy_state(),
            executions(("exec-3", "Succeeded", "STANDARD"), ("exec-1", "Succeeded", "ROLLBACK")),
            "no earlier successful execution",
        ),
    ],
)
def test_alarm_does_not_roll_back_when_the_deploy_is_not_to_blame(world, slack, state, history, reason):
    slack.answers(OK)
    world.expect("get_pipeline_state", state)
    world.expect("list_pipeline_executions", history)
    world.expect("get_pipeline_execution", REVISION)
    result = world.handle(alarm_event())
    world.done()  # no rollback_stage was queued, and the stub refuses calls it does not expect
    assert result["rolledBack"] is False
    assert reason in json.dumps(slack.posts()[0])


def test_alarm_on_a_pipeline_that_never_deployed_reports_without_reading_commits(world, slack):
    slack.answers(OK)
    world.expect("get_pipeline_state", {"pipelineName": PIPELINE, "stageStates": [{"stageName": "Deploy"}]})
    world.expect("list_pipeline_executions", executions())
    result = world.handle(alarm_event())
    world.done()
    assert result["rolledBack"] is False
    assert "never run" in json.dumps(slack.posts()[0])


def test_a_refused_rollback_is_reported_loudly_and_not_retried(world, slack):
    slack.answers(OK)
    world.expect("get_pipeline_state", deploy_state())
    world.expect("list_pipeline_executions", HISTORY)
    world.expect_error("rollback_stage", "UnableToRollbackStageException", "target execution is outdated")
    world.expect("get_pipeline_execution", REVISION)
    result = world.handle(alarm_event())
    world.done()
    assert result["rolledBack"] is False
    text = json.dumps(slack.posts()[0])
    assert "REFUSED" in text and "UnableToRollbackStageException" in text and "Act manually" in text
    assert world.item(result["key"])["state"]["S"] == "done"


def test_a_rollback_refused_for_an_older_pipeline_structure_says_why_and_what_to_do(world, slack):
    # CodePipeline rolls back only to an execution started in the current pipeline structure version
    # ("Considerations for rollbacks"); a pulumi up that changed the pipeline makes older executions impossible targets.
    slack.answers(OK)
    world.expect("get_pipeline_state", deploy_state())
    world.expect("list_pipeline_executions", HISTORY)
    world.expect_error("rollback_stage", "UnableToRollbackStageException", "Unable to roll back the stage")
    world.expect("get_pipeline_execution", REVISION)

    result = world.handle(alarm_event())

    world.done()
    assert result["rolledBack"] is False
    outcome = result["outcome"]
    assert "was REFUSED (UnableToRollbackStageException: Unable to roll back the stage)" in outcome
    assert "only to an execution started in the pipeline's current structure version" in outcome
    assert "Release change" in outcome and outcome.endswith("Act manually.")
    assert "current structure version" in json.dumps(slack.posts()[0])


def test_other_refusals_keep_the_plain_message(world, slack):
    slack.answers(OK)
    world.expect("get_pipeline_state", deploy_state())
    world.expect("list_pipeline_executions", HISTORY)
    world.expect_error("rollback_stage", "PipelineExecutionOutdatedException", "the target execution is outdated")
    world.expect("get_pipeline_execution", REVISION)

    outcome = world.handle(alarm_event())["outcome"]

    world.done()
    assert outcome.endswith("(PipelineExecutionOutdatedException: the target execution is outdated). Act manually.")


def test_a_rollback_refused_because_the_pipeline_is_busy_is_tried_again_by_lambdas_retry(world, slack):
    """API reference, ``RollbackStage`` errors: ``ConflictException`` — "the pipeline is busy handling ongoing
    activities. Try again later." Not a refusal to report: the event fails, and Lambda's retry decides again."""
    world.expect("get_pipeline_state", deploy_state())
    world.expect("list_pipeline_executions", HISTORY)
    world.expect_error("rollback_stage", "ConflictException", "the pipeline is busy")
    with pytest.raises(ClientError, match="ConflictException"):
        world.handle(alarm_event())
    assert slack.posts() == []
    assert world.item(incident_of(alarm_event()).key)["state"]["S"] == "released"

    slack.answers(OK)
    expect_alarm_rollback(world)
    result = world.handle(alarm_event())
    world.done()
    assert result["rolledBack"] is True
    assert "Rolled Deploy back to execution exec-1" in json.dumps(slack.posts()[0])


def test_an_unreadable_pipeline_is_reported_without_rollback(world, slack):
    slack.answers(OK)
    world.expect_error("get_pipeline_state", "AccessDeniedException")
    result = world.handle(alarm_event())
    world.done()
    assert result["rolledBack"] is False
    assert "could not read pipeline booking-prod (AccessDeniedException)" in json.dumps(slack.posts()[0])


def test_slack_down_after_a_rollback_retries_the_report_but_never_the_rollback(world, slack):
    slack.answers(*[DOWN] * 5)
    expect_alarm_rollback(world)
    with pytest.raises(SlackDeliveryError, match=r"after 5 attempt\(s\), last: HTTP 500"):
        world.handle(alarm_event())
    world.done()
    key = incident_of(alarm_event()).key
    item = world.item(key)
    assert item["state"]["S"] == "released"
    assert item["notes"]["M"]["rollback_execution"]["S"] == "rollback-7"
    assert world.sleeps == [0.5, 1.0, 2.0, 4.0]

    # Lambda retries the event: Slack is back. Only the commit is read again; no state, no rollback.
    slack.answers(OK)
    world.expect("get_pipeline_execution", REVISION)
    result = world.handle(alarm_event())
    world.done()
    assert result["rolledBack"] is True
    assert "Rolled Deploy back to execution exec-1" in json.dumps(slack.posts()[-1])
    assert world.item(key)["state"]["S"] == "done"


def test_an_event_being_handled_elsewhere_is_left_alone_until_its_lease_expires(world, slack):
    key = incident_of(alarm_event()).key
    assert world.ledger.claim(key) == Claim({})
    assert world.handle(alarm_event())["status"] == "duplicate"
    later = DeliveryLedger(TABLE, world.dynamodb, lease_seconds=300, clock=lambda: NOW.timestamp() + 301)
    assert later.claim(key) is not None
    assert slack.posts() == []


def test_alarm_report_quotes_the_signal_alarms_in_alarm_with_their_datapoints(world, slack):
    cloudwatch = world.reader("444444444444", REGION, "prod")
    for signal in ("http-5xx", "cpu"):
        cloudwatch.put_metric_alarm(
            AlarmName=f"cicd-booking-prod-{signal}",
            MetricName="x",
            Namespace="Bookwise/booking",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=5,
            Threshold=0.5,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(
        AlarmName="cicd-booking-prod-http-5xx",
        StateValue="ALARM",
        StateReason="Threshold Crossed: 3 out of the last 5 datapoints [2.3 (29/11/26 09:58:00), 1.9 (29/11/26 "
        "09:57:00)] were greater than the threshold (0.5)",
    )
    cloudwatch.set_alarm_state(AlarmName="cicd-booking-prod-cpu", StateValue="OK", StateReason="fine")
    slack.answers(OK)
    expect_alarm_rollback(world)
    world.handle(alarm_event())
    world.done()
    assert world.reader_calls == [("444444444444", REGION, "prod")]
    text = json.dumps(slack.posts()[0])
    assert "*cicd-booking-prod-http-5xx*" in text and "2.3 (29/11/26 09:58:00)" in text
    assert "cicd-booking-prod-cpu" not in text


def test_alarm_report_goes_out_without_signal_details_when_the_reader_is_refused(world, slack):
    def refused(*_):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")

    world.reporter.alarm_reader = refused
    slack.answers(OK)
    expect_alarm_rollback(world)
    assert world.handle(alarm_event())["rolledBack"] is True
    world.done()
    assert "Rolled Deploy back" in json.dumps(slack.posts()[0])


def test_the_reporter_knows_the_signals_the_platform_alarms_on():
    assert reporter_module.SIGNALS == alarm_definitions.SIGNALS


# --- CodeDeploy -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "words"), [("FAILURE", "failed"), ("STOP", "was stopped")])
def test_failed_or_stopped_deployment_is_reported_once(world, slack, state, words):
    slack.answers(OK)
    first = world.handle(deployment_event(state))
    second = world.handle(deployment_event(state))
    assert first["status"] == "reported" and second["status"] == "duplicate"
    (post,) = slack.posts()
    assert f"CodeDeploy deployment of booking-prod {words}" in post["text"]
    assert "d-ABCDEF123" in json.dumps(post)


def deployment_created_by(creator):
    """CodeDeploy in the environment account, as the reader role sees it: GetDeployment names the ``creator``."""
    client = boto3.client("codedeploy", region_name=REGION)
    stub = Stubber(client)
    if creator is None:
        stub.add_client_error("get_deployment", "AccessDeniedException")
    else:
        info = {"deploymentId": "d-ABCDEF123", "status": "Failed", "creator": creator}
        stub.add_response("get_deployment", {"deploymentInfo": info}, {"deploymentId": "d-ABCDEF123"})
    stub.activate()
    return client, stub


def test_a_deployment_a_pipeline_started_is_left_to_the_failure_digest(world, slack):
    """The pipeline's deploy action fails with it, and the digest reports that with the lifecycle event:
    one message per failure, not two."""
    client, stub = deployment_created_by("user")
    readers = []
    world.reporter.deployment_reader = lambda *where: readers.append(where) or client
    result = world.handle(deployment_event("FAILURE"))
    stub.assert_no_pending_responses()
    assert result["status"] == "left to the failure digest" and slack.posts() == []
    assert readers == [("444444444444", REGION, "prod")]


@pytest.mark.parametrize("creator", ["codeDeployRollback", "autoscaling", None], ids=["rollback", "scaling", "unread"])
def test_a_deployment_no_pipeline_stands_for_is_reported(world, slack, creator):
    """CodeDeploy's own rollback failing, a scale-out's deployment, or a creator that cannot be read: say it."""
    client, _ = deployment_created_by(creator)
    world.reporter.deployment_reader = lambda *_where: client
    slack.answers(OK)
    assert world.handle(deployment_event("FAILURE"))["status"] == "reported"
    assert len(slack.posts()) == 1


# --- what is not ours ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        alarm_event(state="OK"),
        alarm_event(name="cicd-booking-prod-http-5xx"),
        alarm_event(name="someone-elses-alarm"),
        action_event(),  # a failed pipeline action is the failure digest's to report
        deployment_event(state="SUCCESS"),
        {"source": "aws.s3", "detail": {}},
    ],
)
def test_events_the_reporter_does_not_handle_touch_nothing(world, slack, event):
    assert world.handle(event) == {"status": "ignored"}
    assert world.dynamodb.scan(TableName=TABLE)["Count"] == 0
    assert slack.posts() == []


def test_health_alarm_names_map_to_their_pipeline():
    assert pipeline_of_alarm("cicd-user-profiles-staging-health") == "user-profiles-staging"


# --- the Lambda entry point -------------------------------------------------------------------------------------


def entry_point_settings(monkeypatch, **delivery):
    monkeypatch.setenv("LEDGER_TABLE", TABLE)
    monkeypatch.setenv("SLACK_CHANNEL", "#deploys")
    monkeypatch.setenv("ALARM_READER_ROLE_PREFIX", "cicd-alarm-reader-")
    monkeypatch.setenv("TOOLING_ACCOUNT_ID", TOOLING)
    monkeypatch.setenv("TOOLING_REGION", REGION)
    monkeypatch.setenv("GRAPH_PARAMETER", GRAPH_PARAMETER)
    for name, value in delivery.items():
        monkeypatch.setenv(name, value)


def test_entry_point_reads_the_stacks_one_webhook_secret(aws, slack, monkeypatch):
    slack.answers(OK)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=WEBHOOK_SECRET, SecretString=json.dumps({"url": slack.url})
    )
    entry_point_settings(monkeypatch, WEBHOOK_SECRET_ID=WEBHOOK_SECRET)
    assert reporter_module.handler(deployment_event())["status"] == "reported"
    assert reporter_module.handler(deployment_event())["status"] == "duplicate"
    assert len(slack.posts()) == 1


def test_an_unset_webhook_secret_fails_the_event_so_it_is_retried(aws, slack, monkeypatch):
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=WEBHOOK_SECRET, SecretString=" ")
    entry_point_settings(monkeypatch, WEBHOOK_SECRET_ID=WEBHOOK_SECRET)
    with pytest.raises(SlackDeliveryError, match="holds no Slack webhook URL yet"):
        reporter_module.handler(deployment_event())
    item = aws.get_item(TableName=TABLE, Key={"pk": {"S": "deployment#d-ABCDEF123#FAILURE"}})["Item"]
    assert item["state"]["S"] == "released"
    assert slack.posts() == []


# --- Slack's answers, through the shared client ------------------------------------------------------------------


def test_a_throttled_report_waits_as_long_as_slack_asks_then_posts_once(world, slack):
    slack.answers(Response("rate_limited", status=429, headers={"Retry-After": "3"}), OK)
    result = world.handle(deployment_event())
    assert result["status"] == "reported"
    assert world.sleeps == [3.0]
    assert len(slack.posts()) == 2  # the refused attempt and the delivered one: one message in the channel
    assert world.handle(deployment_event())["status"] == "duplicate"
    assert len(slack.posts()) == 2


def test_a_slack_server_error_is_retried_within_the_invocation(world, slack):
    slack.answers(DOWN, OK)
    assert world.handle(deployment_event())["status"] == "reported"
    assert world.sleeps == [0.5]
    assert world.item("deployment#d-ABCDEF123#FAILURE")["state"]["S"] == "done"


# --- stacks that deliver Slack through AWS Chatbot ---------------------------------------------------------------


@pytest.fixture
def release_news(aws):
    """The release-news topic with a queue subscribed raw, so a test reads exactly what Chatbot would receive."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="cicd-release-news-prod")["TopicArn"]
    queue = sqs.create_queue(QueueName="chatbot")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    def published():
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return topic, published


def test_through_chatbot_an_alarm_rolls_back_once_and_is_published_once_as_text(world, slack, release_news):
    topic, published = release_news
    world.reporter.deliver = reporter_module.topic_delivery(boto3.client("sns", region_name=REGION), topic)
    expect_alarm_rollback(world)
    first = world.handle(alarm_event(event_id="e-1"))
    second = world.handle(alarm_event(event_id="e-2"))
    world.done()  # one rollback_stage queued, and the stub refuses a second
    assert first["rolledBack"] is True and second["status"] == "duplicate"
    (notification,) = published()
    assert notification["version"] == "1.0" and notification["source"] == "custom"
    content = notification["content"]
    assert content["textType"] == "client-markdown"
    assert content["title"] == "booking-prod: health alarm cicd-booking-prod-health is in ALARM"
    assert "*What the platform did:* Rolled Deploy back to execution exec-1" in content["description"]
    assert "*Last deployed commit*: <https://github.com/bookwise/booking/commit/" in content["description"]
    assert "blocks" not in json.dumps(notification)
    assert slack.posts() == []  # no webhook in a Chatbot stack


def test_through_chatbot_the_entry_point_publishes_to_the_topic_it_is_given(aws, slack, release_news, monkeypatch):
    topic, published = release_news
    entry_point_settings(monkeypatch, TOPIC_ARN=topic)
    assert reporter_module.handler(deployment_event("STOP"))["status"] == "reported"
    assert reporter_module.handler(deployment_event("STOP"))["status"] == "duplicate"
    (notification,) = published()
    assert notification["content"]["title"] == "CodeDeploy deployment of booking-prod was stopped"
    assert "*Deployment*: d-ABCDEF123" in notification["content"]["description"]
    assert slack.posts() == []


def test_a_long_report_is_clipped_for_chat():
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 3
    title, description = reporter_module.messages.as_text({"text": "fallback", "blocks": blocks})
    assert title == "fallback"
    assert len(description) == reporter_module.messages.TEXT_LIMIT and description.endswith("…")


# --- attacker text in reports: commit subjects, alarm reasons, CodeDeploy names --------------------------------------

CRAFTED = "<!channel> <https://evil.example|Re-approve here>"


def revision(message: str) -> dict:
    """``get_pipeline_execution`` for exec-3 whose commit subject is ``message`` (CodeStar connections' summary)."""
    answer = json.loads(json.dumps(REVISION))
    summary = json.dumps({"ProviderType": "GitHub", "CommitMessage": message + "\n\nbody"})
    answer["pipelineExecution"]["artifactRevisions"][0]["revisionSummary"] = summary
    return answer


def crafted_alarm(world, stamp):
    """A health alarm whose reason, signal alarm's reason and last commit were all written by an attacker.

    Alarm reasons are set by whoever may call ``SetAlarmState`` in that environment account.
    """
    cloudwatch = world.reader("444444444444", REGION, "prod")
    cloudwatch.put_metric_alarm(
        AlarmName="cicd-booking-prod-http-5xx",
        MetricName="x",
        Namespace="Bookwise/booking",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=5,
        Threshold=0.5,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="cicd-booking-prod-http-5xx", StateValue="ALARM", StateReason=CRAFTED)
    world.expect("get_pipeline_state", deploy_state(status="InProgress"))
    world.expect("list_pipeline_executions", HISTORY)
    world.expect("get_pipeline_execution", revision("s" * 1990 + CRAFTED))
    event = alarm_event(stamp=stamp)
    event["detail"]["state"]["reason"] = "<!here> " + "r" * 4000
    return event


def test_a_crafted_alarm_report_through_the_webhook_is_inert_and_fits(world, slack):
    slack.answers(OK)
    world.handle(crafted_alarm(world, "2026-11-29T10:00:00.000+0000"))
    world.done()
    (post,) = slack.posts()
    assert_inert(post)
    assert_within_slack_limits(post)
    assert post["blocks"][3]["text"]["text"].startswith("*Why CloudWatch says so:*\n&lt;!here&gt; rrr")


def test_a_crafted_alarm_report_through_chatbot_is_inert_and_fits(world, slack, release_news):
    topic, published = release_news
    world.reporter.deliver = reporter_module.topic_delivery(boto3.client("sns", region_name=REGION), topic)
    world.handle(crafted_alarm(world, "2026-11-29T10:00:00.000+0000"))
    world.done()
    (notification,) = published()
    content = notification["content"]
    assert_inert(content["title"])
    assert_inert(content["description"])
    assert "&lt;!here&gt; rrr" in content["description"] and len(content["description"]) <= 4000
    assert slack.posts() == []


def test_crafted_codedeploy_names_from_an_environment_account_are_literal_text(world, slack):
    """A crafted application name is not one of the catalog's, so it is ignored; were it quoted, it stays text."""
    slack.answers(OK)
    event = deployment_event()
    event["detail"]["application"] = "<!channel>"
    event["detail"]["deploymentGroup"] = "<https://evil.example|rollback here>"
    assert world.handle(event)["status"] == "ignored"
    assert slack.posts() == []
    message = messages.deployment_message(
        application="<!channel>",
        group="<https://evil.example|rollback here>",
        deployment="d-1",
        state="FAILURE",
        account="444444444444",
        region=REGION,
    )
    assert message["blocks"][0]["text"]["text"] == "CodeDeploy deployment of &lt;!channel&gt; failed"
    assert_inert(fit_message(message))


# --- a timeout mid-work, then Lambda's retry -------------------------------------------------------------------------


def test_a_timeout_after_the_rollback_is_reported_by_lambdas_retry_without_a_second_rollback(aws, slack, monkeypatch):
    """Killed at its timeout while Slack throttles: the retry reports once; a copy meanwhile is a duplicate."""
    entry_point_settings(monkeypatch, WEBHOOK_SECRET_ID=WEBHOOK_SECRET)
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=WEBHOOK_SECRET, SecretString=slack.url)
    slack.answers(Response("rate_limited", status=429, headers={"Retry-After": "5"}), OK)
    clock = Clock(NOW.timestamp())
    first = LambdaContext(clock, REPORTER_TIMEOUT_SECONDS)
    copies = []

    def reporter(context, sleep):
        built = reporter_module.reporter_from_environment(context, clock=clock)
        built.now, built.alarm_reader = (lambda: NOW), None
        built.deliver = webhook_delivery(
            boto3.client("secretsmanager", region_name=REGION), WEBHOOK_SECRET, sleep=sleep
        )
        return built

    def slack_wait_outlives_the_function(_seconds):
        clock.advance(REPORTER_TIMEOUT_SECONDS - 2)  # meanwhile the event comes again: the first one still holds it
        copy = reporter(LambdaContext(clock, REPORTER_TIMEOUT_SECONDS), sleep=lambda _s: None)
        copies.append(copy.handle(alarm_event(event_id="e-2")))
        time_out(clock, first)

    killed = reporter(first, sleep=slack_wait_outlives_the_function)
    with Stubber(killed.codepipeline) as stub:
        stub.add_response("get_pipeline_state", deploy_state())
        stub.add_response("list_pipeline_executions", HISTORY)
        stub.add_response("rollback_stage", {"pipelineExecutionId": "rollback-7"})
        stub.add_response("get_pipeline_execution", REVISION)
        with pytest.raises(InvocationTimedOut):
            killed.handle(alarm_event())
        stub.assert_no_pending_responses()
    assert [copy["status"] for copy in copies] == ["duplicate"]

    retry = reporter(lambda_retry_after_timeout(clock, first, REPORTER_TIMEOUT_SECONDS), sleep=lambda _s: None)
    with Stubber(retry.codepipeline) as stub:
        stub.add_response("get_pipeline_execution", REVISION)  # the commit again; no state, no second rollback
        result = retry.handle(alarm_event())
        stub.assert_no_pending_responses()
    assert result["rolledBack"] is True and result["status"] == "reported"
    posts = slack.posts()
    assert len(posts) == 2  # the throttled attempt and the report: one message in the channel
    assert "Rolled Deploy back to execution exec-1" in json.dumps(posts[-1]) and "rollback-7" in json.dumps(posts[-1])


def test_the_entry_point_holds_an_event_only_as_long_as_the_invocation_may_run(aws, slack, monkeypatch):
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=WEBHOOK_SECRET, SecretString=slack.url)
    entry_point_settings(monkeypatch, WEBHOOK_SECRET_ID=WEBHOOK_SECRET)
    slack.answers(OK)
    assert reporter_module.handler(deployment_event(), LambdaContext(Clock(time.time()), 120))["status"] == "reported"
    item = aws.get_item(TableName=TABLE, Key={"pk": {"S": "deployment#d-ABCDEF123#FAILURE"}})["Item"]
    assert int(item["lease_until"]["N"]) - time.time() <= 120 + 3
