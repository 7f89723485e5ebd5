"""The running day volume per contract, for opening inference: counted per minute, once per batch
(logged with the batch, added up by the order closer)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from trades.models import CountedDay, VolumeCount, VolumeSeed
from trades.services import day_volume, orders

NY = ZoneInfo("America/New_York")
OPEN_MS = int(datetime(2025, 12, 5, 9, 30, tzinfo=NY).timestamp() * 1000)
DAY = date(2025, 12, 5)
NVDA = "O:NVDA251219C00150000"
MINUTE_MS = 60_000


def counted(*prints: tuple[int, int, tuple[int, ...]]) -> day_volume.VolumeTally:
    tally = day_volume.VolumeTally()
    for minute, size, conditions in prints:
        tally.add(NVDA, OPEN_MS + minute * MINUTE_MS + 5, size, conditions, 1.25, 100)
    return tally


def before(minute: int) -> int | None:
    ns = (OPEN_MS + minute * MINUTE_MS + 30_000) * 1_000_000
    return day_volume.volumes_before([(NVDA, ns)])[(NVDA, ns)]


@pytest.mark.django_db
def test_a_day_counted_from_the_open_sums_every_minute_before_the_order():
    CountedDay.objects.create(trade_date=DAY, since=datetime(2025, 12, 5, 9, 0, tzinfo=NY))
    day_volume.add(counted((0, 100, (209,)), (1, 50, (232,)), (1, 40, (201,)), (2, 999, (247,)), (3, 7, ())).counts)

    assert [before(minute) for minute in (0, 1, 2, 3, 4)] == [0, 100, 110, 110, 117]  # cancel out, compression none


@pytest.mark.django_db
def test_a_redelivered_batch_counts_once_and_another_batch_adds():
    CountedDay.objects.create(trade_date=DAY, since=datetime(2025, 12, 5, 9, 0, tzinfo=NY))
    for frames, size in ((["frame-1"], 100), (["frame-1"], 100), (["frame-2"], 30)):  # frame-1 twice
        orders.log_batch(day_volume.digest(frames), "live", [], {}, counted((0, size, ())).counts, None)
    orders.close_due(closer=orders.Closer())  # the closer adds the logged counts up
    assert before(1) == 130


def log_counts(name: str, size: int) -> None:
    orders.log_batch(day_volume.digest([name]), "live", [], {}, counted((0, size, ())).counts, None)


def before_with(pending: dict[tuple[str, int], int], minute: int) -> int | None:
    ns = (OPEN_MS + minute * MINUTE_MS + 30_000) * 1_000_000
    return day_volume.volumes_before([(NVDA, ns)], pending=pending)[(NVDA, ns)]


@pytest.mark.django_db
def test_counts_held_between_writes_are_seen_and_written_once_whoever_closes_next(monkeypatch):
    """The closer writes the counts every VOLUME_COUNT_SECONDS; meanwhile opening inference adds the
    ones it holds, and a closer that takes over (a restart) writes them, once."""
    CountedDay.objects.create(trade_date=DAY, since=datetime(2025, 12, 5, 9, 0, tzinfo=NY))
    first, second = orders.Closer(), orders.Closer()
    log_counts("frame-1", 100)
    orders.close_due(closer=first)  # a new book writes at once
    monkeypatch.setattr(orders, "VOLUME_COUNT_SECONDS", 3600.0)
    log_counts("frame-2", 30)
    orders.close_due(closer=first)
    assert first.book is not None
    assert before(1) == 100  # the table: frame-2's counts are held
    assert before_with(first.book.volume, 1) == 130  # what the closer judges with

    log_counts("frame-3", 5)
    orders.close_due(closer=second)  # another process: it builds the book and takes the held counts over
    assert second.book is not None and before(1) == 135
    assert not second.book.uncounted


@pytest.mark.django_db
def test_a_late_joined_day_starts_from_the_snapshot_seed_or_is_unknown():
    day_volume.add(counted((0, 100, ()), (5, 20, ()), (7, 3, ())).counts)
    assert before(10) is None  # neither counted from the open nor seeded: unknown, never a guess

    seed_ns = (OPEN_MS + 5 * MINUTE_MS + 10_000) * 1_000_000
    VolumeSeed.objects.create(symbol=NVDA, trade_date=DAY, volume=1_000, as_of_ns=seed_ns)
    assert before(5) is None  # the order is in the seed's minute: not after it
    assert before(10) == 1_003  # the seed, then the minutes after the seed's


@pytest.mark.django_db
def test_seeds_come_from_snapshots_in_the_session_and_the_first_stays():
    in_session = datetime(2025, 12, 5, 11, 0, tzinfo=NY)
    assert day_volume.record_seeds({NVDA: 500}, datetime(2025, 12, 5, 8, 0, tzinfo=NY)) == 0  # before the open
    day_volume.record_seeds({NVDA: 500}, in_session)
    day_volume.record_seeds({NVDA: 900}, in_session.replace(hour=12))
    assert VolumeSeed.objects.get().volume == 500


@pytest.mark.django_db
def test_a_listener_there_before_the_open_makes_the_day_whole():
    assert day_volume.note_listening(datetime(2025, 12, 5, 9, 29, tzinfo=NY))
    assert not day_volume.note_listening(datetime(2025, 12, 8, 9, 31, tzinfo=NY))  # after the open
    assert list(CountedDay.objects.values_list("trade_date", flat=True)) == [DAY]


def stored_counts() -> dict[int, tuple[int, int, str]]:
    return {
        row.minute - OPEN_MS // MINUTE_MS: (row.volume, row.premium, row.underlying)
        for row in VolumeCount.objects.filter(symbol=NVDA)
    }


@pytest.mark.django_db
def test_premium_is_counted_in_cents_beside_the_volume_and_a_backfilled_day_replaces_the_counts():
    day_volume.add(counted((0, 100, (209,)), (0, 40, (201,)), (1, 7, ())).counts)
    # 100 × $1.25 × 100 shares = $12,500, less the cancelled 40 × $1.25 × 100 = $5,000; then 7 contracts.
    assert stored_counts() == {0: (60, 750_000, "NVDA"), 1: (7, 87_500, "NVDA")}
    day_volume.add(counted((1, 1, ())).counts)  # the closer adds
    assert stored_counts()[1] == (8, 100_000, "NVDA")
    day_volume.replace(counted((0, 10, ())).counts)  # a backfill writes its whole tape's count
    assert stored_counts() == {0: (10, 125_000, "NVDA"), 1: (8, 100_000, "NVDA")}


@pytest.mark.django_db
def test_a_round_the_clock_feed_counts_the_day_whole_outside_the_session_only():
    """The demo's feed: in the evening or at a weekend no chain snapshot seeds the day's volume."""
    assert not day_volume.count_whole_day_outside_session(datetime(2025, 12, 5, 15, 59, tzinfo=NY))  # a Friday
    assert not CountedDay.objects.exists()
    assert day_volume.count_whole_day_outside_session(datetime(2025, 12, 5, 16, 0, tzinfo=NY))
    assert day_volume.count_whole_day_outside_session(datetime(2025, 12, 6, 11, 0, tzinfo=NY))  # Saturday
    assert sorted(CountedDay.objects.values_list("trade_date", flat=True)) == [date(2025, 12, 5), date(2025, 12, 6)]
