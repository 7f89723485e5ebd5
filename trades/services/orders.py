"""Orders in the live pipeline: keep prints, close orders by watermark, judge them, store the hits.

The design, and why (README, "Orders"): prints of one sweep arrive in different batches, handled
by different workers, in any order. Rather than route prints to one worker per contract (one
slow worker would then hold its contracts back, and a partition map would have to survive
restarts), every worker writes the prints it sees into one table, `KeptPrint`, and closes orders
over it under a lock per contract, with the algorithm of trades/domain/order_book.py. Which
prints form an order is then a function of the stored prints alone, whatever the batching:
late prints and cancels reopen and regroup what they touch.

Only prints of underlyings watched by a profile that judges orders are kept, from
ORDER_PRINT_MIN_PREMIUM up; the volume of all their prints is counted per second
(services/day_volume.py). The watermark comes from `OrderClock`: the latest event time any worker
has seen; when the feed goes quiet, beat's tick (`close_due`) advances it by the wall clock.

A closed order that passes a profile's rules known at close becomes an `Order` row in state
JUDGING, in the transaction that closed it. Right after, outside any lock, its quote is looked
up (services/quotes.py), its side and sentiment classified, and it becomes a HIT (with its
webhook deliveries) or is dropped. Beat's tick judges again what a dead worker left JUDGING.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from trades.domain import formatting
from trades.domain.calendar import new_york_date, utc_datetime
from trades.domain.occ import parse_occ, underlying_for_root
from trades.domain.order_book import Closed, close_orders, watermark
from trades.domain.order_rules import OrderFacts, passes_context_rules, passes_order_rules, passes_side
from trades.domain.orders import (
    LATENESS_MS,
    NS_PER_MS,
    UNKNOWN_OPENING,
    Order,
    Print,
    PrintClass,
    build_order,
    opening,
    print_digest,
    repeated_hits,
)
from trades.domain.rules import Profile, Reference, Trade
from trades.models import (
    OPEN_PRINT,
    KeptPrint,
    OptionContract,
    OrderClock,
    OrderMatch,
    OrderState,
    Underlying,
    VolumeCount,
)
from trades.models import Order as OrderRow
from trades.selectors.flow_rules import current_flow_rules
from trades.services import day_volume, locks, quotes, webhooks

logger = logging.getLogger(__name__)

JUDGING_LOST_SECONDS = 30  # an order still JUDGING after this was left by a dead worker


@dataclass
class OrderReport:
    kept: int = 0  # prints kept for grouping
    closed: int = 0  # orders closed (again, after a reopen, included)
    candidates: int = 0  # passed every rule known at close: their quote is looked up
    hits: int = 0
    withdrawn: int = 0  # orders taken apart that did not come back

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def kept_print(trade: Trade) -> Print:
    return Print(
        trade.symbol,
        trade.sip_timestamp * NS_PER_MS,
        trade.sequence,
        trade.exchange,
        Decimal(repr(trade.price)),
        trade.size,
        trade.conditions,
        trade.shares_per_contract,
    )


def keeps(trade: Trade) -> bool:
    """Is this print of a watched underlying large enough to keep for grouping?"""
    return trade.price * trade.size * trade.shares_per_contract >= settings.ORDER_PRINT_MIN_PREMIUM


# --- the two ways in: a batch, and beat's tick -----------------------------------------------------


def take_prints(
    prints: Sequence[Print],
    underlyings: dict[str, str],
    latest_event_ms: int | None,
    source: str,
    received_at: datetime,
) -> OrderReport:
    """Store a batch's kept prints (``underlyings``: of their contracts), close what is final, judge
    the candidates."""
    report = OrderReport(kept=len(prints))
    if latest_event_ms is not None:
        advance_clock(latest_event_ms * NS_PER_MS)
    mark = current_watermark(idle=False)
    with transaction.atomic():
        store = DatabasePrints(underlyings)
        symbols = {item.symbol for item in prints} | store.due_symbols(mark)
        locks.lock_names("contract", symbols)
        new = store.add(prints)
        candidates = _consider(close_orders(store, symbols, mark, new), source, received_at, report)
    judge(candidates, report)
    return report


def close_due(now: datetime | None = None) -> OrderReport:
    """Beat's tick: close the orders the watermark has passed, advancing it by the wall clock when
    no batch has moved it for LATENESS_MS; judge what a dead worker left JUDGING."""
    report = OrderReport()
    mark = current_watermark(idle=True, now=now)
    with transaction.atomic():
        store = DatabasePrints()
        symbols = store.due_symbols(mark)
        locks.lock_names("contract", symbols)
        candidates = _consider(close_orders(store, symbols, mark), "live", timezone.now(), report)
    lost = OrderRow.objects.filter(
        state=OrderState.JUDGING, received_at__lt=(now or timezone.now()) - timedelta(seconds=JUDGING_LOST_SECONDS)
    )
    judge([*candidates, *lost.values_list("pk", flat=True)], report)
    return report


# --- the watermark ---------------------------------------------------------------------------------


def advance_clock(latest_event_ns: int) -> None:
    """Move the clock forward to ``latest_event_ns`` (never back). Its own statement, outside any
    transaction, so workers never queue behind each other on this row."""
    OrderClock.objects.get_or_create(pk=OrderClock.SINGLETON_PK)
    OrderClock.objects.filter(pk=OrderClock.SINGLETON_PK, latest_event_ns__lt=latest_event_ns).update(
        latest_event_ns=latest_event_ns, advanced_at=timezone.now()
    )


def current_watermark(*, idle: bool, now: datetime | None = None) -> int:
    """The event time before which orders are final. ``idle``: when no batch has moved the clock
    for LATENESS_MS, the feed is quiet and the wall clock carries it on (it can close an order
    sooner, never group differently: a print that then comes late reopens what it touches)."""
    clock = OrderClock.objects.filter(pk=OrderClock.SINGLETON_PK).first()
    if clock is None or clock.advanced_at is None:
        return 0
    latest = clock.latest_event_ns
    if idle:
        quiet = (now or timezone.now()) - clock.advanced_at
        if quiet >= timedelta(milliseconds=LATENESS_MS):
            latest += int(quiet.total_seconds() * 1e9)
    return watermark(latest)


# --- the print store over KeptPrint ----------------------------------------------------------------


class DatabasePrints:
    """The PrintStore of trades/domain/order_book.py over the KeptPrint table."""

    def __init__(self, underlyings: dict[str, str] | None = None) -> None:
        self._rows: dict[Print, KeptPrint] = {}
        self._underlyings = underlyings or {}  # of the contracts of the prints to add

    def add(self, prints: Sequence[Print]) -> list[Print]:
        by_identity = {print_digest(item): item for item in prints}
        stored = set(KeptPrint.objects.filter(identity__in=by_identity).values_list("identity", flat=True))
        new = {identity: item for identity, item in by_identity.items() if identity not in stored}
        KeptPrint.objects.bulk_create(
            [_row(identity, item, self._underlyings.get(item.symbol, "")) for identity, item in new.items()],
            ignore_conflicts=True,
            batch_size=1000,
        )
        return list(new.values())

    def due_symbols(self, mark_ns: int) -> set[str]:
        """Contracts with an open print the watermark has passed."""
        due = KeptPrint.objects.filter(OPEN_PRINT, ts_ns__lt=mark_ns)
        return set(due.values_list("symbol", flat=True).distinct())

    def cancel_groups(self, new: Sequence[Print]) -> list[list[Print]]:
        trades = {(item.symbol, item.price, item.size) for item in new}
        if not trades:
            return []
        cancels = KeptPrint.objects.filter(kind=PrintClass.CANCEL, symbol__in={trade[0] for trade in trades})
        with_cancel = sorted(trades & set(cancels.values_list("symbol", "price", "size")))
        return [self._load(KeptPrint.objects.filter(symbol=s, price=p, size=z)) for s, p, z in with_cancel]

    def is_cancelled(self, item: Print) -> bool:
        return self._row_of(item).cancelled

    def set_cancelled(self, item: Print, cancelled: bool) -> None:
        row = self._row_of(item)
        row.cancelled = cancelled
        KeptPrint.objects.filter(pk=row.pk).update(cancelled=cancelled)

    def order_of(self, item: Print) -> str | None:
        return self._row_of(item).order_id or None

    def open_prints(self, symbols: Iterable[str]) -> dict[str, list[Print]]:
        found: dict[str, list[Print]] = defaultdict(list)
        for item in self._load(KeptPrint.objects.filter(OPEN_PRINT, symbol__in=list(symbols))):
            found[item.symbol].append(item)
        return found

    def frontiers(self, since: dict[str, int]) -> dict[str, int]:
        if not since:
            return {}
        after = Q()
        for symbol, earliest in since.items():
            after |= Q(symbol=symbol, ts_ns__gte=earliest)
        closed = KeptPrint.objects.filter(after, kind=PrintClass.REGULAR).exclude(order_id="")
        return dict(closed.values("symbol").annotate(last=Max("ts_ns")).values_list("symbol", "last"))

    def reopen(self, symbol: str, from_ns: int) -> set[str]:
        touched = KeptPrint.objects.filter(symbol=symbol, ts_ns__gte=from_ns).exclude(order_id="")
        ids = set(touched.values_list("order_id", flat=True))
        KeptPrint.objects.filter(symbol=symbol, order_id__in=ids).update(order_id="")
        for row in self._rows.values():
            if row.order_id in ids:
                row.order_id = ""
        return ids

    def close(self, orders: Sequence[Order]) -> None:
        rows = []
        for order in orders:
            for item in order.prints:
                row = self._row_of(item)
                row.order_id = order.id
                rows.append(row)
        KeptPrint.objects.bulk_update(rows, ["order_id"], batch_size=1000)

    def _load(self, rows: Iterable[KeptPrint]) -> list[Print]:
        loaded = []
        for row in rows:
            item = _print(row)
            self._rows[item] = row
            loaded.append(item)
        return loaded

    def _row_of(self, item: Print) -> KeptPrint:
        row = self._rows.get(item)
        if row is None:
            row = KeptPrint.objects.get(identity=print_digest(item))
            self._rows[item] = row
        return row


def _row(identity: str, item: Print, underlying: str) -> KeptPrint:
    return KeptPrint(
        identity=identity,
        symbol=item.symbol,
        underlying=underlying,
        trade_date=new_york_date(item.ts_ms),
        ts_ns=item.ts_ns,
        sequence=item.sequence,
        exchange=item.exchange,
        price=item.price,
        size=item.size,
        conditions=list(item.conditions),
        shares_per_contract=item.shares_per_contract,
        kind=item.kind,
    )


def _print(row: KeptPrint) -> Print:
    return Print(
        row.symbol,
        row.ts_ns,
        row.sequence,
        row.exchange,
        row.price,
        row.size,
        tuple(row.conditions),
        row.shares_per_contract,
    )


# --- judging -------------------------------------------------------------------------------------


def _consider(closed: Closed, source: str, received_at: datetime, report: OrderReport) -> list[int]:
    """Withdraw the orders that are gone; store the closed orders that pass a profile's rules known
    at close as JUDGING. Returns their row ids."""
    report.closed += len(closed.orders)
    if closed.gone:
        report.withdrawn += OrderRow.objects.filter(order_id__in=closed.gone).update(state=OrderState.WITHDRAWN)
    profiles = current_flow_rules().order_profiles
    if not profiles or not closed.orders:
        return []
    contracts = _contracts({order.symbol for order in closed.orders})
    candidates = []
    for order in closed.orders:
        facts = _facts(order, contracts.get(order.symbol))
        cheap = [profile for profile in profiles if passes_order_rules(facts, profile)]
        if not cheap:
            continue
        reference = _reference(contracts.get(order.symbol), facts.underlying)
        trade_date = new_york_date(order.first_ts_ns // NS_PER_MS)
        volume = day_volume.volume_before(order.symbol, trade_date, order.first_ts_ns)
        facts = replace(facts, opening=opening(order.size, reference.open_interest, volume))
        passed = [profile for profile in cheap if passes_context_rules(facts, profile, reference)]
        if passed:
            candidates.append(_store_candidate(facts, reference, volume, passed, source, received_at))
    report.candidates += len(candidates)
    return candidates


def judge(order_pks: Iterable[int], report: OrderReport) -> None:
    """Look up each candidate's quote, classify its side, and make it a hit or drop it."""
    rules = current_flow_rules()
    profiles = {profile.id: profile for profile in rules.order_profiles}
    for row in OrderRow.objects.filter(pk__in=list(order_pks), state=OrderState.JUDGING):
        prints = [_print(kept) for kept in KeptPrint.objects.filter(order_id=row.order_id, cancelled=False)]
        if not prints:
            continue  # reopened meanwhile; it comes back when it closes again
        quote = quotes.nbbo_at(row.symbol, min(item.ts_ns for item in prints))
        order = build_order(sorted(prints, key=lambda item: item.key), quote)
        matched = [profiles[pk] for pk in row.candidate_profiles if pk in profiles and passes_side(order, profiles[pk])]
        if _settle(row, order, quote, matched):
            report.hits += 1
            logger.info(order_line(row, [profile.name for profile in matched]))


