"""What the Lambda runtime does around a handler, for replaying a timeout and Lambda's retry with a test clock.

Lambda developer guide, "How Lambda handles errors and retries with asynchronous
invocation": after a function error — a timeout included — Lambda waits one
minute before the first retry and two before the second. The numbers are
written out here, not imported from the code under test.
"""

from __future__ import annotations

from uuid import uuid4

FIRST_RETRY_DELAY_SECONDS = 60
SECOND_RETRY_DELAY_SECONDS = 120


class Clock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LambdaContext:
    """The part of the Lambda context object the functions read: the time left before the timeout."""

    def __init__(self, clock: Clock, timeout_seconds: int) -> None:
        self._clock = clock
        self.deadline = clock() + timeout_seconds
        self.aws_request_id = str(uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self._clock()) * 1000))


class InvocationTimedOut(BaseException):
    """Lambda ending the invocation at its timeout: the process stops, so no ``except Exception`` (no release) runs."""


def time_out(clock: Clock, context: LambdaContext) -> None:
    """The invocation reaches its timeout now."""
    clock.now = context.deadline
    raise InvocationTimedOut


def lambda_retry_after_timeout(clock: Clock, timed_out: LambdaContext, timeout_seconds: int) -> LambdaContext:
    """Lambda's first retry of an invocation that timed out: a minute after the timeout, a fresh context."""
    clock.now = timed_out.deadline + FIRST_RETRY_DELAY_SECONDS
    return LambdaContext(clock, timeout_seconds)
