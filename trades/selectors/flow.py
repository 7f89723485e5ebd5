"""The stored flow as its readers ask for it: the API, the flow board and the MCP server.

Every reader filters order hits with one `FlowFilter` and pages them newest first with one
keyset cursor (trades/domain/cursor.py); the heatmap, the day's summary and a ticker's premium
over the day are read here too, so the board, the API and an assistant see the same figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from trades.domain import insights
from trades.domain.calendar import NEW_YORK, day_bounds_ns, new_york_date
from trades.domain.cursor import Cursor
from trades.domain.occ import parse_occ
from trades.domain.orders import NS_PER_MS, OrderType
from trades.domain.side import Sentiment
from trades.models import FilterProfile, Order, OrderMatch, OrderState, VolumeCount
from trades.selectors.hits import fills_of
from trades.selectors.insights import alert_of, daily_premiums, earlier_alerts, sessions_of
from trades.selectors.serializers import serialize_order

NS_PER_SECOND = 1_000_000_000
RIGHTS = {"CALL": "C", "PUT": "P"}


class Rule(StrEnum):
    """The named signals a hit can be filtered by (`FlowFilter.rule`)."""

    GOLDEN = "golden"  # a large sweep that took the offer (FLOW.md)
    ISO = "iso"  # intermarket sweep condition on a print
    REPEATED = "repeated"  # the contract hit again and again
    ABOVE_OI = "above_oi"  # size greater than the open interest: new positions for sure
    UNUSUAL = "unusual"  # its strike's premium was a multiple of its usual (the insight)


@dataclass(frozen=True)
class FlowFilter:
    """Which order hits a reader asks for; every field is optional (None: any)."""

    tickers: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    order_type: OrderType | None = None
    side: str | None = None  # CALL or PUT
    sentiment: Sentiment | None = None
    opening: bool | None = None
    min_premium: Decimal | None = None
    dte_min: int | None = None
    dte_max: int | None = None
    profile: str | None = None
    rule: Rule | None = None
    state: str = OrderState.HIT


def filtered(wanted: FlowFilter) -> QuerySet[Order]:
    """The orders ``wanted`` asks for, unordered."""
    found = Order.objects.filter(state=wanted.state)
    if wanted.tickers:
        found = found.filter(underlying__in=wanted.tickers)
    if wanted.since is not None:
        found = found.filter(first_ts_ns__gte=_ns(wanted.since))
    if wanted.until is not None:
        found = found.filter(first_ts_ns__lt=_ns(wanted.until))
    if wanted.order_type is not None:
        found = found.filter(type=wanted.order_type)
    if wanted.side is not None:
        found = found.filter(right=RIGHTS[wanted.side])
    if wanted.sentiment is not None:
        found = found.filter(sentiment=wanted.sentiment)
    if wanted.opening is not None:
        found = found.filter(opening=wanted.opening)
    if wanted.min_premium is not None:
        found = found.filter(premium__gte=wanted.min_premium)
    if wanted.dte_min is not None:
        found = found.filter(dte__gte=wanted.dte_min)
    if wanted.dte_max is not None:
        found = found.filter(dte__lte=wanted.dte_max)
    if wanted.profile is not None:
        # The profile's id first: with a constant, PostgreSQL probes each newest order's matches
        # by index and stops at a page, where a join would read every match of the profile.
        profile_id = FilterProfile.objects.filter(name=wanted.profile).values_list("id", flat=True).first()
        found = found.filter(Exists(OrderMatch.objects.filter(order=OuterRef("pk"), profile_id=profile_id)))
    if wanted.rule is not None:
        found = found.filter(_RULES[wanted.rule])
    return found


_RULES = {
    Rule.GOLDEN: Q(golden=True),
    Rule.ISO: Q(iso=True),
    Rule.REPEATED: Q(repeated_hits=True),
    Rule.ABOVE_OI: Q(vol_oi__gt=1),
    Rule.UNUSUAL: Q(insight_facts__concentration__unusual=True),
}


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1_000


@dataclass
class FlowPage:
    orders: list[Order]
    next_cursor: Cursor | None
    results: list[dict[str, Any]] = field(default_factory=list)


def flow_page(wanted: FlowFilter, limit: int, after: Cursor | None = None) -> FlowPage:
    """Up to ``limit`` hits newest first (by first print, then id), older than ``after``; the next
    page's cursor when there may be more. Three queries: orders, profiles, prints."""
    found = filtered(wanted)
    if after is not None:
        # (first_ts_ns, id) < the cursor's; the plain bound lets PostgreSQL start the index scan there.
        older = Q(first_ts_ns__lt=after.ts_ns) | Q(first_ts_ns=after.ts_ns, id__lt=after.id)
        found = found.filter(older, first_ts_ns__lte=after.ts_ns)
    page = list(_with_relations(found.order_by("-first_ts_ns", "-id"))[: limit + 1])
    more, page = len(page) > limit, page[:limit]
    last = page[-1] if page else None
    next_cursor = Cursor(last.first_ts_ns, last.id) if more and last is not None else None
    fills = fills_of(page)
    return FlowPage(page, next_cursor, [serialize_order(order, fills[order.order_id]) for order in page])


