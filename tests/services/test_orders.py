"""Orders through the worker's service against real PostgreSQL: a sweep is one hit, whatever the
batching; cancels withdraw it; profiles that judge prints go on as before."""

import queue
import random
import threading
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import orjson
import pytest
from django.db import connection

from tests.factories import frame, only_profile
from tests.order_helpers import NY, SWEEP_CONTRACT, T0, a_million_dollar_sweep, settle, trade
from trades.domain.orders import NS_PER_MS, Print, group, print_digest
from trades.models import (
    FilterProfile,
    KeptPrint,
    OptionTrade,
    Order,
    OrderClock,
    OrderCloser,
    OrderState,
    PrintBatch,
    VolumeCount,
)
from trades.selectors import flow_rules
from trades.services import orders
from trades.services.ingest import ingest_frames


def add_print_profile(name, min_premium):
    watchlist = FilterProfile.objects.get(name="big-orders").watchlist
    flow_rules.forget_flow_rules()
    return FilterProfile.objects.create(name=name, watchlist=watchlist, min_premium=Decimal(min_premium))


def test_a_million_dollar_sweep_of_twenty_prints_is_one_hit(order_profile):
    add_print_profile("per-print-100k", 100_000)
    prints = a_million_dollar_sweep()

    for start in range(0, 20, 7):  # three batches
        ingest_frames([frame(*prints[start : start + 7])])
    ingest_frames([frame(trade(5_000, sym="O:NVDA251219C00160000", p=15.0, s=100, q=9))])  # a $150,000 block
    report = settle()

    (order,) = Order.objects.filter(state=OrderState.HIT)
    assert (order.type, order.prints, order.premium, order.size) == ("SWEEP", 20, Decimal("1000000.00"), 2_000)
    assert order.iso and order.exchanges == [300, 301, 302, 303, 304, 307, 308, 309]
    assert order.aggressor == "UNKNOWN" and not order.golden  # no quote: never a guess
    assert list(order.profiles.values_list("name", flat=True)) == ["big-orders"]
    assert report.hits == 1 and Order.objects.count() == 1  # the block's order is $150K: under $500K
    # The profile that judges prints saw twenty $50K prints and one $150K print, as it always did.
    assert list(OptionTrade.objects.values_list("premium", flat=True)) == [Decimal("150000.00")]


def test_the_sweep_is_the_same_whatever_the_batching(order_profile):
    prints = a_million_dollar_sweep()
    ingest_frames([frame(*prints)])
    settle()
    one_batch = list(Order.objects.values_list("order_id", "premium", "prints"))
    for model in (Order, KeptPrint, OrderClock, OrderCloser, PrintBatch):
        model.objects.all().delete()

    for item in reversed(prints):  # one at a time, backwards, within the lateness
        ingest_frames([frame(item)])
    settle()

    assert list(Order.objects.values_list("order_id", "premium", "prints")) == one_batch


def test_a_cancelled_print_takes_its_order_away(order_profile):
    block = trade(0, p=10.0, s=600, q=1)  # $600,000: a BLOCK
    ingest_frames([frame(block)])
    settle()
    assert Order.objects.get().state == OrderState.HIT

    ingest_frames([frame(trade(8_000, p=10.0, s=600, c=(201,), q=2))])  # cancels it
    settle()

    assert Order.objects.get().state == OrderState.WITHDRAWN
    assert KeptPrint.objects.get(sequence=1).cancelled


def test_prints_of_unwatched_underlyings_and_small_prints_are_not_kept(order_profile, settings):
    settings.ORDER_PRINT_MIN_PREMIUM = 5_000
    ingest_frames([frame(trade(0, s=5, q=1), trade(1, s=100, q=2), trade(2, sym="O:AAPL251219C00150000", q=3))])
    (batch,) = PrintBatch.objects.all()
    assert batch.prints is not None
    logged = orjson.loads(batch.prints)
    assert [row[2] for row in logged["prints"]] == [2]  # $2,500 and AAPL left out
    assert logged["underlyings"] == {SWEEP_CONTRACT: "NVDA"}


def tape(prints: int, seed: int) -> list[dict]:
    """Bursts on a few NVDA contracts: sweeps, splits, singles, a few cancels and multi-leg prints."""
    rng = random.Random(seed)
    contracts = [f"O:NVDA251219{right}00{strike}000" for right in "CP" for strike in (140, 150, 160)]
    events: list[dict] = []
    ms = 0
    while len(events) < prints:
        ms += rng.choice((3, 40, 300, 700, 1_500))
        sym = rng.choice(contracts)
        for _ in range(rng.choice((1, 2, 4, 8))):
            ms += rng.randrange(0, 90)
            code = rng.choice(((209,), (209,), (219,), (232,), (229,)))
            events.append(
                trade(
                    ms,
                    sym=sym,
                    p=rng.randrange(300, 900) / 100,
                    s=rng.randrange(10, 300),
                    x=rng.choice((302, 308, 313)),
                    c=code,
                    q=len(events),
                )
            )
        if rng.random() < 0.04:
            target = rng.choice(events[-20:])
            events.append({**target, "c": [201], "t": T0 + ms, "q": len(events)})
    return events[:prints]


