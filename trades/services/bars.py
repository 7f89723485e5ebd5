"""An underlying's bars over REST: minute bars for its price at a moment of a past day, day bars
(stored, `DailyBar`) for its closes."""

from __future__ import annotations

import bisect
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from trades.domain.calendar import new_york_date
from trades.models import DailyBar
from trades.polygon_rest.client import GuardedRESTClient
from trades.services import rows

MS_PER_MINUTE = 60_000
BARS_LIMIT = 50_000  # the endpoint's maximum


class MinuteSpots:
    """The underlying's price at a moment: the close of the last whole minute before it (the first
    bar's open before the first minute closed)."""

    def __init__(self, bars: list[tuple[int, float, float]]) -> None:  # (start ms, open, close)
        self.bars = sorted(bars)
        self.ends = [start + MS_PER_MINUTE for start, _, _ in self.bars]

    def at(self, ts_ms: int) -> float | None:
        if not self.bars:
            return None
        index = bisect.bisect_right(self.ends, ts_ms) - 1
        return self.bars[0][1] if index < 0 else self.bars[index][2]


def minute_spots(client: GuardedRESTClient, ticker: str, day: date) -> MinuteSpots:
    bars = client.get_aggs(ticker, 1, "minute", day.isoformat(), day.isoformat(), adjusted=True, limit=BARS_LIMIT)
    return MinuteSpots(
        [
            (bar.timestamp, float(bar.open), float(bar.close))
            for bar in bars
            if isinstance(getattr(bar, "timestamp", None), int) and _is_price(bar.open) and _is_price(bar.close)
        ]
    )


def store_day_bars(client: GuardedRESTClient, ticker: str, first: date, last: date) -> int:
    """The ticker's day bars from ``first`` to ``last`` (split-adjusted), stored or updated; a bar
    that is not one (a price missing or not positive) is left out."""
    bars = client.get_aggs(ticker, 1, "day", first.isoformat(), last.isoformat(), adjusted=True, limit=BARS_LIMIT)
    found = []
    for bar in bars:
        prices = [_decimal(getattr(bar, name, None)) for name in ("open", "high", "low", "close")]
        timestamp = getattr(bar, "timestamp", None)
        if isinstance(timestamp, int) and all(price is not None for price in prices):
            volume = _decimal(getattr(bar, "volume", None)) or Decimal(0)
            found.append((ticker, new_york_date(timestamp), *prices, volume))
    columns: list[rows.Column] = [
        ("ticker", "text"),
        ("day", "date"),
        ("open", "numeric"),
        ("high", "numeric"),
        ("low", "numeric"),
        ("close", "numeric"),
        ("volume", "numeric"),
    ]
    updates = ", ".join(f"{name} = excluded.{name}" for name, _ in columns[2:])
    rows.insert(
        DailyBar._meta.db_table,
        [*columns, ("updated_at", "timestamptz")],
        [(*bar, timezone.now()) for bar in found],
        f"ON CONFLICT (ticker, day) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
    )
    return len(found)


def _is_price(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e12


def _decimal(value: object) -> Decimal | None:
    if not _is_price(value):
        return None
    try:
        return Decimal(repr(value)).quantize(Decimal("0.0001"))
    except InvalidOperation:
        return None
