"""The listener's small steps, called directly: frames, statuses, subscriptions, backoff, logs."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from trades.stream.config import ClientOptions
from trades.stream.frames import StatusEvent, count_trades, may_hold_status, status_events
from trades.stream.listener import Backoff, Listener, WebSocketsLog
from trades.stream.lock import FileLock
from trades.stream.publisher import BatchPublisher
from trades.stream.stats import StatsReporter, StreamStats

TRADE = '{"ev":"T","sym":"O:AAPL251220C00190000","x":302,"p":1.54,"s":10,"c":[209],"t":1629820676333,"q":1}'
SUBSCRIBED = '[{"ev":"status","status":"success","message":"subscribed to: T.*"}]'


@pytest.fixture
def listener(tmp_path) -> Listener:
    stats = StreamStats()
    publisher = BatchPublisher(lambda frames: None, batch_trades=10, batch_ms=1000, capacity_trades=100, stats=stats)
    options = ClientOptions(api_key="key", feed="127.0.0.1:9", secure=False)
    return Listener(options=options, publisher=publisher, lock=FileLock(tmp_path / "lock"), stats=stats)


def receive(listener: Listener, frame: str | bytes) -> None:
    asyncio.run(listener.on_frame(frame))


def test_counts_trades_without_parsing() -> None:
    assert count_trades(f"[{TRADE},{TRADE}]") == 2
    assert count_trades('[{"ev": "T", "sym": "O:X"}]') == 1  # json.dumps spacing
    assert count_trades(SUBSCRIBED) == 0
    assert may_hold_status(SUBSCRIBED) and not may_hold_status(f"[{TRADE}]")


def test_reads_status_events_and_survives_garbage() -> None:
    assert status_events(SUBSCRIBED) == [StatusEvent("success", "subscribed to: T.*")]
    assert status_events('{"ev":"status","status":"error"') == []
    assert status_events('"status"') == []


def test_trade_frames_go_to_the_publisher(listener: Listener) -> None:
    receive(listener, f"[{TRADE},{TRADE}]".encode())
    assert listener.publisher.trades_buffered == 2
    assert (listener.stats.frames_received, listener.stats.trades_received) == (1, 2)


def test_status_frames_are_logged_kept_and_not_forwarded(listener: Listener, caplog) -> None:
    frames = [
        SUBSCRIBED,
        '[{"ev":"status","status":"success","message":"unsubscribed to: T.*"}]',
        '[{"ev":"status","status":"slow_consumer","message":"falling behind"}]',
        '[{"ev":"status","status":"max_connections","message":"too many"}]',
        '[{"ev":"status","status":"force_disconnect","message":"bye"}]',
    ]
    with caplog.at_level(logging.INFO, logger="trades.stream.listener"):
        for frame in frames:
            receive(listener, frame)
    assert listener.publisher.trades_buffered == 0
    assert [event.status for event in listener.stats.recent_statuses][-1] == "force_disconnect"
    logged = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert ("INFO", "📡 Subscribed to T.*") in logged
    assert ("INFO", "📡 Unsubscribed from T.*") in logged
    assert ("WARNING", "⚠️ Polygon status slow_consumer: falling behind") in logged
    assert ("ERROR", "❌ Polygon status max_connections: too many") in logged
    assert ("ERROR", "❌ Polygon status force_disconnect: bye") in logged


def test_authentication_is_announced_once_per_connection(listener: Listener, caplog) -> None:
    first, second = SimpleNamespace(websocket=object()), SimpleNamespace(websocket=object())
    with caplog.at_level(logging.INFO, logger="trades.stream.listener"):
        listener.client = first  # type: ignore[assignment]
        receive(listener, SUBSCRIBED)
        receive(listener, f"[{TRADE}]")
        listener.client = second  # type: ignore[assignment]
        receive(listener, f"[{TRADE}]")
    assert caplog.text.count("✅ Authenticated successfully!") == 2
    assert listener.stats.connections == 2


def test_subscription_changes_state_the_exact_set_on_the_client(listener: Listener, caplog) -> None:
    client = listener.options.build_client(["T.*", "T.O:A"])
    listener.client = client
    listener.apply_channels(["T.*", "T.O:A"])
    client.schedule_resub = False  # as after the client's first reconcile

    with caplog.at_level(logging.INFO, logger="trades.stream.listener"):
        listener.apply_channels(["T.O:A"])

    # client.unsubscribe("T.*") would also have dropped T.O:A.
    assert client.scheduled_subs == {"T.O:A"}
    assert client.schedule_resub
    assert "📡 Subscriptions changed: +[] -['T.*']" in caplog.text


def test_backoff_is_full_jitter_capped_and_resets() -> None:
    backoff = Backoff(base=1, cap=8)
    ceilings = [1, 2, 4, 8, 8, 8]
    for ceiling in ceilings:
        assert 0 <= backoff.next_delay() <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1
    delays = backoff.fresh_delays()
    assert all(0 <= next(delays) <= 8 for _ in range(50))


def test_websockets_connect_failures_are_reported_as_ours(caplog) -> None:
    log = WebSocketsLog(logging.getLogger("websockets.client"))
    with caplog.at_level(logging.INFO):
        log.info("connect failed; reconnecting in %.1f seconds: %s", 2.5, "ConnectionRefusedError: refused")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "trades.stream.listener",
            "WARNING",
            "WebSocket connection failed: ConnectionRefusedError: refused (retrying in 2.5 s)",
        )
    ]


def test_stats_line() -> None:
    stats = StreamStats(frames_received=10, trades_received=50, messages_published=3, trades_dropped=2)
    line = StatsReporter(stats).report(trades_buffered=7)
    assert "frames/s" in line and "trades/s" in line
    assert line.endswith("3 messages published, 7 trades buffered, 2 trades dropped")