def _with_relations(found: QuerySet[Order]) -> QuerySet[Order]:
    return found.select_related("outcome").prefetch_related(PROFILE_NAMES)


PROFILE_NAMES = Prefetch("profiles", queryset=FilterProfile.objects.only("id", "name"))  # all a hit shows of them


def order_by_id(order_id: str) -> dict[str, Any] | None:
    """One stored order as the API shows it (None: no such order)."""
    order = _with_relations(Order.objects.filter(order_id=order_id)).first()
    return None if order is None else serialize_order(order)


def judged_since(wanted: FlowFilter, since: datetime) -> list[tuple[datetime, dict[str, Any]]]:
    """The hits ``wanted`` asks for that were judged at or after ``since`` (the live stream's poll),
    oldest judged first, each with when."""
    found = list(_with_relations(filtered(wanted).filter(judged_at__gte=since).order_by("judged_at", "id"))[:500])
    fills = fills_of(found)
    return [(order.judged_at, serialize_order(order, fills[order.order_id])) for order in found if order.judged_at]


def newest_day(underlying: str | None = None) -> date | None:
    """The New York day of the newest order hit (of ``underlying``; None: none stored)."""
    hits = Order.objects.filter(state=OrderState.HIT)
    if underlying is not None:
        hits = hits.filter(underlying=underlying)
    first = hits.order_by("-first_ts_ns").values_list("first_ts_ns", flat=True).first()
    return None if first is None else new_york_date(first // NS_PER_MS)


def day_or_newest(day: date | None, underlying: str | None = None) -> date:
    """``day``, or the newest day with hits (of ``underlying``), or today: what a page or a tool
    shows when no day is asked for."""
    return day or newest_day(underlying) or timezone.localdate(timezone=NEW_YORK)


# Exports: the columns of a flat row (no nested prints or outcome), oldest first.
EXPORT_COLUMNS = (
    "order_id",
    "timestamp",
    "ticker",
    "symbol",
    "expiry",
    "strike",
    "side",
    "order_type",
    "subtype",
    "size",
    "prints",
    "premium",
    "vwap",
    "bid",
    "ask",
    "aggressor",
    "sentiment",
    "signed_premium",
    "opening",
    "open_interest",
    "vol_oi",
    "dte",
    "golden",
    "iso",
    "repeated_hits",
    "profiles",
    "insight",
)


def export_rows(wanted: FlowFilter, chunk: int = 2000) -> Iterator[list[dict[str, Any]]]:
    """The hits ``wanted`` asks for, oldest first, as flat rows in chunks (kept lists and nested
    objects become text)."""
    found = filtered(wanted).order_by("first_ts_ns", "id").prefetch_related(PROFILE_NAMES)
    rows: list[dict[str, Any]] = []
    for order in found.iterator(chunk_size=chunk):
        rows.append(_flat(order))
        if len(rows) == chunk:
            yield rows
            rows = []
    if rows:
        yield rows


def _flat(order: Order) -> dict[str, Any]:
    full = serialize_order(order, fills=[])
    full["profiles"] = ",".join(full["profiles"])
    return {column: full[column] for column in EXPORT_COLUMNS}


# The strike heatmap: one cell per contract the underlying traded on a day.


@dataclass(frozen=True)
class Cell:
    symbol: str
    expiry: date
    strike: Decimal
    side: str  # CALL or PUT
    premium: float  # dollars, the day's whole tape
    volume: int
    usual: float | None  # the contract's mean day over the baseline days (None: too little history)
    multiple: float | None
    unusual: bool
    hits: int  # order hits stored on it that day

    def as_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "expiry": self.expiry.isoformat(),
            "strike": float(self.strike),
            "side": self.side,
            "premium": self.premium,
            "volume": self.volume,
            "usual": self.usual,
            "multiple": self.multiple,
            "unusual": self.unusual,
            "hits": self.hits,
        }


