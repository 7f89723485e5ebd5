"""The listener's small steps, called directly: frames, statuses, subscriptions, logs. (Backoff and
the not-connected reports: tests/stream/test_stream_outage.py.)"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from tests.stream_helpers import idle_publisher
from trades.stream.config import ClientOptions
from trades.stream.frames import StatusEvent, count_trades, may_hold_status, status_events
from trades.stream.listener import Listener
from trades.stream.lock import FileLock
from trades.stream.stats import StatsReporter, StreamStats

TRADE = '{"ev":"T","sym":"O:AAPL251220C00190000","x":302,"p":1.54,"s":10,"c":[209],"t":1629820676333,"q":1}'
SUBSCRIBED = '[{"ev":"status","status":"success","message":"subscribed to: T.*"}]'


@pytest.fixture
def listener(tmp_path) -> Listener:
    stats = StreamStats()
    publisher = idle_publisher(stats)
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


def test_stats_line() -> None:
    stats = StreamStats(frames_received=10, trades_received=50, messages_published=3, trades_dropped=2)
    line = StatsReporter(stats).report(trades_buffered=7)
    assert "frames/s" in line and "trades/s" in line
    assert line.endswith("3 messages published, 7 trades buffered, 2 trades dropped")


# --- Stopping while the server drops us, the lock's store away, gaps -------------------------------


def test_stopping_while_the_server_drops_the_connection_ends_quietly(listener: Listener) -> None:
    """Once seen: SIGTERM as the feed dropped the socket printed a ConnectionClosedError traceback."""
    from websockets.exceptions import ConnectionClosedError
    from websockets.frames import Close

    async def scenario() -> None:
        async def connection_that_is_dropped() -> None:
            await asyncio.sleep(0.05)
            raise ConnectionClosedError(Close(1011, "dropped"), None)

        client = SimpleNamespace(websocket=None)
        task = asyncio.create_task(connection_that_is_dropped())
        await listener.close_client(client, task)  # type: ignore[arg-type]
        assert task.done()

    asyncio.run(scenario())


def test_the_listener_waits_for_the_locks_store_then_takes_the_lock(listener: Listener, caplog) -> None:
    from trades.stream.lock import LockUnavailable

    answers = iter([LockUnavailable("Redis is restarting"), LockUnavailable("Redis is restarting"), True])

    def acquire() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)

    listener.lock.acquire = acquire  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="trades.stream.listener"):
        assert asyncio.run(listener.acquire_lock()) is True
    assert "Waiting for the listener lock's store: Redis is restarting" in caplog.text


def test_another_listener_holding_the_lock_is_refused(listener: Listener) -> None:
    from trades.stream.listener import ListenerLockHeld

    listener.lock.acquire = lambda: False  # type: ignore[method-assign]
    with pytest.raises(ListenerLockHeld):
        asyncio.run(listener.acquire_lock())


def trades_at(*times: int) -> str:
    return "[" + ",".join(TRADE.replace("1629820676333", str(t)) for t in times) + "]"


def test_after_a_reconnect_the_window_since_the_last_trade_seen_is_a_gap(listener: Listener) -> None:
    listener.track_gaps = True
    listener.client = SimpleNamespace(websocket=object())  # type: ignore[assignment]
    receive(listener, trades_at(1000, 1500))
    receive(listener, trades_at(1200, 2000))  # out of time order within the stream: the newest counts
    assert listener._gaps == []  # the first connection of a run with no earlier trade: no gap
    listener.client = SimpleNamespace(websocket=object())  # type: ignore[assignment]
    receive(listener, SUBSCRIBED)  # no trades yet
    receive(listener, trades_at(7000, 6500))
    receive(listener, trades_at(9000))
    assert listener._gaps == [(2000, 6500)]
    assert listener.stats.gaps == 1


def test_a_restarted_listener_fills_the_gap_since_the_last_run(listener: Listener) -> None:
    listener.track_gaps = True
    listener.last_event_ms = 5000  # what the previous run wrote to the status row
    listener.client = SimpleNamespace(websocket=object())  # type: ignore[assignment]
    receive(listener, trades_at(8000))
    assert listener._gaps == [(5000, 8000)]


def test_replays_record_no_gaps(listener: Listener) -> None:
    listener.last_event_ms = 5000
    listener.client = SimpleNamespace(websocket=object())  # type: ignore[assignment]
    receive(listener, trades_at(8000))
    assert listener._gaps == [] and listener.last_event_ms == 5000


def test_the_stats_line_counts_gaps_with_their_hits_and_dead_letters_waiting() -> None:
    stats = StreamStats(gaps=2, gap_hits_recovered=6, dead_letters=3)
    line = StatsReporter(stats).report(trades_buffered=0)
    assert line.endswith("2 gaps filled over REST (6 hits recovered), ⚠️ 3 dead letters waiting")
