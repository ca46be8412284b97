"""A failed build in the release day: what CodePipeline and CodeBuild answer the real failure digest, and its Slack.

The digest (``functions/failure_digest``) runs in-process, as the coordinator
does: its ledger and each service's last failure live in a moto DynamoDB table
shaped like the delivery ledger, the build log in moto CloudWatch Logs, read
through ``GetLogEvents``/``FilterLogEvents`` as in AWS. What moto does not
implement (``ListActionExecutions``, ``GetPipelineExecution``, CodeBuild's
``BatchGetBuilds`` of a build it never ran, ``DescribeTestCases``) the model
answers here, in the shapes the API references document. Slack is a channel
that keeps the messages the digest's delivery hands it, after the shared
client's escaping (``messages.digest_message``).

The failing build is a pytest run (pytest's documented ``-q`` output with
``--junitxml``) inside CodeBuild's own container log lines; the JUnit report
is read back from the build's report group as CodeBuild's test reports do.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from components.model import naming

from .moto_world import ACCOUNT, FUNCTIONS_DIR, REGION

if str(FUNCTIONS_DIR / "slack_notifier") not in sys.path:  # the shared client and ledger, vendored in Lambda
    sys.path.insert(0, str(FUNCTIONS_DIR / "slack_notifier"))

from delivery_ledger import DeliveryLedger  # isort: skip
from failure_digest.handler import FailureDigest  # isort: skip
from failure_digest.messages import as_text  # isort: skip
from failure_digest.recurrence import FailureMemory  # isort: skip
from deploy_ledger.graph import Graph  # isort: skip

DIGEST_LEDGER = "cicd-release-day-delivery-ledger"
BUILD_ACTION = "BuildAndUnitTest"
FAILING_TEST = ("tests.test_ranking", "test_recently_viewed_items_rank_first")
COMMIT_SHA = "3f9c2d17a4be55c0e0e7f1d2b9a8c6d5e4f3a2b1"
COMMIT_SUBJECT = "Rank by recency before popularity"


def pytest_log(project: str, started: datetime) -> list[str]:
    """CodeBuild's container lines around pytest's ``-q`` report of one failed test (pytest docs, "Usage")."""
    stamp = started.strftime("%Y/%m/%d %H:%M:%S")
    module, test = FAILING_TEST
    path = module.replace(".", "/") + ".py"
    command = "python -m pytest -q --junitxml=reports/junit.xml"
    return [
        f"[Container] {stamp}.120331 Running on CodeBuild On-demand",
        f"[Container] {stamp}.503210 Phase is DOWNLOAD_SOURCE",
        f"[Container] {stamp}.721889 Phase complete: DOWNLOAD_SOURCE State: SUCCEEDED",
        f"[Container] {stamp}.801452 Entering phase INSTALL",
        f"[Container] {stamp}.845003 Running command pip install -r requirements-dev.txt",
        "Successfully installed iniconfig-2.0.0 pluggy-1.5.0 pytest-8.3.4",
        f"[Container] {stamp}.118310 Phase complete: INSTALL State: SUCCEEDED",
        f"[Container] {stamp}.200119 Entering phase BUILD",
        f"[Container] {stamp}.201554 Running command {command}",
        "============================= test session starts ==============================",
        "platform linux -- Python 3.12.7, pytest-8.3.4, pluggy-1.5.0",
        "collected 96 items",
        "",
        f"{path} ...........F.......................                      [ 36%]",
        "tests/test_signals.py .............................................. [ 84%]",
        "tests/test_api.py ...............                                     [100%]",
        "",
        "=================================== FAILURES ===================================",
        f"__________________________ {test} ___________________________",
        "",
        f"    def {test}():",
        "        ranked = rank(ITEMS, viewed=['b'])",
        ">       assert ranked[0].id == 'b'",
        "E       AssertionError: assert 'a' == 'b'",
        "",
        f"{path}:31: AssertionError",
        "- generated xml file: /codebuild/output/src1/src/reports/junit.xml -",
        "=========================== short test summary info ============================",
        f"FAILED {path}::{test} - AssertionError: assert 'a' == 'b'",
        "========================= 1 failed, 95 passed in 2.87s =========================",
        f"[Container] {stamp}.998120 Command did not exit successfully {command} exit status 1",
        f"[Container] {stamp}.003391 Phase complete: BUILD State: FAILED",
        f"[Container] {stamp}.003412 Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while "
        f"executing command: {command}. Reason: exit status 1",
    ]


@dataclass
class SlackChannel:
    """Slack as far as the day can see it: the messages the digest delivered, per channel."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def deliver(self, message: dict[str, Any], *, owner: str, pipeline: str, execution: str) -> str:
        self.posts.append((owner, message))
        return "release-day channel"

    def rendered(self) -> list[str]:
        """Each message as Slack's plain-text fallback would show it (``as_text``)."""
        return ["\n".join(as_text(message)) for _, message in self.posts]


