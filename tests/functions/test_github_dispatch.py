"""The GitHub dispatch Lambda against a local server that answers like the GitHub REST API.

CodePipeline's job calls go through ``botocore.stub.Stubber`` (moto lacks them; the client still validates
every request against the service model), Secrets Manager and DynamoDB through moto. Each scenario checks
that the delivery answered the job exactly once (or, for a live duplicate, not at all).

The fake answers as GitHub's REST reference documents: "Create a workflow dispatch event" with
``return_run_details`` answers 200 with ``workflow_run_id``, ``run_url`` and ``html_url`` on github.com and 204
on a server that predates it; "Cancel a workflow run" and "Force cancel a workflow run" answer 202 or 409.
Time is a clock the scenarios move, so deadlines and Lambda's retry (one minute after a failed delivery,
"How Lambda handles errors and retries with asynchronous invocation") happen when they would.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from functions.github_dispatch import claims
from functions.github_dispatch import handler as dispatch
from functions.github_dispatch import outcomes as answers
from functions.github_dispatch.settings import Dependencies, Settings

REGION = "eu-west-1"
ACCOUNT = "111111111111"
"""The tooling account: where the pipelines that invoke the function run."""
REPO = "acme/booking"
WORKFLOW = "deploy-gcp.yml"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
NOW = 1_900_000_000.0
PARAMS = {
    "service": "booking",
    "repository": REPO,
    "workflow": WORKFLOW,
    "cloud": "gcp",
    "environment": "staging",
    "commit": COMMIT,
    "ref": "release/1.4",
}


# ------------------------------------------------------------------------------------------ a fake GitHub


@dataclass
class FakeGitHub:
    """Dispatch creates a run named after the correlation id; each read of the run advances its status.

    ``server`` is how the dispatch answers: ``github.com`` names the run (200), ``ghes`` predates run details
    and answers 204, ``ghes-strict`` refuses the unknown ``return_run_details`` key with 422. A cancel or
    force-cancel that is accepted and listed in ``stops_on`` makes the next read of the run ``cancelled``.
    """

    server: HTTPServer
    mode: str = "github.com"
    run_appears_after_lists: int = 0
    statuses: list[tuple[str, str | None]] = field(default_factory=lambda: [("completed", "success")])
    create_runs: bool = True
    lose_answers_after_creating: int = 0
    stops_on: tuple[str, ...] = ("cancel", "force-cancel")
    canned: dict[str, list[tuple[int, dict[str, str], Any]]] = field(default_factory=dict)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    tokens: tuple[str, ...] = ("ghp-test-token",)
    """The credentials GitHub accepts: the secret's token, or (App mode) the installation tokens it issued."""
    _lists: int = 0
    _reads: int = 0

    def install(self) -> FakeGitHub:
        self.server.expect_request(f"/repos/{REPO}", method="GET").respond_with_handler(self._repository)
        self.server.expect_request(
            f"/repos/{REPO}/actions/workflows/{WORKFLOW}/dispatches", method="POST"
        ).respond_with_handler(self._dispatch)
        self.server.expect_request(
            f"/repos/{REPO}/actions/workflows/{WORKFLOW}/runs", method="GET"
        ).respond_with_handler(self._list)
        self.server.expect_request(re.compile(rf"^/repos/{REPO}/actions/runs/\d+$"), method="GET").respond_with_handler(
            self._read
        )
        self.server.expect_request(
            re.compile(rf"^/repos/{REPO}/actions/runs/\d+/(cancel|force-cancel)$"), method="POST"
        ).respond_with_handler(self._cancel)
        return self

    def fail(self, endpoint: str, *answers: tuple[int, dict[str, str], Any]) -> None:
        """The next calls to ``endpoint`` (repository, dispatch, list, read, cancel, force-cancel) get these first."""
        self.canned.setdefault(endpoint, []).extend(answers)

    def _canned(self, endpoint: str, request: Request) -> Response | None:
        self.requests.append(f"{request.method} {request.path}")
        assert request.headers["Authorization"] in {f"Bearer {token}" for token in self.tokens}
        assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
        if self.canned.get(endpoint):
            status, headers, body = self.canned[endpoint].pop(0)
            return Response(json.dumps(body) if body is not None else "", status, headers)
        return None

    def _repository(self, request: Request) -> Response:
        return self._canned("repository", request) or Response(json.dumps({"default_branch": "main"}), 200)

    def _dispatch(self, request: Request) -> Response:
        canned = self._canned("dispatch", request)
        if canned:
            return canned
        body = json.loads(request.data)
        if self.mode == "ghes-strict" and "return_run_details" in body:
            message = 'Invalid request.\n\n"return_run_details" is not a permitted key.'
            return Response(json.dumps({"message": message}), 422)
        self.dispatches.append(body)
        run = None
        if self.create_runs:
            run_id = 9000 + len(self.runs)
            title = f"Deploy {body['inputs']['environment']} [{body['inputs']['correlation_id']}]"
            run = {
                "id": run_id,
                "name": "deploy-gcp",
                "display_title": title,
                "event": "workflow_dispatch",
                "status": "queued",
                "conclusion": None,
                "html_url": f"https://github.com/{REPO}/actions/runs/{run_id}",
            }
            self.runs.append(run)
        if self.lose_answers_after_creating:
            self.lose_answers_after_creating -= 1
            return Response(json.dumps({"message": "Bad Gateway"}), 502)
        if self.mode == "github.com" and body.get("return_run_details") is True and run is not None:
            details = {
                "workflow_run_id": run["id"],
                "run_url": f"https://api.github.com/repos/{REPO}/actions/runs/{run['id']}",
                "html_url": run["html_url"],
            }
            return Response(json.dumps(details), 200)
        return Response("", 204)

    def _list(self, request: Request) -> Response:
        canned = self._canned("list", request)
        if canned:
            return canned
        assert request.args["event"] == "workflow_dispatch"
        assert request.args["created"].startswith(">=")
        self._lists += 1
        visible = self.runs if self._lists > self.run_appears_after_lists else []
        unrelated = {"id": 1, "display_title": "Deploy dev [cp-someone-else]", "html_url": "x", "status": "queued"}
        return Response(json.dumps({"total_count": len(visible) + 1, "workflow_runs": [unrelated, *visible]}), 200)

    def _read(self, request: Request) -> Response:
        canned = self._canned("read", request)
        if canned:
            return canned
        run = next(r for r in self.runs if request.path.endswith(f"/{r['id']}"))
        if run.get("cancelled"):
            return Response(json.dumps({**run, "status": "completed", "conclusion": "cancelled"}), 200)
        status, conclusion = self.statuses[min(self._reads, len(self.statuses) - 1)]
        self._reads += 1
        return Response(json.dumps({**run, "status": status, "conclusion": conclusion}), 200)

    def _cancel(self, request: Request) -> Response:
        verb = request.path.rsplit("/", 1)[1]
        self.cancels.append(verb)
        canned = self._canned(verb, request)
        if canned:
            return canned
        run = next(r for r in self.runs if f"/runs/{r['id']}/" in request.path)
        if verb in self.stops_on:
            run["cancelled"] = True
        return Response("{}", 202)


