"""Outcomes: what the underlying did after each stored order with a direction (trades/domain/outcomes.py).

Beat runs ``refresh`` after the close (and a backfill at its end): it reads the day bars of every
underlying with recent hits or orders still to measure, and SPY's as the market, and SPY's minute
bars of the orders' days (its price at each order), then measures every order whose outcome is not
complete. An order's own price at the time is the spot it was judged with.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from trades.domain.calendar import NEW_YORK, new_york_date
from trades.domain.orders import NS_PER_MS
from trades.domain.outcomes import SIGNS, Move, is_complete, moves
from trades.models import DailyBar, OptionTrade, Order, OrderOutcome, OrderState
from trades.polygon_rest.client import GuardedRESTClient, rest_client
from trades.services import bars

logger = logging.getLogger(__name__)

MARKET = "SPY"
BARS_BEFORE_DAYS = 7  # the bars read start this long before the oldest pending order's day
RECENT_DAYS = 10  # the underlyings with hits this recent get their day bars (a history to read)


@dataclass
class OutcomeReport:
    pending_orders: int = 0
    bars: int = 0
    measured: int = 0
    complete: int = 0
    calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pending() -> list[Order]:
    """Stored orders with a direction and a spot whose outcome is missing or not complete."""
    return list(
        Order.objects.filter(state=OrderState.HIT, sentiment__in=list(SIGNS), spot__isnull=False)
        .filter(Q(outcome__isnull=True) | Q(outcome__complete=False))
        .select_related("outcome")
        .order_by("first_ts_ns")
    )


def refresh(client: GuardedRESTClient | None = None, today: date | None = None) -> OutcomeReport:
    """The day bars of every underlying with hits of the last RECENT_DAYS or orders to measure (and
    SPY's), then the outcomes of the orders still to measure."""
    report = OutcomeReport()
    orders = pending()
    report.pending_orders = len(orders)
    last = today or timezone.localdate()
    recent = last - timedelta(days=RECENT_DAYS)
    tickers = {order.underlying for order in orders} | underlyings_with_hits_since(recent)
    if not tickers:
        return report
    client = client or rest_client()
    started_calls = client.calls
    days = {order.pk: new_york_date(order.first_ts_ns // NS_PER_MS) for order in orders}
    first = min([recent, *(day - timedelta(days=BARS_BEFORE_DAYS) for day in days.values())])
    for ticker in sorted(tickers | {MARKET}):
        report.bars += bars.store_day_bars(client, ticker, first, last)
    closes = _closes({order.underlying for order in orders} | {MARKET}, first)
    market0 = _market_prices(client, orders, days)
    for order in orders:
        assert order.spot is not None  # pending() leaves out orders judged without one
        found = moves(days[order.pk], order.spot, closes[order.underlying], market0.get(order.pk), closes[MARKET])
        _store(order, found, market0.get(order.pk))
        report.measured += 1
        report.complete += is_complete(found)
    report.calls = client.calls - started_calls
    logger.info(
        "Outcomes: %d orders measured, %d complete (%d REST calls)", report.measured, report.complete, report.calls
    )
    return report


def underlyings_with_hits_since(day: date) -> set[str]:
    since = datetime.combine(day, time(), tzinfo=NEW_YORK)
    trades = OptionTrade.objects.filter(traded_at__gte=since).values_list("underlying", flat=True).distinct()
    hits = Order.objects.filter(state=OrderState.HIT, traded_at__gte=since)
    return set(trades) | set(hits.values_list("underlying", flat=True).distinct())


def _closes(tickers: set[str], first: date) -> dict[str, dict[date, Decimal]]:
    found: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for ticker, day, close in DailyBar.objects.filter(ticker__in=tickers, day__gte=first).values_list(
        "ticker", "day", "close"
    ):
        found[ticker][day] = close
    return found


def _market_prices(client: GuardedRESTClient, orders: list[Order], days: dict[int, date]) -> dict[int, Decimal]:
    """SPY's price at each order (kept from an earlier refresh, else from its minute bars: one call a day)."""
    found: dict[int, Decimal] = {}
    spots: dict[date, bars.MinuteSpots] = {}
    for order in orders:
        kept = getattr(order, "outcome", None)
        if kept is not None and kept.market0 is not None:
            found[order.pk] = kept.market0
            continue
        day = days[order.pk]
        if day not in spots:
            spots[day] = bars.minute_spots(client, MARKET, day)
        price = spots[day].at(order.first_ts_ns // NS_PER_MS)
        if price is not None:
            found[order.pk] = Decimal(repr(price))
    return found


def _store(order: Order, found: list[Move], market0: Decimal | None) -> None:
    fields: dict[str, Any] = {"spot0": order.spot, "market0": market0, "complete": is_complete(found)}
    for move in found:
        fields[f"move_{move.days}d"] = move.stock
        fields[f"market_{move.days}d"] = move.market
    OrderOutcome.objects.update_or_create(order=order, defaults=fields)
