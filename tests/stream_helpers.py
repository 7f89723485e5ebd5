"""Helpers the listener's tests share: frames to replay, a listener against any port, a timed run."""

from __future__ import annotations

import asyncio
import threading

from trades.feed.server import DEFAULT_API_KEY
from trades.feed.source import Frame, frame_from_events
from trades.stream.config import ClientOptions
from trades.stream.listener import Listener
from trades.stream.lock import FileLock
from trades.stream.publisher import BatchPublisher
from trades.stream.stats import StreamStats

SYMBOL = "O:AAPL251220C00190000"


def trade_frames(count: int, trades_each: int = 3, first_q: int = 0) -> list[Frame]:
    return [
        frame_from_events(
            [
                {"ev": "T", "sym": SYMBOL, "x": 302, "p": 1.5, "s": 10, "c": [209], "t": 1764948600000, "q": q}
                for q in range(first_q + n * trades_each, first_q + (n + 1) * trades_each)
            ]
        )
        for n in range(count)
    ]


STATUS_ONLY = frame_from_events([{"ev": "status", "status": "info", "message": "replay starts"}])


FRAMES = trade_frames(5)


def idle_publisher(stats: StreamStats) -> BatchPublisher:
    """A publisher that hands its batches to nobody (tests of the listener's other work)."""
    return BatchPublisher(
        lambda frames, received_at: None, batch_trades=10, batch_ms=1000, capacity_trades=100, stats=stats
    )


def make_listener(tmp_path, port: int, **options: object) -> Listener:
    stats = StreamStats()
    publisher = idle_publisher(stats)
    return Listener(
        options=ClientOptions(api_key=DEFAULT_API_KEY, feed=f"127.0.0.1:{port}", secure=False),
        publisher=publisher,
        lock=FileLock(tmp_path / "lock"),
        stats=stats,
        channels=["T.*"],  # the database is not consulted
        **options,  # type: ignore[arg-type]
    )


def supervise_for(listener: Listener, seconds: float, meanwhile: object = None) -> None:
    """Run the supervisor for `seconds`, then stop it. In a thread: signal handlers are for the
    main thread only, and pytest's must stay as they are."""

    async def scenario() -> None:
        task = asyncio.create_task(listener.supervise())
        await asyncio.sleep(seconds)
        listener.request_stop()
        await asyncio.wait_for(task, 5)

    thread = threading.Thread(target=asyncio.run, args=(scenario(),))
    thread.start()
    if callable(meanwhile):
        meanwhile()
    thread.join(10)
    assert not thread.is_alive()