@pytest.fixture
def github(httpserver: HTTPServer) -> FakeGitHub:
    return FakeGitHub(httpserver).install()


@dataclass
class Clock:
    """Lambda's clock, moved by the scenario: deadlines, leases and retries happen when they would."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ------------------------------------------------------------------------------------------ AWS side


@dataclass
class Pipeline:
    """A stubbed CodePipeline client that records every job answer it is given.

    By default each answer is accepted as CodePipeline would accept it (the response is queued on the
    Stubber just before the call, so the Stubber still checks the operation and the response shape);
    ``refuse`` queues an error instead.
    """

    client: Any
    stubber: Stubber
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    auto_answer: bool = True

    def refuse(self, code: str, operation: str = "put_job_success_result") -> None:
        self.auto_answer = False
        self.stubber.add_client_error(operation, service_error_code=code, http_status_code=400)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def secret_arn(aws: None) -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    return client.create_secret(Name="cicd/github-dispatch", SecretString=json.dumps({"token": "ghp-test-token"}))[
        "ARN"
    ]


@pytest.fixture
def claims_table(aws: None) -> str:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="cicd-github-dispatch-claims",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "cicd-github-dispatch-claims"


@pytest.fixture
def pipeline(aws: None) -> Iterator[Pipeline]:
    client = boto3.client("codepipeline", region_name=REGION)
    recorded = Pipeline(client, Stubber(client))

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name.startswith("PutJob"):  # a job answer; other calls (reading an execution) are not
            recorded.answers.append((model.name, json.loads(json.dumps(params))))
        if recorded.auto_answer:
            recorded.stubber.add_response(xform_name(model.name), default_answer(model.name, params))

    client.meta.events.register("provide-client-params.codepipeline", record)
    with recorded.stubber:
        yield recorded


def default_answer(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """What CodePipeline answers by default: a job result is taken; the execution asked about is running."""
    if operation == "GetPipelineExecution":
        execution = {k: params[k] for k in ("pipelineName", "pipelineExecutionId")}
        return {"pipelineExecution": {**execution, "pipelineVersion": 1, "status": "InProgress"}}
    return {}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(
    httpserver: HTTPServer, secret_arn: str, claims_table: str, pipeline: Pipeline, sleeps: list[float], clock: Clock
) -> Dependencies:
    settings = Settings(
        token_secret_arn=secret_arn,
        claims_table=claims_table,
        tooling_account_id=ACCOUNT,
        tooling_region=REGION,
        api_url=httpserver.url_for(""),
        find_run_max_polls=3,
        poll_wait_seconds=0,
        http_max_attempts=3,
        http_backoff_seconds=1,
        max_rate_limit_wait_seconds=30,
        max_unavailable_polls=2,
        http_timeout_seconds=5,
    )
    return Dependencies(
        settings=settings,
        codepipeline=pipeline.client,
        secrets=boto3.client("secretsmanager", region_name=REGION),
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        sleep=sleeps.append,
        clock=clock,
    )


def job_event(params: dict[str, Any] | str = PARAMS, token: dict[str, Any] | None = None, **data: Any) -> dict:
    job_data: dict[str, Any] = {
        "actionConfiguration": {
            "configuration": {
                "FunctionName": "cicd-github-dispatch",
                "UserParameters": params if isinstance(params, str) else json.dumps(params),
            }
        },
        "inputArtifacts": [],
        "outputArtifacts": [],
        "artifactCredentials": {"accessKeyId": "AKIA", "secretAccessKey": "s", "sessionToken": "t"},
        **data,
    }
    if token is not None:
        job_data["continuationToken"] = json.dumps(token)
    return {"CodePipeline.job": {"id": str(uuid.uuid4()), "accountId": ACCOUNT, "data": job_data}}


def deliver(event: dict[str, Any], deps: Dependencies, pipeline: Pipeline) -> answers.Outcome:
    """One delivery; asserts it sent exactly one answer to CodePipeline."""
    before = len(pipeline.answers)
    outcome = dispatch.process(event, deps)
    assert len(pipeline.answers) == before + 1, "a delivery answers the job exactly once"
    return outcome


def run_to_end(
    params: dict[str, Any],
    deps: Dependencies,
    pipeline: Pipeline,
    limit: int = 20,
    clock: Clock | None = None,
    every: float = 0.0,
) -> list:
    """Deliver the job, then every continuation CodePipeline would send (``every`` seconds apart), to the end."""
    outcomes = [deliver(job_event(params), deps, pipeline)]
    while isinstance(outcomes[-1], answers.Continue):
        assert len(outcomes) < limit, "the action never ended"
        if clock is not None:
            clock.advance(every)
        outcomes.append(deliver(job_event(params, token=outcomes[-1].state), deps, pipeline))
    return outcomes


def failure_message(pipeline: Pipeline) -> str:
    operation, answer = last_answer(pipeline)
    assert operation == "PutJobFailureResult", operation
    return answer["failureDetails"]["message"]


def fail_writes(dynamodb: Any, when: str, code: str = "ProvisionedThroughputExceededException") -> list[str]:
    """DynamoDB refuses every UpdateItem whose expression mentions ``when`` (after its own retries ran out)."""
    refused: list[str] = []

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if when in params.get("UpdateExpression", ""):
            refused.append(params["UpdateExpression"])
            raise ClientError({"Error": {"Code": code, "Message": "throttled"}}, "UpdateItem")

    dynamodb.meta.events.register("provide-client-params.dynamodb.UpdateItem", refuse)
    return refused


def last_answer(pipeline: Pipeline) -> tuple[str, dict[str, Any]]:
    return pipeline.answers[-1]


# ------------------------------------------------------------------------------------------ scenarios


def test_successful_run_succeeds_the_action_with_a_link_to_the_run(deps, pipeline, github) -> None:
    github.statuses = [("queued", None), ("in_progress", None), ("completed", "success")]

    outcomes = run_to_end(PARAMS, deps, pipeline)

    assert [type(o).__name__ for o in outcomes] == ["Continue"] * 3 + ["Succeeded"]
    [dispatched] = github.dispatches
    correlation_id = dispatched["inputs"]["correlation_id"]
    assert dispatched == {
        "ref": "release/1.4",
        "inputs": {"environment": "staging", "commit": COMMIT, "correlation_id": correlation_id},
        "return_run_details": True,
    }
    assert re.fullmatch(r"cp-[0-9a-f-]{36}", correlation_id)
    operation, final = last_answer(pipeline)
    url = f"https://github.com/{REPO}/actions/runs/9000"
    assert operation == "PutJobSuccessResult"
    assert "continuationToken" not in final
    assert url in final["executionDetails"]["summary"]
    assert final["executionDetails"]["externalExecutionId"] == "9000"
    assert final["outputVariables"] == {"GitHubRunId": "9000", "GitHubRunUrl": url}
    # Every intermediate answer kept the action in progress with a token CodePipeline will hand back.
    for operation, answer in pipeline.answers[:-1]:
        assert operation == "PutJobSuccessResult"
        assert json.loads(answer["continuationToken"])["correlation_id"] == correlation_id


def test_the_run_id_comes_from_the_dispatch_answer_and_no_run_is_searched_for(deps, pipeline, github) -> None:
    outcome = deliver(job_event(), deps, pipeline)

    assert outcome.state["phase"] == "poll"
    assert outcome.state["run_id"] == 9000
    assert outcome.state["run_url"] == f"https://github.com/{REPO}/actions/runs/9000"
    assert f"https://github.com/{REPO}/actions/runs/9000" in outcome.summary
    assert pipeline.answers[-1][1]["executionDetails"]["externalExecutionId"] == "9000"
    assert not [r for r in github.requests if r.endswith("/runs")], "the run was not looked for by name"


@pytest.mark.parametrize("server", ["ghes", "ghes-strict"])
def test_a_server_without_run_details_falls_back_to_finding_the_run_by_name(deps, pipeline, github, server) -> None:
    """GitHub Enterprise Server documents only the 204 answer: the run is found by its correlation id."""
    github.mode = server
    github.run_appears_after_lists = 1
    github.statuses = [("in_progress", None), ("completed", "success")]

    outcomes = run_to_end(PARAMS, deps, pipeline)

    assert outcomes[0].state["phase"] == "find" and "run_id" not in outcomes[0].state
    assert [type(o).__name__ for o in outcomes] == ["Continue"] * 4 + ["Succeeded"]
    [dispatched] = github.dispatches
    assert ("return_run_details" in dispatched) == (server == "ghes")
    assert outcomes[-1].run_id == 9000
    requests = [r for r in github.requests if "dispatches" in r]
    assert len(requests) == (2 if server == "ghes-strict" else 1), "asked again without the key only when refused"


def test_without_a_ref_the_workflow_runs_on_the_default_branch(deps, pipeline, github) -> None:
    params = {key: value for key, value in PARAMS.items() if key != "ref"}
    run_to_end(params, deps, pipeline)
    assert github.dispatches[0]["ref"] == "main"


def test_unresolved_commit_variable_falls_back_to_the_source_revision(deps, pipeline, github) -> None:
    params = {**PARAMS, "commit": "#{SourceVariables.CommitId}"}
    event = job_event(params, inputArtifacts=[{"name": "SourceOutput", "revision": COMMIT}])
    deliver(event, deps, pipeline)
    assert github.dispatches[0]["inputs"]["commit"] == COMMIT


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"commit": "main"}, "commit"),
        ({"cloud": "aws"}, "cloud"),
        ({"environment": "Prod; rm -rf /"}, "environment"),
        ({"workflow": "../deploy.yml"}, "workflow"),
        ({"repository": "acme"}, "repository"),
        ({"timeoutMinutes": 1441}, "timeoutMinutes"),
        ({"timeoutMinutes": "480"}, "timeoutMinutes"),
        ({"timeoutMinutes": True}, "timeoutMinutes"),
    ],
)
def test_invalid_parameters_fail_the_job_before_anything_reaches_github(deps, pipeline, github, change, named):
    outcome = deliver(job_event({**PARAMS, **change}), deps, pipeline)
    assert isinstance(outcome, answers.Failed)
    operation, answer = last_answer(pipeline)
    assert operation == "PutJobFailureResult"
    assert answer["failureDetails"]["type"] == "ConfigurationError"
    assert named in answer["failureDetails"]["message"]
    assert github.requests == []


def test_user_parameters_that_are_not_json_fail_as_configuration(deps, pipeline, github) -> None:
    deliver(job_event("service=booking"), deps, pipeline)
    assert last_answer(pipeline)[1]["failureDetails"]["type"] == "ConfigurationError"


def test_a_5xx_to_the_dispatch_is_never_resent_and_the_run_is_looked_for_until_the_action_gives_up(
    deps, pipeline, github, sleeps
) -> None:
    """Review finding 2: a 502 proves nothing (GitHub may have started the run), so the dispatch is never sent
    again. This test used to expect a resend after a 502 and a 500; here GitHub really started nothing, so the
    action looks for the run by its correlation id and, when none appears, fails saying to retry the stage."""
    github.fail("dispatch", (502, {}, {"message": "Bad Gateway"}), (500, {}, None))

    outcomes = run_to_end(PARAMS, deps, pipeline)

    assert outcomes[0].state["phase"] == "find" and "502" in outcomes[0].state["unconfirmed"]
    assert len([r for r in github.requests if "dispatches" in r]) == 1, "the dispatch was sent once"
    assert sleeps == [], "nothing was retried"
    assert [type(o).__name__ for o in outcomes] == ["Continue"] * 3 + ["Failed"]
    assert last_answer(pipeline)[1]["failureDetails"]["type"] == "SystemUnavailable"
    message = failure_message(pipeline)
    correlation_id = outcomes[0].state["correlation_id"]
    assert "was not sent again: retry the stage" in message
    assert f"if a run named [{correlation_id}] appears later, cancel it" in message


def test_a_dispatch_whose_answer_was_lost_is_not_sent_twice(deps, pipeline, github, sleeps) -> None:
    """GitHub started the run, then a proxy answered 502: the run is found by its correlation id and followed."""
    github.lose_answers_after_creating = 1
    github.statuses = [("completed", "success")]

    outcomes = run_to_end(PARAMS, deps, pipeline)

    assert len(github.dispatches) == 1
    assert outcomes[0].state["run_id"] == 9000
    assert isinstance(outcomes[-1], answers.Succeeded)
    assert sleeps == []


def test_github_down_at_the_dispatch_fails_the_job_as_unavailable_without_resending(deps, pipeline, github, sleeps):
    """Review finding 2: this test used to expect three dispatches to a 503; a 503 may come after GitHub acted."""
    github.fail("dispatch", *[(503, {}, None)] * 3)

    run_to_end(PARAMS, deps, pipeline)

    operation, answer = last_answer(pipeline)
    assert operation == "PutJobFailureResult"
    assert answer["failureDetails"]["type"] == "SystemUnavailable"
    assert "answered 503" in answer["failureDetails"]["message"]
    assert len([r for r in github.requests if "dispatches" in r]) == 1
    assert sleeps == []


def test_a_dispatch_that_never_reached_github_is_retried_with_backoff(deps, pipeline, sleeps) -> None:
    """Connection refused: GitHub cannot have acted on the request, so sending it again is safe."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening: connections are refused
        deliver(job_event(), replace(deps, settings=replace(deps.settings, api_url=nobody)), pipeline)

    answer = last_answer(pipeline)[1]["failureDetails"]
    assert answer["type"] == "SystemUnavailable"
    assert "after 3 attempts" in answer["message"] and "nothing was started: retry the stage" in answer["message"]
    assert sleeps == [1, 2]


