"""Each contract's running day volume, for opening inference (FLOW.md, "Opening inference").

Workers count the volume of the watched underlyings' prints per contract and second, one row per
batch (no write per trade); a redelivered batch counts once (the batch's digest is in the key).
A contract's volume before an order is the sum of its counts before the order's first second,
when the day's counting is complete: either the listener was there when the session opened
(a `CountedDay`), or a chain snapshot gave the day's volume so far (a `VolumeSeed`, taken the
first time the open interest is read in the session) and the counts since add to it. Otherwise
the volume, and with it the opening flags, are unknown: never a guess.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from django.db.models import Sum
from django.utils import timezone

from trades.domain.calendar import MARKET_OPEN, NEW_YORK, is_market_open, new_york_date
from trades.domain.orders import NS_PER_MS, volume_change_of
from trades.models import CountedDay, VolumeCount, VolumeSeed

NS_PER_SECOND = 1_000_000_000


class VolumeTally:
    """One batch's volume per (contract, second), counted as the prints go by."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = defaultdict(int)

    def add(self, symbol: str, timestamp_ms: int, size: int, conditions: tuple[int, ...]) -> None:
        change = volume_change_of(size, conditions)
        if change:
            self.counts[(symbol, timestamp_ms // 1000)] += change


def record(tally: VolumeTally, frames: Iterable[str]) -> int:
    """Store the batch's counts (idempotent: the same batch counts once). Returns the rows written."""
    if not tally.counts:
        return 0
    batch = _digest(frames)
    rows = [
        VolumeCount(symbol=symbol, trade_date=new_york_date(second * 1000), second=second, batch=batch, volume=volume)
        for (symbol, second), volume in tally.counts.items()
    ]
    VolumeCount.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def _digest(frames: Iterable[str]) -> str:
    digest = hashlib.blake2b(digest_size=10)
    for frame in frames:
        digest.update(frame.encode() if isinstance(frame, str) else repr(frame).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


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


def volume_before(symbol: str, trade_date: date, first_ts_ns: int) -> int | None:
    """The contract's volume that day before the second of ``first_ts_ns``; None if unknown."""
    before = first_ts_ns // NS_PER_SECOND
    counts = VolumeCount.objects.filter(symbol=symbol, trade_date=trade_date, second__lt=before)
    if CountedDay.objects.filter(trade_date=trade_date).exists():
        return max(0, counts.aggregate(total=Sum("volume"))["total"] or 0)
    seed = VolumeSeed.objects.filter(symbol=symbol, trade_date=trade_date).first()
    if seed is None or seed.as_of_ns >= first_ts_ns:
        return None
    since = counts.filter(second__gte=seed.as_of_ns // NS_PER_SECOND)
    return max(0, seed.volume + (since.aggregate(total=Sum("volume"))["total"] or 0))
