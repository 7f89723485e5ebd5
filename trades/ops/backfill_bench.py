"""The backfill's throughput from the local feed's history, over REST and from flat files: trades
judged per second, REST calls per unit, and what a real backfill would take at a rate limit.

Runs in the calling process against the database it is given (the bench command makes a new one),
the local feed in a thread; units run one after another here (``manage.py backfill`` runs them on
as many workers as there are). Printed, never asserted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from trades.feed.history import History
from trades.feed.market import underlying_model
from trades.feed.server import FeedServer
from trades.feed.source import PrebuiltSource
from trades.feed.synthetic import SyntheticFlow
from trades.feed.universe import SyntheticReference
from trades.models import BackfillSource, BackfillUnit, KeptPrint, OptionTrade, Order
from trades.polygon_rest import flatfiles
from trades.services import backfill

MAG7 = ("AAPL", "MSFT", "GOOGL", "GOOG", "AMZN", "NVDA", "META")
SEED = 7
API_KEY = "bench"
# What a real MAG7 backfill asks of Polygon (REST): contracts a profile watching 0–45 DTE judges per
# underlying and day (the shipped presets), from the chains' sizes; the listing, bars and open interest.
REAL_CONTRACTS_PER_UNIT = 1_500
REAL_OTHER_CALLS_PER_UNIT = 6


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


def run(days: int, prints_per_day: int) -> list[str]:
    tickers = [*MAG7, "SPY"]
    today = timezone.localdate()
    history = History([underlying_model(ticker, SEED) for ticker in tickers], SEED, today, days, prints_per_day)
    reference = SyntheticReference(SyntheticFlow(tickers, seed=SEED))
    feed = FeedServer(source=PrebuiltSource([]), api_key=API_KEY, reference=reference, history=history)
    feed.start_in_thread(port=0)
    try:
        settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, API_KEY
        settings.POLYGON_FLATFILES_URL, settings.POLYGON_FLATFILES_KEY_ID = feed.rest_url, API_KEY
        settings.POLYGON_FLATFILES_SECRET = "bench"
        runs = [one_run(BackfillSource.REST, history), one_run(BackfillSource.FLATFILES, history)]
    finally:
        feed.stop()
    lines = [
        f"history   {days} trading days of the local feed, {prints_per_day:,} prints a day over {len(tickers)} "
        f"underlyings; MAG7 backfilled (in this process, one unit after another)",
        *(found.line() for found in runs),
    ]
    return lines + real_estimates(days)


def one_run(source: str, history: History) -> Run:
    BackfillUnit.objects.all().delete()
    for model in (OptionTrade, Order, KeptPrint):
        model.objects.all().delete()
    client = backfill.backfill_client()
    plan = backfill.plan(client, list(MAG7), first=history.days[0], last=history.days[-1], source=source)
    published = (
        flatfiles.etags(flatfiles.flat_files_client(), plan.days) if source == BackfillSource.FLATFILES else None
    )
    started = time.perf_counter()
    for unit_id in backfill.record(plan, published):
        backfill.run_unit(unit_id, client)
    seconds = time.perf_counter() - started
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
