"""Each contract's running day volume, for opening inference (FLOW.md, "Opening inference").

Workers count the volume of the watched underlyings' prints per contract and minute and log the
counts with the batch's kept prints (a redelivered batch is logged once, by its frames' digest);
the order closer adds them up, every few seconds in one statement (no write per trade), and adds
the counts it holds meanwhile to those it reads back. A contract's volume before an order is the
sum of its counts before the order's first minute (to the minute: the prints of that minute before
the order are left out, which can only make an order look less opening, never more), when the
day's counting is complete: either the listener was there when the session opened (a `CountedDay`),
or a chain snapshot gave the day's volume so far (a `VolumeSeed`, taken the first time the open
interest is read in the session) and the counts since add to it. Otherwise the volume, and with it
the opening flags, are unknown: never a guess.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache

from django.utils import timezone

from trades.domain.calendar import MARKET_OPEN, NEW_YORK, is_market_open, new_york_date
from trades.domain.occ import InvalidSymbol, parse_occ, underlying_for_root
from trades.domain.orders import NS_PER_MS, volume_change_of
from trades.models import CountedDay, VolumeCount, VolumeSeed
from trades.services import rows

MS_PER_MINUTE = 60_000
NS_PER_MINUTE = 60_000_000_000


# A count: (volume in contracts, premium in cents), by (contract, minute).
Count = tuple[int, int]


class VolumeTally:
    """One batch's volume and premium per (contract, minute), counted as the prints go by."""

    def __init__(self) -> None:
        # The firehose adds every print of a watched underlying: one dict update each, the sizes kept
        # per conditions too, and what each counts for (a cancel subtracts) worked out once at the end.
        self.sizes: dict[tuple[str, int, tuple[int, ...]], int] = defaultdict(int)
        self.cents: dict[tuple[str, int, tuple[int, ...]], int] = defaultdict(int)

    def add(
        self, symbol: str, timestamp_ms: int, size: int, conditions: tuple[int, ...], price: float, shares: int
    ) -> None:
        key = (symbol, timestamp_ms // MS_PER_MINUTE, conditions)
        self.sizes[key] += size
        self.cents[key] += premium_cents(price, size, shares)

    @property
    def counts(self) -> dict[tuple[str, int], Count]:
        volume: dict[tuple[str, int], int] = defaultdict(int)
        cents: dict[tuple[str, int], int] = defaultdict(int)
        for (symbol, minute, conditions), size in self.sizes.items():
            if sign := volume_change_of(1, conditions):
                volume[(symbol, minute)] += sign * size
                cents[(symbol, minute)] += sign * self.cents[(symbol, minute, conditions)]
        return {key: (count, cents[key]) for key, count in volume.items()}


def premium_cents(price: float, size: int, shares: int) -> int:
    """A print's premium in whole cents: integers add up alike in any order (live, replay, backfill)."""
    return round(price * size * shares * 100)


_COUNT_COLUMNS: list[rows.Column] = [
    ("symbol", "text"),
    ("underlying", "text"),
    ("trade_date", "date"),
    ("minute", "bigint"),
    ("volume", "bigint"),
    ("premium", "bigint"),
]


def add(counts: Mapping[tuple[str, int], Count]) -> None:
    """Add volume and premium per (contract, minute) in one statement (the closer, from the batches
    it consumes)."""
    _upsert(counts, "volume = {table}.volume + excluded.volume, premium = {table}.premium + excluded.premium")


def replace(counts: Mapping[tuple[str, int], Count]) -> None:
    """Write a backfilled day's counts: its whole tape's, in place of what a listener counted of it."""
    _upsert(counts, "volume = excluded.volume, premium = excluded.premium")


def _upsert(counts: Mapping[tuple[str, int], Count], update: str) -> None:
    if not counts:
        return
    table = VolumeCount._meta.db_table
    # Sorted: two writers upserting the same rows lock them in the same order, never in a deadlock.
    values = [
        (symbol, underlying_of(symbol), new_york_date(minute * MS_PER_MINUTE), minute, volume, cents)
        for (symbol, minute), (volume, cents) in sorted(counts.items())
    ]
    rows.insert(
        table, _COUNT_COLUMNS, values, f"ON CONFLICT (symbol, minute) DO UPDATE SET {update.format(table=table)}"
    )


@lru_cache(maxsize=100_000)
def underlying_of(symbol: str) -> str:
    """The contract's underlying as its root names it (the root alias table; no reference data)."""
    try:
        return underlying_for_root(parse_occ(symbol).root)
    except InvalidSymbol:
        return ""


def digest(frames: Iterable[str]) -> str:
    """A batch's name: the same frames, the same digest (a redelivered batch is logged once)."""
    found = hashlib.blake2b(digest_size=10)
    for frame in frames:
        found.update(frame.encode() if isinstance(frame, str) else repr(frame).encode())
        found.update(b"\x00")
    return found.hexdigest()


def record_seeds(day_volume: dict[str, int], read_at: datetime) -> int:
    """The day's volume so far from a chain snapshot, during the session; the first of the day stays."""
    if not day_volume or not is_market_open(read_at):
        return 0
    as_of_ns = int(read_at.timestamp() * 1e9)
    trade_date = new_york_date(as_of_ns // NS_PER_MS)
    seeds = [
        VolumeSeed(symbol=symbol, trade_date=trade_date, volume=volume, as_of_ns=as_of_ns)
        for symbol, volume in day_volume.items()
    ]
    VolumeSeed.objects.bulk_create(seeds, ignore_conflicts=True, batch_size=1000)
    return len(seeds)


def note_listening(now: datetime | None = None) -> bool:
    """The listener is receiving: before the session opens, today's counts will be the whole day."""
    now = now or timezone.now()
    local = now.astimezone(NEW_YORK)
    if local.time() >= MARKET_OPEN or local.weekday() >= 5:
        return False
    CountedDay.objects.get_or_create(trade_date=local.date(), defaults={"since": now})
    return True


def count_whole_day_outside_session(now: datetime | None = None) -> bool:
    """For a feed that trades around the clock (the demo's): outside the session no chain snapshot
    seeds the day's volume, and such a feed sent nothing before its listener came, so the day's
    counts from now are whole. In the session a seed is taken as for the real feed."""
    now = now or timezone.now()
    if is_market_open(now):
        return False
    CountedDay.objects.get_or_create(trade_date=now.astimezone(NEW_YORK).date(), defaults={"since": now})
    return True


def volumes_before(
    orders: list[tuple[str, int]], pending: Mapping[tuple[str, int], int] | None = None
) -> dict[tuple[str, int], int | None]:
    """Each contract's volume on its order's day before the minute of the order's first print
    (``orders``: contract, first print's ns), or None where the day's volume is not whole. In
    four queries, whatever the number of orders. ``pending``: counts not added to the table yet."""
    if not orders:
        return {}
    days = {(symbol, first_ts_ns): new_york_date(first_ts_ns // NS_PER_MS) for symbol, first_ts_ns in orders}
    symbols, dates = {symbol for symbol, _ in orders}, set(days.values())
    counted = set(CountedDay.objects.filter(trade_date__in=dates).values_list("trade_date", flat=True))
    seeds = {
        (seed.symbol, seed.trade_date): seed
        for seed in VolumeSeed.objects.filter(symbol__in=symbols, trade_date__in=dates)
    }
    latest = max(first_ts_ns for _, first_ts_ns in orders) // NS_PER_MINUTE
    minutes: dict[str, list[tuple[date, int, int]]] = defaultdict(list)
    counts = VolumeCount.objects.filter(symbol__in=symbols, trade_date__in=dates, minute__lt=latest)
    for symbol, trade_date, minute, volume in counts.values_list("symbol", "trade_date", "minute", "volume"):
        minutes[symbol].append((trade_date, minute, volume))
    for (symbol, minute), volume in (pending or {}).items():
        if symbol in symbols and minute < latest:
            minutes[symbol].append((new_york_date(minute * MS_PER_MINUTE), minute, volume))
    found: dict[tuple[str, int], int | None] = {}
    for (symbol, first_ts_ns), trade_date in days.items():
        before = first_ts_ns // NS_PER_MINUTE
        seed = seeds.get((symbol, trade_date))
        if trade_date in counted:
            after, base = None, 0
        elif seed is not None and seed.as_of_ns // NS_PER_MINUTE < before:
            after, base = seed.as_of_ns // NS_PER_MINUTE, seed.volume
        else:
            found[(symbol, first_ts_ns)] = None
            continue
        total = sum(
            volume
            for day, minute, volume in minutes[symbol]
            if day == trade_date and minute < before and (after is None or minute > after)
        )
        found[(symbol, first_ts_ns)] = max(0, base + total)
    return found
