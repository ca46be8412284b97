"""Review (final review, finding 1): failed test names (from the report and the log) reach Slack and Bedrock unredacted.

``handler._redacted`` redacts the excerpt's lines and each report case's *message*, but not
``reports.failed_tests`` / ``reports.scan_findings`` nor ``excerpt.failed_tests``. Test names are
attacker-/accident-controlled text: pytest parametrize ids carry the parameter values
(``test_connect[https://user:pass@db]``), jest names are free text. Both are listed in Slack
(``messages._listed``) and sent to the model (``Evidence.failed_tests``).
"""

from __future__ import annotations

import json

from tests.functions.test_failure_digest import (
    FAILED_CASE,
    OK,
    World,
    aws,  # noqa: F401 (fixture)
    failed_event,
    slack,  # noqa: F401 (fixture)
    text_of,
)
from tests.functions.test_failure_digest_evidence import log_lines

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
DB_PASSWORD = "Sup3rS3cretDbPassw0rd"


def test_a_secret_in_a_reported_test_name_reaches_neither_slack_nor_the_model(aws, slack):  # noqa: F811
    world = World(aws, slack, summariser=lambda _e: "Check the clone step.")
    slack.answers(OK)
    case = {**FAILED_CASE["testCases"][0], "name": f"test_clone[https://x-access-token:{GITHUB_TOKEN}@github.com]"}
    world.expect_codebuild_failure(cases={"testCases": [case]})
    world.handle(failed_event())
    sent = text_of(slack.posts()[0]) + json.dumps([list(e.failed_tests) for e in world.summaries])
    assert GITHUB_TOKEN not in sent


def test_a_secret_in_a_test_name_read_from_the_log_reaches_neither_slack_nor_the_model(aws, slack):  # noqa: F811
    world = World(aws, slack, summariser=lambda _e: "Check the database URL.")
    slack.answers(OK)
    lines = [
        *log_lines("pytest.log"),
        f"FAILED tests/test_db.py::test_connect[postgres://deploy:{DB_PASSWORD}@db.internal:5432/app] - Timeout",
    ]
    world.expect_codebuild_failure(lines=lines, cases={"testCases": []})
    world.handle(failed_event())
    sent = text_of(slack.posts()[0]) + json.dumps([list(e.failed_tests) for e in world.summaries])
    assert DB_PASSWORD not in sent
