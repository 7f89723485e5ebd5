"""Backfill: past trading days judged by the same rules as live, one unit of work at a time.

A unit is one underlying's trading day over REST. It reads what Polygon kept of that day — the
contracts listed then (``as_of``), the underlying's minute bars (the spot a trade is judged by),
the open interest reported for the session before (where the plan has that history; otherwise it
is unknown, never today's), and every trade of each contract a profile could judge — and then:

- judges the prints by the profiles that judge prints (services/ingest.py, with the day's own
  reference data instead of the tables' current values), storing hits as ``source=backfill``;
- groups each contract's kept prints into orders exactly as the live closer does (the same
  book, flushed at the end of the day), with the day's volume counted from the day's own prints,
  and judges them by the profiles that judge orders, side from the quote at the first print.

Nothing is sent to webhooks: a backfill writes history, not alerts. Every write is by natural key
(trade keys and order ids carry no sequence number, which REST lacks), so a print or an order
stored live and met again here is one row, and a unit that runs twice stores nothing twice.

Units are recorded in ``BackfillUnit`` (the checkpoint) and run as Celery tasks on the
``backfill`` queue; a unit done is skipped by the next run of the same days.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from trades import queues
from trades.domain.calendar import day_bounds_ns, new_york_date
from trades.domain.noise import DIVIDEND_LOOKAHEAD
from trades.domain.occ import InvalidSymbol, parse_occ
from trades.domain.order_book import END_OF_TIME_NS, MemoryPrints, close_orders
from trades.domain.orders import NS_PER_MS, Order, Print
from trades.domain.reference_data import ContractInfo
from trades.domain.rules import InvalidTrade, Profile, Reference, Trade, parse_trade
from trades.domain.side import Quote
from trades.models import BackfillSource, BackfillUnit, OrderMatch, OrderState, TradeSource, UnitStatus
from trades.polygon_rest.client import AccessRefused, GuardedRESTClient, rest_client
from trades.polygon_rest.flatfiles import FlatFilesRefused, flat_files_client, open_day, trade_events
from trades.polygon_rest.loaders import LoadIssues, contract_from_reference, load_quote, parse_each
from trades.polygon_rest.window import trades_between
from trades.selectors.flow_rules import FlowRules, current_flow_rules
from trades.services import day_volume, ingest, insights, orders, outcomes, reference_data
from trades.services.bars import MinuteSpots, minute_spots
from trades.services.day_volume import NS_PER_MINUTE, VolumeTally
from trades.services.pacing import SharedPace
from trades.services.rows import insert_instances

logger = logging.getLogger(__name__)

CONTRACTS_PAGE_SIZE = 1000
OPEN_INTEREST_PAGE_SIZE = 50_000
EVENTS_PER_FRAME = 1000
CHUNK_EVENTS = 100_000  # a day is judged this many prints at a time (whole contracts)
OPEN_INTEREST_PATH = "/options/v1/open-interest"
CALENDAR_DAYS_PER_TRADING_DAY = 7 / 5


# --- The plan ----------------------------------------------------------------------------------------


@dataclass
class Plan:
    source: str
    tickers: list[str]
    days: list[date]
    previous: dict[date, date | None]  # each day's trading day before (None for the first one)
    calls_per_unit: int | None = None  # REST calls of a unit, as one sampled unit lists its contracts
    profiles: list[str] = field(default_factory=list)  # judged by these enabled profiles; empty: by all

    @property
    def units(self) -> list[tuple[str, date]]:
        """(underlying, day): every underlying's day over REST; a flat file's day holds them all ("")."""
        if self.source == BackfillSource.FLATFILES:
            return [("", day) for day in self.days]
        return [(ticker, day) for day in self.days for ticker in self.tickers]

    @property
    def calls(self) -> int | None:
        return None if self.calls_per_unit is None else self.calls_per_unit * len(self.units)


def trading_days(client: GuardedRESTClient, ticker: str, first: date, last: date) -> list[date]:
    """The days the market traded, as the underlying's day bars say (Polygon lists no past holidays)."""
    bars = client.get_aggs(ticker, 1, "day", first.isoformat(), last.isoformat(), adjusted=True, limit=50_000)
    days = {new_york_date(bar.timestamp) for bar in bars if isinstance(getattr(bar, "timestamp", None), int)}
    return sorted(day for day in days if first <= day <= last)


