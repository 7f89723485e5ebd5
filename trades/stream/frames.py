"""Cheap checks on raw Polygon frames; the workers do the real parsing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

# Polygon sends compact JSON; the spaced form covers servers that use json.dumps defaults.
_TRADE_MARKERS = ('"ev":"T"', '"ev": "T"')


def count_trades(frame: str) -> int:
    """Trade events in a frame, counted without parsing it."""
    return sum(frame.count(marker) for marker in _TRADE_MARKERS)


def may_hold_status(frame: str) -> bool:
    """True if the frame might carry status events (trade events never hold the word)."""
    return '"status"' in frame


@dataclass(frozen=True)
class StatusEvent:
    status: str
    message: str


def status_events(frame: str) -> list[StatusEvent]:
    """The status events of a frame; an unreadable frame yields none."""
    try:
        events: Any = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return []
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list):
        return []
    return [
        StatusEvent(status=str(event.get("status", "")), message=str(event.get("message", "")))
        for event in events
        if isinstance(event, dict) and event.get("ev") == "status"
    ]


def trade_time_range(frame: str) -> tuple[int, int] | None:
    """The earliest and latest SIP time (ms) of the frame's trade events; None if it has none.

    A full parse: the listener calls it for one frame now and then (a reconnect, a status
    write), never per frame.
    """
    try:
        events: Any = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(events, list):
        return None
    times = [
        event["t"]
        for event in events
        if isinstance(event, dict) and event.get("ev") == "T" and type(event.get("t")) is int
    ]
    return (min(times), max(times)) if times else None