def test_rate_limit_waits_until_the_reset_then_dispatches(deps, pipeline, github, sleeps) -> None:
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 7)}
    github.fail("dispatch", (403, limited, {"message": "API rate limit exceeded"}))
    outcome = deliver(job_event(), deps, pipeline)
    assert isinstance(outcome, answers.Continue)
    assert sleeps == [7]
    assert len(github.dispatches) == 1


def test_secondary_rate_limit_honours_retry_after(deps, pipeline, github, sleeps) -> None:
    github.fail("dispatch", (429, {"retry-after": "3"}, {"message": "secondary rate limit"}))
    deliver(job_event(), deps, pipeline)
    assert sleeps == [3]
    assert len(github.dispatches) == 1


def test_long_rate_limit_while_finding_the_run_keeps_the_action_waiting_then_gives_up(
    deps, pipeline, github, clock
) -> None:
    """Each look waits for the reset GitHub named (the clock moves there: CodePipeline keeps re-invoking)."""
    github.mode = "ghes"
    deliver(job_event(), deps, pipeline)
    state = json.loads(pipeline.answers[-1][1]["continuationToken"])
    resets = [int(NOW) + 600, int(NOW) + 1500, int(NOW) + 2400]
    spent = {"message": "API rate limit exceeded"}
    github.fail("list", *[(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(r)}, spent) for r in resets])

    first = deliver(job_event(token=state), deps, pipeline)
    assert first.state["not_before"] == resets[0]
    clock.now = first.state["not_before"]
    second = deliver(job_event(token=first.state), deps, pipeline)
    assert second.state["not_before"] == resets[1]
    clock.now = second.state["not_before"]
    third = deliver(job_event(token=second.state), deps, pipeline)

    assert isinstance(first, answers.Continue) and first.state["unavailable"] == 1
    assert isinstance(second, answers.Continue) and second.state["unavailable"] == 2
    assert isinstance(third, answers.Failed)
    assert last_answer(pipeline)[1]["failureDetails"]["type"] == "SystemUnavailable"
    assert "appears later, cancel it" in failure_message(pipeline)


