"""The rollback reporter against realistic events: who may make it act, and how it acts exactly once.

Events come from ``tests/functions/aws_events.py`` (shaped after AWS's event
reference). Where each service runs comes from the graph the prod stack writes
from the real catalog (``payments`` runs in its own PCI account 455555555555 in
prod; every other service in the shared prod account 444444444444; dev in
411111111111; all in eu-west-1), read from SSM as the function reads it.
DynamoDB (the delivery ledger), SSM and Secrets Manager are moto; CodePipeline
goes through ``botocore.stub.Stubber``, which refuses any call a test did not
queue, so "no rollback" is proved, not assumed; Slack is a local HTTP server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from delivery_ledger import DeliveryLedger
from moto import mock_aws
from slack_client import SlackDeliveryError, _webhook_cache
from werkzeug import Response

from functions.deploy_ledger.graph import GraphUnreadableError
from functions.rollback_reporter import handler as reporter_module
from functions.rollback_reporter.handler import Reporter, webhook_delivery
from tests.functions.aws_events import action_failed, alarm_state_change, deployment_state_change
from tests.functions.conftest import create_ledger_table
from tests.functions.prod_placements import GRAPH_PARAMETER, prod_origins, put_prod_graph

REGION, OTHER_REGION = "eu-west-1", "us-east-1"
TOOLING, DEV, QA, PROD, PCI_PROD = "123456789012", "411111111111", "422222222222", "444444444444", "455555555555"
TABLE, WEBHOOK_SECRET = "cicd-delivery-ledger-prod", "cicd-platform/slack-webhook"
NOW = datetime(2026, 11, 29, 10, 5, tzinfo=UTC)
DEPLOY_FINISHED = datetime(2026, 11, 29, 9, 50, tzinfo=UTC)
OK, DOWN = Response("ok", status=200), Response("down", status=500)


class LambdaTimeout(BaseException):
    """Lambda killing an invocation at its timeout: no ``except Exception`` runs, nothing is released."""


# --- the world -------------------------------------------------------------------------------------------------


@pytest.fixture
def aws():
    _webhook_cache.clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(dynamodb, TABLE)
        put_prod_graph(boto3.client("ssm", region_name=REGION))
        yield dynamodb
    _webhook_cache.clear()


@pytest.fixture
def slack(httpserver):
    class Slack:
        url = httpserver.url_for("/hook")

        @staticmethod
        def answers(*responses):
            for response in responses:
                httpserver.expect_ordered_request("/hook", method="POST").respond_with_response(response)

        @staticmethod
        def posts():
            return [json.loads(request.get_data()) for request, _ in httpserver.log]

        @staticmethod
        def delivered():
            return [
                json.loads(request.get_data()) for request, response in httpserver.log if response.status_code < 300
            ]

    return Slack()


class World:
    """One reporter per invocation (as Lambda builds one per container), sharing the ledger, the graph and Slack."""

    def __init__(self, dynamodb, slack_url):
        self.dynamodb = dynamodb
        self.ssm = boto3.client("ssm", region_name=REGION)
        self.secrets = boto3.client("secretsmanager", region_name=REGION)
        self.secrets.create_secret(Name=WEBHOOK_SECRET, SecretString=slack_url)
        self.codepipeline = boto3.client("codepipeline", region_name=REGION)
        self.stub = Stubber(self.codepipeline)
        self.clock = NOW.timestamp()
        self.lease_seconds = 300
        self.sleeps: list[float] = []

    def reporter(self, **overrides) -> Reporter:
        ledger = DeliveryLedger(TABLE, self.dynamodb, lease_seconds=self.lease_seconds, clock=lambda: self.clock)
        settings = {
            "codepipeline": self.codepipeline,
            "ledger": ledger,
            "deliver": webhook_delivery(self.secrets, WEBHOOK_SECRET, sleep=self.sleeps.append),
            "rollback_window": timedelta(minutes=60),
            "channel": "#deploys",
            "origins": prod_origins(self.ssm),
            "now": lambda: datetime.fromtimestamp(self.clock, UTC),
        }
        return Reporter(**{**settings, **overrides})

    def handle(self, event, **overrides):
        with self.stub:
            return self.reporter(**overrides).handle(event)

    def expect(self, operation, response, params=None):
        self.stub.add_response(operation, response, params)

    def ledger_items(self):
        return self.dynamodb.scan(TableName=TABLE)["Items"]

    def item(self, key):
        return self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}}).get("Item")

    def done(self):
        self.stub.assert_no_pending_responses()


@pytest.fixture
def world(aws, slack):
    return World(aws, slack.url)


def deploy_state(pipeline, finished=DEPLOY_FINISHED, current="exec-3"):
    return {
        "pipelineName": pipeline,
        "stageStates": [
            {
                "stageName": "Deploy",
                "latestExecution": {"pipelineExecutionId": current, "status": "Succeeded"},
                "actionStates": [
                    {
                        "actionName": "BlueGreenDeploy",
                        "latestExecution": {"status": "Succeeded", "lastStatusChange": finished},
                    }
                ],
            }
        ],
    }


HISTORY = {
    "pipelineExecutionSummaries": [
        {"pipelineExecutionId": "exec-3", "status": "Succeeded", "executionType": "STANDARD"},
        {"pipelineExecutionId": "exec-2", "status": "Succeeded", "executionType": "STANDARD"},
    ]
}


def revision(pipeline):
    return {"pipelineExecution": {"pipelineName": pipeline, "pipelineExecutionId": "exec-3", "artifactRevisions": []}}


def expect_rollback(world, pipeline, finished=DEPLOY_FINISHED):
    world.expect("get_pipeline_state", deploy_state(pipeline, finished), {"name": pipeline})
    world.expect("list_pipeline_executions", HISTORY, {"pipelineName": pipeline, "maxResults": 25})
    world.expect(
        "rollback_stage",
        {"pipelineExecutionId": "rollback-7"},
        {"pipelineName": pipeline, "stageName": "Deploy", "targetPipelineExecutionId": "exec-2"},
    )
    world.expect("get_pipeline_execution", revision(pipeline))


# --- who may make the reporter act ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    event: dict[str, Any]
    acts: bool
    """True: the reporter reports (and for an alarm rolls back); False: ignored before anything is claimed."""
    because: str = ""
    """For a refused event: words of the logged reason."""


def health(service: str, environment: str = "prod") -> str:
    return f"cicd-{service}-{environment}-health"


TRUST = [
    Scenario(
        "alarm of a shared-account service from its account",
        alarm_state_change(health("booking"), account=PROD, region=REGION),
        True,
    ),
    Scenario(
        "alarm of the PCI service from its own account",
        alarm_state_change(health("payments"), account=PCI_PROD, region=REGION),
        True,
    ),
    Scenario(
        "alarm of a dev deploy from the dev account",
        alarm_state_change(health("booking", "dev"), account=DEV, region=REGION),
        True,
    ),
    Scenario(
        "alarm of the PCI service raised in the shared prod account",
        alarm_state_change(health("payments"), account=PROD, region=REGION),
        False,
        "runs in 455555555555/eu-west-1",
    ),
    Scenario(
        "prod alarm raised in the dev account",
        alarm_state_change(health("booking"), account=DEV, region=REGION),
        False,
        "runs in 444444444444/eu-west-1",
    ),
    Scenario(
        "prod alarm raised in the qa account",
        alarm_state_change(health("booking"), account=QA, region=REGION),
        False,
        "claimed from 422222222222/eu-west-1",
    ),
    Scenario(
        "prod alarm of the right account in another region",
        alarm_state_change(health("booking"), account=PROD, region=OTHER_REGION),
        False,
        "claimed from 444444444444/us-east-1",
    ),
    Scenario(
        "alarm of a service the catalog does not have",
        alarm_state_change(health("ghost"), account=PROD, region=REGION),
        False,
        "'ghost' does not deploy to 'prod'",
    ),
    Scenario(
        "alarm of an environment the stack does not have",
        alarm_state_change(health("booking", "perf"), account=PROD, region=REGION),
        False,
        "does not deploy to 'perf'",
    ),
    Scenario(
        "failed deployment from its account", deployment_state_change("booking-prod", account=PROD, region=REGION), True
    ),
    Scenario(
        "deployment of the PCI service stopped by its alarm, in its account",
        deployment_state_change("payments-prod", account=PCI_PROD, region=REGION, state="STOP"),
        True,
    ),
    Scenario(
        "deployment of the PCI service claimed from the shared prod account",
        deployment_state_change("payments-prod", account=PROD, region=REGION, state="STOP"),
        False,
        "runs in 455555555555/eu-west-1",
    ),
    Scenario(
        "prod deployment claimed from the dev account",
        deployment_state_change("booking-prod", account=DEV, region=REGION),
        False,
        "runs in 444444444444/eu-west-1",
    ),
    Scenario(
        "prod deployment in another region",
        deployment_state_change("booking-prod", account=PROD, region=OTHER_REGION),
        False,
        "claimed from 444444444444/us-east-1",
    ),
    Scenario(
        "deployment of an application the catalog does not have",
        deployment_state_change("ghost-prod", account=PROD, region=REGION),
        False,
        "'ghost' does not deploy to 'prod'",
    ),
]


@pytest.mark.parametrize("scenario", TRUST, ids=[s.name for s in TRUST])
def test_only_events_from_where_their_service_runs_are_acted_on(world, slack, scenario):
    event, kind = scenario.event, scenario.event["source"]
    if scenario.acts:
        slack.answers(OK)
        if kind == "aws.cloudwatch":
            service_env = event["detail"]["alarmName"].removeprefix("cicd-").removesuffix("-health")
            expect_rollback(world, service_env)
    result = world.handle(event)
    world.done()  # every queued call was made, and the stub refused any other
    if scenario.acts:
        assert result["status"] == "reported"
        assert result["rolledBack"] is (kind == "aws.cloudwatch")
        assert len(slack.posts()) == 1
    else:
        assert result["status"] == "ignored"
        assert scenario.because in result["reason"]
        assert slack.posts() == []
        assert world.ledger_items() == []  # not even claimed


def test_a_refused_event_is_logged_with_its_reason(world, slack, caplog):
    event = alarm_state_change(health("payments"), account=PROD, region=REGION, event_id="crafted-1")
    with caplog.at_level("WARNING"):
        world.handle(event)
    (record,) = [r for r in caplog.records if "crafted-1" in r.getMessage()]
    assert "payments in prod claimed from 444444444444/eu-west-1" in record.getMessage()
    assert "runs in 455555555555/eu-west-1 there" in record.getMessage()


def malformed(mutate):
    event = alarm_state_change(health("booking"), account=PROD, region=REGION)
    mutate(event)
    return event


MALFORMED = {
    "detail is not an object": malformed(lambda e: e.update(detail="ALARM")),
    "no account": malformed(lambda e: e.pop("account")),
    "account is a number": malformed(lambda e: e.update(account=444444444444)),
    "no state timestamp": malformed(lambda e: e["detail"]["state"].pop("timestamp")),
    "unreadable state timestamp": malformed(lambda e: e["detail"]["state"].update(timestamp="yesterday")),
    "alarm name is not a string": malformed(lambda e: e["detail"].update(alarmName=["cicd-booking-prod-health"])),
    "health alarm without a service": malformed(lambda e: e["detail"].update(alarmName="cicd-prod-health")),
    "state is a string": malformed(lambda e: e["detail"].update(state="ALARM")),
    "deployment without an id": (lambda e: (e["detail"].pop("deploymentId"), e)[1])(
        deployment_state_change("booking-prod", account=PROD, region=REGION)
    ),
    "deployment group of another application": deployment_state_change(
        "booking-prod", account=PROD, region=REGION, group="payments-prod"
    ),
    "deployment detail in another region than the event": deployment_state_change(
        "booking-prod", account=PROD, region=REGION, detail_region=OTHER_REGION
    ),
    "a failed pipeline action (the failure digest's)": action_failed("booking-prod", account=TOOLING, region=REGION),
    "not an object at all": ["aws.cloudwatch"],
}


@pytest.mark.parametrize("event", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_event_is_neither_acted_on_nor_reported(world, slack, event):
    assert world.handle(event) == {"status": "ignored"}
    world.done()
    assert slack.posts() == [] and world.ledger_items() == []


def test_an_unreadable_graph_fails_the_event_so_it_is_retried_not_dropped(world, slack):
    """``read_graph`` asks ``GetParameters`` for the index, which names a missing one rather than raising
    ``ParameterNotFound``; the reader raises ``GraphUnreadableError`` instead, and the event still fails."""
    world.ssm.delete_parameter(Name=GRAPH_PARAMETER)
    with pytest.raises(GraphUnreadableError, match=r"parameters .* do not exist"):
        world.handle(alarm_state_change(health("booking"), account=PROD, region=REGION))
    assert slack.posts() == [] and world.ledger_items() == []


def test_the_entry_point_places_events_with_the_graph_parameter_it_is_given(aws, slack, monkeypatch):
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=WEBHOOK_SECRET, SecretString=slack.url)
    for name, value in {
        "LEDGER_TABLE": TABLE,
        "WEBHOOK_SECRET_ID": WEBHOOK_SECRET,
        "TOOLING_ACCOUNT_ID": TOOLING,
        "TOOLING_REGION": REGION,
        "GRAPH_PARAMETER": GRAPH_PARAMETER,
    }.items():
        monkeypatch.setenv(name, value)
    slack.answers(OK)
    crafted = deployment_state_change("payments-prod", account=PROD, region=REGION, state="STOP")
    assert reporter_module.handler(crafted)["status"] == "ignored"
    real = deployment_state_change("payments-prod", account=PCI_PROD, region=REGION, state="STOP")
    assert reporter_module.handler(real)["status"] == "reported"
    (post,) = slack.posts()
    assert "payments-prod was stopped" in post["text"]


# --- once, and in the right order ----------------------------------------------------------------------------


def test_the_same_event_delivered_twice_rolls_back_once_and_posts_once(world, slack):
    slack.answers(OK)
    event = alarm_state_change(health("booking"), account=PROD, region=REGION, event_id="3f1c-same")
    expect_rollback(world, "booking-prod")
    first, second = world.handle(event), world.handle(event)
    world.done()  # one rollback_stage queued; a second would be refused by the stub
    assert first["rolledBack"] is True
    assert second == {"status": "duplicate", "key": first["key"]}
    assert len(slack.posts()) == 1


def test_a_duplicated_report_posts_once(world, slack):
    slack.answers(OK)
    event = deployment_state_change("booking-prod", account=PROD, region=REGION, event_id="d-same")
    assert world.handle(event)["status"] == "reported"
    assert world.handle(event)["status"] == "duplicate"
    world.done()
    assert len(slack.posts()) == 1


def test_an_alarm_stamped_before_the_latest_deploy_finished_does_not_roll_that_deploy_back(world, slack):
    """Reordering: the alarm (09:58, about the old version) arrives after the next deploy finished at 10:02."""
    slack.answers(OK)
    late = alarm_state_change(
        health("booking"), account=PROD, region=REGION, stamp="2026-11-29T09:58:00.000+0000", event_id="late"
    )
    finished = datetime(2026, 11, 29, 10, 2, tzinfo=UTC)
    world.expect("get_pipeline_state", deploy_state("booking-prod", finished, current="exec-4"))
    world.expect("list_pipeline_executions", HISTORY)
    world.expect("get_pipeline_execution", revision("booking-prod"))
    result = world.handle(late)
    world.done()  # no rollback_stage queued: the stub proves none was attempted
    assert result["rolledBack"] is False
    text = json.dumps(slack.posts()[0])
    assert "went off at 09:58:00 UTC, before the current deploy finished at 10:02:00 UTC" in text


def test_an_alarm_stamped_after_the_deploy_finished_rolls_it_back_whenever_it_arrives(world, slack):
    slack.answers(OK)
    expect_rollback(world, "booking-prod", finished=datetime(2026, 11, 29, 9, 57, 59, tzinfo=UTC))
    alarm = alarm_state_change(health("booking"), account=PROD, region=REGION, stamp="2026-11-29T09:58:00.000+0000")
    assert world.handle(alarm)["rolledBack"] is True
    world.done()


# --- a timeout mid-work, then Lambda's retry ------------------------------------------------------------------

FUNCTION_TIMEOUT, FIRST_RETRY_AFTER = 120, 60
"""The reporter's timeout, and Lambda's wait before retrying an invocation that failed, timeouts included ("How
Lambda handles errors and retries with asynchronous invocation": "a one-minute wait between the first two attempts")."""


def timed_out_delivery(_message):
    raise LambdaTimeout


def test_a_timeout_after_the_rollback_reports_it_on_the_retry_without_rolling_back_twice(world, slack):
    # The lease ends before the retry can arrive (the ledger's lease length is the notifier's concern).
    world.lease_seconds = FUNCTION_TIMEOUT + FIRST_RETRY_AFTER - 1
    event = alarm_state_change(health("booking"), account=PROD, region=REGION)
    expect_rollback(world, "booking-prod")
    with pytest.raises(LambdaTimeout):
        world.handle(event, deliver=timed_out_delivery)
    (item,) = world.ledger_items()
    assert item["state"]["S"] == "pending"  # killed: nothing released it
    assert item["notes"]["M"]["rollback_execution"]["S"] == "rollback-7"

    world.clock += FUNCTION_TIMEOUT + FIRST_RETRY_AFTER
    slack.answers(OK)
    world.expect("get_pipeline_execution", revision("booking-prod"))  # the commit, for the report; nothing else
    result = world.handle(event)
    world.done()
    assert result["status"] == "reported" and result["rolledBack"] is True
    assert len(slack.posts()) == 1
    assert world.item(result["key"])["state"]["S"] == "done"


class HangsOnce:
    """CodePipeline whose first ``get_pipeline_state`` never answers before the function's timeout."""

    def __init__(self, client):
        self.client, self.hung = client, False

    def __getattr__(self, name):
        if name == "get_pipeline_state" and not self.hung:
            self.hung = True

            def hang(**_kwargs):
                raise LambdaTimeout

            return hang
        return getattr(self.client, name)


def test_a_timeout_before_the_rollback_rolls_back_once_on_the_retry(world, slack):
    world.lease_seconds = FUNCTION_TIMEOUT + FIRST_RETRY_AFTER - 1
    event = alarm_state_change(health("booking"), account=PROD, region=REGION)
    with pytest.raises(LambdaTimeout):
        world.handle(event, codepipeline=HangsOnce(world.codepipeline))
    world.clock += FUNCTION_TIMEOUT + FIRST_RETRY_AFTER
    slack.answers(OK)
    expect_rollback(world, "booking-prod")
    result = world.handle(event)
    world.done()
    assert result["rolledBack"] is True and len(slack.posts()) == 1


def test_a_retry_inside_the_lease_is_left_to_the_invocation_holding_it(world, slack):
    event = alarm_state_change(health("booking"), account=PROD, region=REGION)
    with pytest.raises(LambdaTimeout):
        world.handle(event, codepipeline=HangsOnce(world.codepipeline))
    world.clock += 10
    assert world.handle(event)["status"] == "duplicate"
    world.done()
    assert slack.posts() == []


# --- Slack's answers ---------------------------------------------------------------------------------------------

SLACK_ANSWERS = {
    "throttled, then delivered": ([Response("rate_limited", status=429, headers={"Retry-After": "3"}), OK], [3.0]),
    "a server error, then delivered": ([DOWN, OK], [0.5]),
}


@pytest.mark.parametrize(("answers", "sleeps"), SLACK_ANSWERS.values(), ids=SLACK_ANSWERS.keys())
def test_slack_trouble_within_the_invocation_still_ends_in_one_message(world, slack, answers, sleeps):
    slack.answers(*answers)
    expect_rollback(world, "booking-prod")
    result = world.handle(alarm_state_change(health("booking"), account=PROD, region=REGION))
    world.done()
    assert result["rolledBack"] is True
    assert world.sleeps == sleeps
    assert len(slack.delivered()) == 1


@pytest.mark.parametrize(
    ("answers", "attempts"),
    [([DOWN] * 5, 5), ([Response("invalid_payload", status=400)], 1), ([Response("no_service", status=404)], 1)],
    ids=["server errors until the budget is spent", "400 invalid_payload", "404 no_service"],
)
def test_slack_refusing_fails_the_invocation_and_the_retry_reports_without_a_second_rollback(
    world, slack, answers, attempts
):
    slack.answers(*answers)
    event = alarm_state_change(health("booking"), account=PROD, region=REGION)
    expect_rollback(world, "booking-prod")
    with pytest.raises(SlackDeliveryError):
        world.handle(event)
    assert len(slack.posts()) == attempts  # 4xx other than 429 is not retried within the invocation
    (item,) = world.ledger_items()
    assert item["state"]["S"] == "released" and item["notes"]["M"]["rollback_execution"]["S"] == "rollback-7"

    slack.answers(OK)
    world.expect("get_pipeline_execution", revision("booking-prod"))
    result = world.handle(event)
    world.done()
    assert result["rolledBack"] is True
    assert len(slack.delivered()) == 1
