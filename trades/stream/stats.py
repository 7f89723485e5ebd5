"""Listener counters and the periodic one-line stats log.

Each counter has a single writer (the receive loop or the publisher thread), so plain
integers are safe to bump under the GIL; readers may see a value a moment old.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from trades.stream.frames import StatusEvent

RECENT_STATUSES = 20


@dataclass
class StreamStats:
    frames_received: int = 0
    trades_received: int = 0
    frames_dropped: int = 0  # the buffer was full, or the broker stayed away at shutdown
    trades_dropped: int = 0
    messages_published: int = 0
    trades_published: int = 0
    publish_failures: int = 0
    connections: int = 0
    gaps: int = 0  # windows missed while disconnected, sent to be filled over REST
    gap_hits_recovered: int = 0  # hits the workers found in those gaps (read from the database)
    dead_letters: int | None = None  # batches waiting in the database to be replayed (None: not read)
    recent_statuses: deque[StatusEvent] = field(default_factory=lambda: deque(maxlen=RECENT_STATUSES))


@dataclass
class StatsReporter:
    """Turns the counters into rates since the previous report."""

    stats: StreamStats
    _last_at: float = field(default_factory=time.monotonic)
    _last_frames: int = 0
    _last_trades: int = 0

    def report(self, trades_buffered: int) -> str:
        now = time.monotonic()
        elapsed = max(now - self._last_at, 1e-9)
        frames_per_second = (self.stats.frames_received - self._last_frames) / elapsed
        trades_per_second = (self.stats.trades_received - self._last_trades) / elapsed
        self._last_at, self._last_frames, self._last_trades = (
            now,
            self.stats.frames_received,
            self.stats.trades_received,
        )
        return (
            f"📊 {frames_per_second:.1f} frames/s, {trades_per_second:.1f} trades/s, "
            f"{self.stats.messages_published} messages published, {trades_buffered} trades buffered, "
            f"{self.stats.trades_dropped} trades dropped"
            + (
                f", {self.stats.gaps} gaps filled over REST ({self.stats.gap_hits_recovered} hits recovered)"
                if self.stats.gaps
                else ""
            )
            + (f", ⚠️ {self.stats.dead_letters} dead letters waiting" if self.stats.dead_letters else "")
        )


class RateLimit:
    """Allows an action at most once per `interval` seconds (for repeated warnings)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next_at = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now < self._next_at:
            return False
        self._next_at = now + self.interval
        return True
