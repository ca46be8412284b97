"""Failure digest end to end: one message per failed action, with why, for the owning team, and nothing live.

AWS the function reads is built with moto where moto implements the call (the
DynamoDB ledger, SSM's dependency graph, Secrets Manager, CloudWatch Logs, SNS);
CodePipeline (tags, action executions, executions), CodeBuild (builds, test
cases), CodeDeploy and Bedrock go through ``botocore.stub.Stubber``, whose
unexpected-call errors prove what was *not* called. Slack is a local HTTP server:
the stack's webhook, or the Web API (``chat.postMessage``) with a bot token.
Events are shaped after the CodePipeline User Guide, "Monitoring CodePipeline
events" (``tests/functions/aws_events.py``).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from delivery_ledger import DeliveryLedger, news_thread_key
from moto import mock_aws
from slack_client import RetryPolicy, _bot_token_cache, _webhook_cache
from werkzeug import Response

from functions.failure_digest import handler as digest_module
from functions.failure_digest.delivery import BotDelivery, TopicDelivery, WebhookDelivery
from functions.failure_digest.model_summary import Evidence
from functions.failure_digest.recurrence import FailureMemory
from tests.functions.aws_events import action_failed
from tests.functions.conftest import create_ledger_table
from tests.functions.lambda_runtime import (
    Clock,
    InvocationTimedOut,
    LambdaContext,
    lambda_retry_after_timeout,
    time_out,
)
from tests.functions.prod_placements import GRAPH_PARAMETER, TOOLING, put_prod_graph
from tests.functions.slack_limits import assert_inert, assert_within_slack_limits, code_fences
from tests.functions.test_failure_digest_evidence import PLANTED, log_lines, put_log

REGION = "eu-west-1"
TABLE = "cicd-delivery-ledger-prod"
WEBHOOK_SECRET = "cicd-platform/slack-webhook"
BOT_SECRET = "cicd-platform/slack-bot-token"
BOT_TOKEN = "xoxb-2087654321-5098765432109-TeStToKeNfOrThEdIgEsT"
PIPELINE, EXECUTION = "pricing-prod", "7c2f4f7e-0d7b-4d0e-9a51-3c1e2b7d9f10"
BUILD_ID = "pricing-build:2b1e9c44-58f4-4c55-a0e5-1a7d3a0b4c11"
LOG_GROUP, LOG_STREAM = "/aws/codebuild/pricing-build", "2b1e9c44-58f4-4c55-a0e5-1a7d3a0b4c11"
TEST_REPORT = (
    f"arn:aws:codebuild:{REGION}:{TOOLING}:report/pricing-build-unit-tests:8a9b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d"
)
SCAN_REPORT = (
    f"arn:aws:codebuild:{REGION}:{TOOLING}:report/pricing-security-findings:1f2e3d4c-5b6a-7980-a1b2-c3d4e5f6a7b8"
)
PIPELINE_ARN = f"arn:aws:codepipeline:{REGION}:{TOOLING}:{PIPELINE}"
TAGS = {
    "tags": [
        {"key": "managed-by", "value": "cicd-platform"},
        {"key": "platform-stack", "value": "prod"},
        {"key": "service", "value": "pricing"},
        {"key": "owner", "value": "team-pricing"},
        {"key": "environment", "value": "prod"},
    ]
}
SHA = "9f3c2a17e4b8d0c6a5f1e2d3c4b5a6978877665f"
COMMIT = {
    "pipelineExecution": {
        "pipelineName": PIPELINE,
        "pipelineExecutionId": EXECUTION,
        "status": "Failed",
        "artifactRevisions": [
            {
                "name": "source_output",
                "revisionId": SHA,
                "revisionSummary": json.dumps(
                    {"ProviderType": "GitHub", "CommitMessage": "Weekend surcharge: 10% on Saturdays\n\nPRICE-812"}
                ),
                "revisionUrl": f"https://github.com/bookwise/pricing/commit/{SHA}",
            }
        ],
    }
}


ACTION_EXECUTION_ID = "5d0b3a1c-8e2f-4a6b-9c7d-1e2f3a4b5c6d"
"""The failed run: the event's ``action-execution-id`` is its ListActionExecutions record's ``actionExecutionId``."""


def failed_event(*, stage="Build", action="BuildAndUnitTest", provider="CodeBuild", external=BUILD_ID, **kwargs):
    event = action_failed(
        PIPELINE, account=TOOLING, region=REGION, execution=EXECUTION, stage=stage, action=action, **kwargs
    )
    event["detail"]["type"]["provider"] = provider
    event["detail"]["execution-result"]["external-execution-id"] = external
    event["detail"]["action-execution-id"] = ACTION_EXECUTION_ID
    event["time"] = "2026-12-01T09:02:40Z"
    return event


def action_run(
    provider="CodeBuild", category="Build", external=BUILD_ID, summary="Build terminated with state: FAILED", **extra
):
    run = {
        "pipelineExecutionId": EXECUTION,
        "actionExecutionId": ACTION_EXECUTION_ID,
        "pipelineVersion": 7,
        "stageName": extra.pop("stage", "Build"),
        "actionName": extra.pop("action", "BuildAndUnitTest"),
        "startTime": datetime(2026, 12, 1, 9, 1, tzinfo=UTC),
        "lastUpdateTime": datetime(2026, 12, 1, 9, 2, 37, tzinfo=UTC),
        "status": "Failed",
        "input": {
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": extra.pop("configuration", {"ProjectName": "pricing-build"}),
        },
        "output": {
            "executionResult": {
                "externalExecutionId": external,
                "externalExecutionSummary": summary,
                "externalExecutionUrl": f"https://console.aws.amazon.com/codebuild/home?region={REGION}#/builds/{external}/view/new",
            }
        },
    }
    run.update(extra)
    return {"actionExecutionDetails": [run]}


def build(
    phase_reason="Error while executing command: python -m pytest -q --junitxml=reports/junit.xml. "
    "Reason: exit status 1",
    reports=(TEST_REPORT,),
    variables=(),
):
    return {
        "builds": [
            {
                "id": BUILD_ID,
                "arn": f"arn:aws:codebuild:{REGION}:{TOOLING}:build/{BUILD_ID}",
                "buildStatus": "FAILED",
                "projectName": "pricing-build",
                "phases": [
                    {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED"},
                    {
                        "phaseType": "INSTALL",
                        "phaseStatus": "SUCCEEDED",
                        "contexts": [{"statusCode": "", "message": ""}],
                    },
                    {
                        "phaseType": "BUILD",
                        "phaseStatus": "FAILED",
                        "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": phase_reason}],
                    },
                    {"phaseType": "POST_BUILD", "phaseStatus": "SUCCEEDED"},
                ],
                "logs": {
                    "groupName": LOG_GROUP,
                    "streamName": LOG_STREAM,
                    "deepLink": "https://console.aws.amazon.com/cloudwatch/home",
                },
                "reportArns": list(reports),
                "environment": {
                    "type": "ARM_CONTAINER",
                    "image": "aws/codebuild/amazonlinux-aarch64-standard:3.0",
                    "computeType": "BUILD_GENERAL1_SMALL",
                    "environmentVariables": list(variables),
                },
            }
        ]
    }


FAILED_CASE = {
    "testCases": [
        {
            "reportArn": TEST_REPORT,
            "testRawDataPath": "reports/junit.xml",
            "prefix": "tests.test_pricing",
            "name": "test_weekend_surcharge_applies",
            "status": "FAILED",
            "durationInNanoSeconds": 3_100_000,
            "message": "AssertionError: assert Decimal('110.00') == Decimal('115.00')\n+  where ...",
        }
    ]
}


@pytest.fixture
def aws(monkeypatch):
    _webhook_cache.clear()
    _bot_token_cache.clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(dynamodb, TABLE)
        put_prod_graph(boto3.client("ssm", region_name=REGION))
        yield dynamodb
    _webhook_cache.clear()
    _bot_token_cache.clear()


@pytest.fixture
def slack(httpserver):
    class Slack:
        url = httpserver.url_for("/hook")
        api = httpserver.url_for("/api")

        @staticmethod
        def answers(*responses, path="/hook"):
            for response in responses:
                httpserver.expect_ordered_request(path, method="POST").respond_with_response(response)

        @staticmethod
        def posts():
            return [json.loads(request.get_data()) for request, _ in httpserver.log]

        @staticmethod
        def requests():
            return [request for request, _ in httpserver.log]

    return Slack()


OK = Response("ok", status=200)


def bot_ok(channel="C0DEPLOYS", ts="1764580000.000200"):
    return Response(json.dumps({"ok": True, "channel": channel, "ts": ts}), status=200, content_type="application/json")


class World:
    """The digest with stubbed CodePipeline/CodeBuild, moto for the rest, and the local Slack."""

    def __init__(self, dynamodb, slack, *, delivery=None, summariser=None, clock=None, deployment=None):
        self.dynamodb = dynamodb
        self.slack = slack
        self.codepipeline = boto3.client("codepipeline", region_name=REGION)
        self.codebuild = boto3.client("codebuild", region_name=REGION)
        self.logs = boto3.client("logs", region_name=REGION)
        self.pipeline_stub, self.build_stub = Stubber(self.codepipeline), Stubber(self.codebuild)
        self.secrets = boto3.client("secretsmanager", region_name=REGION)
        self.secrets.create_secret(Name=WEBHOOK_SECRET, SecretString=slack.url)
        self.clock = clock or Clock(datetime(2026, 12, 1, 9, 3, tzinfo=UTC).timestamp())
        self.ledger = DeliveryLedger(TABLE, dynamodb, clock=self.clock)
        self.sleeps: list[float] = []
        self.summaries: list[Evidence] = []
        self.deployment_readers: list[tuple[str, str, str]] = []
        self.deployment = deployment
        self.digest = self.make(delivery=delivery, summariser=summariser)

    def make(self, *, delivery=None, summariser=None, ledger=None):
        return digest_module.FailureDigest(
            codepipeline=self.codepipeline,
            codebuild=self.codebuild,
            logs=self.logs,
            ledger=ledger or self.ledger,
            memory=FailureMemory(TABLE, self.dynamodb),
            delivery=delivery or WebhookDelivery(self.secrets, WEBHOOK_SECRET, sleep=self.sleeps.append),
            stack="prod",
            tooling_account=TOOLING,
            tooling_region=REGION,
            graph=digest_module.graph_reader(boto3.client("ssm", region_name=REGION), GRAPH_PARAMETER),
            deployment_reader=self.read_deployments,
            summariser=self.recording(summariser) if summariser else None,
            known_secrets=lambda: [self.slack.url],
        )

    def recording(self, summariser):
        def summarise(evidence):
            self.summaries.append(evidence)
            return summariser(evidence)

        return summarise

    def read_deployments(self, account, region, role_arn):
        self.deployment_readers.append((account, region, role_arn))
        return self.deployment

    def handle(self, event, digest=None):
        with self.pipeline_stub, self.build_stub:
            return (digest or self.digest).handle(event)

    def expect_codebuild_failure(
        self, log="pytest.log", *, variables=(), reports=(TEST_REPORT,), cases=FAILED_CASE, lines=None, commit=COMMIT
    ):
        self.pipeline_stub.add_response("list_tags_for_resource", TAGS, {"resourceArn": PIPELINE_ARN})
        self.pipeline_stub.add_response(
            "list_action_executions",
            action_run(),
            {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": EXECUTION}},
        )
        self.pipeline_stub.add_response(
            "get_pipeline_execution", commit, {"pipelineName": PIPELINE, "pipelineExecutionId": EXECUTION}
        )
        self.build_stub.add_response(
            "batch_get_builds", build(variables=variables, reports=reports), {"ids": [BUILD_ID]}
        )
        for report in reports:
            self.build_stub.add_response(
                "describe_test_cases",
                cases if report == TEST_REPORT else SCAN_CASES,
                {"reportArn": report, "filter": {"status": "FAILED"}, "maxResults": 25},
            )
        if lines is not None or log:
            try:
                self.logs.describe_log_streams(logGroupName=LOG_GROUP)
            except self.logs.exceptions.ResourceNotFoundException:
                put_log(self.logs, LOG_GROUP, LOG_STREAM, lines if lines is not None else log_lines(log))

    def item(self, key):
        return self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}}).get("Item")

    def done(self):
        self.pipeline_stub.assert_no_pending_responses()
        self.build_stub.assert_no_pending_responses()


SCAN_CASES = {
    "testCases": [
        {
            "reportArn": SCAN_REPORT,
            "prefix": "iac.infra/main.tf",
            "name": "[HIGH] CKV_AWS_145 at infra/main.tf:12",
            "status": "FAILED",
            "message": "HIGH: Ensure that S3 buckets are encrypted with KMS by default",
        }
    ]
}


@pytest.fixture
def world(aws, slack):
    return World(aws, slack)


def text_of(message) -> str:
    return json.dumps(message, ensure_ascii=False)


# --- a failed build -------------------------------------------------------------------------------------------


def test_a_failed_build_posts_one_digest_naming_the_failing_test_its_phase_and_the_first_errors(world, slack):
    slack.answers(OK)
    world.expect_codebuild_failure()
    result = world.handle(failed_event())
    world.done()
    assert result["status"] == "posted" and result["failedTests"] == [
        "tests.test_pricing.test_weekend_surcharge_applies"
    ]
    (message,) = slack.posts()
    said = text_of(message)
    assert message["blocks"][0]["text"]["text"] == "pricing-prod: Build / BuildAndUnitTest failed"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in message["blocks"][1]["fields"]}
    assert (
        fields["*Commit*"]
        == f"<https://github.com/bookwise/pricing/commit/{SHA}|9f3c2a1> Weekend surcharge: 10% on Saturdays"
    )
    assert fields["*Failing phase*"] == "BUILD, exit code 1"
    assert fields["*Owner*"] == "team-pricing"
    assert fields["*Execution*"].startswith(
        f"<https://{REGION}.console.aws.amazon.com/codesuite/codepipeline/pipelines/pricing-prod/executions/{EXECUTION}/"
    )
    assert "codesuite/codebuild/projects/pricing-build/build/pricing-build%3A2b1e9c44" in fields["*Open*"]
    assert "tests.test_pricing.test_weekend_surcharge_applies" in said and "Decimal('110.00')" in said
    assert "First errors (pytest)" in said and "FAILED tests/test_pricing.py::test_weekend_surcharge_applies" in said
    assert "[Container]" not in said
    assert_within_slack_limits(message)
    assert_inert(message)


def test_scan_findings_over_the_threshold_come_from_the_scan_report_group(world, slack):
    slack.answers(OK)
    world.expect_codebuild_failure(log="checkov.log", reports=(SCAN_REPORT,))
    world.handle(failed_event(stage="Scan", action="IaC"))
    said = text_of(slack.posts()[0])
    assert "Scan findings at or above the threshold" in said and "[HIGH] CKV_AWS_145 at infra/main.tf:12" in said
    assert "Failed tests:" not in said


def test_the_same_failure_delivered_twice_posts_once(world, slack):
    slack.answers(OK)
    world.expect_codebuild_failure()
    first = world.handle(failed_event(event_id="e-1"))
    again = world.handle(failed_event(event_id="e-1"))  # nothing stubbed: a second read would fail the test
    copy = world.handle(failed_event(event_id="e-2"))  # the same failure, sent twice by EventBridge with new ids
    world.done()
    assert (first["status"], again["status"], copy["status"]) == ("posted", "duplicate", "duplicate")
    assert len(slack.posts()) == 1


def test_a_retried_stage_that_fails_again_is_a_new_digest_and_says_it_is_the_same_failure(world, slack):
    slack.answers(OK, OK)
    world.expect_codebuild_failure()
    assert world.handle(failed_event())["sameAsLastTime"] is False
    world.expect_codebuild_failure()
    retried = failed_event(attempt=2.0)
    retried["time"] = "2026-12-01T09:20:05Z"  # the stage retried a quarter of an hour later
    assert world.handle(retried)["sameAsLastTime"] is True
    first, second = slack.posts()
    assert "Same failure as the last one" not in text_of(first)
    assert f"Same failure as the last one* (execution {EXECUTION[:8]} in prod)" in text_of(second)
    assert "attempt 2" in text_of(second)


def test_a_different_error_is_not_the_same_failure(world, slack):
    slack.answers(OK, OK)
    world.expect_codebuild_failure()
    world.handle(failed_event())
    world.logs.delete_log_group(logGroupName=LOG_GROUP)
    world.expect_codebuild_failure(log="typescript.log")
    assert world.handle(failed_event(attempt=2.0))["sameAsLastTime"] is False


def test_an_older_failure_delivered_late_is_not_called_a_repeat_of_a_newer_one(world, slack):
    slack.answers(OK, OK)
    world.expect_codebuild_failure()
    newer = failed_event(attempt=2.0)
    world.handle(newer)
    world.expect_codebuild_failure()
    older = failed_event()
    older["time"] = "2026-12-01T08:30:00Z"
    assert world.handle(older)["sameAsLastTime"] is False


# --- secrets never leave, crafted text never fires ---------------------------------------------------------------


def test_planted_secrets_reach_neither_slack_nor_the_model(aws, slack):
    summaries = []
    world = World(aws, slack, summariser=lambda evidence: summaries.append(evidence) or "Check the token handling.")
    slack.answers(OK)
    from tests.functions.test_failure_digest_evidence import LOG_WITH_SECRETS

    variables = [{"name": "DB_PASSWORD", "value": PLANTED["plaintext build variable"], "type": "PLAINTEXT"}]
    lines = [*LOG_WITH_SECRETS, f"error: {slack.url} refused", *log_lines("pytest.log")]
    world.expect_codebuild_failure(lines=lines, variables=variables)
    world.handle(failed_event())
    sent = text_of(slack.posts()[0]) + "\n".join(json.dumps(e.__dict__) for e in summaries)
    for kind, secret in {**PLANTED, "the webhook the function holds": slack.url}.items():
        if kind != "held value":
            assert secret not in sent, kind
    assert "[REDACTED]" in sent and summaries and "AssertionError" in "\n".join(summaries[0].lines)


CRAFTED = [
    "ERROR <!channel> <!here> @channel @here @everyone: <@U0123ABCD> please look",
    "ERROR <https://evil.example/phish|open the build> and <mailto:x@evil.example|mail>",
    "ERROR ``` closing the code block ``` *bold* _it_ ~strike~ <#C0123|general>",
    "ERROR &lt;script&gt; & friends",
]


def test_a_crafted_log_line_commit_subject_and_test_name_cannot_ping_the_channel_or_open_a_link(world, slack):
    slack.answers(OK)
    crafted_commit = json.loads(json.dumps(COMMIT))
    crafted_commit["pipelineExecution"]["artifactRevisions"][0]["revisionSummary"] = json.dumps(
        {"ProviderType": "GitHub", "CommitMessage": "<!channel> fix <https://evil.example|prod>"}
    )
    world.expect_codebuild_failure(
        commit=crafted_commit,
        lines=CRAFTED * 20,
        cases={
            "testCases": [
                {
                    **FAILED_CASE["testCases"][0],
                    "name": "<!channel> `x` <https://evil.example|y>",
                    "message": "<!here> @everyone",
                }
            ]
        },
    )
    world.handle(failed_event())
    (message,) = slack.posts()
    assert_inert(message)
    assert_within_slack_limits(message)
    errors = next(
        b["text"]["text"] for b in message["blocks"] if b.get("text", {}).get("text", "").startswith("*First errors")
    )
    assert code_fences(errors) == 2  # the crafted fences stay inside the one block


def test_an_oversized_digest_fits_slacks_limits(world, slack):
    slack.answers(OK)
    many = {
        "testCases": [
            {**FAILED_CASE["testCases"][0], "name": f"test_{n}_" + "x" * 300, "message": "y" * 3000} for n in range(25)
        ]
    }
    world.expect_codebuild_failure(lines=["ERROR " + "z" * 5000] * 400, cases=many)
    world.handle(failed_event())
    (message,) = slack.posts()
    assert_within_slack_limits(message)
    assert "and 15 more" in text_of(message)


# --- the model's summary ----------------------------------------------------------------------------------------


def test_the_models_summary_is_shown_as_the_models_and_escaped(aws, slack):
    world = World(aws, slack, summariser=lambda _e: "The surcharge is 10%, not 15% <!channel>: fix `price()`.")
    slack.answers(OK)
    world.expect_codebuild_failure()
    assert world.handle(failed_event())["modelSummary"] is True
    said = text_of(slack.posts()[0])
    assert "*Likely cause* (model summary, may be wrong): The surcharge is 10%, not 15% &lt;!channel&gt;" in said
    (evidence,) = world.summaries
    assert evidence.failed_tests == ("tests.test_pricing.test_weekend_surcharge_applies",) and evidence.exit_code == 1
    assert_inert(slack.posts()[0])


def test_without_a_model_answer_the_digest_goes_out_all_the_same(aws, slack):
    world = World(aws, slack, summariser=lambda _e: None)
    slack.answers(OK)
    world.expect_codebuild_failure()
    result = world.handle(failed_event())
    assert result["status"] == "posted" and result["modelSummary"] is False
    assert "Likely cause" not in text_of(slack.posts()[0])


def test_a_retry_after_slack_failed_posts_without_asking_the_model_again(aws, slack):
    world = World(aws, slack, summariser=lambda _e: "Surcharge constant changed.")
    world.digest.delivery.policy = RetryPolicy(attempts=1)
    slack.answers(Response("no", status=500), OK)
    world.expect_codebuild_failure()
    with pytest.raises(Exception, match="Slack did not take the message"):
        world.handle(failed_event())
    assert world.item(f"digest#{EXECUTION}#Build#BuildAndUnitTest#1")["state"]["S"] == "released"
    world.expect_codebuild_failure()
    assert world.handle(failed_event())["status"] == "posted"
    assert len(world.summaries) == 1  # the first attempt's summary was noted on the claim
    assert "Surcharge constant changed." in text_of(slack.posts()[-1])


# --- Slack trouble ----------------------------------------------------------------------------------------------


def test_a_throttled_digest_waits_as_long_as_slack_asks_then_posts_once(world, slack):
    slack.answers(Response("rate_limited", status=429, headers={"Retry-After": "3"}), OK)
    world.expect_codebuild_failure()
    assert world.handle(failed_event())["status"] == "posted"
    assert world.sleeps == [3.0] and len(slack.posts()) == 2


def test_slack_refusing_fails_the_event_so_it_is_retried_then_dead_lettered(world, slack):
    slack.answers(Response("invalid_payload", status=400))
    world.expect_codebuild_failure()
    with pytest.raises(Exception, match="HTTP 400"):
        world.handle(failed_event())
    assert world.item(f"digest#{EXECUTION}#Build#BuildAndUnitTest#1")["state"]["S"] == "released"


def test_a_timeout_mid_work_is_finished_by_lambdas_retry_and_a_copy_meanwhile_is_a_duplicate(aws, slack):
    """Killed at its timeout while Slack throttles: the retry a minute later posts once."""
    clock = Clock(datetime(2026, 12, 1, 9, 3, tzinfo=UTC).timestamp())
    world = World(aws, slack, clock=clock)
    first = LambdaContext(clock, 120)
    copies = []
    slack.answers(Response("slow down", status=429, headers={"Retry-After": "10"}), OK)

    def with_context(context, sleep):
        ledger = DeliveryLedger(TABLE, aws, lease_seconds=digest_module.invocation_lease(context), clock=clock)
        return world.make(delivery=WebhookDelivery(world.secrets, WEBHOOK_SECRET, sleep=sleep), ledger=ledger)

    def slack_wait_outlives_the_function(_seconds):
        # Meanwhile the event comes again while the first still holds it. A claim never lasts a minute (Lambda's
        # retry of an invocation that died just after claiming must find it over: delivery_ledger, review finding 9),
        # so of a 120 s invocation it covers the first 56 s: the copy comes 50 s in, as in test_delivery_ledger.
        clock.advance(50)
        copies.append(
            with_context(LambdaContext(clock, 120), sleep=lambda _s: None).handle(failed_event(event_id="e-2"))
        )
        time_out(clock, first)

    world.expect_codebuild_failure()
    with pytest.raises(InvocationTimedOut):
        world.handle(failed_event(), digest=with_context(first, slack_wait_outlives_the_function))
    assert [copy["status"] for copy in copies] == ["duplicate"]
    world.pipeline_stub = Stubber(world.codepipeline)
    world.build_stub = Stubber(world.codebuild)
    world.expect_codebuild_failure()
    retry = with_context(lambda_retry_after_timeout(clock, first, 120), sleep=lambda _s: None)
    assert world.handle(failed_event(), digest=retry)["status"] == "posted"
    assert len(slack.posts()) == 2  # the throttled attempt and the digest: one message in the channel


# --- events that are not what they claim ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(account="444444444444"), "from 444444444444/eu-west-1"),
        (lambda e: e.update(region="us-east-1"), "from 123456789012/us-east-1"),
    ],
    ids=["another-account", "another-region"],
)
def test_a_failed_action_claimed_from_elsewhere_is_ignored_before_anything_is_read(world, slack, change, reason):
    event = failed_event()
    change(event)
    result = world.handle(event)
    assert result["status"] == "ignored" and reason in result["reason"]
    assert slack.posts() == [] and world.item(f"digest#{EXECUTION}#Build#BuildAndUnitTest#1") is None


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({**failed_event(), "source": "bookwise.release-tools"}, id="forged-source"),
        pytest.param({**failed_event(), "detail-type": "CodePipeline Stage Execution State Change"}, id="stage-event"),
        pytest.param({**failed_event(), "detail": {**failed_event()["detail"], "state": "SUCCEEDED"}}, id="succeeded"),
        pytest.param({**failed_event(), "detail": {**failed_event()["detail"], "stage": 7}}, id="mistyped"),
        pytest.param({**failed_event(), "time": "yesterday"}, id="no-time"),
        pytest.param({**failed_event(), "detail": "FAILED"}, id="no-detail"),
        pytest.param(["not", "an", "event"], id="not-an-object"),
    ],
)
def test_malformed_and_foreign_events_touch_nothing(world, slack, event):
    assert world.handle(event)["status"] == "ignored"
    assert slack.posts() == []


@pytest.mark.parametrize(
    "tags",
    [
        {"tags": [{"key": "managed-by", "value": "cicd-platform"}, {"key": "platform-stack", "value": "dev"}]},
        {"tags": [{"key": "owner", "value": "data-team"}]},
    ],
    ids=["another-stack", "not-the-platforms"],
)
def test_a_pipeline_of_another_stack_or_of_nobody_is_ignored(world, slack, tags):
    world.pipeline_stub.add_response("list_tags_for_resource", tags)
    result = world.handle(failed_event())
    assert result["status"] == "ignored" and slack.posts() == []


def test_a_pipeline_the_role_may_not_read_is_not_ours(world, slack):
    world.pipeline_stub.add_client_error("list_tags_for_resource", "AccessDeniedException")
    assert world.handle(failed_event())["reason"] == "not a platform pipeline (AccessDeniedException)"


# --- CodeDeploy and approvals ------------------------------------------------------------------------------------


def codedeploy_stub():
    client = boto3.client("codedeploy", region_name=REGION)
    stub = Stubber(client)
    stub.add_response(
        "get_deployment",
        {
            "deploymentInfo": {
                "deploymentId": "d-4F2T9X1QB",
                "applicationName": "booking-prod",
                "deploymentGroupName": "booking-prod",
                "status": "Failed",
                "creator": "user",
                "computePlatform": "ECS",
                "errorInformation": {
                    "code": "ECS_UPDATE_ERROR",
                    "message": "The ECS service cannot be updated. Task set failed to reach steady state: "
                    "essential container booking exited",
                },
            }
        },
        {"deploymentId": "d-4F2T9X1QB"},
    )
    stub.add_response(
        "list_deployment_targets",
        {"targetIds": ["bookwise-core:booking"]},
        {"deploymentId": "d-4F2T9X1QB", "targetFilters": {"TargetStatus": ["Failed"]}},
    )
    stub.add_response(
        "get_deployment_target",
        {
            "deploymentTarget": {
                "deploymentTargetType": "ECSTarget",
                "ecsTarget": {
                    "deploymentId": "d-4F2T9X1QB",
                    "targetId": "bookwise-core:booking",
                    "status": "Failed",
                    "lifecycleEvents": [
                        {"lifecycleEventName": "BeforeInstall", "status": "Succeeded"},
                        {"lifecycleEventName": "Install", "status": "Succeeded"},
                        {
                            "lifecycleEventName": "AfterAllowTestTraffic",
                            "status": "Failed",
                            "diagnostics": {
                                "errorCode": "ScriptFailed",
                                "scriptName": "CodeDeployHook_booking-smoke",
                                "message": "smoke test GET /health returned 503 <!here>",
                                "logTail": "GET /health 503\ndatabase pool exhausted (max=20)",
                            },
                        },
                    ],
                },
            }
        },
        {"deploymentId": "d-4F2T9X1QB", "targetId": "bookwise-core:booking"},
    )
    return client, stub


def test_a_failed_deploy_names_the_lifecycle_event_and_the_task_error_read_in_the_environment_account(aws, slack):
    codedeploy, stub = codedeploy_stub()
    world = World(aws, slack, deployment=codedeploy)
    slack.answers(OK)
    pipeline, arn = "booking-prod", f"arn:aws:codepipeline:{REGION}:{TOOLING}:booking-prod"
    tags = {
        "tags": [
            {"key": "managed-by", "value": "cicd-platform"},
            {"key": "platform-stack", "value": "prod"},
            {"key": "owner", "value": "team-booking"},
        ]
    }
    world.pipeline_stub.add_response("list_tags_for_resource", tags, {"resourceArn": arn})
    world.pipeline_stub.add_response(
        "list_action_executions",
        action_run(
            "CodeDeployToECS",
            "Deploy",
            "d-4F2T9X1QB",
            "Deployment d-4F2T9X1QB failed",
            stage="Deploy",
            action="BlueGreenDeploy",
            configuration={"ApplicationName": "booking-prod"},
        ),
    )
    world.pipeline_stub.add_response("get_pipeline_execution", COMMIT)
    event = action_failed(
        pipeline, account=TOOLING, region=REGION, execution=EXECUTION, stage="Deploy", action="BlueGreenDeploy"
    )
    event["detail"]["type"]["provider"] = "CodeDeployToECS"
    event["detail"]["execution-result"]["external-execution-id"] = "d-4F2T9X1QB"
    event["detail"]["action-execution-id"] = ACTION_EXECUTION_ID
    with stub:
        result = world.handle(event)
        stub.assert_no_pending_responses()
    world.done()
    assert result["status"] == "posted"
    assert world.deployment_readers == [
        ("444444444444", REGION, "arn:aws:iam::444444444444:role/cicd-alarm-reader-prod")
    ]
    said = text_of(slack.posts()[0])
    assert "Failed lifecycle event:* AfterAllowTestTraffic on bookwise-core:booking" in said
    assert "ScriptFailed CodeDeployHook_booking-smoke smoke test GET /health returned 503 &lt;!here&gt;" in said
    assert "database pool exhausted" in said and "ECS_UPDATE_ERROR" in said
    assert "rolls back to the last successful execution" in said
    assert_inert(slack.posts()[0])


def test_a_rejected_approval_says_who_rejected_it_and_why(world, slack):
    slack.answers(OK)
    world.pipeline_stub.add_response("list_tags_for_resource", TAGS)
    world.pipeline_stub.add_response(
        "list_action_executions",
        action_run(
            "Manual",
            "Approval",
            "",
            "Not during the sale: <!channel> wait until Monday",
            stage="Approve",
            action="ReleaseApproval",
            configuration={"CustomData": "Release pricing to prod"},
            updatedBy=f"arn:aws:sts::{TOOLING}:assumed-role/release-manager/jane.doe",
        ),
    )
    world.pipeline_stub.add_response("get_pipeline_execution", COMMIT)
    result = world.handle(failed_event(stage="Approve", action="ReleaseApproval", provider="Manual", external=""))
    world.done()
    assert result["status"] == "posted" and result["sameAsLastTime"] is False
    said = text_of(slack.posts()[0])
    assert "*Rejected by* jane.doe (release-manager): Not during the sale: &lt;!channel&gt; wait until Monday" in said
    assert world.item("recurrence#pricing") is None  # a decision, not a failure that recurs


# --- where it goes: the team's channel, threaded under release news -----------------------------------------------


def bot_world(aws, slack, team_channels):
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name=BOT_SECRET, SecretString=BOT_TOKEN)
    ledger = DeliveryLedger(TABLE, aws, clock=lambda: datetime(2026, 12, 1, 9, 3, tzinfo=UTC).timestamp())
    delivery = BotDelivery(
        secrets, BOT_SECRET, "C0DEPLOYS", team_channels, ledger, api_url=slack.api, sleep=lambda _s: None
    )
    return World(aws, slack, delivery=delivery), ledger


def test_with_a_bot_token_the_digest_replies_under_the_executions_release_news(aws, slack):
    world, ledger = bot_world(aws, slack, {})
    ledger.remember(news_thread_key(PIPELINE, EXECUTION), channel="C0DEPLOYS", ts="1764579000.000100")
    slack.answers(bot_ok(), path="/api/chat.postMessage")
    world.expect_codebuild_failure()
    result = world.handle(failed_event())
    (request,) = slack.requests()
    body = json.loads(request.get_data())
    assert request.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert (body["channel"], body["thread_ts"]) == ("C0DEPLOYS", "1764579000.000100")
    assert result["postedTo"] == "C0DEPLOYS 1764580000.000200 in thread 1764579000.000100"
    assert BOT_TOKEN not in text_of(body)


def test_a_team_with_its_own_channel_gets_the_digest_there_without_a_thread_in_another_channel(aws, slack):
    world, ledger = bot_world(aws, slack, {"team-pricing": "C0PRICING"})
    ledger.remember(news_thread_key(PIPELINE, EXECUTION), channel="C0DEPLOYS", ts="1764579000.000100")
    slack.answers(bot_ok(channel="C0PRICING"), path="/api/chat.postMessage")
    world.expect_codebuild_failure()
    world.handle(failed_event())
    body = json.loads(slack.requests()[0].get_data())
    assert body["channel"] == "C0PRICING" and "thread_ts" not in body


def test_without_release_news_to_reply_to_the_digest_starts_its_own_message(aws, slack):
    world, _ = bot_world(aws, slack, {})
    slack.answers(bot_ok(), path="/api/chat.postMessage")
    world.expect_codebuild_failure()
    world.handle(failed_event())
    assert "thread_ts" not in json.loads(slack.requests()[0].get_data())


def test_a_revoked_bot_token_fails_the_event_and_is_read_again_on_the_retry(aws, slack):
    world, _ = bot_world(aws, slack, {})
    revoked = Response(json.dumps({"ok": False, "error": "token_revoked"}), content_type="application/json")
    slack.answers(revoked, bot_ok(), path="/api/chat.postMessage")
    world.expect_codebuild_failure()
    with pytest.raises(Exception, match="token_revoked"):
        world.handle(failed_event())
    world.secrets.put_secret_value(SecretId=BOT_SECRET, SecretString="xoxb-rotated-0000000000-abcdefghijkl")
    world.expect_codebuild_failure()
    world.handle(failed_event())
    assert slack.requests()[-1].headers["Authorization"] == "Bearer xoxb-rotated-0000000000-abcdefghijkl"


def test_through_chatbot_the_digest_is_published_to_release_news_as_text(aws, slack):
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="cicd-release-news-prod")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    world = World(aws, slack, delivery=TopicDelivery(sns, topic))
    world.expect_codebuild_failure()
    world.handle(failed_event())
    (received,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    notification = json.loads(received["Body"])
    assert notification["content"]["title"] == "pricing-prod: Build / BuildAndUnitTest failed"
    assert "tests.test_pricing.test_weekend_surcharge_applies" in notification["content"]["description"]
    assert_inert(notification["content"]["description"])
    assert slack.posts() == []


# --- the entry point --------------------------------------------------------------------------------------------


def test_the_entry_point_reads_its_settings_and_holds_a_claim_only_as_long_as_the_invocation(aws, slack, monkeypatch):
    for name, value in {
        "LEDGER_TABLE": TABLE,
        "STACK": "prod",
        "TOOLING_ACCOUNT_ID": TOOLING,
        "TOOLING_REGION": REGION,
        "GRAPH_PARAMETER": GRAPH_PARAMETER,
        "WEBHOOK_SECRET_ID": WEBHOOK_SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=WEBHOOK_SECRET, SecretString=slack.url)
    built = digest_module.digest_from_environment(LambdaContext(Clock(time.time()), 120))
    assert isinstance(built.delivery, WebhookDelivery) and built.summariser is None
    assert built.known_secrets() == [slack.url]
    monkeypatch.setenv("SUMMARY_MODEL_ID", "anthropic.claude-3-haiku-20240307-v1:0")
    assert digest_module.digest_from_environment().summariser is not None
    assert digest_module.handler({"source": "aws.codepipeline"}, LambdaContext(Clock(time.time()), 120)) == {
        "status": "ignored"
    }
