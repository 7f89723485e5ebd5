"""A backtest: a filter profile judged again over the stored history, before it goes live.

How many alerts a day it would have fired, on which names, and how they went the next day against a
baseline: every stored order with a direction of the same names on the same days. The profile may
be a saved row or one edited in admin and not saved (`profile_of` converts either).

The population is what was stored: the order hits (state HIT) that passed some enabled profile,
live or in a backfill, with their prints and the quote and reference data they were judged with. A
profile looser than every stored one cannot find more here; a backfill with it (``manage.py
backfill --profiles NAME --redo``) judges the full tape and can. Every rule is the domain's, as the
workers apply it: an order-judging profile rebuilds each order from its stored prints and quote; a
print-judging one fires on an order when one of its stored prints passes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from trades.domain.calendar import NEW_YORK, day_bounds_ns, new_york_date
from trades.domain.formatting import optional_float
from trades.domain.insights import Alert, Cohort, cohort, cohort_facts, percent
from trades.domain.occ import OptionSymbol, parse_occ
from trades.domain.order_rules import (
    OrderFacts,
    needs_history,
    passes_before_side,
    passes_history_rules,
    passes_side,
)
from trades.domain.orders import Opening, Print, build_order
from trades.domain.rules import WILDCARD, Profile, Reference, Trade, matching_profiles
from trades.domain.side import Quote
from trades.models import FilterProfile, KeptPrint, Order, OrderState
from trades.selectors.flow_rules import condition_groups, to_domain_profile
from trades.selectors.insights import alert_of, concentration, order_day
from trades.services.orders import PRINT_FIELDS, unpacked

DEFAULT_DAYS = 90
TOP_NAMES = 20  # the report lists this many names by alerts; the rest in one line


@dataclass(frozen=True)
class Backtest:
    profile: Profile
    first: date
    last: date
    judged: int  # stored order hits of the profile's names in the range, rebuilt from their prints
    without_prints: int  # stored order hits whose prints are gone: not judged
    per_day: dict[date, int]  # alerts on every day with stored orders (of any name), zeros included
    per_underlying: dict[str, int]  # most alerts first
    alerts: list[str]  # order ids, oldest first
    cohort: Cohort  # the alerts with a direction, at the next day
    baseline: Cohort  # every stored order with a direction of the (name, day) pairs it fired on


def profile_of(row: FilterProfile) -> Profile:
    """A saved profile, or one edited and not saved (its watchlist, a required relation, is saved)."""
    return to_domain_profile(row, condition_groups())


def last_days(days: int = DEFAULT_DAYS, today: date | None = None) -> tuple[date, date]:
    """The last ``days`` weekdays ending today in New York (as a backfill counts trading days; the
    holidays among them hold no orders)."""
    last = today or timezone.localdate(timezone=NEW_YORK)
    first, counted = last, int(last.weekday() < 5)
    while counted < days:
        first -= timedelta(days=1)
        counted += first.weekday() < 5
    return first, last


def backtest(profile: Profile, first: date, last: date) -> Backtest:
    """``profile`` judged again on the stored order hits of its names traded from ``first`` to
    ``last`` (New York dates, inclusive). Reads only."""
    orders = list(_population(profile, first, last))
    prints = _stored_prints(orders)
    judged = [order for order in orders if prints[order.order_id]]
    fired = [order for order in judged if fires(profile, order, prints[order.order_id])]
    pairs = {(order.underlying, order_day(order)) for order in fired}
    per_day = dict.fromkeys(_days_with_orders(first, last), 0)
    per_day.update(Counter(order_day(order) for order in fired))
    return Backtest(
        profile=profile,
        first=first,
        last=last,
        judged=len(judged),
        without_prints=len(orders) - len(judged),
        per_day=dict(sorted(per_day.items())),
        per_underlying=dict(Counter(order.underlying for order in fired).most_common()),
        alerts=[order.order_id for order in fired],
        cohort=cohort(_alerts(fired)),
        baseline=cohort(_alerts(order for order in orders if (order.underlying, order_day(order)) in pairs)),
    )


def fires(profile: Profile, order: Order, prints: Sequence[Print]) -> bool:
    """Would ``profile`` have fired on this stored order (``prints``: its stored prints, sorted)?"""
    if profile.judges_orders:
        return _fires_on_order(profile, order, prints)
    return _fires_on_a_print(profile, order, prints)


def _fires_on_order(profile: Profile, row: Order, prints: Sequence[Print]) -> bool:
    order = build_order(prints, stored_quote(row))
    opening = Opening(row.opening, row.opening_strict, row.vol_oi)
    facts = OrderFacts(order, parse_occ(row.symbol), row.underlying, row.dte, opening, row.repeated_hits)
    if not (passes_before_side(facts, profile, stored_reference(row)) and passes_side(order, profile)):
        return False
    # The rules on the strike's history read the counts stored before the order, as live does.
    return not needs_history(profile) or passes_history_rules(profile, concentration(row), float(row.premium))


def _fires_on_a_print(profile: Profile, row: Order, prints: Sequence[Print]) -> bool:
    option, reference = parse_occ(row.symbol), stored_reference(row)
    return any(matching_profiles(_trade(item, option, row.underlying), [profile], reference) for item in prints)


def _trade(item: Print, option: OptionSymbol, underlying: str) -> Trade:
    """A stored print as the worker parsed it (trades/domain/rules.py's parse_trade)."""
    ms = item.ts_ms
    return Trade(
        option,
        underlying,
        item.shares_per_contract,
        float(item.price),
        item.size,
        item.exchange,
        item.conditions,
        ms,
        item.sequence,
        new_york_date(ms),
    )


def stored_quote(row: Order) -> Quote | None:
    """The NBBO the order was judged with; None (side unknown) when none was found."""
    if row.bid is None or row.ask is None or row.quote_ts_ns is None:
        return None
    return Quote(row.bid, row.ask, row.quote_ts_ns)


def stored_reference(row: Order) -> Reference:
    """The open interest, spot and strike range the order was judged with (null on old rows: unknown)."""
    return Reference(
        open_interest=row.open_interest,
        spot=optional_float(row.spot),
        strike_min=optional_float(row.strike_min),
        strike_max=optional_float(row.strike_max),
    )


def _in_range(first: date, last: date) -> QuerySet[Order]:
    start, _ = day_bounds_ns(first)
    _, end = day_bounds_ns(last)
    return Order.objects.filter(state=OrderState.HIT, first_ts_ns__gte=start, first_ts_ns__lte=end)


def _population(profile: Profile, first: date, last: date) -> QuerySet[Order]:
    orders = _in_range(first, last)
    if WILDCARD not in profile.tickers:
        orders = orders.filter(underlying__in=profile.tickers)
    names = Prefetch("profiles", queryset=FilterProfile.objects.only("id", "name"))
    return orders.select_related("outcome").prefetch_related(names).order_by("first_ts_ns", "id")


def _stored_prints(orders: list[Order]) -> dict[str, list[Print]]:
    """Each order's stored prints (those no cancel took back), sorted as the worker sorts them."""
    found: dict[str, list[Print]] = defaultdict(list)
    kept = KeptPrint.objects.filter(order_id__in=[order.order_id for order in orders], cancelled=False)
    for order_id, *fields in kept.values_list("order_id", *PRINT_FIELDS):
        found[order_id].append(unpacked(fields))
    for items in found.values():
        items.sort(key=lambda item: item.key)
    return found


def _days_with_orders(first: date, last: date) -> list[date]:
    """The days in the range with any stored order hit: the days the history covers."""
    days = _in_range(first, last).annotate(day=TruncDate("traded_at", tzinfo=NEW_YORK))
    return list(days.order_by("day").values_list("day", flat=True).distinct())


def _alerts(orders: Iterable[Order]) -> list[Alert]:
    return [alert for order in orders if (alert := alert_of(order)) is not None]


def saved_profile(name: str) -> Profile | None:
    """The saved filter profile of that name, as the backtest judges with it (None: no such one)."""
    row = FilterProfile.objects.filter(name=name).first()
    return None if row is None else profile_of(row)


def as_json(result: Backtest) -> dict[str, Any]:
    """The backtest as the API and the MCP server give it."""
    return {
        "profile": result.profile.name,
        "first": result.first.isoformat(),
        "last": result.last.isoformat(),
        "judged": result.judged,
        "without_prints": result.without_prints,
        "alerts": len(result.alerts),
        "days_with_orders": len(result.per_day),
        "per_day": {day.isoformat(): count for day, count in result.per_day.items()},
        "per_underlying": result.per_underlying,
        "next_day": cohort_facts(result.cohort),
        "baseline": cohort_facts(result.baseline),
    }


# --- the report ------------------------------------------------------------------------------------


def backtest_lines(result: Backtest) -> list[str]:
    """The plain-text report the command prints and admin shows."""
    profile = result.profile
    judges = "orders" if profile.judges_orders else "each print of the stored orders"
    return [
        f"Backtest of {profile.name} (judges {judges}) from {result.first} to {result.last}",
        *_population_lines(result),
        "",
        *_day_lines(result),
        "",
        *_name_lines(result),
        "",
        "Next day (orders with a direction and a known next-day move; signed by their direction):",
        _cohort_line("alerts", result.cohort),
        _cohort_line("baseline", result.baseline),
        "  (baseline: every stored order with a direction of the same names on the days it fired)",
    ]


def _population_lines(result: Backtest) -> list[str]:
    gone = f" ({result.without_prints} more without their prints: not judged)" if result.without_prints else ""
    return [
        f"Judged {result.judged} stored order hits of its names{gone}. The history is what was stored: the orders "
        "that passed some enabled profile, live or in a backfill.",
        "A profile looser than every stored one cannot find more here; to judge the full tape with it, save it "
        f"(enabled) and run: manage.py backfill --profiles {result.profile.name} --redo",
    ]


def _day_lines(result: Backtest) -> list[str]:
    days = len(result.per_day)
    if not days:
        return ["Alerts: no stored orders in this range."]
    average = f"{len(result.alerts) / days:.1f}"
    lines = [f"Alerts: {len(result.alerts)} on {days} days with stored orders ({average} a day)"]
    return lines + [f"  {day} {day:%a} {count:>5}" for day, count in result.per_day.items()]


def _name_lines(result: Backtest) -> list[str]:
    if not result.per_underlying:
        return ["By name: none"]
    names = list(result.per_underlying.items())
    lines = ["By name:"] + [f"  {name:<8} {count:>5}" for name, count in names[:TOP_NAMES]]
    rest = names[TOP_NAMES:]
    if rest:
        lines.append(f"  and {len(rest)} more names ({sum(count for _, count in rest)} alerts)")
    return lines


def _cohort_line(label: str, found: Cohort) -> str:
    """N, how many went their way (rate, Wilson 95% interval) and the medians; "too few to say" under 10."""
    head = f"  {label:<9} N {found.n}"
    if found.rate is None:
        return head + ": none with a known next-day move"
    move = "—" if found.median_move is None else percent(found.median_move)
    versus = "—" if found.median_versus_market is None else percent(found.median_versus_market)
    text = (
        f"{head}: {found.went_its_way} went its way ({found.rate:.0%}, Wilson 95% CI {found.low * 100:.0f}–"
        f"{found.high * 100:.0f}%), median move {move}, median vs SPY {versus}"
    )
    return text + ("" if found.enough else " — too few to say")