def closed_orders() -> dict[str, list[str]]:
    """Every order the closer of this process has closed (hit or not): its id and its prints."""
    assert orders.CLOSER.book is not None
    return {order.id: [print_digest(item) for item in order.prints] for order in orders.CLOSER.book.all_orders()}


def expected_orders(events: list[dict]) -> dict[str, list[str]]:
    by_contract = defaultdict(list)
    for event in events:
        by_contract[event["sym"]].append(
            Print(
                event["sym"],
                event["t"] * NS_PER_MS,
                event["q"],
                event["x"],
                Decimal(repr(event["p"])),
                event["s"],
                tuple(event["c"]),
            )
        )
    return {
        order.id: [print_digest(item) for item in order.prints]
        for prints in by_contract.values()
        for order in group(prints)
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stored_orders_do_not_depend_on_batching_or_arrival(order_profile, settings, seed):
    settings.ORDER_PRINT_MIN_PREMIUM = 0
    events = tape(600, seed)
    rng = random.Random(seed)
    batches, start = [], 0
    while start < len(events):
        size = rng.choice((1, 5, 30, 120))
        batches.append(events[start : start + size])
        start += size
    for i in range(len(batches) - 1):  # neighbours swapped now and then, as two workers would
        if rng.random() < 0.3:
            batches[i], batches[i + 1] = batches[i + 1], batches[i]

    for number, batch in enumerate(batches):
        ingest_frames([frame(*batch)])
        if number % 4 == 0:
            orders.close_due()
    settle()

    assert closed_orders() == expected_orders(events)


def test_an_order_closed_by_beats_tick_keeps_the_source_its_prints_came_by(order_profile):
    ingest_frames([frame(*a_million_dollar_sweep())], source="replay")
    settle()  # the tick closes it: the batch's watermark had not passed the sweep
    assert Order.objects.get(state=OrderState.HIT).source == "replay"
    assert set(KeptPrint.objects.values_list("source", flat=True)) == {"replay"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [4, 5])
def test_workers_and_ticks_running_at_once_store_the_same_orders(settings, seed):
    """Three workers take the batches as they come while ticks on two processes close orders, each
    with its own book (one closer at a time; each builds its book again when the other closed last),
    and a third process's closer, building its book from the log, settles the day."""
    settings.POLYGON_API_KEY = ""
    settings.ORDER_PRINT_MIN_PREMIUM = 0
    only_profile("big-orders", ["NVDA"], judges="orders", min_premium=Decimal(500_000))
    events = tape(600, seed)
    rng = random.Random(seed)
    pending: queue.SimpleQueue[list[dict]] = queue.SimpleQueue()
    start = 0
    while start < len(events):
        size = rng.choice((1, 5, 30, 120))
        pending.put(events[start : start + size])
        start += size
    errors: list[BaseException] = []
    ingested = threading.Event()
    closed_meanwhile = []

    def work() -> None:
        try:
            while True:
                try:
                    batch = pending.get_nowait()
                except queue.Empty:
                    return
                ingest_frames([frame(*batch)])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def tick() -> None:
        closer = orders.Closer()  # a pool process of its own
        try:
            while not ingested.is_set():
                closed_meanwhile.append(orders.close_due(closer=closer).closed)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(3)]
    tickers = [threading.Thread(target=tick) for _ in range(2)]  # ticks on two pool processes
    for thread in [*workers, *tickers]:
        thread.start()
    for thread in workers:
        thread.join()
    ingested.set()
    for thread in tickers:
        thread.join()
    assert errors == []
    assert sum(closed_meanwhile) > 0  # the ticks closed orders while the workers stored prints
    settle()

    assert closed_orders() == expected_orders(events)
    flow_rules.forget_flow_rules()


def test_a_close_that_fails_drops_the_book_and_the_next_builds_it_again_from_the_log(order_profile, monkeypatch):
    """The book must never be ahead of what is stored: a close whose transaction fails leaves
    every batch waiting, and the next close (a new book, built from the consumed batches) ends
    with the same orders."""
    closer = orders.Closer()
    prints = a_million_dollar_sweep()
    ingest_frames([frame(*prints[:10])])
    orders.close_due(closer=closer)
    first_book = closer.book
    ingest_frames([frame(*prints[10:])])

    def refuse(*args, **kwargs):
        raise RuntimeError("the database refused the candidates")

    with monkeypatch.context() as patched:
        patched.setattr(orders, "_consider", refuse)
        later = orders.current_watermark(idle=False) + 120 * 1_000 * NS_PER_MS
        orders.advance_clock(later)
        with pytest.raises(RuntimeError):
            orders.close_due(closer=closer)
    assert closer.book is None and PrintBatch.objects.filter(consumed=False).count() == 1

    orders.close_due(closer=closer)

    assert closer.book is not first_book
    (order,) = Order.objects.all()
    assert (order.type, order.prints, order.premium) == ("SWEEP", 20, Decimal("1000000.00"))
    assert KeptPrint.objects.filter(order_id=order.order_id).count() == 20


