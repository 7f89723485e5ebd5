"""The listener while it cannot connect: the backoff schedule, the words it uses, and a real
listener against a port where nothing listens (then a feed that comes up there)."""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Iterator
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st
from polygon.exceptions import AuthError
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from tests.stream_helpers import make_listener, supervise_for
from trades.domain.formatting import duration
from trades.feed.server import FeedServer
from trades.feed.source import PrebuiltSource
from trades.stream.backoff import Backoff, backoff_ceiling, backoff_delay
from trades.stream.outage import Outage, describe_error

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
    assert [duration(s) for s in (0.04, 8.26, 42.4, 130, 7300)] == [
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


# --- a real listener against a closed port -----------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connecting is refused, and no other process can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_not_connected_is_said_at_warning_and_attempts_back_off(tmp_path, closed_port: int, caplog) -> None:
    listener = make_listener(tmp_path, closed_port, stats_seconds=0.5)

    with caplog.at_level(logging.DEBUG, logger="trades.stream.listener"):
        supervise_for(listener, 2.6)

    records = [record for record in caplog.records if record.name == "trades.stream.listener"]
    url = f"ws://127.0.0.1:{closed_port}/options"
    stats_lines = [record for record in records if record.getMessage().startswith("📊")]
    assert len(stats_lines) >= 4
    assert all(record.levelname == "WARNING" for record in stats_lines)
    assert "frames/s" not in caplog.text
    assert f"failed attempts; last error: connection refused by {url}) — next try in" in stats_lines[-1].getMessage()
    assert re.match(r"📊 stream: not connected for [12]\.\d s \(\d failed attempts", stats_lines[-1].getMessage())

    # The reason is given once at WARNING; the attempts after it only at DEBUG.
    first_failures = [record for record in records if "could not connect" in record.getMessage()]
    assert [record.levelname for record in first_failures] == ["WARNING"]
    assert f"could not connect: connection refused by {url} — next try in" in first_failures[0].getMessage()

    # Attempt k + 1 came after the k-th wait: within [ceiling / 2, ceiling] of 0.5, 1, 2 … s.
    attempts = [record.created for record in records if record.getMessage().startswith("🔌 Connecting")]
    assert 3 <= len(attempts) <= 4
    for failures, (before, after) in enumerate(pairwise(attempts), start=1):
        ceiling = backoff_ceiling(failures)
        assert ceiling / 2 - 0.05 <= after - before <= ceiling + 0.5, (failures, after - before)
    assert listener.status.current_outage().failed_attempts == len(attempts)


def test_when_the_feed_comes_up_it_says_how_long_it_was_down(tmp_path, caplog) -> None:
    with socket.socket() as sock:  # a free port, for the feed to take a moment later
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    listener = make_listener(tmp_path, port, backoff=Backoff(base=0.1, cap=0.3))
    feed = FeedServer(source=PrebuiltSource([]))

    def feed_comes_up() -> None:
        threading.Event().wait(1.0)
        feed.start_in_thread(port=port)

    try:
        with caplog.at_level(logging.INFO, logger="trades.stream.listener"):
            supervise_for(listener, 2.0, meanwhile=feed_comes_up)
    finally:
        feed.stop()

    connected = [record for record in caplog.records if record.getMessage().startswith("🔗")]
    assert len(connected) == 1 and connected[0].levelname == "INFO"
    said = connected[0].getMessage()
    down = re.fullmatch(r"🔗 stream: connected after (\d\.\d) s down \(\d+ failed attempts\)", said)
    assert down and float(down[1]) >= 1.0
    assert listener.stats.connections == 1


def test_a_polygon_error_status_before_the_end_is_part_of_the_reason(tmp_path) -> None:
    listener = make_listener(tmp_path, 9)
    listener.handle_statuses('[{"ev":"status","status":"max_connections","message":"Maximum connections exceeded."}]')
    assert listener.describe_failure(None) == (
        "ws://127.0.0.1:9/options closed the connection cleanly, after Polygon status max_connections: "
        "Maximum connections exceeded. (another connection uses this API key: Polygon allows one per account)"
    )
