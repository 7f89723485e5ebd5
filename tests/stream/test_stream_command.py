"""`manage.py stream` for real: a subprocess against the local feed, Redis and the test database."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import processes
from tests.stream_helpers import FRAMES, STATUS_ONLY, SYMBOL, trade_frames
from trades.feed.server import DEFAULT_API_KEY, FeedServer
from trades.feed.source import Frame, PrebuiltSource
from trades.models import Subscription

pytestmark = pytest.mark.django_db  # the child reads subscriptions from this run's test database


def texts(frames: list[Frame]) -> list[str]:
    return [frame.payload.decode() for frame in frames]


@pytest.fixture
def start_feed() -> Iterator[Callable[..., FeedServer]]:
    feeds: list[FeedServer] = []

    def start(frames: list[Frame] = FRAMES, **options: object) -> FeedServer:
        feed = FeedServer(source=PrebuiltSource(frames), **options)  # type: ignore[arg-type]
        feed.start_in_thread()
        feeds.append(feed)
        return feed

    yield start
    for feed in feeds:
        feed.stop()


@pytest.fixture
def listeners() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        processes.stop(process, signal.SIGKILL)


def stream_env(ws_url: str, api_key: str = DEFAULT_API_KEY, **extra: str) -> dict[str, str]:
    return processes.process_env(POLYGON_WS_URL=ws_url, POLYGON_API_KEY=api_key, **extra)


def run_stream(ws_url: str, *args: str, api_key: str = DEFAULT_API_KEY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        processes.manage("stream", *args),
        cwd=processes.ROOT,
        env=stream_env(ws_url, api_key),
        capture_output=True,
        text=True,
        timeout=30,
    )


def start_stream(listeners: list[subprocess.Popen], log: Path, ws_url: str, *args: str, **env: str) -> subprocess.Popen:
    env = {"POLYGON_WS_URL": ws_url, "POLYGON_API_KEY": DEFAULT_API_KEY, **env}
    process = processes.start(processes.manage("stream", *args), log, **env)
    listeners.append(process)
    return process


def wait_for_log(log: Path, text: str, timeout: float = 10, count: int = 1) -> None:
    processes.wait_for(lambda: log.read_text().count(text) >= count, timeout, f"{text!r} in {log.name}")


def test_frames_reach_the_ingest_queue_and_once_exits_0_after_a_clean_close(start_feed, ingest_queue) -> None:
    feed = start_feed([STATUS_ONLY, *FRAMES], close_when_done=True)

    # A window no test waits for: the messages are cut by their size alone (and the first, after a
    # quiet spell, the moment it arrives), then flushed at the close.
    result = run_stream(feed.ws_url, "--once", "--source", "replay", "--batch-trades", "6", "--batch-ms", "600000")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "✅ Authenticated successfully!" in output
    assert "📡 Subscribed to T.*" in output
    assert "📡 Polygon status info: replay starts" in output
    expected = texts(FRAMES)  # the status-only frame is not forwarded; at most 6 trades per message
    messages: list[list[str]] = []
    while sum(map(len, messages)) < len(expected):
        [(frames, kwargs)] = ingest_queue.read(1)
        assert kwargs == {"source": "replay"} and 1 <= len(frames) <= 2
        messages.append(frames)
    assert [frame for frames in messages for frame in frames] == expected
    assert ingest_queue.is_empty()


def test_a_wrong_key_fails_authentication_and_exits_non_zero(start_feed) -> None:
    feed = start_feed(close_when_done=True)

    result = run_stream(feed.ws_url, "--once", api_key="not-the-key")

    assert result.returncode != 0
    assert "Polygon refused the API key (auth_failed: authentication failed): check POLYGON_API_KEY" in result.stderr
    assert "stream stopped: authentication failed: check POLYGON_API_KEY" in result.stderr
    assert feed.stats.authenticated == 0


def test_no_api_key_is_a_clear_error(start_feed) -> None:
    result = run_stream("ws://127.0.0.1:9", "--once", api_key="")
    assert result.returncode != 0
    assert "POLYGON_API_KEY" in result.stderr


def test_reconnects_after_a_1011_disconnect(start_feed, ingest_queue) -> None:
    frames = trade_frames(4, trades_each=1)
    feed = start_feed(frames, close_when_done=True, disconnect_after=2)

    result = run_stream(feed.ws_url, "--once", "--batch-ms", "0")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "⚠️ stream: connection lost after" in output
    assert f"{feed.ws_url}/options closed the connection: 1011 (internal error)" in output
    assert "🔗 stream: connected after" in output
    assert output.count("✅ Authenticated successfully!") == 2
    assert feed.stats.authenticated == 2
    assert ingest_queue.read_frames(6) == texts(frames[:2] + frames)  # the feed replays from the start
    assert ingest_queue.is_empty()


def test_a_second_listener_exits_non_zero_while_the_first_holds_the_lock(start_feed, listeners, tmp_path) -> None:
    feed = start_feed()
    first = start_stream(listeners, tmp_path / "first.log", feed.ws_url)
    wait_for_log(tmp_path / "first.log", "✅ Authenticated successfully!")

    second = run_stream(feed.ws_url)

    assert second.returncode != 0
    assert "Another stream listener is running" in second.stderr
    assert feed.stats.authenticated == 1, "the second listener never connected"
    assert processes.stop(first) == 0


def test_sigterm_flushes_what_is_buffered_and_exits_0(start_feed, listeners, ingest_queue, tmp_path) -> None:
    feed = start_feed(rate=30)  # a frame every 0.1 s; stays open after the frames
    log = tmp_path / "stream.log"
    process = start_stream(
        listeners, log, feed.ws_url, "--batch-ms", "600000", "--batch-trades", "1000", STREAM_STATS_SECONDS="0.1"
    )
    # The first frame goes at once (the feed was quiet before it); the rest wait for the window.
    assert ingest_queue.read(1) == [(texts(FRAMES[:1]), {"source": "live"})]
    wait_for_log(log, "12 trades buffered")
    assert ingest_queue.is_empty()

    assert processes.stop(process, signal.SIGTERM) == 0

    assert ingest_queue.read(1) == [(texts(FRAMES[1:]), {"source": "live"})]
    output = log.read_text()
    assert "🛑 Stopping" in output
    assert "Flushing 12 buffered trades" in output
    assert "👋 Listener stopped: 2 messages (15 trades) published, 0 trades dropped" in output


def test_while_nothing_listens_it_says_not_connected_why_and_when_next(listeners, tmp_path) -> None:
    log = tmp_path / "stream.log"
    with socket.socket() as closed:  # bound, not listening: connecting is refused
        closed.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{closed.getsockname()[1]}"
        process = start_stream(listeners, log, url, STREAM_STATS_SECONDS="0.5")

        wait_for_log(log, "WARNING trades.stream.listener 📊 stream: not connected for", count=3)
        assert processes.stop(process, signal.SIGTERM) == 0

    output = log.read_text()
    assert output.count("could not connect") == 1, output
    assert f"⚠️ stream: could not connect: connection refused by {url}/options — next try in" in output
    assert f"failed attempts; last error: connection refused by {url}/options) — next try in" in output
    assert "frames/s" not in output


@pytest.mark.django_db(transaction=True)  # the child must see the committed row
def test_a_new_subscription_row_reaches_the_live_connection_within_10_s(start_feed, listeners, tmp_path) -> None:
    feed = start_feed()
    log = tmp_path / "stream.log"
    process = start_stream(listeners, log, feed.ws_url)
    wait_for_log(log, "📡 Subscribed to T.*")

    Subscription.objects.create(channel=f"T.{SYMBOL}")

    wait_for_log(log, f"📡 Subscribed to T.{SYMBOL}", timeout=10)
    wait_for_log(log, "📡 Unsubscribed from T.*")
    assert processes.stop(process) == 0
