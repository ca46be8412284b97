"""A Slack incoming webhook that survives throttling and hiccups, with the standard library only.

Slack answers 429 with ``Retry-After`` (seconds) when a webhook posts too
fast, and now and then 5xx. Both are retried (429 after the time Slack asks
for, capped; 5xx and network errors with exponential backoff); any other 4xx
means the payload or the URL is wrong and retrying cannot help.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SlackError(RuntimeError):
    """The message was not delivered; the caller lets the event be retried."""


class SlackWebhook:
    """POST Block Kit payloads to one webhook URL."""

    def __init__(
        self,
        url: str,
        *,
        max_attempts: int = 5,
        max_retry_after: float = 30.0,
        base_backoff: float = 0.5,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        # urlopen also speaks file:// and ftp://; a webhook is https (plain http only for a local test server).
        if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.hostname in LOCAL_HOSTS):
            raise SlackError("the webhook URL must be https://")
        self.url = url
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after
        self.base_backoff = base_backoff
        self.timeout = timeout
        self.sleep = sleep

    def post(self, payload: dict[str, object]) -> int:
        """Deliver ``payload``; returns the number of attempts it took, raises ``SlackError`` when it gave up."""
        body = json.dumps(payload).encode()
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
                self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    response.read()
                    return attempt
            except urllib.error.HTTPError as error:
                detail = error.read().decode(errors="replace")[:200]
                last_problem = f"HTTP {error.code} {detail}".strip()
                if error.code == 429:
                    delay = self._retry_after(error.headers.get("Retry-After"))
                elif error.code >= 500:
                    delay = self._backoff(attempt)
                else:
                    raise SlackError(f"Slack refused the message: {last_problem}") from None
            except (urllib.error.URLError, TimeoutError) as error:
                last_problem = f"network: {error}"
                delay = self._backoff(attempt)
            if attempt < self.max_attempts:
                self.sleep(delay)
        raise SlackError(f"gave up after {self.max_attempts} attempts: {last_problem}")

    def _retry_after(self, header: str | None) -> float:
        try:
            seconds = float(header) if header is not None else 1.0
        except ValueError:
            seconds = 1.0
        return min(max(seconds, 0.0), self.max_retry_after)

    def _backoff(self, attempt: int) -> float:
        return min(self.base_backoff * 2 ** (attempt - 1), self.max_retry_after)