def plan(
    client: GuardedRESTClient,
    tickers: list[str],
    *,
    days: int | None = None,
    first: date | None = None,
    last: date | None = None,
    source: str = BackfillSource.REST,
) -> Plan:
    """The units of a backfill: the last ``days`` trading days before today, or ``first``..``last``."""
    if not tickers:
        raise ValueError("no tickers to backfill: name some, or watch some in a profile")
    last = last or timezone.localdate() - timedelta(days=1)
    span = int((days or 0) * CALENDAR_DAYS_PER_TRADING_DAY) + 10
    earliest = first or last - timedelta(days=span)
    # One day more at the start: the first day's previous session (its open interest).
    found = trading_days(client, tickers[0], earliest - timedelta(days=7), last)
    chosen = [day for day in found if day >= earliest]
    if days is not None and first is None:
        chosen = chosen[-days:]
    previous = {day: (found[found.index(day) - 1] if found.index(day) > 0 else None) for day in chosen}
    return Plan(source, tickers, chosen, previous)


def estimate_calls(client: GuardedRESTClient, found: Plan) -> Plan:
    """Fill in the plan's calls per unit from one unit's contract listing (a dry run's estimate)."""
    if not found.days:
        found.calls_per_unit = 0
        return found
    rules = unit_rules(found.profiles)
    ticker, day = found.tickers[0], found.days[-1]
    before = client.calls
    listed = listed_contracts(client, ticker, day, LoadIssues())
    listing_calls = client.calls - before
    wanted = len(judged_contracts(listed, ticker, day, rules))
    if found.source == BackfillSource.FLATFILES:
        # A download, then each underlying's listing, minute bars and open interest.
        found.calls_per_unit = 1 + len(found.tickers) * (listing_calls + 2)
    else:  # the listing, minute bars, open interest, a page of trades per contract judged
        found.calls_per_unit = listing_calls + 2 + wanted
    return found


def record(found: Plan, published: Mapping[date, str] | None = None, redo: bool = False) -> list[int]:
    """The plan's units in the checkpoint table; returns those still to do: not done and not
    refused; done by fewer profiles than asked now; (a flat file's day) done for fewer underlyings
    or from a file republished since (``published``: each day's ETag now); every one with ``redo``
    (profiles were edited: history judged again, nothing stored twice)."""
    to_do = []
    for ticker, day in found.units:
        unit, created = BackfillUnit.objects.get_or_create(
            source=found.source,
            underlying=ticker,
            day=day,
            defaults={"previous_day": found.previous.get(day), "profiles": found.profiles},
        )
        widened = None if created else _widened(unit.profiles, found.profiles)
        more_tickers = not set(found.tickers) <= set(unit.tickers)
        republished = bool(unit.etag) and (published or {}).get(day, unit.etag) != unit.etag
        if redo or widened is not None or (found.source == BackfillSource.FLATFILES and (more_tickers or republished)):
            unit.status = UnitStatus.PENDING
            unit.profiles = unit.profiles if widened is None else widened
            if found.source == BackfillSource.FLATFILES:
                unit.tickers = sorted(set(unit.tickers) | set(found.tickers))
            unit.save(update_fields=["status", "profiles", "tickers"])
        if unit.status not in (UnitStatus.DONE, UnitStatus.NOT_ENTITLED):
            to_do.append(unit.pk)
    BackfillUnit.objects.filter(pk__in=to_do).update(status=UnitStatus.PENDING, queued_at=timezone.now(), error="")
    return to_do


def _widened(done: list[str], asked: list[str]) -> list[str] | None:
    """The profiles a unit judged by ``done`` must now be judged by to cover ``asked`` too (empty:
    every profile), or None when it is covered already."""
    if not done:
        return None  # it was judged by every profile
    if not asked:
        return []
    return None if set(asked) <= set(done) else sorted(set(done) | set(asked))


def unit_rules(profiles: list[str]) -> FlowRules:
    """The enabled profiles a unit is judged by (all of them when ``profiles`` is empty)."""
    rules = current_flow_rules()
    if not profiles:
        return rules
    return FlowRules([profile for profile in rules.profiles if profile.name in profiles], rules.roots)


def queue(unit_ids: Iterable[int]) -> None:
    for unit_id in unit_ids:
        current_app.send_task(queues.BACKFILL_UNIT, args=[unit_id])


