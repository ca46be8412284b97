"""The failure digest's evidence on its own: error lines per toolchain, redaction, a bounded log read, the model.

The build logs under ``fixtures/build_logs`` are written from each tool's
documented output format (pytest's "short test summary info", jest's default
reporter, Maven Surefire 3 and its ``Results:`` block, ``go build`` and ``go
test``, ``tsc``, npm's ``ERR!`` report, BuildKit's progress output, Terraform's
diagnostic box, Checkov's CLI output), wrapped in CodeBuild's ``[Container]``
agent lines as CodeBuild logs them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws

from functions.failure_digest import build_log, model_summary, recurrence, redaction, toolchains
from tests.functions.conftest import REGION

LOGS = Path(__file__).parent / "fixtures" / "build_logs"
JEST = " \u203a "
"""jest joins a suite and its test with a right-pointing angle quotation mark."""


def log_lines(name: str) -> list[str]:
    return (LOGS / name).read_text(encoding="utf-8").splitlines()


# --- which lines say why ---------------------------------------------------------------------------------------

TOOLCHAIN_CASES = [
    (
        "pytest.log",
        "pytest",
        ["E       AssertionError: assert Decimal('110.00') == Decimal('115.00')", "FAILED tests/test_pricing.py::"],
        ["tests/test_pricing.py::test_weekend_surcharge_applies"],
    ),
    (
        "jest.log",
        "jest",
        ["FAIL src/cart/__tests__/total.test.ts", f"● Cart total{JEST}applies the member discount", "Received: 100"],
        [f"Cart total{JEST}applies the member discount", f"Cart total{JEST}rounds half-cents down for refunds"],
    ),
    (
        "maven-junit.log",
        "junit",
        ["<<< FAILURE! -- in com.bookwise.auth.TokenServiceTest", "AssertionFailedError: expected: <3600> but was"],
        ["com.bookwise.auth.TokenServiceTest.refreshTokenExpiresAfterOneHour"],
    ),
    ("go-build.log", "go", ["internal/holds/release.go:57:12: undefined: expiryFor"], []),
    (
        "go-test.log",
        "go",
        ["--- FAIL: TestReleaseExpiredHolds", "release_test.go:31: got 2 holds left, want 0"],
        ["TestReleaseExpiredHolds", "TestHoldExtension/extends_once"],
    ),
    ("typescript.log", "compiler", ["src/search/query.ts(41,7): error TS2322", "error TS2339"], []),
    ("npm.log", "npm", ["npm ERR! code ERESOLVE", 'npm ERR! peer react@"^17.0.0" from @bookwise/widgets@5.2.0'], []),
    (
        "docker.log",
        "docker",
        ["No matching distribution found for fastapi==0.999.0", "ERROR: failed to solve: process"],
        [],
    ),
    (
        "terraform.log",
        "terraform",
        ["Error: Reference to undeclared input variable", "on main.tf line 14", 'Did you mean "bucket_name"?'],
        [],
    ),
    ("checkov.log", "checkov", ["Check: CKV_AWS_18", "FAILED for resource: aws_s3_bucket.reports"], []),
]


@pytest.mark.parametrize(("log", "toolchain", "says", "tests"), TOOLCHAIN_CASES, ids=[c[0] for c in TOOLCHAIN_CASES])
def test_the_first_errors_of_each_toolchain_are_picked_from_a_realistic_log(log, toolchain, says, tests):
    found = toolchains.excerpt(log_lines(log))
    assert found.toolchain == toolchain
    shown = "\n".join(found.lines)
    for fragment in says:
        assert fragment in shown, fragment
    assert list(found.failed_tests) == tests
    assert 0 < len(found.lines) <= toolchains.MAX_LINES
    # CodeBuild's own agent lines and the noise around the error stay out.
    assert "[Container]" not in shown and "Downloading" not in shown and "PASS src/" not in shown


def test_a_build_that_runs_tests_inside_docker_build_is_still_read_as_its_test_tool():
    """BuildKit prefixes each line of a RUN step with ``#<step> <seconds>``; the tool under it still speaks."""
    lines = ["#9 [5/6] RUN python -m pytest -q"] + [
        f"#9 3.{n:03d} {line}" for n, line in enumerate(log_lines("pytest.log"))
    ]
    assert toolchains.excerpt(lines).failed_tests == ("tests/test_pricing.py::test_weekend_surcharge_applies",)


