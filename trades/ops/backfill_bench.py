"""The backfill's throughput from the local feed's history, over REST and from flat files: trades
judged per second, REST calls per unit, and what a real backfill would take at a rate limit.

Runs in the calling process against the database it is given (the bench command makes a new one),
the local feed in a thread; units run one after another here (``manage.py backfill`` runs them on
as many workers as there are). Printed, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import orjson
from django.conf import settings
from django.utils import timezone

from trades.feed.history import History
from trades.feed.market import underlying_model
from trades.feed.server import FeedServer
from trades.feed.source import PrebuiltSource
from trades.models import BackfillSource, BackfillUnit, CountedDay, KeptPrint, OptionTrade, OrderState, VolumeCount
from trades.models import Order as OrderRow
from trades.polygon_rest import flatfiles
from trades.selectors.fingerprints import hit_fingerprints, order_fingerprints
from trades.services import backfill, ingest, orders, outcomes, reference_data
from trades.services.day_volume import underlying_of

MAG7 = ("AAPL", "MSFT", "GOOGL", "GOOG", "AMZN", "NVDA", "META")
SEED = 7
API_KEY = "bench"
# What a real MAG7 backfill asks of Polygon (REST): contracts a profile watching 0–45 DTE judges per
# underlying and day (the shipped presets), from the chains' sizes; the listing, bars and open interest.
REAL_CONTRACTS_PER_UNIT = 1_500
REAL_OTHER_CALLS_PER_UNIT = 6
QUIET_NS = 600 * 1_000_000_000  # ten minutes of quiet: every order closes


@dataclass
class Run:
    source: str
    units: int
    calls: int
    trades: int
    hits: int
    orders: int
    seconds: float

    def line(self) -> str:
        return (
            f"{self.source:<9} {self.units:>4} units  {self.calls:>8,} REST calls ({self.calls / self.units:,.0f} a "
            f"unit)  {self.trades:>9,} trades judged in {self.seconds:6.1f} s = {self.trades / self.seconds:>8,.0f} "
            f"trades/s  {self.hits:,} print hits, {self.orders:,} order hits"
        )


def run(days: int, prints_per_day: int, sources: list[str], agree: bool) -> list[str]:
    """Backfill the history from each source; with ``agree``, stream every day through the live
    path too and compare its hits and orders with the last backfill's."""
    tickers = [*MAG7, "SPY"]
    today = timezone.localdate()
    history = History([underlying_model(ticker, SEED) for ticker in tickers], SEED, today, days, prints_per_day)
    feed = FeedServer(source=PrebuiltSource([]), api_key=API_KEY, reference=history.as_of(today), history=history)
    feed.start_in_thread(port=0)
    try:
        settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, API_KEY
        settings.POLYGON_FLATFILES_URL, settings.POLYGON_FLATFILES_KEY_ID = feed.rest_url, API_KEY
        settings.POLYGON_FLATFILES_SECRET = "bench"
        lines = [
            f"history   {days} trading days of the local feed, {prints_per_day:,} prints a day over {len(tickers)} "
            f"underlyings; MAG7 backfilled (in this process, one unit after another)",
        ]
        for source in sources:
            lines.append(one_run(source, history).line())
        if agree:
            lines.append(agreement(feed, history))
    finally:
        feed.stop()
    return lines + real_estimates(days)


def agreement(feed: FeedServer, history: History) -> str:
    """Stream the history's days through the live path and compare with what the backfill stored."""
    backfilled = hit_fingerprints(), order_fingerprints()
    forget_stored()
    started = time.perf_counter()
    for day in history.days:
        feed.rest.reference = history.as_of(day)
        stream_day(frames_of(history, day, MAG7), day, list(MAG7))
        settle_orders()
        outcomes.refresh(today=day)  # after the close, as beat does: the next days' insights read them
    seconds = time.perf_counter() - started
    streamed = hit_fingerprints(), order_fingerprints()
    verdict = "identical, ids and every figure" if streamed == backfilled else differences(streamed, backfilled)
    return (
        f"agreement {len(history.days)} days streamed through the live path (the worker's batches, the closer's "
        f"ticks, the judging) in {seconds:.0f} s: {len(streamed[0]):,} print hits and {len(streamed[1]):,} orders "
        f"(hits, and noise held back, each with its insight or reason), against the backfill's "
        f"{len(backfilled[0]):,} and {len(backfilled[1]):,}: {verdict}"
    )


