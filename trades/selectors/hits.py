"""The newest stored hits, for the API and the landing page."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils import timezone

from trades.models import FilterProfile, KeptPrint, OptionTrade, Order, OrderState


def latest_trades(*, limit: int, underlying: str | None = None) -> list[OptionTrade]:
    """The newest stored hits (by SIP time, then id), with their matched profiles: two queries."""
    trades = OptionTrade.objects.order_by("-sip_timestamp", "-id")
    if underlying is not None:
        trades = trades.filter(underlying=underlying)
    profiles = Prefetch("profiles", queryset=FilterProfile.objects.only("id", "name"))
    return list(trades.prefetch_related(profiles)[:limit])


def latest_orders(
    *, limit: int, underlying: str | None = None, order_type: str | None = None, state: str = OrderState.HIT
) -> list[Order]:
    """The newest order hits (or orders in ``state``: suppressed ones) by their first print, with
    their matched profiles."""
    found = Order.objects.filter(state=state).order_by("-first_ts_ns", "-id")
    if underlying is not None:
        found = found.filter(underlying=underlying)
    if order_type is not None:
        found = found.filter(type=order_type)
    profiles = Prefetch("profiles", queryset=FilterProfile.objects.only("id", "name"))
    return list(found.select_related("outcome").prefetch_related(profiles)[:limit])


def fills_of(orders: list[Order]) -> dict[str, list[KeptPrint]]:
    """The prints of these orders, in print order, in one query."""
    fills: dict[str, list[KeptPrint]] = {order.order_id: [] for order in orders}
    for row in KeptPrint.objects.filter(order_id__in=list(fills)).order_by("ts_ns", "sequence"):
        fills[row.order_id].append(row)
    return fills


def hits_today_count() -> int:
    """Hits traded since midnight in New York."""
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return OptionTrade.objects.filter(traded_at__gte=midnight).count()
