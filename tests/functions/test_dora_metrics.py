"""The DORA metrics function: known deployments give known numbers, however the events arrive.

Events are the CodePipeline stage events of AWS's event reference (``tests/events/fixtures``); the
facts table and CloudWatch are moto's; CodePipeline, whose ``GetPipelineExecution`` and
``ListActionExecutions`` moto does not implement, is a botocore ``Stubber`` that answers exactly the
calls an event should cause, so a duplicate or an ignored event that calls CodePipeline fails the test.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from functions.dora_metrics import metrics
from functions.dora_metrics.handler import DoraMetrics, Settings, graph_reader
from functions.dora_metrics.metrics import DeployFact, compute
from tests.events.aws_events import aws_event
from tests.functions.lambda_runtime import InvocationTimedOut
from tests.functions.prod_placements import GRAPH_PARAMETER, REGION, TOOLING, put_prod_graph

DAY = datetime(2026, 12, 1, tzinfo=UTC)
TABLE = "cicd-dora-deployments-prod"
PIPELINE = "booking-prod"
ONE_DAY = Settings(
    facts_table=TABLE, graph_parameter=GRAPH_PARAMETER, account_id=TOOLING, region=REGION, window=timedelta(days=1)
)


def at(clock: str) -> datetime:
    hours, minutes = clock.split(":")[:2]
    seconds = int(clock.split(":")[2]) if clock.count(":") == 2 else 0
    return DAY + timedelta(hours=int(hours), minutes=int(minutes), seconds=seconds)


def stamp(moment: datetime, millis: bool = False) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (".000Z" if millis else "Z")


@dataclass(frozen=True)
class Run:
    """One Deploy stage that ended, and what CodePipeline knows of its execution."""

    execution: str
    state: str
    started: str
    ended: str
    kind: str = "STANDARD"
    committed: str | None = None
    deployed: bool = True
    message: str = "Show seat maps on the booking page"
    attempt: int = 1
    commit: str | None = None
    """The commit the execution built; by default one of its own."""

    @property
    def execution_id(self) -> str:
        return f"{self.execution:0>8}-1111-2222-3333-444455556666"

    @property
    def revision(self) -> str:
        return self.commit or hashlib.sha1(self.execution.encode(), usedforsecurity=False).hexdigest()

    def event(self, **overrides) -> dict:
        values = {
            "account": TOOLING,
            "region": REGION,
            "pipeline": PIPELINE,
            "state": self.state,
            "stage": "Deploy",
            "time": stamp(at(self.ended)),
            "start_time": stamp(at(self.started), millis=True),
            "execution_id": self.execution_id,
            **overrides,
        }
        changes = {"detail.pipeline-execution-attempt": float(self.attempt)} if self.attempt != 1 else None
        return aws_event("codepipeline-stage-execution-state-change", changes, **values)

    def fact(self) -> DeployFact:
        return DeployFact(
            execution=self.execution_id,
            attempt=self.attempt,
            state=self.state,
            at=at(self.ended),
            started_at=at(self.started),
            kind=self.kind,
            deployed=self.deployed,
            committed_at=at(self.committed) if self.committed else None,
            remediation=metrics_remediation(self.message),
            commit=self.revision if self.kind == "STANDARD" else None,
        )


def metrics_remediation(message: str) -> bool:
    from functions.dora_metrics.executions import REMEDIATION

    return REMEDIATION.search(message) is not None


# A release day of booking in prod: five deployments (one fails), one rollback, one deploy held at the gate.
KNOWN_DAY = [
    Run("d1", "SUCCEEDED", "08:00", "08:30", committed="07:00"),  # lead time 90 min
    Run("d2", "SUCCEEDED", "10:00", "10:20", committed="09:30"),  # 50 min; an alarm follows
    Run("r1", "SUCCEEDED", "10:40", "10:48", kind="ROLLBACK"),  # rolls d2 back: d2 failed, restored in 8 min
    Run("d3", "SUCCEEDED", "12:00", "12:30", committed="11:00"),  # 90 min
    Run("d4", "FAILED", "13:30", "13:50", committed="13:00"),  # a failed deployment, restored by d5
    Run("d5", "SUCCEEDED", "15:00", "15:40", committed="14:00"),  # 100 min; restores 110 min after d4 failed
    Run("h6", "FAILED", "16:00", "16:00:30", committed="15:50", deployed=False),  # held at entry: not a deploy
]
KNOWN_NUMBERS = {
    metrics.DEPLOYMENT_FREQUENCY: 4.0,  # d1, d2, d3, d5 in one day
    metrics.LEAD_TIME: 5400.0,  # median of 90, 50, 90, 100 minutes
    metrics.CHANGE_FAILURE_RATE: 40.0,  # d2 (rolled back) and d4 (failed) of five
    metrics.TIME_TO_RESTORE: 3540.0,  # median of 8 and 110 minutes
}


# --- the numbers, from facts -------------------------------------------------------------------------


def numbers_of(runs, start=DAY, end=DAY + timedelta(days=1), window=timedelta(hours=24)):
    return compute([run.fact() for run in runs], start, end, window)


def test_a_known_release_day_gives_exactly_the_known_four_numbers():
    numbers = numbers_of(KNOWN_DAY)
    assert numbers.values() == KNOWN_NUMBERS
    assert (numbers.deployments, numbers.successes, numbers.failed_changes) == (5, 4, 2)


def test_duplicates_and_any_order_of_the_facts_give_the_same_numbers():
    shuffler = random.Random(13)
    for _ in range(50):
        runs = [*KNOWN_DAY, *shuffler.sample(KNOWN_DAY, 3)]
        shuffler.shuffle(runs)
        assert numbers_of(runs).values() == KNOWN_NUMBERS


def test_deployment_frequency_is_per_day_of_the_window():
    week = numbers_of(KNOWN_DAY, start=DAY - timedelta(days=6), end=DAY + timedelta(days=1))
    assert week.deployment_frequency == pytest.approx(4 / 7)


def test_a_hotfix_marks_the_deployment_it_repairs_as_failed_and_restores_it():
    runs = [
        Run("a", "SUCCEEDED", "09:00", "09:10", committed="08:50"),
        Run("b", "SUCCEEDED", "09:30", "09:45", committed="09:25", message="hotfix: null seat map crashes checkout"),
    ]
    numbers = numbers_of(runs)
    assert numbers.change_failure_rate == 50.0
    assert numbers.time_to_restore_seconds == 15 * 60  # from the fix's start to its deployment


REVERT_MERGE = 'Merge pull request #88 from bookwise/revert-87\n\nRevert "Seat maps"'


def test_a_revert_merged_through_a_pull_request_is_a_remediation_too():
    runs = [
        Run("a", "SUCCEEDED", "09:00", "09:10", committed="08:50"),
        Run(
            "b",
            "SUCCEEDED",
            "11:00",
            "11:20",
            committed="10:55",
            message='Merge pull request #88\n\nRevert "Seat maps"',
        ),
    ]
    assert numbers_of(runs).failed_changes == 1


def test_a_hotfix_after_a_rollback_fixes_forward_what_the_rollback_already_restored():
    runs = [
        Run("a", "SUCCEEDED", "09:00", "09:10", committed="08:50"),
        Run("r", "SUCCEEDED", "09:20", "09:26", kind="ROLLBACK"),
        Run("b", "SUCCEEDED", "10:00", "10:30", committed="09:55", message="Hotfix for seat maps"),
    ]
    numbers = numbers_of(runs)
    assert numbers.failed_changes == 1  # a, once
    assert numbers.time_to_restore_seconds == 6 * 60  # the rollback's; the hotfix opens no second outage


def test_a_remediation_later_than_the_failure_window_blames_no_deployment():
    runs = [
        Run("a", "SUCCEEDED", "01:00", "01:10", committed="00:50"),
        Run("r", "SUCCEEDED", "23:00", "23:06", kind="ROLLBACK"),
    ]
    numbers = numbers_of(runs, window=timedelta(hours=12))
    assert numbers.change_failure_rate == 0.0
    assert numbers.time_to_restore_seconds == 6 * 60  # still an outage, and it was restored


def test_a_failed_retry_then_a_successful_retry_of_one_execution_are_two_attempts():
    runs = [
        Run("a", "FAILED", "09:00", "09:20", committed="08:50"),
        Run("a", "SUCCEEDED", "09:00", "09:40", committed="08:50", attempt=2),
    ]
    numbers = numbers_of(runs)
    assert (numbers.deployments, numbers.failed_changes, numbers.change_failure_rate) == (2, 1, 50.0)
    assert numbers.time_to_restore_seconds == 20 * 60
    assert numbers.lead_time_seconds == 50 * 60


def test_deploying_the_same_commit_again_is_a_deployment_but_not_a_new_change():
    runs = [
        Run("a", "SUCCEEDED", "09:00", "09:10", committed="08:50", commit="c0ffee"),
        Run("b", "SUCCEEDED", "15:00", "15:10", committed="08:50", commit="c0ffee"),  # a redeploy
    ]
    numbers = numbers_of(runs)
    assert numbers.deployment_frequency == 2.0
    assert numbers.lead_time_seconds == 20 * 60  # once, the first time: not 20 min and 6 h 20 min


def test_an_unrestored_failure_has_no_time_to_restore_yet_and_nothing_deployed_has_no_rate():
    numbers = numbers_of([Run("a", "FAILED", "09:00", "09:20", committed="08:50")])
    assert numbers.time_to_restore_seconds is None and numbers.change_failure_rate == 100.0
    empty = numbers_of([])
    assert empty.values() == {metrics.DEPLOYMENT_FREQUENCY: 0.0}
    held = numbers_of([Run("h", "FAILED", "09:00", "09:00:20", deployed=False)])
    assert held.values() == {metrics.DEPLOYMENT_FREQUENCY: 0.0}


def test_a_deployment_without_a_commit_time_counts_but_has_no_lead_time():
    numbers = numbers_of([Run("a", "SUCCEEDED", "09:00", "09:10")])
    assert numbers.deployment_frequency == 1.0 and numbers.lead_time_seconds is None


# --- the function, end to end -----------------------------------------------------------------------


class Pipelines:
    """CodePipeline as a Stubber: the answers for the executions of a scenario, asked once per new outcome."""

    def __init__(self, runs: list[Run]) -> None:
        self.runs = {(run.execution_id, run.attempt, run.state): run for run in runs}
        self.client = boto3.client("codepipeline", region_name=REGION)
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def expect(self, run: Run) -> None:
        revision = run.revision
        self.stubber.add_response(
            "get_pipeline_execution",
            {
                "pipelineExecution": {
                    "pipelineName": PIPELINE,
                    "pipelineVersion": 4,
                    "pipelineExecutionId": run.execution_id,
                    "status": "Succeeded" if run.state == "SUCCEEDED" else "Failed",
                    "executionType": run.kind,
                    "trigger": {"triggerType": "AutomatedRollback" if run.kind == "ROLLBACK" else "WebhookV2"},
                    "artifactRevisions": [{"name": "SourceArtifact", "revisionId": revision}],
                }
            },
            {"pipelineName": PIPELINE, "pipelineExecutionId": run.execution_id},
        )
        actions = []
        if run.kind == "STANDARD":
            variables = {"CommitId": revision, "CommitMessage": run.message, "BranchName": "main"}
            if run.committed:
                variables["AuthorDate"] = stamp(at(run.committed))
            actions.append(self._action(run, "Source", "Source", "Succeeded", variables))
        if run.deployed:
            status = "Succeeded" if run.state == "SUCCEEDED" else "Failed"
            actions.append(self._action(run, "Deploy", "BlueGreenDeploy", status, {}))
        self.stubber.add_response(
            "list_action_executions",
            {"actionExecutionDetails": actions},
            {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": run.execution_id}},
        )

    @staticmethod
    def _action(run: Run, stage: str, name: str, status: str, variables: dict) -> dict:
        return {
            "pipelineExecutionId": run.execution_id,
            "actionExecutionId": f"{name}-{run.execution_id}",
            "pipelineVersion": 4,
            "stageName": stage,
            "actionName": name,
            "startTime": at(run.started),
            "lastUpdateTime": at(run.ended),
            "status": status,
            "output": {"outputVariables": variables},
        }


@pytest.fixture
def aws():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ssm = boto3.client("ssm", region_name=REGION)
        put_prod_graph(ssm)
        yield {"dynamodb": dynamodb, "ssm": ssm, "cloudwatch": boto3.client("cloudwatch", region_name=REGION)}


def function(aws, pipelines: Pipelines, now: datetime, settings: Settings = ONE_DAY, cloudwatch=None) -> DoraMetrics:
    return DoraMetrics(
        settings=settings,
        codepipeline=pipelines.client,
        dynamodb=aws["dynamodb"],
        cloudwatch=cloudwatch or aws["cloudwatch"],
        graph=graph_reader(aws["ssm"], GRAPH_PARAMETER),
        now=lambda: now,
    )


def deliver(aws, pipelines: Pipelines, runs: list[Run], seen: set, now: datetime) -> list[dict]:
    """Deliver each run's event; CodePipeline is asked only the first time an outcome arrives."""
    results = []
    for minute, run in enumerate(runs):
        key = (run.execution_id, run.attempt, run.state)
        if key not in seen:
            pipelines.expect(run)
            seen.add(key)
        # A minute apart, so each publication is its own datapoint.
        results.append(function(aws, pipelines, now + timedelta(minutes=minute)).handle(run.event()))
        pipelines.stubber.assert_no_pending_responses()
    return results