def test_bad_credentials_fail_the_job_with_a_permission_error(deps, pipeline, github, sleeps) -> None:
    github.fail("dispatch", (401, {}, {"message": "Bad credentials"}))
    deliver(job_event(), deps, pipeline)
    answer = last_answer(pipeline)[1]["failureDetails"]
    assert answer["type"] == "PermissionError"
    assert "401" in answer["message"]
    assert sleeps == []


def test_forbidden_without_rate_limit_is_a_permission_error_not_retried(deps, pipeline, github, sleeps) -> None:
    github.fail("dispatch", (403, {"x-ratelimit-remaining": "4000"}, {"message": "Resource not accessible"}))
    deliver(job_event(), deps, pipeline)
    assert last_answer(pipeline)[1]["failureDetails"]["type"] == "PermissionError"
    assert sleeps == []


def test_missing_workflow_fails_the_job_and_says_where_the_template_is(deps, pipeline, github) -> None:
    github.fail("dispatch", (404, {}, {"message": "Not Found"}))
    deliver(job_event(), deps, pipeline)
    answer = last_answer(pipeline)[1]["failureDetails"]
    assert answer["type"] == "ConfigurationError"
    assert WORKFLOW in answer["message"] and "templates/github/" in answer["message"]


def test_workflow_without_dispatch_trigger_fails_as_configuration(deps, pipeline, github) -> None:
    github.fail("dispatch", (422, {}, {"message": "Workflow does not have 'workflow_dispatch' trigger"}))
    deliver(job_event(), deps, pipeline)
    answer = last_answer(pipeline)[1]["failureDetails"]
    assert answer["type"] == "ConfigurationError" and "workflow_dispatch" in answer["message"]
    assert len([r for r in github.requests if "dispatches" in r]) == 1


