"""A circuit breaker for one remote API (pure: no Django, no HTTP).

When an API is down, every call costs its timeouts and retries; a refresh of ten underlyings
would pay that thirty times over. Once the calls in a row that got no answer (no connection, a
timeout, 429/5xx after the retries) are ``max_failures`` many or have taken ``max_failing_seconds``
(a server that hangs costs a read timeout per call), the breaker opens: for ``cooldown`` seconds no
call is made, callers learn at once that the API is unreachable. Then calls are let through
again; the first outcome closes the breaker (an answer) or opens it for another cooldown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ApiUnreachable(Exception):
    """Not tried: the last calls to this API failed, and it is given a rest before the next try."""


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        max_failures: int,
        max_failing_seconds: float,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.max_failures = max_failures
        self.max_failing_seconds = max_failing_seconds
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._failing_seconds = 0.0
        self._last_failure = ""
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        """True while calls are held back (open, and the cooldown not over yet)."""
        with self._lock:
            return self._opened_at is not None and self._clock() - self._opened_at < self.cooldown

    def check(self) -> None:
        """Raise ApiUnreachable while the breaker is open."""
        if self.is_open:
            raise ApiUnreachable(self.why_open())

    def record_answer(self) -> None:
        """The API answered (whatever it said): it is reachable."""
        with self._lock:
            self._failures = 0
            self._failing_seconds = 0.0
            self._opened_at = None

    def record_failure(self, reason: str, seconds: float) -> None:
        """A call got no answer after its own retries; it took this long."""
        with self._lock:
            self._failures += 1
            self._failing_seconds += seconds
            self._last_failure = reason
            if self._failures >= self.max_failures or self._failing_seconds >= self.max_failing_seconds:
                self._opened_at = self._clock()  # (again) for a whole cooldown

    def why_open(self) -> str:
        with self._lock:
            spent = f"{self._failing_seconds:.1f} s"
            if self._failures == 1:
                return f"{self.name} is unreachable: a call failed after {spent}: {self._last_failure}"
            return (
                f"{self.name} is unreachable: {self._failures} calls in a row failed in {spent},"
                f" the last: {self._last_failure}"
            )