def published(aws, name: str, service: str = "booking", environment: str = "prod") -> list[float]:
    found = aws["cloudwatch"].get_metric_statistics(
        Namespace=metrics.NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": "Service", "Value": service}, {"Name": "Environment", "Value": environment}],
        StartTime=DAY - timedelta(days=1),
        EndTime=DAY + timedelta(days=3),
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in sorted(found["Datapoints"], key=lambda p: p["Timestamp"])]


def outcomes(aws) -> list[dict]:
    """The recorded outcomes (booking's in prod), without the commits' first deployments."""
    return [item for item in aws["dynamodb"].scan(TableName=TABLE)["Items"] if item["pk"]["S"] == "booking#prod"]


def first_deployments(aws) -> dict[str, str]:
    """Each commit's recorded first deployment in prod (the sort key of its outcome)."""
    items = aws["dynamodb"].scan(TableName=TABLE)["Items"]
    return {item["sk"]["S"]: item["deployment"]["S"] for item in items if item["pk"]["S"] == "commit#booking#prod"}


def test_the_function_records_a_known_day_and_publishes_exactly_the_known_numbers(aws):
    pipelines, end = Pipelines(KNOWN_DAY), DAY + timedelta(days=1)
    results = deliver(aws, pipelines, KNOWN_DAY, set(), end)
    assert all("recorded" in result for result in results)
    assert results[-1]["numbers"] == KNOWN_NUMBERS
    for name, value in KNOWN_NUMBERS.items():
        assert published(aws, name)[-1] == value, name
    items = aws["dynamodb"].scan(TableName=TABLE)["Items"]
    assert len(outcomes(aws)) == len(KNOWN_DAY)
    # And each successfully deployed commit's first deployment (d1, d2, d3, d5), for the redeploys to come.
    assert len(first_deployments(aws)) == 4 and len(items) == len(KNOWN_DAY) + 4
    assert all(int(item["expires_at"]["N"]) > int(end.timestamp()) for item in items)


