"""JSON over HTTPS to a vendor's API, with bounded retries for what the vendor says to retry.

A 429 waits for ``Retry-After``, a 5xx or a network error backs off; both stay within a small budget, so a
rotation step ends well inside the function's timeout and Secrets Manager's own retry takes over. Any other
answer is returned to the rotator, which knows what a 404 or a 400 means for its vendor. Plain http is
accepted only for a server on this machine (the tests' fake vendors): a credential travels over TLS.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class VendorUnavailable(Exception):  # noqa: N818 - a state of the vendor, not an error of this code
    """The vendor kept failing (5xx, 429, no answer) until the retry budget was spent."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    def message(self) -> str:
        """The vendor's own words, clipped: never the whole body, which may echo a credential."""
        body = self.body
        if isinstance(body, dict):
            for key in ("message", "detail", "error_description", "error"):
                if isinstance(body.get(key), str):
                    return body[key][:200]
            errors = body.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                return str(errors[0].get("msg") or errors[0].get("detail") or "")[:200]
        return ""


@dataclass
class VendorHttp:
    attempts: int = 4
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 20.0
    timeout_seconds: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def call(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.hostname in LOCAL_HOSTS):
            raise ValueError(f"refusing to send a credential to a non-https URL: {parsed.scheme}://{parsed.hostname}")
        data: bytes | None = None
        sent_headers = {"Accept": "application/json", "User-Agent": "cicd-platform-secret-rotation", **(headers or {})}
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            sent_headers["Content-Type"] = content_type
        waited, problem = 0.0, "no attempt"
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(url, data=data, headers=sent_headers, method=method)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310
                    return Answer(answer.status, _json(answer.read()))
            except urllib.error.HTTPError as error:
                if error.code == 429:
                    delay = _retry_after(error.headers.get("Retry-After"), self._backoff(attempt))
                elif error.code >= 500:
                    delay = self._backoff(attempt)
                else:
                    return Answer(error.code, _json(error.read()))
                problem = f"HTTP {error.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                delay, problem = self._backoff(attempt), f"no answer ({error})"
            if attempt == self.attempts or waited + delay > self.max_wait_seconds:
                break
            self.sleep(delay)
            waited += delay
        raise VendorUnavailable(f"{method} {parsed.path}: {problem} after {attempt} attempt(s)")

    def _backoff(self, attempt: int) -> float:
        return self.backoff_seconds * 2 ** (attempt - 1)


def _retry_after(header: str | None, fallback: float) -> float:
    try:
        return max(0.0, float(header)) if header is not None else fallback
    except ValueError:
        return fallback


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None
