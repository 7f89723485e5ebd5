"""What the local feed sends: frames (one JSON array of events each) and the sources that yield them.

A source hands every connection a fresh iteration from its start. The server sends a frame's
payload as it is under ``T.*``; only explicit ``T.<symbol>`` subscriptions parse frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson


@dataclass(frozen=True, slots=True)
class Frame:
    payload: bytes  # exactly what goes on the wire (UTF-8 text); may be malformed on purpose
    trades: int  # trade events ("ev":"T") in it; 0 for a payload that is not a JSON array

    def items(self) -> list[Any]:
        return parse_items(self.payload)


class Source(Protocol):
    def frames(self, frame_size: int) -> Iterator[Frame]:
        """A fresh iteration from the start, for one connection."""
        ...


def parse_items(payload: bytes) -> list[Any]:
    """A payload's array items; [] when it is not a JSON array."""
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    return parsed if isinstance(parsed, list) else []


def is_trade(item: object) -> bool:
    return isinstance(item, dict) and item.get("ev") == "T"


def count_trades(items: Iterable[Any]) -> int:
    return sum(1 for item in items if is_trade(item))


def frame_from_payload(payload: bytes) -> Frame:
    """A frame for a payload as it is, counting its trade events if it parses."""
    return Frame(payload, count_trades(parse_items(payload)))


def frame_from_events(events: Sequence[Any]) -> Frame:
    return Frame(orjson.dumps(events), count_trades(events))


def first_trades(frame: Frame, count: int) -> Frame:
    """The frame cut right after its ``count``-th trade event."""
    return split_trades(frame, count)[0]


def split_trades(frame: Frame, count: int) -> tuple[Frame, Frame | None]:
    """The frame cut right after its ``count``-th trade event, and the rest (None if nothing is left)."""
    items = frame.items()
    cut = 0
    trades = 0
    while cut < len(items) and trades < count:
        trades += is_trade(items[cut])
        cut += 1
    rest = items[cut:]
    return frame_from_events(items[:cut]), frame_from_events(rest) if rest else None


def limit_trades(frames: Iterable[Frame], limit: int | None) -> Iterator[Frame]:
    """The frames up to exactly ``limit`` trades (the last frame cut if needed); None is no limit."""
    if limit is None:
        yield from frames
        return
    remaining = limit
    if remaining <= 0:
        return
    for frame in frames:
        if frame.trades > remaining:
            frame = first_trades(frame, remaining)
        remaining -= frame.trades
        yield frame
        if remaining == 0:
            return


class PrebuiltSource:
    """Frames built beforehand (the benchmark): sending them costs no per-event work."""

    def __init__(self, frames: Sequence[Frame]) -> None:
        self.prebuilt = frames

    def frames(self, frame_size: int) -> Iterator[Frame]:
        return iter(self.prebuilt)

    @property
    def trades(self) -> int:
        return sum(frame.trades for frame in self.prebuilt)
