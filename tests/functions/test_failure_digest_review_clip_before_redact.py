"""Review (final review, finding 4): log lines are clipped (``toolchains.LINE_LIMIT``, 400) before they are
redacted, so a secret straddling the cut loses the length its shape needs and goes out in part.

``handler._with_build`` runs ``excerpt(lines)`` (which clips each line) and only then ``_redacted``. A GitHub
token needs 36 characters after ``ghp_`` to match; one cut after 26 is quoted as is — most of the token.
Redacting the raw lines first (or clipping after redaction) closes it.
"""

from __future__ import annotations

from functions.failure_digest import build_log
from tests.functions.test_failure_digest import (
    OK,
    World,
    aws,  # noqa: F401 (fixture)
    failed_event,
    slack,  # noqa: F401 (fixture)
    text_of,
)
from tests.functions.test_failure_digest_evidence import log_lines

TOKEN_BODY = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def test_a_token_cut_by_the_line_limit_is_not_quoted_in_part(aws, slack):  # noqa: F811
    world = World(aws, slack, summariser=lambda _e: "Check the clone step.")
    slack.answers(OK)
    prefix = "E       RuntimeError: git clone failed for https://github.com/bookwise/pricing-config.git with "
    line = prefix + "x" * (370 - len(prefix)) + " ghp_" + TOKEN_BODY
    world.expect_codebuild_failure(lines=[line, *log_lines("pytest.log")])
    world.handle(failed_event())
    sent = text_of(slack.posts()[0]) + "\n".join("\n".join(e.lines) for e in world.summaries)
    assert "ghp_" in sent or "RuntimeError" in sent  # the line was quoted
    assert TOKEN_BODY[:20] not in sent


class OneLongLine:
    """A log whose end is one event longer than ``build_log.LINE_LIMIT``, a token straddling the limit."""

    def __init__(self, message):
        self.message = message

    def filter_log_events(self, **_request):
        return {"events": []}

    def get_log_events(self, **_request):
        return {"events": [{"timestamp": 1764579760000, "message": self.message}]}


def test_the_read_does_not_keep_the_part_of_a_token_its_line_limit_cuts():
    line = "fatal: clone failed: " + "x" * (build_log.LINE_LIMIT - 40) + " ghp_" + TOKEN_BODY
    read = build_log.read_failure_lines(OneLongLine(line), "/aws/codebuild/pricing-build", "2b1e9c44")
    assert read.lines and read.lines[0].startswith("fatal: clone failed: ")
    assert "ghp_" not in "\n".join(read.lines)