# --- One unit ------------------------------------------------------------------------------------


@dataclass
class UnitReport:
    calls: int = 0
    contracts: int = 0
    trades: int = 0
    hits: int = 0
    orders: int = 0
    stored: int = 0
    rejected: int = 0
    notes: list[str] = field(default_factory=list)
    etag: str = ""  # a flat file's

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: UnitReport) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notes += [note for note in other.notes if note not in self.notes]


def backfill_client() -> GuardedRESTClient:
    """A REST client whose calls keep to the pace every backfill worker shares."""
    return rest_client(pace=SharedPace(settings.POLYGON_REST_URL.rstrip("/")))


def run_unit(unit_id: int, client: GuardedRESTClient | None = None) -> UnitReport | None:
    """Do one unit (None: it is gone, done or refused). A 403 marks it not entitled and returns;
    anything else raises, for the task to retry, and leaves it pending."""
    unit = BackfillUnit.objects.filter(pk=unit_id).first()
    if unit is None or unit.status in (UnitStatus.DONE, UnitStatus.NOT_ENTITLED):
        return None
    BackfillUnit.objects.filter(pk=unit.pk).update(
        status=UnitStatus.RUNNING, attempts=unit.attempts + 1, started_at=timezone.now()
    )
    client = client or backfill_client()
    try:
        rules = unit_rules(unit.profiles)
        if unit.source == BackfillSource.FLATFILES:
            report = backfill_flat_file(client, flat_files_client(), unit.day, unit.previous_day, unit.tickers, rules)
        else:
            report = backfill_day(client, unit.underlying, unit.day, unit.previous_day, rules)
    except (AccessRefused, FlatFilesRefused) as exc:
        message = f"Polygon refused this plan: {exc}"
        BackfillUnit.objects.filter(pk=unit.pk).update(status=UnitStatus.NOT_ENTITLED, error=message[:500])
        logger.error("Backfill of %s: %s", unit, message)
        return None
    BackfillUnit.objects.filter(pk=unit.pk).update(
        status=UnitStatus.DONE,
        finished_at=timezone.now(),
        error="",
        etag=report.etag,
        **{name: getattr(report, name) for name in _COUNTS},
        notes="; ".join(report.notes)[:300],
    )
    return report


_COUNTS = ("calls", "contracts", "trades", "hits", "orders", "stored", "rejected")


def backfill_flat_file(
    client: GuardedRESTClient, s3: Any, day: date, previous_day: date | None, tickers: list[str], rules: FlowRules
) -> UnitReport:
    """One day's flat file: every trade of the day in one download; each underlying's trades are
    then judged as a REST unit's are (its day's reference data still comes over REST)."""
    day_file = open_day(s3, day)
    issues = LoadIssues()
    watched = set(tickers)
    by_underlying: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    underlying_of: dict[str, str | None] = {}
    for event in trade_events(day_file.lines, issues):
        symbol = event["sym"]
        if symbol not in underlying_of:
            underlying_of[symbol] = _underlying(symbol, rules)
        underlying = underlying_of[symbol]
        if underlying in watched:
            by_underlying[underlying][symbol].append(event)
    report = UnitReport(calls=1, etag=day_file.etag)
    for ticker in sorted(watched):
        report.add(backfill_day(client, ticker, day, previous_day, rules, by_underlying.get(ticker, {})))
    report.rejected += issues.skipped
    return report


def _underlying(symbol: str, rules: FlowRules) -> str | None:
    try:
        return rules.underlying_of(parse_occ(symbol).root)
    except InvalidSymbol:
        return None


def note_failed(unit_id: int, error: str) -> None:
    BackfillUnit.objects.filter(pk=unit_id).update(status=UnitStatus.FAILED, error=error[:500])
    logger.error("Backfill unit %d failed: %s (the next backfill of these days tries it again)", unit_id, error)