def test_the_book_forgets_orders_past_its_horizon_and_keeps_the_batches_digests(order_profile, settings):
    settings.ORDER_BOOK_HORIZON_SECONDS = 60
    settings.ORDER_PRINT_MIN_PREMIUM = 0
    closer = orders.Closer()
    ingest_frames([frame(trade(0, q=1))])
    ingest_frames([frame(trade(200_000, q=2))])  # 200 s later: the first print's order is past the horizon
    orders.close_due(closer=closer)
    orders.advance_clock(orders.current_watermark(idle=False) + 10_000 * NS_PER_MS)
    orders.close_due(closer=closer)

    assert closer.book is not None
    assert [order.prints[0].sequence for order in closer.book.all_orders()] == [2]
    assert PrintBatch.objects.count() == 2  # the digests stay: a batch delivered again is logged once
    ingest_frames([frame(trade(0, q=1))])
    assert PrintBatch.objects.count() == 2


def test_a_closer_behind_a_backlog_catches_up_a_slice_at_a_time_and_closes_each_order_once(
    order_profile, settings, monkeypatch
):
    """Each slice is closed only as far as its own prints: an order is never closed before its
    later prints (in a later slice) were taken, so none is closed, taken apart and closed again."""
    settings.ORDER_PRINT_MIN_PREMIUM = 0
    monkeypatch.setattr(orders, "MAX_BATCHES_PER_CLOSE", 3)
    events = [event for event in tape(600, 6) if event["c"] != [201]]  # a cancel would reopen: none here
    for start in range(0, len(events), 20):  # batches logged while no closer ran
        ingest_frames([frame(*events[start : start + 20])])

    closes, closed = 0, 0
    while PrintBatch.objects.filter(consumed=False).exists():
        closed += orders.close_due().closed
        closes += 1
    closed += settle().closed

    assert closes == -(-len(events) // 60)  # three batches of 20 a close
    assert closed_orders() == expected_orders(events)
    assert closed == len(expected_orders(events))


def test_the_nightly_purge_keeps_the_prints_of_stored_orders_and_what_is_recent(order_profile, settings):
    settings.ORDER_PRINT_RETENTION_DAYS = 7
    block = trade(0, p=10.0, s=600, q=1)  # a $600,000 BLOCK: a stored order with its print
    ingest_frames([frame(block)])
    settle()
    (order,) = Order.objects.all()
    KeptPrint.objects.update(trade_date=datetime(2025, 11, 1).date())  # the stored order's print, as old
    KeptPrint.objects.create(
        identity="old-and-orphaned",
        symbol=SWEEP_CONTRACT,
        underlying="NVDA",
        trade_date=datetime(2025, 11, 1).date(),
        ts_ns=0,
        exchange=300,
        price=Decimal(1),
        size=1,
        kind="regular",
        order_id="gone",
    )
    PrintBatch.objects.update(received_at=datetime(2025, 11, 1, tzinfo=NY))  # the sweep's batch, long ago
    PrintBatch.objects.create(digest="recent", prints=b"{}")
    settings.VOLUME_COUNT_RETENTION_DAYS = 35  # the insights' baselines read 20 trading days of counts
    for day in (datetime(2025, 11, 1).date(), datetime(2025, 10, 30).date()):  # 34 and 36 days before
        VolumeCount.objects.create(symbol=SWEEP_CONTRACT, trade_date=day, minute=day.toordinal(), volume=1)

    purged = orders.purge(today=datetime(2025, 12, 5, 12, tzinfo=NY))

    assert purged["prints"] == 1 and purged["print_batches"] == 1 and purged["volume_counts"] == 1
    assert list(KeptPrint.objects.values_list("order_id", flat=True)) == [order.order_id]
    assert list(PrintBatch.objects.values_list("digest", flat=True)) == ["recent"]


def test_a_cancel_later_than_the_books_horizon_still_withdraws_its_stored_order(order_profile, settings):
    settings.ORDER_BOOK_HORIZON_SECONDS = 60
    ingest_frames([frame(trade(0, p=10.0, s=600, q=1))])  # a $600,000 BLOCK
    settle()
    assert Order.objects.get().state == OrderState.HIT
    ingest_frames([frame(trade(300_000, p=5.0, s=100, q=2))])  # five minutes on: the book forgets the block
    settle()
    assert orders.CLOSER.book is not None and not orders.CLOSER.book.prints.get(SWEEP_CONTRACT, [])[:-1]

    ingest_frames([frame(trade(310_000, p=10.0, s=600, c=(201,), q=3))])  # the block's cancel, late
    report = settle()

    assert Order.objects.get().state == OrderState.WITHDRAWN and report.withdrawn == 1
    assert KeptPrint.objects.get(sequence=1).cancelled