def strike_concentration(underlying: str, day: date) -> dict[str, Any]:
    """Every contract of ``underlying`` traded on ``day``: its premium (the whole tape's, from the
    workers' per-minute counts), against its usual day over the past trading days of counts, and
    its order hits. A cell is unusual at `insights.UNUSUAL_MULTIPLE` times its usual (or premium
    where it had none) once there are `insights.MIN_BASELINE_DAYS` days of history."""
    start, end = insights.day_span(day)
    counts = VolumeCount.objects.filter(underlying=underlying)
    today = counts.filter(minute__gte=start, minute__lt=end).values("symbol")
    today = today.annotate(p=Sum("premium"), v=Sum("volume"))
    baseline = sorted(daily_premiums(underlying, day))[-insights.BASELINE_DAYS :]
    usual: dict[str, int] = defaultdict(int)
    if baseline:
        past = counts.filter(trade_date__in=baseline).values("symbol").annotate(p=Sum("premium"))
        usual.update({row["symbol"]: row["p"] for row in past})
    day_start, day_end = day_bounds_ns(day)
    hit_counts = dict(
        Order.objects.filter(
            state=OrderState.HIT, underlying=underlying, first_ts_ns__gte=day_start, first_ts_ns__lt=day_end
        )
        .values("symbol")
        .annotate(n=Count("id"))
        .values_list("symbol", "n")
    )
    judged = len(baseline) >= insights.MIN_BASELINE_DAYS
    cells = [_cell(row, usual[row["symbol"]] / len(baseline) if judged else None, hit_counts) for row in today]
    cells.sort(key=lambda cell: (cell.expiry, cell.strike, cell.side))
    return {
        "underlying": underlying,
        "day": day.isoformat(),
        "baseline_days": len(baseline),
        "baseline_since": baseline[0].isoformat() if baseline else None,
        "unusual_multiple": insights.UNUSUAL_MULTIPLE,
        "premium": sum(cell.premium for cell in cells),
        "cells": [cell.as_json() for cell in cells],
    }


def _cell(row: Mapping[str, Any], usual_cents: float | None, hit_counts: dict[str, int]) -> Cell:
    contract = parse_occ(row["symbol"])
    cents = row["p"] or 0
    multiple = None if not usual_cents else round(cents / usual_cents, 2)
    unusual = usual_cents is not None and cents > 0 and (multiple is None or multiple >= insights.UNUSUAL_MULTIPLE)
    return Cell(
        symbol=row["symbol"],
        expiry=contract.expiry,
        strike=contract.strike,
        side="CALL" if contract.right == "C" else "PUT",
        premium=cents / 100,
        volume=row["v"] or 0,
        usual=None if usual_cents is None else round(usual_cents / 100, 2),
        multiple=multiple,
        unusual=unusual,
        hits=hit_counts.get(row["symbol"], 0),
    )


def day_summary(day: date) -> list[dict[str, Any]]:
    """Each underlying with order hits on ``day``: the hits' premium by calls and puts, bullish and
    bearish, their net signed premium, how many were unusual, the biggest one, and the whole tape's
    option premium that day against its usual day. Biggest net premium first. Four queries."""
    start, end = day_bounds_ns(day)
    hits = Order.objects.filter(state=OrderState.HIT, first_ts_ns__gte=start, first_ts_ns__lt=end)
    rows = hits.values("underlying").annotate(
        hits=Count("id"),
        call_premium=Sum("premium", filter=Q(right="C")),
        put_premium=Sum("premium", filter=Q(right="P")),
        bullish_premium=Sum("premium", filter=Q(sentiment=Sentiment.BULLISH)),
        bearish_premium=Sum("premium", filter=Q(sentiment=Sentiment.BEARISH)),
        net_premium=Sum("signed_premium"),
        unusual=Count("id", filter=_RULES[Rule.UNUSUAL]),
    )
    # The biggest hit of each underlying: the first by premium in its partition (a window function:
    # PostgreSQL's DISTINCT ON is not in SQLite, the demo's database).
    first = Window(RowNumber(), partition_by=F("underlying"), order_by=[F("premium").desc(), F("first_ts_ns").asc()])
    ranked = hits.annotate(place=first).filter(place=1).only("underlying", "order_id", "premium", "insight")
    biggest = {order.underlying: order for order in ranked}
    tape, usual = _tape_premiums(day)
    summary = [
        {
            "ticker": row["underlying"],
            "day": day.isoformat(),
            "hits": row["hits"],
            "unusual_hits": row["unusual"],
            "call_premium": float(row["call_premium"] or 0),
            "put_premium": float(row["put_premium"] or 0),
            "bullish_premium": float(row["bullish_premium"] or 0),
            "bearish_premium": float(row["bearish_premium"] or 0),
            "net_premium": float(row["net_premium"] or 0),
            "tape_premium": tape.get(row["underlying"], 0) / 100,
            "tape_usual_premium": usual.get(row["underlying"]),
            "biggest": _biggest(biggest[row["underlying"]]),
        }
        for row in rows
    ]
    summary.sort(key=lambda row: (-abs(row["net_premium"]), row["ticker"]))
    return summary