def backfill_day(
    client: GuardedRESTClient,
    underlying: str,
    day: date,
    previous_day: date | None,
    rules: FlowRules,
    trades: Mapping[str, list[dict]] | None = None,
) -> UnitReport:
    """Read and judge one underlying's trading day by ``rules``. ``trades``: its contracts' trades,
    by contract, from a flat file; None: read each contract's over REST."""
    report = UnitReport()
    issues = LoadIssues()
    started_calls = client.calls
    listed = listed_contracts(client, underlying, day, issues)
    wanted = judged_contracts(listed, underlying, day, rules)
    references = DayReference(
        listed,
        spots=minute_spots(client, underlying, day),
        open_interest=open_interest(client, {contract.root for contract in wanted}, previous_day, report),
    )
    start_ns, end_ns = day_bounds_ns(day)
    report.contracts = len(wanted)
    received_at = timezone.now()
    chunk: dict[str, list[dict]] = {}
    for index, contract in enumerate(wanted):
        if trades is None:
            chunk[contract.symbol] = trades_between(client, contract.symbol, start_ns, end_ns, issues)
        else:
            chunk[contract.symbol] = trades.get(contract.symbol, [])
        if index == len(wanted) - 1 or sum(map(len, chunk.values())) >= CHUNK_EVENTS:
            judge_contracts(client, chunk, underlying, rules, references, received_at, report)
            chunk = {}
    report.calls = client.calls - started_calls
    if issues.skipped:
        report.rejected += issues.skipped
        report.notes.append(f"{issues.skipped} malformed items skipped")
    return report


def judge_contracts(
    client: GuardedRESTClient,
    events_by_contract: dict[str, list[dict]],
    underlying: str,
    rules: FlowRules,
    references: DayReference,
    received_at: Any,
    report: UnitReport,
) -> None:
    """Judge some contracts' day of prints, and of orders (each contract's orders are its own: a
    day is judged a few contracts at a time, never whole in memory); add to ``report``."""
    events = [event for contract_events in events_by_contract.values() for event in contract_events]
    frames = [orjson.dumps(events[i : i + EVENTS_PER_FRAME]).decode() for i in range(0, len(events), EVENTS_PER_FRAME)]
    judged = ingest.judge_prints(frames, TradeSource.BACKFILL, references, received_at, rules)
    report.trades += judged.trades
    report.hits += judged.hits
    report.stored += judged.stored
    report.rejected += judged.rejected
    if rules.keeps_prints_of(underlying):
        look_up = QuoteLookUp(client, report)
        found, stored = judge_orders(events_by_contract, rules, references, received_at, look_up.nbbo_at_each)
        report.orders += found
        report.stored += stored


# --- What the day was: contracts, spot, open interest -------------------------------------------


def listed_contracts(client: GuardedRESTClient, underlying: str, day: date, issues: LoadIssues) -> list[ContractInfo]:
    """The underlying's contracts as listed on ``day`` (those expiring that day and after). Polygon
    documents ``expired`` loosely; both listings are read, so contracts that have expired since are
    there whichever way it reads it (a call or two a unit)."""
    contracts: dict[str, ContractInfo] = {}
    for expired in (False, True):
        items = client.list_options_contracts(
            underlying_ticker=underlying, as_of=day.isoformat(), expired=expired, limit=CONTRACTS_PAGE_SIZE
        )
        for contract in parse_each(items, contract_from_reference, f"contract of {underlying}", issues):
            if contract.expiry >= day:
                contracts[contract.symbol] = contract
    return sorted(contracts.values(), key=lambda contract: contract.symbol)


def judged_contracts(listed: list[ContractInfo], underlying: str, day: date, rules: FlowRules) -> list[ContractInfo]:
    """The contracts a profile watching the underlying could judge a print or an order of: inside
    some such profile's days to expiry. Others cannot give a hit, and their volume counts only for
    themselves."""
    watching = [profile for profile in rules.profiles if profile.watches(underlying)]
    return [contract for contract in listed if any(_in_window(contract, day, profile) for profile in watching)]


def _in_window(contract: ContractInfo, day: date, profile: Profile) -> bool:
    dte = (contract.expiry - day).days
    return (profile.min_dte is None or dte >= profile.min_dte) and (profile.max_dte is None or dte <= profile.max_dte)