def test_an_unknown_tool_still_yields_its_error_lines_or_its_last_lines():
    assert toolchains.excerpt(["compiling", "make: *** [all] Error 2", "done"]).lines == ("make: *** [all] Error 2",)
    quiet = toolchains.excerpt([f"step {n}" for n in range(40)])
    assert quiet.toolchain == "unknown" and quiet.lines[-1] == "step 39" and len(quiet.lines) == toolchains.MAX_LINES


def test_a_huge_line_is_clipped_and_repeated_errors_are_shown_once():
    found = toolchains.excerpt(["npm ERR! " + "x" * 100_000, *log_lines("go-build.log")])
    assert found.toolchain == "go"
    assert found.lines.count("internal/holds/release.go:57:12: undefined: expiryFor") == 1
    assert all(len(line) <= toolchains.LINE_LIMIT for line in toolchains.excerpt(["npm ERR! " + "x" * 9999]).lines)


# --- redaction --------------------------------------------------------------------------------------------------

PLANTED = {
    "aws access key id": "AKIAZ7QX3EXAMPLE4KEY",
    "aws secret key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
    "github classic token": "ghp_8fQ3kZ0aT1yXw2Vb7LmN4cR6sP9dE5hJ0uGiK",
    "github app installation token": "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "github fine-grained token": "github_pat_11AAQYX4I0k8sXw2Vb7LmN_4cR6sP9dE5hJ0uGiKqWeRtYuIoPaSdFgHjKlZxCvBnM12345",
    "slack bot token": "xoxb-2087654321-5098765432109-QwErTyUiOpAsDfGhJkLzXcVb",
    "slack webhook": "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/Xq9Lm3Np7Rs2Tv5Wy8Za1Bc4",
    "jwt": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib29raW5nLWFwaSIsImF1ZCI6InBheW1lbnRzIn0"
    ".c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    "url password": "hunter2-but-longer",
    "held value": "the-webhook-the-function-holds-0042",
    "plaintext build variable": "p1aintext-build-secret-77",
}
LOG_WITH_SECRETS = [
    f"+ export AWS_ACCESS_KEY_ID={PLANTED['aws access key id']}",
    f"aws_secret_access_key = {PLANTED['aws secret key']}",
    "fatal: could not read from "
    f"https://x-access-token:{PLANTED['github app installation token']}@github.com/bookwise/booking.git",
    f"ERROR using token {PLANTED['github classic token']} and {PLANTED['github fine-grained token']}",
    f"Error posting SLACK_TOKEN={PLANTED['slack bot token']} to {PLANTED['slack webhook']}",
    f"AssertionError: 401 for Authorization: Bearer {PLANTED['jwt']}",
    f"sqlalchemy.exc.OperationalError: postgresql://booking:{PLANTED['url password']}@db.internal:5432/booking",
    f"error: webhook {PLANTED['held value']} rejected",
    f"FAILED tests/test_config.py::test_env - KeyError: {PLANTED['plaintext build variable']}",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "-----END OPENSSH PRIVATE KEY-----",
]


def test_planted_secrets_of_every_kind_are_redacted_and_the_error_survives():
    redactor = redaction.Redactor([PLANTED["held value"]]).with_values(
        redaction.secret_environment_values(
            [
                {"name": "DB_PASSWORD", "value": PLANTED["plaintext build variable"], "type": "PLAINTEXT"},
                {"name": "SONAR_TOKEN", "value": "cicd/sonar-token", "type": "SECRETS_MANAGER"},
                {"name": "TARGET_ENVIRONMENT", "value": "production", "type": "PLAINTEXT"},
            ]
        )
    )
    text = "\n".join(redactor.lines(LOG_WITH_SECRETS))
    for kind, secret in PLANTED.items():
        assert secret not in text, kind
    assert "PRIVATE KEY" not in text and "b3BlbnNzaC1rZXkt" not in text
    # What the engineer needs stays: the error, the host, the test.
    assert "db.internal:5432/booking" in text and "tests/test_config.py::test_env" in text
    assert "github.com/bookwise/booking.git" in text
    # A secret's name is not a secret: Parameter Store and Secrets Manager variables carry no value to hide.
    assert "production" in redactor.text("deploying to production")


# --- a bounded read of a log of any size ------------------------------------------------------------------------


