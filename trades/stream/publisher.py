"""Hands raw frames from the receive loop to Celery without ever blocking the loop.

The receive loop calls `offer()`, which only appends to a bounded buffer (counted in
trades). A thread coalesces the buffer into messages and publishes them, adapting to the
load: a message goes out when it holds `batch_trades` trades, or `batch_ms` after the previous
one went out. A quiet feed's frame therefore goes at once, alone; a busy feed's frames wait at
most `batch_ms` and travel many to a message, so the workers' cost per message is shared by
more trades the busier it gets. If the broker is
away it keeps the batch and retries with backoff while the buffer fills; only a full buffer,
or a broker still away when the flush deadline at shutdown passes, loses frames, and those
are counted and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from celery import Celery, current_app

from trades import queues
from trades.models import TradeSource
from trades.stream.stats import RateLimit, StreamStats

logger = logging.getLogger(__name__)

# What a listener may record as its trades' source (TradeSource: backfill and gap fills come from REST).
SOURCES = (TradeSource.LIVE.value, TradeSource.REPLAY.value)

# The frames, and when the first of them arrived (seconds since the epoch).
Publish = Callable[[list[str], float], None]


def celery_publish(source: str = "live", app: Celery | None = None) -> Publish:
    """The worker contract: one `trades.ingest_batch` message per list of raw frames."""

    def publish(frames: list[str], received_at: float) -> None:
        kwargs = {"source": source, "received_at": received_at}
        (app or current_app).send_task(queues.INGEST_BATCH, args=[frames], kwargs=kwargs, queue=queues.INGEST)

    return publish


@dataclass(frozen=True)
class BufferedFrame:
    text: str
    weight: int  # trades in the frame, at least 1 so every frame counts against the bound
    arrived_at: float


class BatchPublisher:
    def __init__(
        self,
        publish: Publish,
        *,
        batch_trades: int,
        batch_ms: int,
        capacity_trades: int,
        stats: StreamStats | None = None,
        retry_base_seconds: float = 0.5,
        retry_max_seconds: float = 10.0,
        warn_every_seconds: float = 5.0,
    ) -> None:
        self.publish = publish
        self.batch_trades = max(1, batch_trades)
        self.batch_seconds = max(0, batch_ms) / 1000
        self.capacity_trades = capacity_trades
        self.stats = stats or StreamStats()
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self._queue: deque[BufferedFrame] = deque()
        self._queued_trades = 0
        self._held_trades = 0  # the batch being published
        self._last_taken = float("-inf")  # when the last batch was taken (monotonic)
        self._cond = threading.Condition()
        self._stopping = False
        self._give_up_at: float | None = None
        self._gave_up = False
        self._interrupt = threading.Event()
        self._drop_warning = RateLimit(warn_every_seconds)
        self._broker_warning = RateLimit(warn_every_seconds)
        self._thread = threading.Thread(target=self.run, name="stream-publisher", daemon=True)

    @property
    def trades_buffered(self) -> int:
        return self._queued_trades + self._held_trades

    # --- the receive loop's side ---------------------------------------------------------

    def offer(self, frame: str, trades: int) -> bool:
        """Buffer a frame for publishing; False (counted and logged) if the buffer is full."""
        weight = max(trades, 1)
        with self._cond:
            accepted = not self._stopping and self.trades_buffered + weight <= self.capacity_trades
            if accepted:
                was_empty = not self._queue
                self._queue.append(BufferedFrame(frame, weight, time.monotonic()))
                self._queued_trades += weight
                if was_empty or self._queued_trades >= self.batch_trades:
                    self._cond.notify()
        if not accepted:
            self._count_dropped(frames=1, trades=weight, why="publisher stopped" if self._stopping else "buffer full")
        return accepted

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Publish everything buffered, waiting at most about `timeout` seconds.

        True if nothing was lost. Frames still unpublished at the deadline are counted as
        dropped and logged.
        """
        with self._cond:
            self._stopping = True
            self._give_up_at = time.monotonic() + timeout
            self._cond.notify_all()
        self._interrupt.set()
        if self._thread.is_alive():
            # The last publish attempt may itself take a moment (Celery's own retries).
            self._thread.join(timeout + 5)
        else:
            self.run()
        return self.trades_buffered == 0 and not self._gave_up

    # --- the publisher thread ----------------------------------------------------------------

    def run(self) -> None:
        while batch := self.next_batch():
            if not self.publish_with_retry(batch):
                self._gave_up = True
                self._abandon_queue()
                return

    def next_batch(self) -> list[BufferedFrame]:
        """Wait for a batch: `batch_trades` trades, or `batch_ms` after the previous batch was taken
        (a frame after a quiet spell goes at once).

        When stopping, return what is there at once; an empty list means stopped and empty.
        """
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return []
                self._cond.wait()
            deadline = self._last_taken + self.batch_seconds
            while self._queued_trades < self.batch_trades and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._take_batch()

    def _take_batch(self) -> list[BufferedFrame]:
        batch: list[BufferedFrame] = []
        weight = 0
        while self._queue and weight < self.batch_trades:
            frame = self._queue.popleft()
            batch.append(frame)
            weight += frame.weight
        self._queued_trades -= weight
        self._held_trades += weight
        self._last_taken = time.monotonic()
        return batch

    def publish_with_retry(self, batch: list[BufferedFrame]) -> bool:
        """Publish one batch, retrying with backoff; False only if the flush deadline passed."""
        frames = [frame.text for frame in batch]
        weight = sum(frame.weight for frame in batch)
        received_at = time.time() - (time.monotonic() - batch[0].arrived_at)
        attempt = 0
        while True:
            try:
                self.publish(frames, received_at)
            except Exception as exc:
                self.stats.publish_failures += 1
                if self._past_flush_deadline():
                    with self._cond:
                        self._held_trades -= weight
                    self._count_dropped(frames=len(frames), trades=weight, why=f"broker unavailable ({exc!r})")
                    return False
                delay = min(self.retry_max_seconds, self.retry_base_seconds * 2**attempt)
                attempt += 1
                if attempt == 1 or self._broker_warning.ready():
                    logger.warning(
                        "Broker unavailable (%s); holding %d trades, retrying in %.1f s (attempt %d)",
                        exc,
                        self.trades_buffered,
                        delay,
                        attempt,
                    )
                self._pause(delay)
                continue
            with self._cond:
                self._held_trades -= weight
            self.stats.messages_published += 1
            self.stats.trades_published += weight
            if attempt:
                logger.info("Broker back after %d failed attempts; publishing resumed", attempt)
            return True

    def _past_flush_deadline(self) -> bool:
        return self._give_up_at is not None and time.monotonic() >= self._give_up_at

    def _pause(self, delay: float) -> None:
        if self._give_up_at is None:
            self._interrupt.wait(delay)  # stop() interrupts, so the flush deadline holds
        else:
            time.sleep(max(0.0, min(delay, self._give_up_at - time.monotonic())))

    def _abandon_queue(self) -> None:
        with self._cond:
            frames, trades = len(self._queue), self._queued_trades
            self._queue.clear()
            self._queued_trades = 0
        if frames:
            self._count_dropped(frames=frames, trades=trades, why="broker unavailable at shutdown")

    def _count_dropped(self, *, frames: int, trades: int, why: str) -> None:
        self.stats.frames_dropped += frames
        self.stats.trades_dropped += trades
        if self._stopping:
            logger.error("❌ Lost %d frames (%d trades): %s", frames, trades, why)
        elif self._drop_warning.ready():
            logger.warning(
                "⚠️ Dropping frames (%s, %d trades buffered): %d frames / %d trades dropped so far",
                why,
                self.trades_buffered,
                self.stats.frames_dropped,
                self.stats.trades_dropped,
            )
