"""A small HTTP client for ESP APIs: timeouts, retries with backoff, Retry-After.

Built on ``requests``. Transient failures (connection errors, timeouts, 429, 500,
502, 503, 504) are retried up to :attr:`RetryPolicy.max_attempts` times with
exponential backoff and full jitter from a seedable random generator; a
``Retry-After`` header on 429 or 503 (seconds or an HTTP date) is honoured, capped
at :attr:`RetryPolicy.max_retry_after`. Retrying a POST is safe here because every
request carries an idempotency key.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})


class ExportError(RuntimeError):
    """An ESP request failed for good (after retries, or a non-retryable error)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How to retry transient failures.

    Attributes
    ----------
    max_attempts
        Attempts per request, the first one included.
    base_delay, max_delay
        Backoff before attempt ``n`` is uniform in ``[0, min(max_delay,
        base_delay * 2 ** n)]`` (full jitter).
    max_retry_after
        Longest ``Retry-After`` honoured, in seconds; longer waits fail the request.
    connect_timeout, read_timeout
        Seconds.
    seed
        Seeds the jitter, for reproducible runs and tests.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    seed: int | None = None


@dataclass
class Response:
    """A finished HTTP exchange."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


def retry_after_seconds(
    value: str | None, now: dt.datetime | None = None
) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


class HttpClient:
    """JSON over HTTP with retries; one per destination and sync.

    Parameters
    ----------
    base_url
        Scheme, host and optional path prefix; request paths are appended.
    headers
        Sent with every request (authentication, API revision).
    policy
        Retry and timeout settings.
    sleep
        Called with the seconds to wait between attempts (tests pass a recorder).
    session
        A ``requests.Session`` to reuse; one is created by default.
    """

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.session = session or requests.Session()
        self.random = random.Random(self.policy.seed)
        self.attempts = 0
        self.retries = 0
        self.waits: list[float] = []

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2**attempt)
        return self.random.uniform(0, ceiling)

    def request(
        self,
        method: str,
        path: str,
        json_body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request, retrying transient failures.

        Returns
        -------
        Response
            The first non-retryable response (2xx, or a 4xx other than 429).

        Raises
        ------
        ExportError
            When attempts run out or a ``Retry-After`` asks for too long a wait.
        """
        url = f"{self.base_url}{path}"
        merged = {**self.headers, **(headers or {})}
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        last_problem = ""
        for attempt in range(self.policy.max_attempts):
            if attempt:
                self.retries += 1
            self.attempts += 1
            try:
                raw = self.session.request(
                    method, url, json=json_body, headers=merged, timeout=timeout
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                last_problem = f"{type(error).__name__}: {error}"
                wait = self._backoff(attempt)
            else:
                if raw.status_code not in RETRY_STATUSES:
                    return Response(raw.status_code, _json(raw), dict(raw.headers))
                last_problem = f"HTTP {raw.status_code}: {raw.text[:200]}"
                wait = self._backoff(attempt)
                if raw.status_code in RETRY_AFTER_STATUSES:
                    asked = retry_after_seconds(raw.headers.get("Retry-After"))
                    if asked is not None:
                        if asked > self.policy.max_retry_after:
                            raise ExportError(
                                f"{method} {path}: server asked to retry after "
                                f"{asked:g}s, more than the "
                                f"{self.policy.max_retry_after:g}s allowed",
                                raw.status_code,
                            )
                        wait = asked
            if attempt + 1 < self.policy.max_attempts:
                self.waits.append(wait)
                self.sleep(wait)
        raise ExportError(
            f"{method} {path} failed after {self.policy.max_attempts} attempts: "
            f"{last_problem}"
        )


def _json(raw: requests.Response) -> Any:
    if not raw.content:
        return None
    try:
        return raw.json()
    except ValueError:
        return raw.text