def test_a_run_that_never_appears_fails_after_the_configured_polls(deps, pipeline, github) -> None:
    github.mode, github.create_runs = "ghes", False
    outcomes = run_to_end(PARAMS, deps, pipeline)
    assert [type(o).__name__ for o in outcomes] == ["Continue", "Continue", "Continue", "Failed"]
    message = failure_message(pipeline)
    assert "did not appear after 3 polls" in message and "run-name" in message


@pytest.mark.parametrize("conclusion", ["cancelled", "failure", "timed_out", "skipped"])
def test_a_run_that_does_not_succeed_fails_the_job_with_its_url(deps, pipeline, github, conclusion) -> None:
    github.statuses = [("in_progress", None), ("completed", conclusion)]
    outcomes = run_to_end(PARAMS, deps, pipeline)
    assert isinstance(outcomes[-1], answers.Failed)
    operation, answer = last_answer(pipeline)
    assert operation == "PutJobFailureResult"
    assert answer["failureDetails"]["type"] == "JobFailed"
    assert f"ended {conclusion}" in answer["failureDetails"]["message"]
    assert f"https://github.com/{REPO}/actions/runs/9000" in answer["failureDetails"]["message"]
    assert answer["failureDetails"]["externalExecutionId"] == "9000"
    assert github.cancels == [], "a run that ended is never cancelled"


def test_a_run_waiting_for_an_environment_reviewer_says_so_and_when_it_will_be_cancelled(deps, pipeline, github):
    github.statuses = [("waiting", None), ("completed", "success")]
    outcomes = run_to_end({**PARAMS, "environment": "prod", "timeoutMinutes": 480}, deps, pipeline)
    waiting = outcomes[1]
    assert "waiting for a reviewer" in waiting.summary
    assert "; cancelled if not done by 2030-03-18 01:46 UTC" in waiting.summary  # NOW (17:46 UTC) + 8 h
    assert waiting.state["deadline"] == int(NOW) + 480 * 60
    assert isinstance(outcomes[-1], answers.Succeeded)


def test_transient_error_while_reading_the_run_is_retried_within_the_delivery(deps, pipeline, github, sleeps) -> None:
    github.statuses = [("completed", "success")]
    github.fail("read", (500, {}, None))
    outcomes = run_to_end(PARAMS, deps, pipeline)
    assert isinstance(outcomes[-1], answers.Succeeded)
    assert sleeps == [1]


def test_a_deleted_run_fails_the_job_and_says_so(deps, pipeline, github) -> None:
    first = deliver(job_event(), deps, pipeline)
    github.fail("read", (404, {}, {"message": "Not Found"}))
    deliver(job_event(token=first.state), deps, pipeline)
    assert "no longer exists" in failure_message(pipeline)


def test_a_token_from_before_deadlines_gets_one_from_its_dispatch_time(deps, pipeline, github, clock) -> None:
    """An action in flight while the function is updated carries a token without a deadline."""
    first = deliver(job_event(), deps, pipeline)
    old = {key: value for key, value in first.state.items() if key != "deadline"}
    github.statuses = [("in_progress", None)]
    clock.advance(119 * 60)
    assert isinstance(deliver(job_event(token=old), deps, pipeline), answers.Continue)
    clock.advance(60)
    deliver(job_event(token=old), deps, pipeline)
    assert github.cancels == ["cancel"], "the default two hours ran out"


# ------------------------------------------------------------------------------------------ giving up


def prod_params(minutes: int = 480) -> dict[str, Any]:
    return {**PARAMS, "environment": "prod", "ref": "main", "timeoutMinutes": minutes}


