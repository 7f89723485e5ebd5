"""While the listener is not connected: since when, how many attempts failed and why, in words an
operator can act on. Pure (no Django): the listener notes, the stats line and status row read."""

from __future__ import annotations

import errno
import socket
import ssl
import time
from dataclasses import dataclass, field

from polygon.exceptions import AuthError
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from trades.domain.formatting import duration, plural

# What to do about a Polygon status that ended a connection.
STATUS_HINTS = {
    "auth_failed": "check POLYGON_API_KEY",
    "max_connections": "another connection uses this API key: Polygon allows one per account",
}


@dataclass
class Outage:
    started: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)  # epoch seconds, for the status row
    failed_attempts: int = 0
    last_error: str = ""
    next_try_at: float | None = None  # monotonic; None while an attempt is under way

    def note_lost(self, error: str, next_try_in: float | None) -> None:
        """The live connection was lost: that began this outage (it is not a failed attempt)."""
        self.last_error = error
        self.next_try_at = _deadline(next_try_in)

    def note_failed_attempt(self, error: str, next_try_in: float | None) -> bool:
        """Count a failed attempt; True if its error is news to the operator in this outage."""
        news = error != self.last_error
        self.failed_attempts += 1
        self.last_error = error
        self.next_try_at = _deadline(next_try_in)
        return news

    def note_attempt(self) -> None:
        self.next_try_at = None

    def went_wrong(self) -> bool:
        """False for the plain start of a run (no attempt failed yet, nothing lost)."""
        return bool(self.last_error)

    def duration(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started

    def summary(self) -> str:
        """'5 failed attempts; last error: …' (empty when nothing went wrong yet)."""
        parts = [plural(self.failed_attempts, "failed attempt")] if self.failed_attempts else []
        if self.last_error:
            parts.append(f"last error: {self.last_error}")
        return "; ".join(parts)

    def describe(self, now: float | None = None) -> str:
        """'not connected for 40 s (5 failed attempts; last error: …) — next try in 8 s'"""
        now = time.monotonic() if now is None else now
        text = f"not connected for {duration(self.duration(now))}"
        if summary := self.summary():
            text += f" ({summary})"
        if self.next_try_at is None:
            return f"{text} — connecting now"
        return f"{text} — next try in {duration(max(self.next_try_at - now, 0.0))}"


def _deadline(seconds: float | None) -> float | None:
    return None if seconds is None else time.monotonic() + seconds


def describe_error(exc: BaseException, url: str) -> str:
    """Why a connection attempt failed or a connection ended, for the operator."""
    if isinstance(exc, AuthError):
        return f"Polygon refused the API key (auth_failed: {exc}): {STATUS_HINTS['auth_failed']}"
    if isinstance(exc, ConnectionClosed):
        return _describe_close(exc, url)
    if isinstance(exc, InvalidStatus):
        response = exc.response
        return f"{url} answered HTTP {response.status_code} {response.reason_phrase} instead of a WebSocket"
    if isinstance(exc, InvalidHandshake):
        return f"the WebSocket handshake with {url} failed: {exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host of {url} ({exc.strerror}): check POLYGON_WS_URL and DNS"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {url} failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return f"connection refused by {url}"
    if isinstance(exc, TimeoutError):
        return f"no answer from {url} (timed out)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror.lower()} ({url})"
    return f"{type(exc).__name__}: {exc} ({url})"


def _describe_close(exc: ConnectionClosed, url: str) -> str:
    close = exc.rcvd
    if close is None:
        return f"the connection to {url} dropped without a close frame"
    return f"{url} closed the connection: {close}"


def describe_status(status: str, message: str) -> str:
    """A Polygon error status, with what to do about it when we know."""
    hint = STATUS_HINTS.get(status)
    return f"Polygon status {status}: {message}" + (f" ({hint})" if hint else "")