def _tape_premiums(day: date) -> tuple[dict[str, int], dict[str, float]]:
    """Every underlying's option premium on ``day`` (cents), and its mean day (dollars) over the
    baseline days before it (at least MIN_BASELINE_DAYS of them)."""
    start, end = insights.day_span(day)
    counts = VolumeCount.objects.values("underlying")
    tape = dict(
        counts.filter(minute__gte=start, minute__lt=end).annotate(p=Sum("premium")).values_list("underlying", "p")
    )
    since = insights.day_span(day - timedelta(weeks=insights.BASELINE_WEEKS))[0]
    days: dict[str, list[int]] = defaultdict(list)
    past = (
        counts.filter(minute__gte=since, minute__lt=start).values("underlying", "trade_date").annotate(p=Sum("premium"))
    )
    for row in past.order_by("underlying", "trade_date"):
        days[row["underlying"]].append(row["p"])
    usual = {
        underlying: round(sum(totals[-insights.BASELINE_DAYS :]) / len(totals[-insights.BASELINE_DAYS :]) / 100, 2)
        for underlying, totals in days.items()
        if len(totals) >= insights.MIN_BASELINE_DAYS
    }
    return tape, usual


def _biggest(order: Order) -> dict[str, Any]:
    return {"order_id": order.order_id, "premium": float(order.premium), "insight": order.insight}


def premium_over_day(underlying: str, day: date) -> dict[str, Any]:
    """``underlying``'s option premium on ``day`` minute by minute, running: calls, puts and their
    difference over the whole tape, and the signed premium of its order hits (bullish minus
    bearish). Times are SIP minutes since the epoch, as seconds for a chart."""
    start, end = insights.day_span(day)
    counts = (
        VolumeCount.objects.filter(underlying=underlying, minute__gte=start, minute__lt=end)
        .values_list("symbol", "minute", "premium")
        .order_by("minute")
    )
    calls: dict[int, int] = defaultdict(int)
    puts: dict[int, int] = defaultdict(int)
    for symbol, minute, cents in counts:
        (calls if parse_occ(symbol).right == "C" else puts)[minute] += cents
    day_start, day_end = day_bounds_ns(day)
    signed: dict[int, Decimal] = defaultdict(Decimal)
    hits = Order.objects.filter(
        state=OrderState.HIT, underlying=underlying, first_ts_ns__gte=day_start, first_ts_ns__lt=day_end
    )
    for ts_ns, amount in hits.values_list("first_ts_ns", "signed_premium"):
        signed[insights.minute_of(ts_ns)] += amount
    minutes = sorted(set(calls) | set(puts) | set(signed))
    series: dict[str, list[float]] = {"time": [], "calls": [], "puts": [], "net": [], "hits_net": []}
    running_calls = running_puts = 0
    running_signed = Decimal(0)
    for minute in minutes:
        running_calls += calls[minute]
        running_puts += puts[minute]
        running_signed += signed[minute]
        series["time"].append(minute * 60)
        series["calls"].append(running_calls / 100)
        series["puts"].append(running_puts / 100)
        series["net"].append((running_calls - running_puts) / 100)
        series["hits_net"].append(float(running_signed))
    return {"ticker": underlying, "day": day.isoformat(), **series}


def analogs(order_id: str, limit: int = 20) -> dict[str, Any] | None:
    """An order's earlier similar alerts (the same underlying, sentiment, premium and DTE bucket
    and a profile in common, whose next day had closed before its day), newest first, each with
    its date and next-day move, and their cohort: how many went its way. None: no such order."""
    order = _with_relations(Order.objects.filter(order_id=order_id)).first()
    if order is None:
        return None
    sessions = sessions_of(order.underlying)
    alert = alert_of(order, sessions)
    if alert is None:
        return {"order_id": order_id, "direction": None, "similar": None, "cohort": None, "analogs": []}
    similar = insights.analogs(alert, earlier_alerts(order, sessions))
    return {
        "order_id": order_id,
        "direction": alert.sentiment,
        "similar": insights.similar_facts(alert),
        "cohort": insights.cohort_facts(insights.cohort(similar)),
        "analogs": [_analog(each) for each in similar[:limit]],
    }


def _analog(found: insights.Alert) -> dict[str, Any]:
    return {
        "order_id": found.order_id,
        "day": found.day.isoformat(),
        "premium": float(found.premium),
        "dte": found.dte,
        "move": None if found.move is None else float(found.move),
        "signed_move": None if found.signed_move is None else float(found.signed_move),
    }