def _settle(row: OrderRow, order: Order, quote: Any, matched: list[Profile]) -> bool:
    with transaction.atomic():
        current = OrderRow.objects.select_for_update().filter(pk=row.pk, state=OrderState.JUDGING).first()
        if current is None or current.order_id != order.id:
            return False
        if not matched:
            current.delete()
            return False
        for name, value in _side_fields(order, quote).items():
            setattr(row, name, value)
        row.state, row.judged_at = OrderState.HIT, timezone.now()
        row.save()
        OrderMatch.objects.bulk_create(
            [OrderMatch(order_id=row.pk, profile_id=profile.id) for profile in matched], ignore_conflicts=True
        )
        webhooks.create_deliveries({row.pk: {profile.id for profile in matched}}, orders=True)
    return True


def _side_fields(order: Order, quote: Any) -> dict[str, Any]:
    return {
        "bid": None if quote is None else quote.bid,
        "ask": None if quote is None else quote.ask,
        "quote_ts_ns": None if quote is None else quote.ts_ns,
        "buy_size": order.buy_size,
        "sell_size": order.sell_size,
        "neutral_size": order.neutral_size,
        "aggressor": order.aggressor,
        "sentiment": order.sentiment,
        "signed_premium": order.signed_premium,
        "golden": order.golden,
    }


