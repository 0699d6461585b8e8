"""HTTP for the search client: JSON over GET, retries with exponential backoff, a rate limit.

A request that fails with HTTP 429 or 5xx, or with a transport error (connection refused, timeout),
is tried again after an exponentially growing wait (``initial * 2**k`` seconds, at most
``maximum``), or after the ``Retry-After`` the server sent when that is a number of seconds. Any
other 4xx fails at once. When the attempts are used up, :class:`SourceError` names the source and
the last HTTP status in one line. Successive requests to one source are spaced by at least the
source's interval (NCBI asks for no more than 3 requests a second without an API key, 10 with
one [eutils2010]).

The HTTP client is httpx and the retry loop is tenacity's; both come with the ``search`` extra
and are imported only when a search runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from analysis.evidence.extras import require

__all__ = ["Http", "RetryPolicy", "SourceError", "retry_policy_from_env"]

#: Statuses worth another attempt.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class SourceError(Exception):
    """A source failed for good: one line naming the source and what went wrong."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class _Retryable(Exception):
    def __init__(self, status: int | None, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before trying a request again.

    Attributes
    ----------
    attempts : int
        Attempts in all (1 = no retry).
    initial : float
        Seconds before the second attempt; the wait doubles after each failure.
    maximum : float
        Longest wait in seconds (also the cap on a server's ``Retry-After``).
    timeout : float
        Seconds a single request may take.
    """

    attempts: int = 5
    initial: float = 1.0
    maximum: float = 60.0
    timeout: float = 60.0


def retry_policy_from_env(environ: Mapping[str, str] | None = None) -> RetryPolicy:
    """A :class:`RetryPolicy` from ``ANALYSIS_SEARCH_RETRIES`` and ``ANALYSIS_SEARCH_RETRY_WAIT``.

    ``ANALYSIS_SEARCH_RETRIES`` is the number of attempts, ``ANALYSIS_SEARCH_RETRY_WAIT`` the
    first wait in seconds (``0`` makes tests fast). Unset variables keep the defaults.
    """
    env = os.environ if environ is None else environ
    base = RetryPolicy()
    try:
        attempts = int(env.get("ANALYSIS_SEARCH_RETRIES", base.attempts))
        initial = float(env.get("ANALYSIS_SEARCH_RETRY_WAIT", base.initial))
    except ValueError as exc:
        raise ValueError(f"ANALYSIS_SEARCH_RETRIES / ANALYSIS_SEARCH_RETRY_WAIT: {exc}") from None
    if attempts < 1 or initial < 0:
        raise ValueError("ANALYSIS_SEARCH_RETRIES must be >= 1 and ANALYSIS_SEARCH_RETRY_WAIT >= 0")
    return RetryPolicy(attempts=attempts, initial=initial, maximum=max(initial, base.maximum))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:  # an HTTP date: fall back to the exponential wait
        return None


@dataclass
class Http:
    """GET JSON from the services, politely and with retries.

    Parameters
    ----------
    policy : RetryPolicy
        Attempts and waits.
    user_agent : str
        Sent with every request.
    """

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str = "analysis-search"
    _last: dict[str, float] = field(default_factory=dict, repr=False)
    _client: Any = field(default=None, repr=False)

    def __enter__(self) -> Self:
        httpx = require("httpx", "search", "python -m analysis search")
        self._client = httpx.Client(timeout=self.policy.timeout, follow_redirects=True,
                                    headers={"User-Agent": self.user_agent})
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _space(self, source: str, interval: float) -> None:
        last = self._last.get(source)
        if last is not None:
            delay = interval - (time.monotonic() - last)
            if delay > 0:
                time.sleep(delay)
        self._last[source] = time.monotonic()

    def _once(self, source: str, url: str, params: Mapping[str, Any], interval: float) -> Any:
        httpx = require("httpx", "search")
        self._space(source, interval)
        try:
            response = self._client.get(url, params=dict(params))
        except httpx.TransportError as exc:
            raise _Retryable(None, f"no answer ({type(exc).__name__}) from {url}") from None
        status = response.status_code
        if status in RETRY_STATUSES:
            raise _Retryable(status, f"HTTP {status} from {url}",
                             _retry_after(response.headers.get("Retry-After")))
        if status >= 400:
            raise SourceError(source, f"HTTP {status} from {url}")
        try:
            return response.json()
        except ValueError:
            raise SourceError(source, f"malformed response from {url}: not JSON "
                                      f"(HTTP {status}, {len(response.content)} bytes)") from None

    def get_json(self, source: str, url: str, params: Mapping[str, Any], *,
                 interval: float = 0.0) -> Any:
        """The parsed JSON answer of ``GET url?params``, after retries.

        Raises
        ------
        SourceError
            After the last attempt failed, or at once for a 4xx other than 429 or a body that
            is not JSON.
        """
        tenacity = require("tenacity", "search")
        policy = self.policy

        def wait(state: Any) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                return min(exc.retry_after, policy.maximum)
            return min(policy.initial * 2 ** (state.attempt_number - 1), policy.maximum)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            return retrying(self._once, source, url, params, interval)
        except _Retryable as exc:
            tries = f"{policy.attempts} attempt{'s' if policy.attempts > 1 else ''}"
            raise SourceError(source, f"{exc.problem} (still failing after {tries})") from None
