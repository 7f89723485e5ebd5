"""What an order's insight is read from (trades/domain/insights.py): the per-minute premium of its
strike and its underlying (`VolumeCount`), and the earlier alerts on its underlying with their
next-day moves (`Order`, `OrderOutcome`, `DailyBar`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum

from trades.domain import insights
from trades.domain.calendar import day_bounds_ns, new_york_date
from trades.domain.insights import Alert, Concentration
from trades.domain.orders import NS_PER_MS
from trades.domain.outcomes import SIGNS
from trades.models import DailyBar, Order, OrderMatch, OrderState, VolumeCount
from trades.selectors.serializers import serialize_outcome


def order_day(order: Order) -> date:
    return new_york_date(order.first_ts_ns // NS_PER_MS)


def daily_premiums(underlying: str, day: date) -> dict[date, int]:
    """The underlying's option premium (cents) on each day of stored counts in the BASELINE_WEEKS
    before ``day``: what its usual day is made of. One aggregate; a caller describing many orders
    reads it once per underlying and day."""
    since = insights.day_span(day - timedelta(weeks=insights.BASELINE_WEEKS))[0]
    counts = VolumeCount.objects.filter(underlying=underlying, minute__gte=since, minute__lt=insights.day_span(day)[0])
    return dict(counts.values("trade_date").annotate(total=Sum("premium")).values_list("trade_date", "total"))


def concentration(order: Order, totals: Mapping[date, int] | None = None) -> Concentration:
    """The order's strike and underlying premium today before its minute, and in the same window
    on the past trading days of stored counts (``totals``: `daily_premiums` of its underlying and day)."""
    day, minute = order_day(order), insights.minute_of(order.first_ts_ns)
    totals = daily_premiums(order.underlying, day) if totals is None else totals
    counts = VolumeCount.objects.filter(underlying=order.underlying)
    today = counts.filter(minute__gte=insights.day_span(day)[0], minute__lt=minute)
    today_strike, today_underlying, sizes = _by_minute(today, order.symbol)
    days = sorted(past for past in totals if past < day)[-insights.BASELINE_DAYS :]
    windows = [insights.same_time_on(past, minute) for past in days]
    past_strike: dict[date, dict[int, int]] = {}
    past_underlying: dict[date, dict[int, int]] = {}
    if days:
        ranges = Q()
        for start, end in windows:
            ranges |= Q(minute__gte=start, minute__lt=end)
        strike, underlying, _ = _by_minute(counts.filter(ranges), order.symbol)
        for past, (start, end) in zip(days, windows, strict=True):
            past_strike[past] = {at: cents for at, cents in strike.items() if start <= at < end}
            past_underlying[past] = {at: cents for at, cents in underlying.items() if start <= at < end}
    own = round(order.premium * 100)
    daily = {past: totals[past] for past in days}
    return insights.concentration(
        minute, own, today_strike, today_underlying, past_strike, past_underlying, daily, (sizes, order.size)
    )


def _by_minute(counts: QuerySet[VolumeCount], symbol: str) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """By minute: the contract's premium, every contract's premium, and the contract's size."""
    strike: dict[int, int] = defaultdict(int)
    underlying: dict[int, int] = defaultdict(int)
    sizes: dict[int, int] = defaultdict(int)
    for each, at, cents, volume in counts.values_list("symbol", "minute", "premium", "volume"):
        underlying[at] += cents
        if each == symbol:
            strike[at] += cents
            sizes[at] += volume
    return strike, underlying, sizes


def outcome_of(order_id: str) -> dict[str, Any] | None:
    """What the stock did after a stored order, as the API shows it (None: not measured)."""
    found = Order.objects.filter(order_id=order_id).select_related("outcome").first()
    return None if found is None else serialize_outcome(found)


def latest_insights(limit: int) -> list[str]:
    """The insight sentences of the newest order hits."""
    described = Order.objects.filter(state=OrderState.HIT).exclude(insight="").order_by("-first_ts_ns", "-id")
    return list(described.values_list("insight", flat=True)[:limit])