def order_line(row: OrderRow, profiles: list[str]) -> str:
    """``💰 Smart Money: SWEEP O:… $1,000,000 premium, 14 DTE, BUY BULLISH, opening [sweeps]``."""
    kind = formatting.order_kind(row.type, row.golden)
    head = formatting.order_line_head(kind, row.symbol, row.premium, row.dte, row.aggressor, row.sentiment, row.opening)
    return head + ", ".join(profiles) + "]"


# --- what judging needs: the contract, the reference, the day's volume -----------------------------


def _contracts(symbols: set[str]) -> dict[str, dict[str, Any]]:
    rows = OptionContract.objects.filter(symbol__in=symbols).values("symbol", "underlying", "open_interest")
    return {row["symbol"]: dict(row) for row in rows}


def _facts(order: Order, contract: dict[str, Any] | None) -> OrderFacts:
    option = parse_occ(order.symbol)
    underlying = contract["underlying"] if contract else underlying_for_root(option.root)
    trade_date = new_york_date(order.first_ts_ns // NS_PER_MS)
    burst = bool(repeated_hits(order.prints, market_cap=None))
    return OrderFacts(order, option, underlying, (option.expiry - trade_date).days, UNKNOWN_OPENING, burst)


def _reference(contract: dict[str, Any] | None, underlying: str) -> Reference:
    found = Underlying.objects.filter(ticker=underlying).values("spot", "strike_min", "strike_max").first()
    row: dict[str, Any] = dict(found) if found else {}

    def optional_float(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return Reference(
        open_interest=(contract or {}).get("open_interest"),
        spot=optional_float(row.get("spot")),
        strike_min=optional_float(row.get("strike_min")),
        strike_max=optional_float(row.get("strike_max")),
    )


def _store_candidate(
    facts: OrderFacts,
    reference: Reference,
    volume_before: int | None,
    passed: list[Profile],
    source: str,
    received_at: datetime,
) -> int:
    order, option = facts.order, facts.option
    fields = {
        "state": OrderState.JUDGING,
        "symbol": order.symbol,
        "underlying": facts.underlying,
        "expiry": option.expiry,
        "right": option.right,
        "strike": option.strike,
        "type": order.type,
        "subtype": order.subtype or "",
        "prints": len(order.prints),
        "size": order.size,
        "premium": order.premium,
        "vwap": order.vwap,
        "dte": facts.dte,
        "first_ts_ns": order.first_ts_ns,
        "last_ts_ns": order.last_ts_ns,
        "traded_at": utc_datetime(order.first_ts_ns // NS_PER_MS),
        "exchanges": list(order.exchanges),
        "conditions": list(order.conditions),
        "price_path": order.price_path,
        "iso": order.iso,
        "repeated_hits": facts.repeated_hits,
        "open_interest": reference.open_interest,
        "volume_before": volume_before,
        "opening": facts.opening.opening,
        "opening_strict": facts.opening.opening_strict,
        "vol_oi": facts.opening.vol_oi,
        "spot": None if reference.spot is None else Decimal(repr(reference.spot)),
        "candidate_profiles": sorted(profile.id for profile in passed),
        "source": source,
    }
    row, _ = OrderRow.objects.update_or_create(
        order_id=order.id, defaults=fields, create_defaults={**fields, "received_at": received_at}
    )
    return row.pk


# --- housekeeping --------------------------------------------------------------------------------


def purge(today: datetime | None = None) -> dict[str, int]:
    """Kept prints and volume counts older than ORDER_PRINT_RETENTION_DAYS, except the prints of
    stored orders."""
    cutoff = (today or timezone.now()).date() - timedelta(days=settings.ORDER_PRINT_RETENTION_DAYS)
    stored = OrderRow.objects.values("order_id")
    old_prints = KeptPrint.objects.filter(trade_date__lt=cutoff).exclude(order_id__in=stored)
    prints, _ = old_prints.delete()
    counts, _ = VolumeCount.objects.filter(trade_date__lt=cutoff).delete()
    return {"prints": prints, "volume_counts": counts}