def test_duplicated_and_reordered_deliveries_record_each_outcome_once_and_publish_the_same_numbers(aws):
    shuffler = random.Random(7)
    deliveries = [*KNOWN_DAY, *shuffler.sample(KNOWN_DAY, 4)]
    shuffler.shuffle(deliveries)
    pipelines = Pipelines(KNOWN_DAY)
    results = deliver(aws, pipelines, deliveries, set(), DAY + timedelta(days=1))
    assert sum("duplicate" in result for result in results) == 4
    assert results[-1]["numbers"] == KNOWN_NUMBERS
    assert len(outcomes(aws)) == len(KNOWN_DAY) and len(first_deployments(aws)) == 4


FOREIGN_ARN = "arn:aws:codepipeline:eu-west-1:444444444444:booking-prod"


@pytest.mark.parametrize(
    ("label", "overrides", "changes"),
    [
        ("a same-named pipeline in the prod environment account", {"account": "444444444444"}, None),
        ("the tooling account in another region", {"region": "us-east-1"}, None),
        ("a pipeline this platform does not own", {"pipeline": "booking-legacy-prod"}, None),
        ("another stage", {"stage": "Build"}, None),
        ("a stage that only started", {"state": "STARTED"}, None),
        ("a forged source", {}, {"source": "bookwise.release-tools"}),
        (
            "a resource of another account",
            {},
            {"resources": [FOREIGN_ARN]},
        ),
        ("no execution id", {}, {"detail.execution-id": None}),
        ("an attempt that is not a number", {}, {"detail.pipeline-execution-attempt": "2"}),
        ("no time", {}, {"time": None}),
        ("a time that is not one", {}, {"time": "yesterday"}),
        ("a time without a zone", {}, {"time": "2026-12-01T09:10:00"}),
        ("a start time that is not one", {}, {"detail.start-time": 1764580200}),
        ("no detail", {}, {"detail": None}),
        ("no pipeline", {}, {"detail.pipeline": None}),
        ("an attempt out of range", {}, {"detail.pipeline-execution-attempt": 1e9}),
        ("an execution id with the key separator", {}, {"detail.execution-id": "d1#2#SUCCEEDED"}),
    ],
)
def test_crafted_or_malformed_events_are_ignored_without_asking_codepipeline(aws, label, overrides, changes):
    run = KNOWN_DAY[0]
    event = run.event(**overrides)
    for path, value in (changes or {}).items():
        if path.startswith("detail."):
            key = path.split(".", 1)[1]
            event["detail"].pop(key) if value is None else event["detail"].__setitem__(key, value)
        elif value is None:
            event.pop(path)
        else:
            event[path] = value
    pipelines = Pipelines([])  # any CodePipeline call fails the test
    result = function(aws, pipelines, DAY + timedelta(days=1)).handle(event)
    assert "ignored" in result, label
    assert aws["dynamodb"].scan(TableName=TABLE)["Items"] == []
    assert aws["cloudwatch"].list_metrics(Namespace=metrics.NAMESPACE)["Metrics"] == []


