"""A timeline: one iteration of a source, handed out frame by frame and recorded as it goes.

Without a live timeline every connection gets a timeline of its own (a replay from the start);
with one, every connection takes from the same timeline, as from a live feed: a client that
reconnects continues at the live edge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from trades.feed.source import Frame, split_trades
from trades.feed.trade_log import TradeLog


class Timeline:
    def __init__(self, frames: Iterator[Frame], trade_log: TradeLog | None = None) -> None:
        self._frames = frames
        self._held: Frame | None = None  # the rest of a frame that take() cut
        self.trade_log = trade_log
        self.position = 0  # trades handed out so far
        # Held by a gap while it skips trades, so that no connection takes from the timeline then.
        self.lock = asyncio.Lock()

    def take(self, most: int | None = None) -> Frame | None:
        """The next frame, cut after ``most`` trades (its rest comes next); None once the source is done."""
        frame = self._held if self._held is not None else next(self._frames, None)
        self._held = None
        if frame is None:
            return None
        if most is not None and frame.trades > most:
            frame, self._held = split_trades(frame, most)
        if self.trade_log is not None:
            self.trade_log.record(frame, self.position)
        self.position += frame.trades
        return frame