def differences(streamed: tuple[dict, dict], backfilled: tuple[dict, dict]) -> str:
    found = []
    for name, live, back in zip(("hits", "orders"), streamed, backfilled, strict=True):
        only_live, only_back = len(live.keys() - back.keys()), len(back.keys() - live.keys())
        changed = sum(1 for key in live.keys() & back.keys() if live[key] != back[key])
        found.append(f"{name}: {only_live} only streamed, {only_back} only backfilled, {changed} different")
        for key in sorted(live.keys() ^ back.keys())[:3]:
            found.append(f"{key}: {live.get(key) or back.get(key)}")
    return "DIFFERENT — " + "; ".join(found)


def frames_of(history: History, day: date, tickers: Sequence[str]) -> list[str]:
    """The day's tape as the feed streams it, only the prints of ``tickers`` (what was backfilled)."""
    frames = []
    for frame in history.tape(day).frames:
        events = [event for event in orjson.loads(frame.payload) if underlying_of(event["sym"]) in tickers]
        if events:
            frames.append(orjson.dumps(events).decode())
    return frames


def stream_day(frames: list[str], day: date, tickers: list[str], batch_frames: int = 25) -> None:
    """One day's frames through the live path in this process, as the listener and the workers take
    them: the reference refreshed from the feed (as beat does), the day counted from its open, the
    worker's batches, a closer's tick after each."""
    CountedDay.objects.get_or_create(trade_date=day, defaults={"since": timezone.now()})
    reference_data.refresh_contracts(tickers)
    reference_data.refresh_open_interest(tickers)
    for start in range(0, len(frames), batch_frames):
        ingest.ingest_frames(frames[start : start + batch_frames])
        orders.close_due()


def settle_orders() -> None:
    """The feed has gone quiet: every order closes, and the candidates are judged (a worker of the
    reference queue would do it)."""
    orders.advance_clock(orders.current_watermark(idle=False) + QUIET_NS)
    orders.close_due()
    judging = OrderRow.objects.filter(state=OrderState.JUDGING).values_list("pk", flat=True)
    orders.judge_candidates(list(judging))


def forget_stored() -> None:
    """Every stored hit and order, and the counts their judging read (a second run counts again)."""
    for model in (OptionTrade, OrderRow, KeptPrint, VolumeCount):
        model.objects.all().delete()


def one_run(source: str, history: History) -> Run:
    BackfillUnit.objects.all().delete()
    forget_stored()
    client = backfill.backfill_client()
    plan = backfill.plan(client, list(MAG7), first=history.days[0], last=history.days[-1], source=source)
    published = (
        flatfiles.etags(flatfiles.flat_files_client(), plan.days) if source == BackfillSource.FLATFILES else None
    )
    backfill.load_dividends(client, plan)
    started = time.perf_counter()
    for unit_id in backfill.record(plan, published):
        backfill.run_unit(unit_id, client)
    seconds = time.perf_counter() - started
    backfill.finish(client)  # outcomes, then insights: as the command ends a run
    units = BackfillUnit.objects.filter(source=source)
    return Run(
        source,
        units.count(),
        sum(unit.calls for unit in units),
        sum(unit.trades for unit in units),
        sum(unit.hits for unit in units),
        sum(unit.orders for unit in units),
        seconds,
    )


def real_estimates(days: int) -> list[str]:
    """How long the REST calls of a real MAG7 backfill of ``days`` trading days take at a plan's limit."""
    units = len(MAG7) * days
    calls = units * (REAL_CONTRACTS_PER_UNIT + REAL_OTHER_CALLS_PER_UNIT)
    flat_calls = days * (1 + len(MAG7) * REAL_OTHER_CALLS_PER_UNIT)
    lines = [
        f"real      MAG7 × {days} trading days over REST ≈ {calls:,} calls (about {REAL_CONTRACTS_PER_UNIT:,} "
        f"contracts a unit within 0–45 DTE); over flat files ≈ {flat_calls:,} calls and {days} downloads"
    ]
    for per_minute, plan in ((5, "free plan, 5/min"), (6_000, "paid plan, 100/s")):
        rest = timedelta(seconds=round(calls * 60 / per_minute))
        flat = timedelta(seconds=round(flat_calls * 60 / per_minute))
        lines.append(f"          at {plan:<17}: REST {rest}, flat files {flat} (+ the downloads)")
    return lines