def test_an_event_that_is_not_an_object_is_ignored(aws):
    assert "ignored" in function(aws, Pipelines([]), DAY).handle(["not", "an", "event"])


def test_an_execution_codepipeline_does_not_know_is_ignored(aws):
    pipelines = Pipelines([])
    pipelines.stubber.add_client_error("get_pipeline_execution", "PipelineExecutionNotFoundException")
    result = function(aws, pipelines, DAY).handle(KNOWN_DAY[0].event())
    assert "CodePipeline does not know it" in result["ignored"]
    assert aws["dynamodb"].scan(TableName=TABLE)["Items"] == []


def test_codepipeline_throttling_raises_so_lambda_retries_and_the_retry_records_once(aws):
    pipelines = Pipelines(KNOWN_DAY)
    pipelines.stubber.add_client_error("get_pipeline_execution", "ThrottlingException", http_status_code=400)
    with pytest.raises(ClientError):
        function(aws, pipelines, DAY + timedelta(days=1)).handle(KNOWN_DAY[0].event())
    assert aws["dynamodb"].scan(TableName=TABLE)["Items"] == []
    (result,) = deliver(aws, pipelines, KNOWN_DAY[:1], set(), DAY + timedelta(days=1))
    assert "recorded" in result


class TimesOutPublishing:
    """CloudWatch as it looks to an invocation that Lambda stops at its timeout while it publishes."""

    def put_metric_data(self, **_):
        raise InvocationTimedOut


