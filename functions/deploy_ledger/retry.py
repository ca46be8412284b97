"""Retries with exponential backoff and full jitter for AWS throttling.

A release day sends bursts of pipeline events; DynamoDB, SNS and CodePipeline
answer bursts with throttling errors that succeed a moment later. Only those
codes are retried: any other error is a real answer and is raised at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)
MAX_DELAY_SECONDS = 5.0

T = TypeVar("T")


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def with_backoff(
    call: Callable[..., T],
    *args: Any,
    attempts: int = 6,
    base_seconds: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> T:
    """``call(*args, **kwargs)``, retried while AWS throttles, at most ``attempts`` times in all."""
    for attempt in range(1, attempts + 1):
        try:
            return call(*args, **kwargs)
        except ClientError as error:
            if error_code(error) not in THROTTLING_CODES or attempt == attempts:
                raise
            sleep(random.uniform(0, min(MAX_DELAY_SECONDS, base_seconds * 2**attempt)))  # noqa: S311 - jitter, not crypto
    raise AssertionError("unreachable")  # pragma: no cover
