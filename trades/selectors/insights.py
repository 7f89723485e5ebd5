"""What an order's insight is read from (trades/domain/insights.py): the per-minute premium of its
strike and its underlying (`VolumeCount`), and the earlier alerts on its underlying with their
next-day moves (`Order`, `OrderOutcome`, `DailyBar`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from django.db.models import Q, Sum

from trades.domain import insights
from trades.domain.calendar import new_york_date
from trades.domain.insights import Alert, Concentration
from trades.domain.orders import NS_PER_MS
from trades.domain.outcomes import SIGNS
from trades.models import DailyBar, Order, OrderState, VolumeCount


def order_day(order: Order) -> date:
    return new_york_date(order.first_ts_ns // NS_PER_MS)


def concentration(order: Order) -> Concentration:
    """The order's strike and underlying premium today before its minute, and in the same window
    on the past trading days of stored counts."""
    day, minute = order_day(order), insights.minute_of(order.first_ts_ns)
    counts = VolumeCount.objects.filter(underlying=order.underlying)
    today_strike: dict[int, int] = defaultdict(int)
    today_underlying: dict[int, int] = defaultdict(int)
    for symbol, at, cents in counts.filter(trade_date=day, minute__lt=minute).values_list(
        "symbol", "minute", "premium"
    ):
        today_underlying[at] += cents
        if symbol == order.symbol:
            today_strike[at] += cents
    days = list(
        counts.filter(trade_date__lt=day).values_list("trade_date", flat=True).distinct().order_by("-trade_date")
    )[: insights.BASELINE_DAYS]
    past_strike: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    past_underlying: dict[date, dict[int, int]] = {past: defaultdict(int) for past in days}
    if days:
        windows = Q()
        for past in days:
            start, end = insights.same_time_on(past, minute)
            windows |= Q(trade_date=past, minute__gte=start, minute__lt=end)
        for symbol, past, at, cents in counts.filter(windows).values_list("symbol", "trade_date", "minute", "premium"):
            past_underlying[past][at] += cents
            if symbol == order.symbol:
                past_strike[past][at] += cents
    totals = dict(
        counts.filter(trade_date__in=days)
        .values("trade_date")
        .annotate(total=Sum("premium"))
        .values_list("trade_date", "total")
    )
    own = round(order.premium * 100)
    return insights.concentration(minute, own, today_strike, today_underlying, past_strike, past_underlying, totals)


def sessions_of(ticker: str) -> list[date]:
    """The trading days with a stored day bar of ``ticker``, oldest first."""
    return list(DailyBar.objects.filter(ticker=ticker).order_by("day").values_list("day", flat=True))


def alert_of(order: Order, sessions: Sequence[date] = ()) -> Alert | None:
    """The order as analogs and cohorts compare it (None without a direction); its next-day move
    is known from the close of the session after its day (``sessions``: its underlying's trading
    days; without them, ``known_on`` is None). Reads ``outcome`` and ``profiles``: select and
    prefetch them."""
    if order.sentiment not in SIGNS:
        return None
    outcome = getattr(order, "outcome", None)
    move = None if outcome is None else outcome.move_1d
    day = order_day(order)
    return Alert(
        order_id=order.order_id,
        underlying=order.underlying,
        day=day,
        ts_ns=order.first_ts_ns,
        sentiment=order.sentiment,
        premium=order.premium,
        dte=order.dte,
        profiles=frozenset(profile.name for profile in order.profiles.all()),
        move=move,
        market=None if outcome is None else outcome.market_1d,
        known_on=None if move is None else insights.next_session(day, sessions),
    )


def earlier_alerts(order: Order, sessions: list[date]) -> list[Alert]:
    """The stored hits with a direction on the order's underlying and of its sentiment before it,
    whose next-day move is measured."""
    earlier = (
        Order.objects.filter(
            state=OrderState.HIT,
            underlying=order.underlying,
            sentiment=order.sentiment,
            first_ts_ns__lt=order.first_ts_ns,
            outcome__move_1d__isnull=False,
        )
        .select_related("outcome")
        .prefetch_related("profiles")
    )
    return [found for row in earlier if (found := alert_of(row, sessions)) is not None]
