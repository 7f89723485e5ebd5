"""Each stored hit's insight: its figures (`Order.insight_facts`) and its sentence (`Order.insight`),
from the facts of trades/domain/insights.py.

A live hit is described as it is judged, before its webhooks are built (they carry the sentence).
A backfill describes its orders at the end, oldest first, when the history before each is stored:
an insight reads only what was known before its order (the strike's earlier minutes, earlier days,
alerts whose next day had closed), so live, replay and backfill of the same prints say the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from trades.domain import insights
from trades.domain.formatting import optional_float
from trades.domain.insights import Alert, Cohort, Concentration, Contract
from trades.domain.order_rules import needs_history, passes_history_rules
from trades.domain.rules import Profile
from trades.models import Order, OrderMatch, OrderState
from trades.selectors import insights as read
from trades.selectors.flow_rules import current_flow_rules

logger = logging.getLogger(__name__)


def describe(orders: Iterable[Order], judge_history: bool = False) -> int:
    """Work out and store the insight of each order (stored hits, their profiles matched). With
    ``judge_history`` (a backfill's orders, stored before the history they stand on), the profiles'
    history rules are judged first: a match that fails them goes, and an order left without one."""
    described = []
    sessions: dict[str, list[date]] = {}
    totals: dict[tuple[str, date], dict[date, int]] = {}
    for candidate in orders:
        key = (candidate.underlying, read.order_day(candidate))
        if key not in totals:
            totals[key] = read.daily_premiums(*key)
        found = read.concentration(candidate, totals[key])
        order = _without_failed_history_rules(candidate, found) if judge_history else candidate
        if order is None:
            continue
        if order.underlying not in sessions:
            sessions[order.underlying] = read.sessions_of(order.underlying)
        order.insight_facts, order.insight = insight_of(order, found, sessions[order.underlying])
        described.append(order)
    Order.objects.bulk_update(described, ["insight", "insight_facts"], batch_size=500)
    return len(described)


def describe_missing() -> int:
    """The stored hits without an insight (a backfill's), oldest first."""
    missing = Order.objects.filter(state=OrderState.HIT, insight="").order_by("first_ts_ns", "order_id")
    count = describe(
        missing.select_related("outcome").prefetch_related("profiles").iterator(chunk_size=500), judge_history=True
    )
    if count:
        logger.info("Insights: %d orders described", count)
    return count


def history_passes(order: Order, matched: list[Profile]) -> list[Profile]:
    """Of the profiles an order (a live one, as it is judged) matched, those whose history rules it
    passes: the strike's usual, its share, the underlying's daily premium."""
    if not any(needs_history(profile) for profile in matched):
        return matched
    return _passing(matched, read.concentration(order), float(order.premium))


def _passing(matched: list[Profile], found: Concentration, premium: float) -> list[Profile]:
    return [
        profile for profile in matched if not needs_history(profile) or passes_history_rules(profile, found, premium)
    ]


def _without_failed_history_rules(order: Order, found: Concentration) -> Order | None:
    profiles = {profile.id: profile for profile in current_flow_rules().order_profiles}
    matched = [profiles[match.pk] for match in order.profiles.all() if match.pk in profiles]
    kept = _passing(matched, found, float(order.premium))
    failed = [profile.id for profile in matched if profile not in kept]
    if not failed:
        return order
    OrderMatch.objects.filter(order=order, profile_id__in=failed).delete()
    if not OrderMatch.objects.filter(order=order).exists():
        order.delete()  # it was never a hit
        return None
    return Order.objects.select_related("outcome").prefetch_related("profiles").get(pk=order.pk)


def insight_of(order: Order, found: Concentration, sessions: list[date]) -> tuple[dict[str, Any], str]:
    alert = read.alert_of(order, sessions)
    last, group = None, None
    if alert is not None:
        similar = insights.analogs(alert, read.earlier_alerts(order, sessions))
        last, group = (similar[0] if similar else None), insights.cohort(similar)
    contract = Contract(order.underlying, order.strike, order.right, order.expiry, order.dte)
    text = insights.sentence(contract, order.sentiment, found, last, group)
    return facts(found, alert, last, group), text


def facts(found: Concentration, alert: Alert | None, last: Alert | None, group: Cohort | None) -> dict[str, Any]:
    """The figures behind the sentence, as JSON (money in dollars, moves and shares as fractions)."""
    return {
        "window_minutes": insights.WINDOW_MINUTES,
        "concentration": {
            "strike_premium": found.strike / 100,
            "underlying_premium": found.underlying / 100,
            "strike_premium_day": found.strike_day / 100,
            "strike_size": found.strike_size,
            "strike_size_day": found.strike_size_day,
            "underlying_premium_day": found.underlying_day / 100,
            "share": found.share,
            "baseline_days": len(found.days),
            "baseline_since": found.days[0].isoformat() if found.days else None,
            "strike_usual": None if found.strike_usual is None else found.strike_usual / 100,
            "underlying_usual": None if found.underlying_usual is None else found.underlying_usual / 100,
            "underlying_daily_usual": None if found.daily_usual is None else found.daily_usual / 100,
            "multiple": found.multiple,
            "underlying_multiple": found.underlying_multiple,
            "unusual": found.unusual,
        },
        "similar": None if alert is None else insights.similar_facts(alert),
        "last": None if last is None else _last(last),
        "cohort": None if group is None else insights.cohort_facts(group),
    }


def _last(last: Alert) -> dict[str, Any]:
    return {
        "order_id": last.order_id,
        "day": last.day.isoformat(),
        "move": optional_float(last.move),
        "market": optional_float(last.market),
        "signed_move": optional_float(last.signed_move),
        "outcome": read.outcome_of(last.order_id),  # 0, 1, 3 and 5 trading days after it, and versus SPY
    }