def test_a_prod_run_still_waiting_at_its_deadline_is_cancelled_and_the_action_says_so(
    deps, pipeline, github, clock
) -> None:
    """A reviewer who approves after AWS was rolled back must find nothing left to approve."""
    github.statuses = [("waiting", None)]

    outcomes = run_to_end(prod_params(), deps, pipeline, clock=clock, every=3600)

    assert github.cancels == ["cancel"]
    giving_up, confirmed = outcomes[-2], outcomes[-1]
    assert giving_up.state["phase"] == "cancel" and "asked GitHub to cancel" in giving_up.summary
    assert isinstance(confirmed, answers.Failed)
    message = failure_message(pipeline)
    assert "was still waiting for a reviewer of the GitHub environment after 8 h 0 min" in message
    assert "the platform cancelled the run, so it cannot deploy later" in message
    assert f"https://github.com/{REPO}/actions/runs/9000" in message
    assert last_answer(pipeline)[1]["failureDetails"]["externalExecutionId"] == "9000"
    assert clock.now - NOW <= 23 * 3600, "well inside CodePipeline's 24 hours"


def test_a_run_that_ignores_the_cancel_is_force_cancelled(deps, pipeline, github, clock) -> None:
    github.statuses = [("in_progress", None)]
    github.stops_on = ("force-cancel",)  # a job kept alive by an always() condition

    outcomes = run_to_end(prod_params(60), deps, pipeline, clock=clock, every=120, limit=60)

    assert github.cancels == ["cancel", "force-cancel"]
    assert outcomes[-2].state["cancel"]["forced"] is True
    assert "the platform cancelled the run" in failure_message(pipeline)


def test_a_run_that_ignores_cancel_and_force_cancel_fails_with_what_to_do_by_hand(deps, pipeline, github, clock):
    github.statuses = [("in_progress", None)]
    github.stops_on = ()

    run_to_end(prod_params(60), deps, pipeline, clock=clock, every=120, limit=60)

    assert github.cancels == ["cancel", "force-cancel"]
    message = failure_message(pipeline)
    assert "accepted a cancel and a force-cancel, but the run is still in_progress" in message
    assert "cancel it by hand" in message and "must not deploy" in message


def test_a_refused_cancel_is_reported_with_what_to_do(deps, pipeline, github, clock) -> None:
    github.statuses = [("waiting", None)]
    github.fail("cancel", (409, {}, {"message": "Cannot cancel a workflow run that is completed."}))
    github.fail("force-cancel", (409, {}, {"message": "Conflict"}))

    outcomes = run_to_end(prod_params(), deps, pipeline, clock=clock, every=3600)

    assert isinstance(outcomes[-1], answers.Failed)
    assert github.cancels == ["cancel", "force-cancel"]
    message = failure_message(pipeline)
    assert "GitHub refused to cancel the run (409 Conflict" in message
    assert "still waiting" in message and "cancel it by hand" in message and "reject its deployment" in message


def test_a_cancel_refused_because_the_run_just_finished_reports_how_it_ended(deps, pipeline, github, clock) -> None:
    github.statuses = [("in_progress", None), ("completed", "success")]
    github.fail("cancel", (409, {}, {"message": "Cannot cancel a workflow run that is completed."}))

    outcomes = run_to_end(prod_params(60), deps, pipeline, clock=clock, every=3600)

    assert isinstance(outcomes[-1], answers.Succeeded)
    assert "finished as the platform was cancelling it" in outcomes[-1].summary
    assert github.cancels == ["cancel"]


@pytest.mark.parametrize(
    ("answer", "shown"),
    [((401, {}, {"message": "Bad credentials"}), "401"), ((503, {}, None), "answered 503")],
)
def test_a_cancel_that_fails_tells_the_operator_to_cancel_by_hand(deps, pipeline, github, clock, answer, shown):
    github.statuses = [("waiting", None)]
    github.fail("cancel", *[answer] * 3)

    run_to_end(prod_params(), deps, pipeline, clock=clock, every=3600)

    message = failure_message(pipeline)
    assert "cancelling the run failed" in message and shown in message
    assert "cancel it by hand" in message


def test_github_unreachable_past_the_polls_it_allows_cancels_the_run(deps, pipeline, github) -> None:
    first = deliver(job_event(), deps, pipeline)
    github.fail("read", *[(503, {}, None)] * 9)

    second = deliver(job_event(token=first.state), deps, pipeline)
    third = deliver(job_event(token=second.state), deps, pipeline)
    giving_up = deliver(job_event(token=third.state), deps, pipeline)

    assert giving_up.state["phase"] == "cancel" and github.cancels == ["cancel"]
    deliver(job_event(token=giving_up.state), deps, pipeline)
    assert last_answer(pipeline)[1]["failureDetails"]["type"] == "SystemUnavailable"
    assert "GitHub was unavailable for 3 polls in a row" in failure_message(pipeline)


def test_github_unreachable_while_confirming_a_cancel_says_it_is_unconfirmed(deps, pipeline, github, clock) -> None:
    github.statuses = [("waiting", None)]
    github.stops_on = ()
    outcomes = [deliver(job_event(prod_params()), deps, pipeline)]
    clock.advance(480 * 60)
    outcomes.append(deliver(job_event(prod_params(), token=outcomes[-1].state), deps, pipeline))
    assert outcomes[-1].state["phase"] == "cancel"
    github.fail("read", *[(503, {}, None)] * 9)
    for _ in range(3):
        outcomes.append(deliver(job_event(prod_params(), token=outcomes[-1].state), deps, pipeline))

    message = failure_message(pipeline)
    assert "asked GitHub to cancel the run but cannot confirm it" in message and "cancel it by hand" in message


# ------------------------------------------------------------------------------------------ duplicates and retries