def sessions_of(ticker: str) -> list[date]:
    """The trading days with a stored day bar of ``ticker``, oldest first."""
    return list(DailyBar.objects.filter(ticker=ticker).order_by("day").values_list("day", flat=True))


def alert_of(order: Order, sessions: Sequence[date] = ()) -> Alert | None:
    """The order as analogs and cohorts compare it (None without a direction); its next-day move
    is known from the close of the session after its day (``sessions``: its underlying's trading
    days; without them, ``known_on`` is None). Reads ``outcome`` and ``profiles``: select and
    prefetch them."""
    outcome = getattr(order, "outcome", None)
    return _alert(
        (order.order_id, order.underlying, order.first_ts_ns, order.sentiment, order.premium, order.dte),
        frozenset(profile.name for profile in order.profiles.all()),
        (None, None) if outcome is None else (outcome.move_1d, outcome.market_1d),
        sessions,
    )


def _alert(
    order: tuple[str, str, int, str, Decimal, int],
    profiles: frozenset[str],
    next_day: tuple[Decimal | None, Decimal | None],
    sessions: Sequence[date],
) -> Alert | None:
    order_id, underlying, ts_ns, sentiment, premium, dte = order
    if sentiment not in SIGNS:
        return None
    move, market = next_day
    day = new_york_date(ts_ns // NS_PER_MS)
    return Alert(
        order_id=order_id,
        underlying=underlying,
        day=day,
        ts_ns=ts_ns,
        sentiment=sentiment,
        premium=premium,
        dte=dte,
        profiles=profiles,
        move=move,
        market=market,
        known_on=None if move is None else insights.next_session(day, sessions),
    )


def earlier_alerts(order: Order, sessions: list[date]) -> list[Alert]:
    """The stored hits with a direction on the order's underlying and of its sentiment before its
    day, whose next-day move is measured, in its premium and DTE buckets and sharing a profile with
    it, the newest `insights.COHORT_MOST`: what `insights.analogs` may pick from (it applies the rule
    itself; this narrows the read)."""
    earlier = Order.objects.filter(
        state=OrderState.HIT,
        underlying=order.underlying,
        sentiment=order.sentiment,
        first_ts_ns__lt=day_bounds_ns(order_day(order))[0],  # its next day closed before this one
        outcome__move_1d__isnull=False,
    )
    earlier = _within(earlier, "premium", insights.bucket_range(float(order.premium), insights.PREMIUM_EDGES))
    earlier = _within(earlier, "dte", insights.bucket_range(order.dte, insights.DTE_EDGES))
    shared = OrderMatch.objects.filter(
        order=OuterRef("pk"), profile__in=[profile.pk for profile in order.profiles.all()]
    )
    # The newest first, as values, not model instances: a long history reads several times faster.
    newest = earlier.filter(Exists(shared)).order_by("-first_ts_ns", "-id")[: insights.COHORT_MOST]
    rows = list(newest.values_list("pk", *ALERT_FIELDS, "outcome__move_1d", "outcome__market_1d"))
    names: dict[int, set[str]] = defaultdict(set)
    matches = OrderMatch.objects.filter(order_id__in=[row[0] for row in rows])
    for pk, name in matches.values_list("order_id", "profile__name"):
        names[pk].add(name)
    alerts = (_alert(row[1:7], frozenset(names[row[0]]), row[7:], sessions) for row in rows)
    return [found for found in alerts if found is not None]


ALERT_FIELDS = ("order_id", "underlying", "first_ts_ns", "sentiment", "premium", "dte")


def _within(orders: QuerySet[Order], field: str, bounds: tuple[float | None, float | None]) -> QuerySet[Order]:
    low, high = bounds
    if low is not None:
        orders = orders.filter(**{f"{field}__gte": low})
    if high is not None:
        orders = orders.filter(**{f"{field}__lt": high})
    return orders
