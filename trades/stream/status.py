"""The listener's notes for its status row (StreamStatus, pk=1): what the admin page and /healthz read.

The listener keeps cheap in-memory notes on its event loop (`StatusRecorder`); a snapshot of
them is written to the database from a worker thread (trades.services.stream_status.write_status,
via asyncio.to_thread), never on the event loop.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from trades.stream.frames import StatusEvent
from trades.stream.outage import Outage
from trades.stream.stats import StreamStats

logger = logging.getLogger(__name__)

RECENT_STATUSES = 10


def _as_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


@dataclass
class StatusRecorder:
    """What the listener knows about its connection, noted on the loop; `snapshot()` reads it."""

    stats: StreamStats
    url: str = ""
    connected: bool = False
    connected_since: float | None = None  # epoch seconds
    outage: Outage | None = field(default_factory=Outage)  # None while connected
    last_frame_at: float | None = None
    recent_statuses: deque[dict[str, str]] = field(default_factory=lambda: deque(maxlen=RECENT_STATUSES))
    _rate_at: float = field(default_factory=time.monotonic)
    _rate_frames: int = 0
    _rate_trades: int = 0
    _frames_per_second: float = 0.0
    _trades_per_second: float = 0.0

    def note_frame(self) -> None:
        self.last_frame_at = time.time()

    def note_status(self, event: StatusEvent) -> None:
        self.recent_statuses.append(
            {"time": timezone.now().isoformat(), "status": event.status, "message": event.message}
        )

    def note_connected(self, url: str) -> None:
        self.url = url
        self.connected = True
        self.connected_since = time.time()
        self.outage = None

    def note_disconnected(self) -> None:
        self.connected = False
        self.connected_since = None
        self.current_outage()

    def current_outage(self) -> Outage:
        """The outage under way (begun now if the listener was connected until now)."""
        if self.outage is None:
            self.outage = Outage()
        return self.outage

    def update_rates(self) -> None:
        """Frames and trades per second since the previous call (called every STREAM_STATS_SECONDS)."""
        now = time.monotonic()
        elapsed = max(now - self._rate_at, 1e-9)
        self._frames_per_second = (self.stats.frames_received - self._rate_frames) / elapsed
        self._trades_per_second = (self.stats.trades_received - self._rate_trades) / elapsed
        self._rate_at, self._rate_frames, self._rate_trades = (
            now,
            self.stats.frames_received,
            self.stats.trades_received,
        )

    def snapshot(self, *, subscriptions: list[str], trades_buffered: int) -> dict[str, Any]:
        """The StreamStatus fields, as plain values (safe to hand to another thread)."""
        return {
            "connected": self.connected,
            "connected_since": _as_datetime(self.connected_since),
            "last_frame_at": _as_datetime(self.last_frame_at),
            "url": self.url,
            "subscriptions": list(subscriptions),
            "frames_per_second": round(self._frames_per_second, 3),
            "trades_per_second": round(self._trades_per_second, 3),
            "messages_published": self.stats.messages_published,
            "trades_buffered": trades_buffered,
            "trades_dropped": self.stats.trades_dropped,
            "recent_statuses": list(self.recent_statuses),
            **self.outage_fields(),
        }

    def outage_fields(self) -> dict[str, Any]:
        """Since when the listener is not connected, and why (cleared while connected)."""
        if self.connected or self.outage is None:
            return {"disconnected_since": None, "outage": ""}
        return {"disconnected_since": _as_datetime(self.outage.started_at), "outage": self.outage.summary()[:500]}
