"""Review (final review, finding 5): one refused ``FilterLogEvents`` call throws away the end of the log too.

``build_log.read_failure_lines`` wraps the error-line filter *and* the tail read in one ``try``; a
``ClientError`` from the filter (``ThrottlingException``: FilterLogEvents has the lowest TPS quota of the
CloudWatch Logs read APIs, shared by the whole account and region — "Amazon CloudWatch Logs endpoints and
quotas" —, exactly when a broken main fails many builds at once and up to five digests read together; or an
``InvalidParameterException`` for the pattern) skips ``GetLogEvents`` and the digest goes out with no log
lines at all, no toolchain, no failed tests from the log, no model summary.
Smallest fix: a ``try``/``except ClientError`` around the filter loop alone, then read the tail regardless.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from functions.failure_digest.build_log import read_failure_lines


class Logs:
    def __init__(self):
        self.calls = []

    def filter_log_events(self, **request):
        self.calls.append("filter_log_events")
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "FilterLogEvents")

    def get_log_events(self, **request):
        self.calls.append("get_log_events")
        return {
            "events": [
                {"timestamp": 1764579760000, "message": "FAILED tests/test_pricing.py::test_weekend_surcharge_applies"},
                {"timestamp": 1764579761000, "message": "1 failed, 41 passed in 3.10s"},
            ]
        }


def test_a_throttled_filter_still_leaves_the_end_of_the_log():
    logs = Logs()
    read = read_failure_lines(logs, "/aws/codebuild/pricing-build", "2b1e9c44")
    assert logs.calls == ["filter_log_events", "get_log_events"]
    assert "1 failed, 41 passed in 3.10s" in read.lines
    assert read.calls == 2  # the refused call counts against the budget too