def test_a_timeout_after_recording_is_finished_by_lambdas_retry_without_recording_twice(aws):
    run, end = KNOWN_DAY[0], DAY + timedelta(days=1)
    pipelines = Pipelines([run])
    pipelines.expect(run)
    with pytest.raises(InvocationTimedOut):
        function(aws, pipelines, end, cloudwatch=TimesOutPublishing()).handle(run.event())
    assert len(outcomes(aws)) == 1
    assert published(aws, metrics.DEPLOYMENT_FREQUENCY) == []
    # Lambda's retry, a minute later: the outcome is there, so no CodePipeline call; it publishes.
    result = function(aws, pipelines, end + timedelta(minutes=1)).handle(run.event())
    assert "duplicate" in result
    assert published(aws, metrics.DEPLOYMENT_FREQUENCY) == [1.0]
    assert len(outcomes(aws)) == 1


def scheduled_tick(account: str = TOOLING, region: str = REGION) -> dict:
    return aws_event("scheduled-event", account=account, region=region, rule_name="cicd-dora-publish-prod")


def test_the_hourly_tick_publishes_every_service_in_every_environment_it_deploys_to(aws, prod_plan):
    deliver(aws, Pipelines(KNOWN_DAY), KNOWN_DAY, set(), DAY + timedelta(days=1))
    settings = Settings(facts_table=TABLE, graph_parameter=GRAPH_PARAMETER, account_id=TOOLING, region=REGION)
    later = DAY + timedelta(days=1, hours=12)
    result = function(aws, Pipelines([]), later, settings).handle(scheduled_tick())
    series = {
        (metric["MetricName"], *(d["Value"] for d in sorted(metric["Dimensions"], key=lambda d: d["Name"])))
        for metric in aws["cloudwatch"].list_metrics(Namespace=metrics.NAMESPACE)["Metrics"]
    }
    placements = {
        (service.name, environment.name)
        for service in prod_plan.inputs.catalog.services
        for environment in prod_plan.inputs.environments_for(service)
    }
    assert {(name, service, env) for name, env, service in series if name == metrics.DEPLOYMENT_FREQUENCY} == {
        (metrics.DEPLOYMENT_FREQUENCY, service, env) for service, env in placements
    }
    # Over 30 days, booking's day counts 4 deployments: 4/30 a day.
    assert published(aws, metrics.DEPLOYMENT_FREQUENCY)[-1] == round(4 / 30, 3)
    assert result["published"] == len(placements) + 3  # frequency everywhere; booking's other three too