def open_interest(
    client: GuardedRESTClient, roots: set[str], session: date | None, report: UnitReport
) -> dict[str, int] | None:
    """Each contract's open interest reported for ``session`` (the day before), or None where the
    plan has no such history: then the rules that need it see it unknown, as live would."""
    if session is None:
        report.notes.append("no previous session: open interest unknown")
        return None
    found: dict[str, int] = {}
    try:
        for root in sorted(roots):
            params = {"root": root, "date": session.isoformat(), "limit": OPEN_INTEREST_PAGE_SIZE}
            for item in client._paginate_iter(OPEN_INTEREST_PATH, params, deserializer=lambda item: item):
                value = item.get("open_interest") if isinstance(item, dict) else None
                symbol = item.get("ticker") if isinstance(item, dict) else None
                if isinstance(symbol, str) and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    found[symbol] = value
    except AccessRefused:
        report.notes.append("open interest history not in this plan: unknown")
        return None
    return found


class DayReference:
    """A backfilled day's reference data, for judging its prints (ingest.ReferenceData): the
    contracts as listed that day, the open interest of the session before, the spot at each trade's
    minute and the strike range of the day's listing. Values of the day, never of today."""

    def __init__(self, listed: list[ContractInfo], spots: MinuteSpots, open_interest: Mapping[str, int] | None) -> None:
        self.listed = {contract.symbol: contract for contract in listed}
        self.spots = spots
        self.open_interest = open_interest or {}
        strikes = [float(contract.strike) for contract in listed]
        self.strike_min = min(strikes) if strikes else None
        self.strike_max = max(strikes) if strikes else None

    def contracts(self, symbols: set[str]) -> dict[str, Mapping[str, Any]]:
        return {
            symbol: {
                "underlying": contract.underlying,
                "shares_per_contract": contract.shares_per_contract,
                "open_interest": self.open_interest.get(symbol),
            }
            for symbol in symbols
            if (contract := self.listed.get(symbol)) is not None
        }

    def load_underlyings(self, tickers: set[str]) -> None:
        pass  # everything is at hand

    def reference(self, trade: Trade, contract: Mapping[str, Any] | None) -> Reference:
        return self.at(trade.symbol, trade.sip_timestamp)

    def at(self, symbol: str, ts_ms: int) -> Reference:
        return Reference(
            open_interest=self.open_interest.get(symbol),
            spot=self.spots.at(ts_ms),
            strike_min=self.strike_min,
            strike_max=self.strike_max,
        )


# --- Orders ----------------------------------------------------------------------------------------


class QuoteLookUp:
    """The quotes at the orders' first prints, through the backfill's paced client. Unlike the live
    look-up (one quick try: a late quote is worth less than a timely alert) a failure fails the
    unit, to be tried again, rather than leave a side unknown for good; a plan without quotes leaves
    them unknown, as live."""

    def __init__(self, client: GuardedRESTClient, report: UnitReport) -> None:
        self.client = client
        self.report = report

    def nbbo_at_each(self, moments: list[tuple[str, int]]) -> list[Quote | None]:
        if not settings.ORDER_QUOTES:
            return [None] * len(moments)
        try:
            return [load_quote(self.client, symbol, ts_ns) for symbol, ts_ns in moments]
        except AccessRefused:
            note = "quotes not in this plan: order sides unknown"
            if note not in self.report.notes:
                self.report.notes.append(note)
            return [None] * len(moments)


def load_dividends(client: GuardedRESTClient, found: Plan) -> int:
    """The ex-dividend dates of the plan's underlyings around its days (its dividend trades are
    held back as the live closer holds them back). Returns how many dividends were listed."""
    if not found.days:
        return 0
    first, last = found.days[0], found.days[-1] + DIVIDEND_LOOKAHEAD
    return sum(reference_data.store_dividends(ticker, first, last, client)["dividends"] for ticker in found.tickers)


def finish(client: Any = None) -> tuple[outcomes.OutcomeReport, int]:
    """What ends a backfill run: the outcomes of the orders (and the day bars they need), then the
    insights of the orders stored without one, oldest first (they read those outcomes)."""
    return outcomes.refresh(client), insights.describe_missing()