def test_a_duplicate_delivery_of_the_same_job_never_dispatches_twice(deps, pipeline, github) -> None:
    event = job_event()
    first = deliver(event, deps, pipeline)

    pipeline.refuse("InvalidJobStateException")
    second = dispatch.process(event, deps)

    assert len(github.dispatches) == 1
    assert isinstance(second, answers.Continue)
    assert second.state == first.state, "the duplicate repeats the first answer, which CodePipeline refuses"
    assert [name for name, _ in pipeline.answers] == ["PutJobSuccessResult", "PutJobSuccessResult"]


def test_a_duplicate_while_the_first_delivery_is_dispatching_sends_no_answer(deps, pipeline, github, clock) -> None:
    event = job_event()
    job_id = event["CodePipeline.job"]["id"]
    claims.claim(job_id, f"cp-{job_id}", "first-delivery", deps)  # the first delivery, still at work
    clock.advance(30)

    outcome = dispatch.process(event, deps)

    assert isinstance(outcome, answers.NoAnswer)
    assert pipeline.answers == []
    assert github.dispatches == []


def test_the_claim_lease_ends_before_lambdas_first_retry() -> None:
    """Lambda retries a failed asynchronous delivery one minute later: the retry must find the lease over."""
    assert Settings.claim_lease_seconds < 60


def test_a_delivery_that_crashed_before_dispatching_is_redone_by_lambdas_retry(deps, pipeline, github, clock) -> None:
    """The first delivery claimed the job, then died (an error, or its timeout) before anything reached GitHub."""
    event = job_event()
    job_id = event["CodePipeline.job"]["id"]
    claims.claim(job_id, f"cp-{job_id}", "first-delivery", deps)
    clock.advance(1 + 60)  # it died a second later; Lambda retries one minute after that

    outcome = deliver(event, deps, pipeline)

    assert isinstance(outcome, answers.Continue) and outcome.state["run_id"] == 9000
    assert len(github.dispatches) == 1, "done once, not zero times"
    assert github.dispatches[0]["inputs"]["correlation_id"] == f"cp-{job_id}"


def test_a_delivery_that_timed_out_after_dispatching_is_followed_not_dispatched_again(
    deps, pipeline, github, clock
) -> None:
    """Killed at its timeout after GitHub took the dispatch: the retry finds the run by its correlation id."""
    event = job_event()
    job_id = event["CodePipeline.job"]["id"]
    claims.claim(job_id, f"cp-{job_id}", "first-delivery", deps)
    assert claims.begin_posting(job_id, "first-delivery", deps)
    github.dispatches.append({"by": "the first delivery"})
    github.runs.append(
        {
            "id": 7000,
            "display_title": f"Deploy staging at {COMMIT} [cp-{job_id}]",
            "html_url": f"https://github.com/{REPO}/actions/runs/7000",
            "status": "queued",
        }
    )
    clock.advance(180 + 60)  # the function's timeout, then Lambda's first retry
    github.statuses = [("completed", "success")]

    outcomes = [deliver(event, deps, pipeline)]
    assert outcomes[0].state["phase"] == "find"
    while isinstance(outcomes[-1], answers.Continue):
        outcomes.append(deliver(job_event(token=outcomes[-1].state), deps, pipeline))

    assert len(github.dispatches) == 1
    assert isinstance(outcomes[-1], answers.Succeeded) and outcomes[-1].run_id == 7000


def test_of_two_late_retries_only_one_takes_the_job_over(deps, pipeline, github, clock) -> None:
    event = job_event()
    job_id = event["CodePipeline.job"]["id"]
    claims.claim(job_id, f"cp-{job_id}", "first-delivery", deps)
    clock.advance(120)
    stale = deps.dynamodb.get_item(TableName=deps.settings.claims_table, Key={"jobId": {"S": job_id}})["Item"]

    assert claims.take_over(job_id, stale, "retry-a", deps) is True
    assert claims.take_over(job_id, stale, "retry-b", deps) is False
    assert claims.begin_posting(job_id, "first-delivery", deps) is False, "the dead delivery's fence is gone"
    assert claims.begin_posting(job_id, "retry-a", deps) is True


def test_a_slow_first_delivery_that_lost_its_claim_never_dispatches(deps, pipeline, github, clock) -> None:
    """A duplicate took over a claim whose lease ran out while its delivery was still alive: the fence holds."""
    event = job_event()
    job_id = event["CodePipeline.job"]["id"]
    claims.claim(job_id, f"cp-{job_id}", "slow-delivery", deps)
    clock.advance(50)
    deliver(event, deps, pipeline)  # the duplicate takes over and dispatches

    assert claims.begin_posting(job_id, "slow-delivery", deps) is False
    assert len(github.dispatches) == 1


def test_a_redelivery_after_the_first_answer_was_lost_repeats_it_without_calling_github(deps, pipeline, github):
    github.fail("dispatch", (404, {}, {"message": "Not Found"}))
    event = job_event()
    pipeline.refuse("ThrottlingException", "put_job_failure_result")
    with pytest.raises(Exception, match="ThrottlingException"):
        dispatch.process(event, deps)  # Lambda retries the delivery
    requests_before = list(github.requests)
    pipeline.auto_answer = True

    outcome = deliver(event, deps, pipeline)

    assert isinstance(outcome, answers.Failed)
    assert github.requests == requests_before
    assert [name for name, _ in pipeline.answers] == ["PutJobFailureResult", "PutJobFailureResult"]
    assert pipeline.answers[0][1] == pipeline.answers[1][1]


def test_a_throttled_continuation_answer_is_sent_again_by_the_retry_and_the_run_followed(
    deps, pipeline, github, clock
) -> None:
    event = job_event()
    pipeline.refuse("ThrottlingException")
    with pytest.raises(Exception, match="ThrottlingException"):
        dispatch.process(event, deps)
    pipeline.auto_answer = True
    clock.advance(60)

    retried = deliver(event, deps, pipeline)

    assert len(github.dispatches) == 1
    assert retried.state["run_id"] == 9000
    assert pipeline.answers[0][1] == pipeline.answers[1][1]