@dataclass(frozen=True)
class FailedBuild:
    pipeline: str
    execution: str
    build_id: str
    started: datetime
    project: str
    owner: str


class BuildWorld:
    """CodePipeline and CodeBuild, as far as the digest reads them, for the day's failed builds."""

    def __init__(self, stack: str, owners: dict[str, str], graph_json: str) -> None:
        self.stack = stack
        self.owners = owners
        self.graph_json = graph_json
        self.builds: dict[str, FailedBuild] = {}
        self.by_execution: dict[str, FailedBuild] = {}
        self.slack = SlackChannel()
        self.logs = boto3.client("logs", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self._create_ledger()

    def _create_ledger(self) -> None:
        self.dynamodb.create_table(
            TableName=DIGEST_LEDGER,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def digest(self, now: datetime) -> FailureDigest:
        """The digest of one invocation, its ledger's clock at the day's time."""
        clock: Callable[[], float] = now.timestamp
        return FailureDigest(
            codepipeline=_PipelineReads(self),
            codebuild=_BuildReads(self),
            logs=self.logs,
            ledger=DeliveryLedger(DIGEST_LEDGER, self.dynamodb, clock=clock),
            memory=FailureMemory(DIGEST_LEDGER, self.dynamodb),
            delivery=self.slack,
            stack=self.stack,
            tooling_account=ACCOUNT,
            tooling_region=REGION,
            graph=lambda: Graph.from_json(self.graph_json),
        )

    def fail(self, service: str, environment: str, execution: str, started: datetime, number: int) -> FailedBuild:
        """Run (and fail) the build of ``execution``: its log goes to CloudWatch Logs as CodeBuild writes it."""
        project = naming.build_project_name(service)
        build_id = f"{project}:{number:08d}-5c1e-4d2a-9b7f-{number:012d}"
        failed = FailedBuild(
            naming.pipeline_name(service, environment), execution, build_id, started, project, self.owners[service]
        )
        group, stream = naming.build_log_group_name(service), build_id.split(":", 1)[1]
        if not self.logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            self.logs.create_log_group(logGroupName=group)
        self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        at = int(started.timestamp() * 1000)
        self.logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            # CloudWatch Logs takes no empty message: CodeBuild's agent leaves blank lines out.
            logEvents=[
                {"timestamp": at + i, "message": line} for i, line in enumerate(pytest_log(project, started)) if line
            ],
        )
        self.builds[build_id] = failed
        self.by_execution[execution] = failed
        return failed


class _PipelineReads:
    """``ListTagsForResource``, ``GetPipelineExecution``, ``ListActionExecutions`` of the day's pipelines."""

    def __init__(self, world: BuildWorld) -> None:
        self.world = world

    def list_tags_for_resource(self, resourceArn: str, **_: Any) -> dict:  # noqa: N803 - boto3's parameter names
        pipeline = resourceArn.rsplit(":", 1)[1]
        service = pipeline.rsplit("-", 1)[0]
        tags = {"managed-by": "cicd-platform", "platform-stack": self.world.stack, "owner": self.world.owners[service]}
        return {"tags": [{"key": key, "value": value} for key, value in tags.items()]}

    def get_pipeline_execution(self, pipelineName: str, pipelineExecutionId: str) -> dict:  # noqa: N803
        service = pipelineName.rsplit("-", 1)[0]
        summary = f'{{"ProviderType": "GitHub", "CommitMessage": "{COMMIT_SUBJECT}"}}'
        return {
            "pipelineExecution": {
                "pipelineName": pipelineName,
                "pipelineExecutionId": pipelineExecutionId,
                "status": "Failed",
                "artifactRevisions": [
                    {
                        "name": "Source",
                        "revisionId": COMMIT_SHA,
                        "revisionSummary": summary,
                        "revisionUrl": f"https://github.com/bookwise/{service}/commit/{COMMIT_SHA}",
                    }
                ],
            }
        }

    def list_action_executions(self, pipelineName: str, filter: dict, **_: Any) -> dict:  # noqa: N803
        failed = self.world.by_execution.get(filter["pipelineExecutionId"])
        if failed is None:
            return {"actionExecutionDetails": []}
        return {
            "actionExecutionDetails": [
                {
                    "pipelineExecutionId": failed.execution,
                    "stageName": "Build",
                    "actionName": BUILD_ACTION,
                    "startTime": failed.started,
                    "status": "Failed",
                    "input": {
                        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                        "configuration": {"ProjectName": failed.project},
                    },
                    "output": {
                        "executionResult": {
                            "externalExecutionId": failed.build_id,
                            "externalExecutionSummary": "Build terminated with state: FAILED",
                        }
                    },
                }
            ]
        }


class _BuildReads:
    """``BatchGetBuilds`` and ``DescribeTestCases`` of the day's failed builds."""

    def __init__(self, world: BuildWorld) -> None:
        self.world = world

    def batch_get_builds(self, ids: list[str]) -> dict:
        builds = []
        for build_id in ids:
            failed = self.world.builds.get(build_id)
            if failed is None:
                continue
            service = failed.project.removesuffix("-build")
            reason = (
                "Error while executing command: python -m pytest -q --junitxml=reports/junit.xml. Reason: exit status 1"
            )
            builds.append(
                {
                    "id": build_id,
                    "projectName": failed.project,
                    "buildStatus": "FAILED",
                    "phases": [
                        {"phaseType": "INSTALL", "phaseStatus": "SUCCEEDED"},
                        {
                            "phaseType": "BUILD",
                            "phaseStatus": "FAILED",
                            "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": reason}],
                        },
                    ],
                    "logs": {
                        "groupName": naming.build_log_group_name(service),
                        "streamName": build_id.split(":", 1)[1],
                    },
                    "reportArns": [self._report_arn(failed)],
                    "environment": {"environmentVariables": [{"name": "SERVICE", "value": service}]},
                }
            )
        return {"builds": builds}

    def describe_test_cases(self, reportArn: str, **_: Any) -> dict:  # noqa: N803
        module, test = FAILING_TEST
        return {
            "testCases": [
                {
                    "reportArn": reportArn,
                    "prefix": module,
                    "name": test,
                    "status": "FAILED",
                    "message": "AssertionError: assert 'a' == 'b'",
                }
            ]
        }

    @staticmethod
    def _report_arn(failed: FailedBuild) -> str:
        run = failed.build_id.split(":", 1)[1]
        return f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report/{failed.project}-unit-tests:{run}"


def action_failed_event(failed: FailedBuild, event_id: str, now: datetime, attempt: int = 1) -> dict[str, Any]:
    """``CodePipeline Action Execution State Change``, FAILED (CodePipeline User Guide, "Monitoring CodePipeline
    events")."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CodePipeline Action Execution State Change",
        "source": "aws.codepipeline",
        "account": ACCOUNT,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{failed.pipeline}"],
        "detail": {
            "pipeline": failed.pipeline,
            "execution-id": failed.execution,
            "stage": "Build",
            "action": BUILD_ACTION,
            "state": "FAILED",
            "region": REGION,
            "type": {"owner": "AWS", "provider": "CodeBuild", "category": "Build", "version": "1"},
            "version": 1.0,
            "pipeline-execution-attempt": float(attempt),
            "execution-result": {
                "external-execution-url": "",
                "external-execution-summary": "Build terminated with state: FAILED",
                "external-execution-id": failed.build_id,
                "error-code": "JobFailed",
            },
        },
    }