class CountingLogs:
    """CloudWatch Logs as moto answers it, counting what the reader asked for and got back."""

    def __init__(self, client):
        self.client, self.calls, self.received = client, [], 0

    def __getattr__(self, name):
        method = getattr(self.client, name)

        def call(**kwargs):
            self.calls.append(name)
            answer = method(**kwargs)
            self.received += sum(len(e["message"].encode()) for e in answer.get("events", []))
            return answer

        return call


def put_log(logs, group, stream, lines, start_ms=None):
    """``lines`` as one build's stream, a millisecond apart, stamped now (CloudWatch rejects events 14 days old)."""
    start_ms = int(time.time() * 1000) - len(lines) - 60_000 if start_ms is None else start_ms
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    batch, size = [], 0
    for index, line in enumerate(lines):
        # An event holds at least one character: CodeBuild logs an empty output line as its newline.
        batch.append({"timestamp": start_ms + index, "message": line or "\n"})
        size += len(line) + 26
        if len(batch) == 10_000 or size > 900_000:  # PutLogEvents: at most 10,000 events and 1 MB per call
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch, size = [], 0
    if batch:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)


def test_a_ten_megabyte_log_is_read_within_the_budget_and_still_yields_the_failing_test():
    """moto's FilterLogEvents does not know ``?term`` patterns and returns every event: the worst case for the
    budget. The log: 10 MB of passing output, the failure at its end."""
    noise = [f"tests/test_rules.py::test_rule_{n:06d} PASSED" + " " * 60 for n in range(110_000)]
    lines = noise + log_lines("pytest.log")
    assert sum(len(line) for line in lines) > 10 * 1024 * 1024
    budget = build_log.LogBudget()
    with mock_aws():
        logs = CountingLogs(boto3.client("logs", region_name=REGION))
        put_log(logs.client, "/aws/codebuild/pricing-build", "b0e3a1", lines)
        started = time.monotonic()
        read = build_log.read_failure_lines(logs, "/aws/codebuild/pricing-build", "b0e3a1", budget)
        elapsed = time.monotonic() - started
    assert len(logs.calls) <= budget.filter_calls + 1 and logs.calls[-1] == "get_log_events"
    assert read.bytes_read <= budget.max_bytes + build_log.LINE_LIMIT
    assert len(read.lines) <= budget.filter_events + budget.tail_events
    assert toolchains.excerpt(read.lines).failed_tests == ("tests/test_pricing.py::test_weekend_surcharge_applies",)
    assert elapsed < 30


def test_the_end_of_the_log_is_kept_whole_and_early_errors_come_first():
    early = ["Collecting deps", "ERROR: something broke early", *[f"line {n}" for n in range(1000)]]
    with mock_aws():
        logs = boto3.client("logs", region_name=REGION)
        put_log(logs, "g", "s", early + log_lines("jest.log"))
        # A budget so small that only part of the end fits: the newest lines are the ones kept.
        read = build_log.read_failure_lines(logs, "g", "s", build_log.LogBudget(tail_events=50, max_bytes=2000))
    assert read.lines[-1].startswith("[Container]") and "Phase context status code" in read.lines[-1]
    assert "ERROR: something broke early" in read.lines[:50]


def test_an_unreadable_log_is_no_lines_not_an_error():
    with mock_aws():
        read = build_log.read_failure_lines(boto3.client("logs", region_name=REGION), "/aws/codebuild/gone", "x")
    assert read.lines == ()


# --- the model's summary never blocks or corrupts the digest ----------------------------------------------------

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
EVIDENCE = model_summary.Evidence(
    pipeline="pricing-prod",
    stage="Build",
    action="BuildAndUnitTest",
    toolchain="pytest",
    phase="BUILD",
    exit_code=1,
    failed_tests=("tests/test_pricing.py::test_weekend_surcharge_applies",),
    lines=("E       AssertionError: assert Decimal('110.00') == Decimal('115.00')",),
)


def converse_answer(text, stop="end_turn"):
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop,
        "usage": {"inputTokens": 120, "outputTokens": 40, "totalTokens": 160},
        "metrics": {"latencyMs": 640},
    }


def bedrock_stub():
    client = boto3.client("bedrock-runtime", region_name=REGION, config=model_summary.bedrock_config())
    return client, Stubber(client)