def test_a_dispatch_that_cannot_be_recorded_is_still_followed(deps, pipeline, github) -> None:
    refused = fail_writes(deps.dynamodb, "answer")
    github.statuses = [("completed", "success")]

    outcomes = run_to_end(PARAMS, deps, pipeline)

    assert refused, "the claims table refused the answer"
    assert outcomes[0].state["run_id"] == 9000
    assert isinstance(outcomes[-1], answers.Succeeded)
    assert len(github.dispatches) == 1


def test_unrecorded_dispatch_and_throttled_answer_are_followed_by_lambdas_retry(deps, pipeline, github, clock) -> None:
    """Neither the claims table nor CodePipeline took the answer: the retry follows the run, never resends it."""
    fail_writes(deps.dynamodb, "answer")
    event = job_event()
    pipeline.refuse("ThrottlingException")
    with pytest.raises(Exception, match="ThrottlingException"):
        dispatch.process(event, deps)
    pipeline.auto_answer = True
    clock.advance(60)  # Lambda's first retry
    github.statuses = [("completed", "success")]

    outcomes = [deliver(event, deps, pipeline)]
    while isinstance(outcomes[-1], answers.Continue):
        outcomes.append(deliver(job_event(token=outcomes[-1].state), deps, pipeline))

    assert outcomes[0].state["phase"] == "find"
    assert len(github.dispatches) == 1
    assert isinstance(outcomes[-1], answers.Succeeded) and outcomes[-1].run_id == 9000


def test_a_repeated_final_answer_is_refused_quietly(deps, pipeline, github) -> None:
    github.statuses = [("completed", "success")]
    first = deliver(job_event(), deps, pipeline)
    event = job_event(token=first.state)
    deliver(event, deps, pipeline)

    pipeline.refuse("InvalidJobStateException")
    outcome = dispatch.process(event, deps)

    assert isinstance(outcome, answers.Succeeded)


def test_a_codepipeline_error_other_than_already_answered_propagates_so_lambda_retries(deps, pipeline, github):
    pipeline.refuse("ThrottlingException")
    with pytest.raises(Exception, match="ThrottlingException"):
        dispatch.process(job_event(), deps)


# ------------------------------------------------------------------------------------------ credentials and surprises


def test_a_secret_without_a_token_fails_as_configuration(deps, pipeline, github) -> None:
    deps.secrets.put_secret_value(SecretId=deps.settings.token_secret_arn, SecretString="{}")
    deliver(job_event(), deps, pipeline)
    answer = last_answer(pipeline)[1]["failureDetails"]
    assert answer["type"] == "ConfigurationError" and "operator" in answer["message"]
    assert github.requests == []


def test_an_expired_installation_token_fails_and_points_at_the_rotation(deps, pipeline, github) -> None:
    expired = {"token": "ghs-old", "expires_at": "2020-01-01T00:00:00Z"}
    deps.secrets.put_secret_value(SecretId=deps.settings.token_secret_arn, SecretString=json.dumps(expired))
    deliver(job_event(), deps, pipeline)
    answer = last_answer(pipeline)[1]["failureDetails"]
    assert answer["type"] == "PermissionError" and "rotation" in answer["message"]


def test_a_fresh_installation_token_is_used(deps, pipeline, github) -> None:
    fresh = {"token": "ghp-test-token", "expires_at": "2099-01-01T00:00:00Z"}
    deps.secrets.put_secret_value(SecretId=deps.settings.token_secret_arn, SecretString=json.dumps(fresh))
    assert isinstance(deliver(job_event(), deps, pipeline), answers.Continue)


def test_an_unreadable_secret_fails_as_a_permission_error(deps, pipeline, github) -> None:
    deliver(job_event(), replace(deps, settings=replace(deps.settings, token_secret_arn="missing")), pipeline)
    assert last_answer(pipeline)[1]["failureDetails"]["type"] == "PermissionError"


def test_an_unexpected_error_still_fails_the_job(deps, pipeline, github) -> None:
    broken = replace(deps, settings=replace(deps.settings, claims_table="no-such-table"))
    deliver(job_event(), broken, pipeline)
    message = last_answer(pipeline)[1]["failureDetails"]["message"]
    assert message.startswith("unexpected error") and "ResourceNotFoundException" in message
    assert github.dispatches == []


def test_a_garbled_continuation_token_fails_the_job(deps, pipeline, github) -> None:
    deliver(job_event(token={"v": 99}), deps, pipeline)
    assert "unknown version" in last_answer(pipeline)[1]["failureDetails"]["message"]


def test_the_entry_point_answers_even_when_its_settings_are_missing(monkeypatch, pipeline) -> None:
    monkeypatch.delenv("GITHUB_TOKEN_SECRET_ARN", raising=False)
    monkeypatch.setattr(dispatch.boto3, "client", lambda service, **_: pipeline.client)
    dispatch.handler(job_event(), None)
    operation, answer = last_answer(pipeline)
    assert operation == "PutJobFailureResult"
    assert "GITHUB_TOKEN_SECRET_ARN" in answer["failureDetails"]["message"]


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_environment(
        {
            "GITHUB_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:x",
            "CLAIMS_TABLE": "claims",
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "FIND_RUN_MAX_POLLS": "7",
            "POLL_WAIT_SECONDS": "0",
            "CLAIM_LEASE_SECONDS": "40",
        }
    )
    assert settings.api_url == "http://127.0.0.1:9"
    assert settings.find_run_max_polls == 7
    assert settings.poll_wait_seconds == 0
    assert settings.claim_lease_seconds == 40
    assert settings.default_run_timeout_minutes == Settings.default_run_timeout_minutes
