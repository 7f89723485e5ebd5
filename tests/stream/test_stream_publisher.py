"""The listener's publisher against the real Redis broker (per-run key prefix)."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import pytest
from celery import Celery
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.broker import IngestQueue
from tests.proxy import SwitchableProxy
from trades.stream.publisher import BatchPublisher, celery_publish
from trades.stream.stats import StreamStats

LONG_MS = 60_000  # a batch window no test waits for
# Each example publishes to Redis and reads back: fewer examples, and the fixture is per test.
settings_for_broker_round_trips = hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def trade_frame(n: int, trades: int = 1) -> str:
    events = ",".join(
        f'{{"ev":"T","sym":"O:AAPL251220C00190000","p":1.5,"s":1,"q":{n * 100 + i}}}' for i in range(trades)
    )
    return f"[{events}]"


@pytest.fixture
def stats() -> StreamStats:
    return StreamStats()


def make_publisher(stats: StreamStats, **overrides: object) -> BatchPublisher:
    options: dict = {"batch_trades": 10, "batch_ms": LONG_MS, "capacity_trades": 1000, "stats": stats}
    options.update(overrides)
    publish = options.pop("publish", celery_publish("live"))
    return BatchPublisher(publish, **options)


def test_coalesces_by_trade_count(ingest_queue: IngestQueue, stats: StreamStats) -> None:
    publisher = make_publisher(stats, batch_trades=10)
    publisher.start()
    frames = [trade_frame(n, trades=5) for n in range(4)]
    for frame in frames:
        assert publisher.offer(frame, 5)

    messages = ingest_queue.read(2)
    assert messages == [(frames[:2], {"source": "live"}), (frames[2:], {"source": "live"})]
    assert publisher.stop(timeout=5)
    assert stats.messages_published == 2
    assert stats.trades_published == 20


def test_a_quiet_feeds_frame_goes_at_once_and_a_busy_feeds_wait_for_the_window(
    ingest_queue: IngestQueue, stats: StreamStats
) -> None:
    """Adaptive batching: after a quiet spell a frame is published alone, at once; the frames
    that follow within the window travel together when it ends (here: never, until stop)."""
    publisher = make_publisher(stats, batch_trades=1000, batch_ms=LONG_MS)
    publisher.start()
    first = trade_frame(0)
    publisher.offer(first, 1)
    assert ingest_queue.read(1) == [([first], {"source": "live"})]

    busy = [trade_frame(n) for n in range(1, 4)]
    for frame in busy:
        publisher.offer(frame, 1)
    time.sleep(0.2)
    assert ingest_queue.is_empty(), "inside the window the frames wait for each other"
    assert publisher.stop(timeout=5)
    assert ingest_queue.read(1) == [(busy, {"source": "live"})]


def test_coalesces_by_time(ingest_queue: IngestQueue, stats: StreamStats) -> None:
    publisher = make_publisher(stats, batch_trades=1000, batch_ms=50)
    publisher.start()
    publisher.offer(trade_frame(0), 1)
    assert len(ingest_queue.read(1)) == 1

    later = [trade_frame(n) for n in range(1, 4)]
    for frame in later:
        publisher.offer(frame, 1)
    assert ingest_queue.read(1) == [(later, {"source": "live"})], "the window's frames in one message"
    assert publisher.stop(timeout=5)


def test_flushes_everything_on_stop(ingest_queue: IngestQueue, stats: StreamStats) -> None:
    publisher = make_publisher(stats, batch_trades=1000, publish=celery_publish("replay"))
    publisher.start()
    frames = [trade_frame(n, trades=2) for n in range(5)]
    for frame in frames:
        publisher.offer(frame, 2)

    assert publisher.stop(timeout=5)
    assert ingest_queue.read(1) == [(frames, {"source": "replay"})]
    assert publisher.trades_buffered == 0
    assert not publisher.offer(trade_frame(99), 1), "a stopped publisher takes nothing more"


def test_full_buffer_drops_counts_and_logs(
    ingest_queue: IngestQueue, stats: StreamStats, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = make_publisher(stats, capacity_trades=10, batch_trades=1000)  # not started: nothing drains
    kept = [trade_frame(0, trades=4), trade_frame(1, trades=4)]
    assert publisher.offer(kept[0], 4)
    assert publisher.offer(kept[1], 4)
    with caplog.at_level(logging.WARNING, logger="trades.stream.publisher"):
        assert not publisher.offer(trade_frame(2, trades=4), 4)
        assert not publisher.offer(trade_frame(3, trades=3), 3)
    kept.append(trade_frame(4, trades=2))
    assert publisher.offer(kept[2], 2), "a frame that still fits is kept"

    assert (stats.frames_dropped, stats.trades_dropped) == (2, 7)
    assert publisher.trades_buffered == 10
    assert "Dropping frames" in caplog.text
    assert "1 frames / 4 trades dropped so far" in caplog.text  # the rate limit keeps one line

    assert publisher.stop(timeout=5)  # never started: stop() flushes inline
    assert ingest_queue.read(1) == [(kept, {"source": "live"})]


def test_a_status_only_frame_still_counts_against_the_bound(stats: StreamStats) -> None:
    publisher = make_publisher(stats, capacity_trades=1)
    assert publisher.offer('[{"ev":"Q"}]', 0)
    assert not publisher.offer('[{"ev":"Q"}]', 0)


def test_broker_away_keeps_the_batch_and_retries_until_it_is_back(
    ingest_queue: IngestQueue, stats: StreamStats, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_url = urlsplit(settings.CELERY_BROKER_URL)
    proxy = SwitchableProxy((redis_url.hostname or "127.0.0.1", redis_url.port or 6379))
    # Celery lets the CELERY_BROKER_URL environment variable win over the app's own setting.
    monkeypatch.setenv("CELERY_BROKER_URL", redis_url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl())
    app = Celery("stream-test")
    app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    publisher = make_publisher(stats, batch_ms=0, publish=celery_publish("live", app=app), retry_base_seconds=0.05)
    frames = [trade_frame(1), trade_frame(2)]
    try:
        with caplog.at_level(logging.WARNING, logger="trades.stream.publisher"):
            publisher.start()
            publisher.offer(frames[0], 1)
            wait_for(lambda: stats.publish_failures >= 2)
            publisher.offer(frames[1], 1)  # the buffer fills while the broker is away
            assert ingest_queue.is_empty()
            assert publisher.trades_buffered == 2

            proxy.up = True
            messages = ingest_queue.read(2)
            assert publisher.stop(timeout=5)
    finally:
        proxy.close()
        app.close()

    assert messages == [([frames[0]], {"source": "live"}), ([frames[1]], {"source": "live"})]
    assert "Broker unavailable" in caplog.text
    assert stats.trades_dropped == 0


def test_broker_away_at_shutdown_gives_up_at_the_deadline_and_says_so(
    stats: StreamStats, caplog: pytest.LogCaptureFixture
) -> None:
    def broker_away(frames: list[str], received_at: float) -> None:
        raise ConnectionError("broker away")

    publisher = make_publisher(stats, publish=broker_away, batch_trades=1, retry_base_seconds=0.05)
    publisher.start()
    for n in range(3):
        publisher.offer(trade_frame(n), 1)
    with caplog.at_level(logging.ERROR, logger="trades.stream.publisher"):
        assert not publisher.stop(timeout=0.3)
    assert (stats.frames_dropped, stats.trades_dropped) == (3, 3)
    assert "Lost 1 frames" in caplog.text and "Lost 2 frames" in caplog.text


def wait_for(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@settings_for_broker_round_trips
@given(frames=st.lists(st.text(max_size=300), min_size=1, max_size=5))
def test_frames_cross_the_broker_exactly_in_orjson(ingest_queue: IngestQueue, frames: list[str]) -> None:
    """Whatever text a frame holds (quotes, backslashes, any language, malformed JSON), the worker
    reads back exactly what the listener sent, encoded as the task serializer says."""
    app = Celery("serializer-test")  # its own: a test above leaves the default app's pool on a closed proxy
    app.config_from_object("django.conf:settings", namespace="CELERY")
    received_at = time.time()
    celery_publish("replay", app=app)(frames, received_at)

    message = ingest_queue.queue.get(no_ack=True)
    assert message is not None
    assert (message.content_type, message.headers.get("compression")) == ("application/x-orjson", "application/x-lz4")
    args, kwargs, _embed = message.decode()
    assert args == [frames] and kwargs == {"source": "replay", "received_at": received_at}