def test_the_model_gets_a_strict_token_budget_and_only_the_extracted_lines():
    client, stub = bedrock_stub()
    expected = {
        "modelId": MODEL,
        "system": [{"text": model_summary.SYSTEM_PROMPT}],
        "messages": [{"role": "user", "content": [{"text": EVIDENCE.prompt()}]}],
        "inferenceConfig": {"maxTokens": 150, "temperature": 0},
    }
    stub.add_response("converse", converse_answer("The weekend surcharge is 10%, the test expects 15%."), expected)
    with stub:
        assert model_summary.summarise(client, MODEL, EVIDENCE, max_tokens=150) == (
            "The weekend surcharge is 10%, the test expects 15%."
        )
    config = client.meta.config
    # One call, no retry: botocore's max_attempts would count retries after the first call.
    assert (config.read_timeout, config.connect_timeout, config.retries["total_max_attempts"]) == (10, 2, 1)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(("error", "ThrottlingException"), id="throttled"),
        pytest.param(("error", "AccessDeniedException"), id="model-not-enabled"),
        pytest.param(("error", "ValidationException"), id="bad-model-id"),
        pytest.param(("answer", converse_answer("cause " * 40, stop="max_tokens")), id="cut-at-max-tokens"),
        pytest.param(("answer", converse_answer("x" * 601)), id="too-long"),
        pytest.param(("answer", converse_answer("")), id="empty"),
        pytest.param(("answer", converse_answer("fine", stop="guardrail_intervened")), id="guardrail"),
    ],
)
def test_a_failing_or_oversized_model_answer_is_dropped(answer):
    client, stub = bedrock_stub()
    kind, value = answer
    if kind == "error":
        stub.add_client_error("converse", service_error_code=value, http_status_code=400)
    else:
        stub.add_response("converse", value)
    with stub:
        assert model_summary.summarise(client, MODEL, EVIDENCE) is None


def test_a_model_that_times_out_is_dropped():
    class SlowBedrock:
        def converse(self, **_):
            raise ReadTimeoutError(endpoint_url=f"https://bedrock-runtime.{REGION}.amazonaws.com/model/x/converse")

    assert model_summary.summarise(SlowBedrock(), MODEL, EVIDENCE) is None


def test_no_model_no_lines_no_call():
    class Untouchable:
        def converse(self, **_):
            raise AssertionError("Bedrock called")

    assert model_summary.summarise(Untouchable(), "", EVIDENCE) is None
    assert (
        model_summary.summarise(Untouchable(), MODEL, model_summary.Evidence("p", "s", "a", "t", "", None, (), ()))
        is None
    )


def test_the_prompt_is_clipped_whatever_the_evidence():
    huge = model_summary.Evidence("p", "s", "a", "t", "BUILD", 1, ("t",) * 1000, ("x" * 400,) * 1000)
    assert len(huge.prompt()) <= model_summary.MAX_PROMPT_CHARACTERS


# --- recurrence ----------------------------------------------------------------------------------------------------


def test_the_same_error_in_another_run_has_the_same_fingerprint_and_another_error_does_not():
    first = toolchains.excerpt(log_lines("pytest.log")).lines
    again = [line.replace("4.21s", "3.98s").replace("src2871", "src9135").replace("09:02", "17:44") for line in first]
    other = toolchains.excerpt(log_lines("jest.log")).lines
    key = recurrence.fingerprint("Build", "BuildAndUnitTest", "pytest", first)
    assert recurrence.fingerprint("Build", "BuildAndUnitTest", "pytest", again) == key
    assert recurrence.fingerprint("Build", "BuildAndUnitTest", "jest", other) != key
    assert recurrence.fingerprint("Scan", "SAST", "pytest", first) != key


def test_the_latest_failure_is_kept_whatever_order_failures_arrive_in():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        from tests.functions.conftest import create_ledger_table

        create_ledger_table(dynamodb)
        memory = recurrence.FailureMemory("ledger", dynamodb)
        newer = recurrence.Failure("f2", "exec-2", "qa", 2000)
        assert memory.record("pricing", newer)
        assert not memory.record("pricing", recurrence.Failure("f1", "exec-1", "dev", 1000))  # arrived late
        assert memory.previous("pricing") == newer
        assert memory.previous("booking") is None
        item = dynamodb.get_item(TableName="ledger", Key={"pk": {"S": "recurrence#pricing"}})["Item"]
        assert json.loads(json.dumps(item))["expires_at"]["N"] == str(2000 + recurrence.KEEP_DAYS * 24 * 3600)
