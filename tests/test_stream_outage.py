"""The listener while it cannot connect: the backoff schedule and the words it uses."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from polygon.exceptions import AuthError
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from trades.stream.backoff import Backoff, backoff_ceiling, backoff_delay
from trades.stream.outage import Outage, describe_error, format_duration

# --- the schedule (pure) -----------------------------------------------------------------------

failures = st.integers(min_value=0, max_value=10_000)
bases = st.floats(min_value=0.001, max_value=10.0)
caps = st.floats(min_value=10.0, max_value=3600.0)
jitters = st.floats(min_value=0.0, max_value=1.0)
uniforms = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def test_the_default_schedule_doubles_from_half_a_second_to_30_s() -> None:
    assert [backoff_ceiling(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


@given(failures, bases, caps)
def test_the_ceiling_is_bounded_and_never_shrinks(n: int, base: float, cap: float) -> None:
    ceiling = backoff_ceiling(n, base=base, cap=cap)
    assert 0 < ceiling <= cap
    assert backoff_ceiling(n + 1, base=base, cap=cap) >= ceiling


@given(failures, bases, caps, jitters, uniforms)
def test_each_wait_lies_in_the_jitter_band_below_its_ceiling(
    n: int, base: float, cap: float, jitter: float, uniform: float
) -> None:
    ceiling = backoff_ceiling(n, base=base, cap=cap)
    delay = backoff_delay(n, base=base, cap=cap, jitter=jitter, uniform=lambda: uniform)
    assert ceiling * (1 - jitter) <= delay <= ceiling <= cap


@given(st.lists(uniforms, min_size=12, max_size=12))
def test_waits_grow_to_the_cap_and_start_again_after_a_reset(draws: list[float]) -> None:
    backoff = Backoff()
    delays = [backoff.next_delay() for _ in draws]
    assert all(backoff_ceiling(n) / 2 <= delay <= backoff_ceiling(n) for n, delay in enumerate(delays, start=1))
    assert max(delays) <= 30
    backoff.reset()
    assert backoff.next_delay() <= 0.5


# --- the words (pure) --------------------------------------------------------------------------

URL = "ws://127.0.0.1:8765/options"


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (0.04, 8.26, 42.4, 130, 7300)] == [
        "0.0 s",
        "8.3 s",
        "42 s",
        "2 min 10 s",
        "2 h 1 min",
    ]


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), f"connection refused by {URL}"),
        (
            socket.gaierror(-2, "Name or service not known"),
            f"cannot resolve the host of {URL} (Name or service not known)",
        ),
        (TimeoutError("timed out during opening handshake"), f"no answer from {URL} (timed out)"),
        (OSError(101, "Network is unreachable"), f"network is unreachable ({URL})"),
        (
            InvalidStatus(Response(401, "Unauthorized", Headers())),
            f"{URL} answered HTTP 401 Unauthorized instead of a WebSocket",
        ),
        (
            ConnectionClosedError(Close(1011, "overloaded"), None),
            f"{URL} closed the connection: 1011 (internal error) overloaded",
        ),
        (
            AuthError("authentication failed"),
            "Polygon refused the API key (auth_failed: authentication failed): check POLYGON_API_KEY",
        ),
    ],
)
def test_connection_errors_are_said_in_words(error: BaseException, said: str) -> None:
    assert describe_error(error, URL).startswith(said)


def test_an_outage_says_how_long_how_often_why_and_when_next() -> None:
    outage = Outage(started=100.0)
    assert outage.describe(now=103.0) == "not connected for 3.0 s — connecting now"
    assert outage.note_failed_attempt("connection refused by X", next_try_in=8.0) is True
    assert outage.note_failed_attempt("connection refused by X", next_try_in=8.0) is False  # not news
    outage.next_try_at = 148.0
    assert outage.describe(now=140.0) == (
        "not connected for 40 s (2 failed attempts; last error: connection refused by X) — next try in 8.0 s"
    )