def test_a_scheduled_event_from_another_account_publishes_nothing(aws):
    result = function(aws, Pipelines([]), DAY).handle(scheduled_tick(account="444444444444"))
    assert "ignored" in result
    assert aws["cloudwatch"].list_metrics(Namespace=metrics.NAMESPACE)["Metrics"] == []


def test_settings_come_from_the_functions_environment():
    settings = Settings.from_environment(
        {
            "FACTS_TABLE": TABLE,
            "GRAPH_PARAMETER": GRAPH_PARAMETER,
            "TOOLING_ACCOUNT_ID": TOOLING,
            "TOOLING_REGION": REGION,
            "WINDOW_DAYS": "7",
            "FAILURE_WINDOW_HOURS": "12",
        }
    )
    assert (settings.window, settings.failure_window) == (timedelta(days=7), timedelta(hours=12))
    assert settings.keep_for == timedelta(days=8, hours=12)


# --- the remaining paths: what CodePipeline may leave out, pagination, races, the Lambda entry point ----------


class Answers:
    """CodePipeline answering one execution with the given revisions and action pages (Stubber-validated)."""

    def __init__(self, run: Run, revisions: list[dict], pages: list[list[dict]]) -> None:
        self.client = boto3.client("codepipeline", region_name=REGION)
        self.stubber = Stubber(self.client)
        execution = {
            "pipelineName": PIPELINE,
            "pipelineExecutionId": run.execution_id,
            "status": "Succeeded",
            "executionType": "STANDARD",
            "trigger": {"triggerType": "WebhookV2"},
            "artifactRevisions": revisions,
        }
        self.stubber.add_response("get_pipeline_execution", {"pipelineExecution": execution})
        for number, actions in enumerate(pages):
            page: dict = {"actionExecutionDetails": actions}
            if number < len(pages) - 1:
                page["nextToken"] = f"page-{number + 1}"
            expected = {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": run.execution_id}}
            if number:
                expected["nextToken"] = f"page-{number}"
            self.stubber.add_response("list_action_executions", page, expected)
        self.stubber.activate()


def source_action(run: Run, variables: dict) -> dict:
    return Pipelines._action(run, "Source", "Source", "Succeeded", variables)


def test_without_an_author_date_the_source_revisions_creation_time_gives_the_lead_time(aws):
    """CodePipeline API reference, ArtifactRevision.created: when the revision was created (a datetime in boto3)."""
    run = Run("d1", "SUCCEEDED", "08:00", "08:30")
    revisions = [{"name": "SourceArtifact", "revisionId": run.revision, "created": at("07:30")}]
    # An AuthorDate that is no timestamp is no commit time either: the revision's stands in.
    source = source_action(run, {"CommitId": run.revision, "AuthorDate": "last Tuesday"})
    deploy = Pipelines._action(run, "Deploy", "BlueGreenDeploy", "Succeeded", {})
    answers = Answers(run, revisions, [[source], [deploy]])  # the Deploy action is on the second page
    result = function(aws, answers, DAY + timedelta(days=1)).handle(run.event())
    answers.stubber.assert_no_pending_responses()
    assert result["numbers"][metrics.LEAD_TIME] == 60 * 60
    assert result["numbers"][metrics.DEPLOYMENT_FREQUENCY] == 1.0  # deployed: the second page was read


def test_a_deploy_without_any_commit_time_or_id_counts_without_a_lead_time(aws):
    run = Run("d1", "SUCCEEDED", "08:00", "08:30")
    answers = Answers(run, [], [[Pipelines._action(run, "Deploy", "BlueGreenDeploy", "Succeeded", {})]])
    result = function(aws, answers, DAY + timedelta(days=1)).handle(run.event())
    assert result["numbers"] == {metrics.DEPLOYMENT_FREQUENCY: 1.0, metrics.CHANGE_FAILURE_RATE: 0.0}
    (item,) = aws["dynamodb"].scan(TableName=TABLE)["Items"]
    assert "commit" not in item and "committed_at" not in item


class RacingDynamoDB:
    """Two invocations with one outcome at once: both find it absent, the other one puts it first."""

    def __init__(self, dynamodb, first: dict) -> None:
        self.dynamodb, self.first = dynamodb, first

    def __getattr__(self, name):
        return getattr(self.dynamodb, name)

    def put_item(self, **request):
        if self.first:
            self.dynamodb.put_item(TableName=request["TableName"], Item=self.first)
            self.first = {}
        return self.dynamodb.put_item(**request)


def test_two_concurrent_deliveries_of_one_outcome_record_it_once(aws):
    run, end = KNOWN_DAY[0], DAY + timedelta(days=1)
    pipelines = Pipelines([run])
    pipelines.expect(run)
    function(aws, pipelines, end).handle(run.event())  # the other invocation's item
    (item,) = outcomes(aws)
    aws["dynamodb"].delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
    pipelines.expect(run)
    racing = DoraMetrics(
        settings=ONE_DAY,
        codepipeline=pipelines.client,
        dynamodb=RacingDynamoDB(aws["dynamodb"], item),
        cloudwatch=aws["cloudwatch"],
        graph=graph_reader(aws["ssm"], GRAPH_PARAMETER),
        now=lambda: end,
    )
    result = racing.handle(run.event())
    assert "duplicate" in result and result["numbers"][metrics.DEPLOYMENT_FREQUENCY] == 1.0
    assert len(outcomes(aws)) == 1


class ThrottledWrites(RacingDynamoDB):
    def put_item(self, **_):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")


def test_a_write_dynamodb_refuses_raises_so_lambda_retries(aws):
    run = KNOWN_DAY[0]
    pipelines = Pipelines([run])
    pipelines.expect(run)
    throttled = DoraMetrics(
        settings=ONE_DAY,
        codepipeline=pipelines.client,
        dynamodb=ThrottledWrites(aws["dynamodb"], {}),
        cloudwatch=aws["cloudwatch"],
        graph=graph_reader(aws["ssm"], GRAPH_PARAMETER),
        now=lambda: DAY + timedelta(days=1),
    )
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        throttled.handle(run.event())
    assert aws["cloudwatch"].list_metrics(Namespace=metrics.NAMESPACE)["Metrics"] == []


class SmallPages(RacingDynamoDB):
    """DynamoDB pages a query at 1 MB; two items a page makes every window span pages."""

    def query(self, **request):
        return self.dynamodb.query(Limit=2, **request)


def test_a_window_spanning_several_query_pages_gives_the_same_numbers(aws):
    pipelines, end = Pipelines(KNOWN_DAY), DAY + timedelta(days=1)
    deliver(aws, pipelines, KNOWN_DAY, set(), end)
    paged = DoraMetrics(
        settings=ONE_DAY,
        codepipeline=pipelines.client,
        dynamodb=SmallPages(aws["dynamodb"], {}),
        cloudwatch=aws["cloudwatch"],
        graph=graph_reader(aws["ssm"], GRAPH_PARAMETER),
        now=lambda: end,
    )
    assert paged.numbers("booking", "prod").values() == KNOWN_NUMBERS


def test_the_lambda_entry_point_reads_its_settings_and_publishes_on_the_tick(aws, monkeypatch):
    from functions.dora_metrics import handler as entry

    for name, value in {
        "FACTS_TABLE": TABLE,
        "GRAPH_PARAMETER": GRAPH_PARAMETER,
        "TOOLING_ACCOUNT_ID": TOOLING,
        "TOOLING_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    result = entry.handler(scheduled_tick(), None)
    assert result["published"] > 0  # every service's frequency (0 without deployments), wherever it deploys
    names = {m["MetricName"] for m in aws["cloudwatch"].list_metrics(Namespace=metrics.NAMESPACE)["Metrics"]}
    assert names == {metrics.DEPLOYMENT_FREQUENCY}