def judge_orders(
    events_by_contract: dict[str, list[dict]],
    rules: FlowRules,
    references: DayReference,
    received_at: Any,
    nbbo_at_each: Callable[[list[tuple[str, int]]], list[Quote | None]],
) -> tuple[int, int]:
    """Group the day's kept prints of each contract into orders as the live closer would (its book,
    closed at the end of the day) and judge them; store the hits. Returns (hits, stored)."""
    book = MemoryPrints()
    added: list[Print] = []
    tally = VolumeTally()  # the day's volume, counted as the workers count it live
    underlyings: dict[str, str] = {}
    for symbol, events in events_by_contract.items():
        kept = []
        for place, event in enumerate(events):
            try:
                trade = parse_trade(event, rules.roots)
            except InvalidTrade:
                continue  # judge_prints counted it
            tally.add(
                trade.symbol, trade.sip_timestamp, trade.size, trade.conditions, trade.price, trade.shares_per_contract
            )
            if orders.keeps(trade):
                # REST has no sequence number: the place in the day's listing (SIP time order) orders
                # the prints of one millisecond as the stream's sequence numbers would.
                kept.append(orders.packed_print(trade, sequence=place))
                underlyings[symbol] = trade.underlying
        added += book.add([orders.unpacked(row) for row in orders.number_identical(kept)])
    closed = close_orders(book, list(events_by_contract), END_OF_TIME_NS, added)
    profiles = rules.order_profiles
    contracts = references.contracts({run.symbol for run in closed.runs})

    counts = tally.counts
    day_volume.replace(counts)  # the day's strike premium, for the insights of later days
    minutes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (symbol, minute), (change, _) in counts.items():
        minutes[symbol].append((minute, change))

    def volumes(wanted: list[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
        return {(symbol, ts_ns): _volume_before(minutes[symbol], ts_ns) for symbol, ts_ns in wanted}

    def day_references(wanted: list[orders.OrderFacts]) -> list[Reference]:
        return [references.at(facts.order.symbol, facts.order.first_ts_ns // NS_PER_MS) for facts in wanted]

    found = orders.order_candidates(closed.runs, profiles, contracts, day_references, volumes, book.near)
    store_suppressed([candidate for candidate in found if candidate.suppression], underlyings, received_at)
    candidates = [candidate for candidate in found if not candidate.suppression]
    sided = orders.with_sides(
        [(list(candidate.facts.order.prints), candidate.profiles) for candidate in candidates], nbbo_at_each
    )
    hits = [
        (candidate, order, quote, matched)
        for candidate, (order, quote, matched) in zip(candidates, sided, strict=True)
        if matched
    ]
    return len(hits), store_orders(hits, underlyings, received_at)


def _volume_before(counts: list[tuple[int, int]], first_ts_ns: int) -> int:
    """The contract's day volume before the order's first minute (as volumes_before counts it)."""
    minute = first_ts_ns // NS_PER_MINUTE
    return max(0, sum(change for at, change in counts if at < minute))


def store_orders(hits: list[tuple[Any, Any, Any, list[Profile]]], underlyings: dict[str, str], received_at: Any) -> int:
    """Store the judged orders not stored yet (live, or by an earlier run) as hits, with their
    matches and prints; no webhook deliveries. Returns how many were new."""
    rows = []
    for candidate, order, quote, _ in hits:
        row = orders.candidate_row(candidate, TradeSource.BACKFILL, received_at)
        for name, value in orders.side_fields(order, quote).items():
            setattr(row, name, value)
        row.state, row.judged_at = OrderState.HIT, received_at
        rows.append(row)
    with transaction.atomic():
        inserted = _insert_new(rows, [hit[1] for hit in hits], underlyings)
        OrderMatch.objects.bulk_create(
            [
                OrderMatch(order_id=inserted[row.order_id], profile_id=profile.id)
                for row, hit in zip(rows, hits, strict=True)
                if row.order_id in inserted
                for profile in hit[3]
            ],
            ignore_conflicts=True,
        )
    return len(inserted)


def store_suppressed(held: list[orders.Candidate], underlyings: dict[str, str], received_at: Any) -> int:
    """Store the orders held back as noise not stored yet, with their reasons and prints."""
    rows = [orders.candidate_row(candidate, TradeSource.BACKFILL, received_at) for candidate in held]
    with transaction.atomic():
        return len(_insert_new(rows, [candidate.facts.order for candidate in held], underlyings))


def _insert_new(rows: list[Any], domain_orders: list[Order], underlyings: dict[str, str]) -> dict[str, int]:
    """Insert the order rows not stored yet and the prints of those; their ids by order id."""
    if not rows:
        return {}
    inserted = dict(insert_instances(rows, "ON CONFLICT (order_id) DO NOTHING RETURNING order_id, id"))
    new = [order for order in domain_orders if order.id in inserted]
    orders.store_fills(new, underlyings, lambda item: TradeSource.BACKFILL)
    return inserted
