"""Judge a batch of raw Polygon frames and store the hits, idempotently.

The path of a batch: parse the frames (orjson) → drop status events, count malformed
items → rules that need only the trade → for the few survivors, one query each for
contracts and underlyings → all rules again with the reference data → insert the hits
by natural key, so a redelivered batch stores nothing twice.

Anything wrong with one item (a malformed trade, an exception nobody foresaw, a value the
database refuses) rejects that item alone, counted by reason (trades/services/rejections.py);
the rest of the batch goes on. Only the database being away fails the whole batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import orjson
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from trades import queues
from trades.domain import formatting
from trades.domain.calendar import utc_datetime
from trades.domain.formatting import optional_float
from trades.domain.identity import IncomingPrint, StoredPrint, place_prints, trade_key
from trades.domain.occ import DEFAULT_SHARES_PER_CONTRACT, InvalidSymbol, parse_occ
from trades.domain.rules import (
    MaxAges,
    Profile,
    Reference,
    Trade,
    is_too_small,
    judged_on_stale_data,
    matching_profiles,
    parse_trade,
    passes_trade_rules,
    trade_event,
    with_contract,
)
from trades.models import OptionContract, OptionTrade, TradeMatch, TradeSource, Underlying
from trades.selectors.flow_rules import FlowRules, current_flow_rules
from trades.services import day_volume, locks, orders, rows, webhooks
from trades.services.rejections import (
    BAD_BATCH,
    BAD_JSON,
    NO_EVENT_TYPE,
    NOT_AN_ARRAY,
    NOT_STORABLE,
    DatabaseAway,
    Rejections,
)

logger = logging.getLogger(__name__)


@dataclass
class IngestReport:
    trades: int = 0  # trade events seen
    status: int = 0  # status events (the listener logs them)
    ignored: int = 0  # other event types (quotes, aggregates) on a shared channel
    rejected: int = 0  # malformed frames and items, and items that failed alone
    candidates: int = 0  # passed the trade-only rules
    hits: int = 0  # passed every rule of at least one profile
    stored: int = 0  # hits new to the database (hits - stored were already there)
    unresolved: int = 0  # candidates sent to be judged again once their contract is looked up
    rejections: dict[str, int] = field(default_factory=dict)  # rejected, by reason
    kept: int | None = None  # with a profile that judges orders: the prints kept for grouping

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    trade: Trade
    reference: Reference
    profiles: list[Profile]
    stale: bool = False  # a reference rule was judged on data older than its maximum age


def ingest_frames(
    frames: list[str],
    source: str = TradeSource.LIVE,
    received_at: datetime | None = None,
    resolve_unknown: bool = True,
) -> IngestReport:
    """Judge the frames and store the hits.

    resolve_unknown: candidates whose contract is not in the reference data are sent, once per
    batch, to `trades.resolve_contracts`, which looks them up and judges them again (with False:
    that second judging, which must not ask again).
    """
    if source not in TradeSource.values:
        raise ValueError(f"unknown trade source {source!r}; expected one of {TradeSource.values}")
    report = IngestReport()
    rejections = Rejections()
    rules = current_flow_rules()
    # The second judging of a resolved contract's prints (resolve_unknown False) has seen them as orders.
    flow = OrderFlow(rules) if rules.order_profiles and resolve_unknown else None
    candidates = _candidates(frames, rules, report, rejections, flow)
    hits, unknown = _judge_with_reference(candidates, rules.print_profiles, rejections, TableReference())
    report.candidates, report.hits = len(candidates), len(hits)
    if unknown and resolve_unknown and settings.REFERENCE_ON_DEMAND:
        report.unresolved = request_contracts(unknown, source)
    received_at = received_at or timezone.now()
    if hits:
        stored = store_hits(hits, source, received_at, rejections)
        report.stored = len(stored)
        for hit in stored:
            logger.info(hit_line(hit))
    if flow is not None:
        report.kept = orders.log_batch(
            day_volume.digest(frames), source, flow.kept, flow.underlyings, flow.volume.counts, flow.latest_event_ms
        )
    rejections.record()
    report.rejected, report.rejections = rejections.total, dict(rejections.counts)
    return report


def received_time(epoch_seconds: object) -> datetime | None:
    """A message's received_at (seconds since the epoch, from the listener) as a datetime; None when
    absent or not a time (the hits then say when the worker had them)."""
    if isinstance(epoch_seconds, bool) or not isinstance(epoch_seconds, int | float) or not epoch_seconds > 0:
        return None
    try:
        return datetime.fromtimestamp(epoch_seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def judge_prints(
    frames: list[str], source: str, references: ReferenceData, received_at: datetime, rules: FlowRules
) -> IngestReport:
    """Judge the frames by the profiles of ``rules`` that judge prints against ``references`` (a
    backfilled day's own) and store the hits, sending no webhooks: what a backfill does with a
    day's prints. Its orders, and their volume, the backfill groups itself."""
    report = IngestReport()
    rejections = Rejections()
    candidates = _candidates(frames, rules, report, rejections, None)
    hits, _ = _judge_with_reference(candidates, rules.print_profiles, rejections, references)
    report.candidates, report.hits = len(candidates), len(hits)
    if hits:
        report.stored = len(store_hits(hits, source, received_at, rejections, deliver=False))
    rejections.record()
    report.rejected, report.rejections = rejections.total, dict(rejections.counts)
    return report


def hit_line(hit: Hit) -> str:
    trade = hit.trade
    return formatting.hit_line(trade.symbol, trade.premium, trade.dte, [profile.name for profile in hit.profiles])


def _arrays(frames: list[str], rejections: Rejections) -> Iterator[list]:
    """Each frame's array of events; a frame that is not a JSON array is rejected."""
    if not isinstance(frames, list):
        rejections.add(BAD_BATCH, "the batch is not a list of frames", frames)
        return
    for frame in frames:
        try:
            events = orjson.loads(frame)
        except (orjson.JSONDecodeError, TypeError) as exc:
            rejections.add(BAD_JSON, f"frame is not JSON ({exc})", frame)
            continue
        if type(events) is not list:
            rejections.add(NOT_AN_ARRAY, "frame is not a JSON array", frame)
            continue
        yield events


class OrderFlow:
    """What a batch gives the profiles that judge orders: the prints kept for grouping, the volume
    of every print of their underlyings, and the latest event time seen."""

    def __init__(self, rules: FlowRules) -> None:
        self.rules = rules
        # contract → its shares per contract if its prints are counted, else 0 (one dict lookup per print)
        self.watched: dict[str, int] = {}
        self.kept: list[orders.PackedPrint] = []
        self.underlyings: dict[str, str] = {}  # of the kept prints' contracts
        self.volume = day_volume.VolumeTally()
        self.volume_sizes, self.volume_cents = self.volume.sizes, self.volume.cents
        self.latest_event_ms: int | None = None

    def see(self, trade: Trade) -> None:
        self._saw(trade.sip_timestamp)
        if self.rules.keeps_prints_of(trade.underlying):
            self.volume.add(
                trade.symbol, trade.sip_timestamp, trade.size, trade.conditions, trade.price, trade.shares_per_contract
            )
            if orders.keeps(trade):
                self.kept.append(orders.packed_print(trade))
                self.underlyings[trade.symbol] = trade.underlying

    def see_small(self, event: dict) -> None:
        """A print too small to keep or to judge: its volume counts all the same (an odd one is
        left out here; nothing judges it). Most prints come this way: kept lean."""
        symbol, size, timestamp, codes = event.get("sym"), event.get("s"), event.get("t"), event.get("c")
        if type(timestamp) is not int or type(size) is not int or type(symbol) is not str:
            return
        if self.latest_event_ms is None or timestamp > self.latest_event_ms:
            self.latest_event_ms = timestamp
        shares = self.watched.get(symbol)
        if shares is None:
            shares = self.watched[symbol] = self._shares_if_watched(symbol)
        price = event.get("p")
        if not shares or (type(price) is not float and type(price) is not int):
            return
        if codes is None:
            key = (symbol, timestamp // day_volume.MS_PER_MINUTE, ())
        elif type(codes) is list:
            key = (symbol, timestamp // day_volume.MS_PER_MINUTE, tuple(codes))
        else:
            return
        # VolumeTally.add, inline
        self.volume_sizes[key] += size
        self.volume_cents[key] += round(price * size * shares * 100)

    def _shares_if_watched(self, symbol: str) -> int:
        try:
            root = parse_occ(symbol).root
        except InvalidSymbol:
            return 0
        if not self.rules.keeps_prints_of(self.rules.underlying_of(root)):
            return 0
        known = self.rules.roots.get(root)
        return known.shares_per_contract if known else DEFAULT_SHARES_PER_CONTRACT

    def _saw(self, timestamp_ms: int) -> None:
        if self.latest_event_ms is None or timestamp_ms > self.latest_event_ms:
            self.latest_event_ms = timestamp_ms


def _candidates(
    frames: list[str], rules: FlowRules, report: IngestReport, rejections: Rejections, flow: OrderFlow | None
) -> list[Trade]:
    """Trades that pass the trade-only rules of at least one profile that judges prints; with
    ``flow``, the prints for the profiles that judge orders are gathered too. Other events are counted.

    The firehose's loop, one pass over every event: each is guarded inline (a try costs nothing
    until it raises), so any exception about one event rejects that event and the loop goes on.
    """
    profiles, roots = rules.print_profiles, rules.roots
    floor = rules.parse_floor if flow is not None else rules.price_size_floor
    candidates = []
    trades = 0
    for events in _arrays(frames, rejections):
        for event in events:
            try:
                if type(event) is not dict or event.get("ev") != "T":
                    _count_other_event(event, report, rejections)
                    continue
                trades += 1
                if floor is not None and is_too_small(event, floor):
                    if flow is not None:
                        flow.see_small(event)
                    continue  # most prints: too small for any profile, no need to parse the rest
                trade = parse_trade(event, roots)
                if flow is not None:
                    flow.see(trade)
                for profile in profiles:
                    if passes_trade_rules(trade, profile):
                        candidates.append(trade)
                        break
            except Exception as exc:
                rejections.reject(exc, event)
    report.trades = trades
    return candidates


def _count_other_event(event: object, report: IngestReport, rejections: Rejections) -> None:
    kind = event.get("ev") if type(event) is dict else None
    if kind == "status":
        report.status += 1
    elif type(kind) is str:
        report.ignored += 1  # quotes or aggregates on a shared channel
    else:
        rejections.add(NO_EVENT_TYPE, "event without an 'ev' type", event)


class ReferenceData(Protocol):
    """Where judging finds each contract's underlying, multiplier and open interest, and the spot
    and strike range a trade is judged by."""

    def contracts(self, symbols: set[str]) -> dict[str, Mapping[str, Any]]:
        """By symbol: underlying, shares_per_contract, open_interest, open_interest_updated_at."""
        ...

    def load_underlyings(self, tickers: set[str]) -> None: ...

    def reference(self, trade: Trade, contract: Mapping[str, Any] | None) -> Reference: ...


class TableReference:
    """The reference data as the tables hold it now: what the stream judges by."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.underlyings: dict[str, Mapping[str, Any]] = {}

    def contracts(self, symbols: set[str]) -> dict[str, Mapping[str, Any]]:
        rows = OptionContract.objects.filter(symbol__in=symbols).values(
            "symbol", "underlying", "shares_per_contract", "open_interest", "open_interest_updated_at"
        )
        return {row["symbol"]: row for row in rows}

    def load_underlyings(self, tickers: set[str]) -> None:
        rows = Underlying.objects.filter(ticker__in=tickers).values(
            "ticker", "spot", "spot_updated_at", "strike_min", "strike_max", "strikes_updated_at"
        )
        self.underlyings = {row["ticker"]: row for row in rows}

    def reference(self, trade: Trade, contract: Mapping[str, Any] | None) -> Reference:
        return _reference(contract, self.underlyings.get(trade.underlying), self.now)


def _judge_with_reference(
    candidates: list[Trade], profiles: list[Profile], rejections: Rejections, references: ReferenceData
) -> tuple[list[Hit], list[Trade]]:
    """All rules again, now with each contract's underlying, multiplier, open interest and spot.

    Returns the hits, and the candidates whose contract is unknown but that a profile with
    reference rules might match once it is known.
    """
    if not candidates:
        return [], []
    contracts = references.contracts({trade.symbol for trade in candidates})
    trades = []
    for candidate in candidates:
        try:
            trades.append(_as_contract_says(candidate, contracts.get(candidate.symbol)))
        except Exception as exc:
            rejections.reject(exc, trade_event(candidate))
    references.load_underlyings({trade.underlying for trade in trades})
    max_ages = _max_ages()
    reference_profiles = [profile for profile in profiles if profile.needs_reference]
    hits, unknown = [], []
    for trade in trades:
        try:
            contract = contracts.get(trade.symbol)
            reference = references.reference(trade, contract)
            matched = matching_profiles(trade, profiles, reference)
            if matched:
                hits.append(Hit(trade, reference, matched, judged_on_stale_data(matched, reference, max_ages)))
            if contract is None and any(passes_trade_rules(trade, profile) for profile in reference_profiles):
                unknown.append(trade)
        except Exception as exc:
            rejections.reject(exc, trade_event(trade))
    return hits, unknown


def _max_ages() -> MaxAges:
    return MaxAges(
        open_interest=settings.OPEN_INTEREST_MAX_AGE_SECONDS,
        spot=settings.SPOT_MAX_AGE_SECONDS,
        strikes=settings.STRIKES_MAX_AGE_SECONDS,
    )


def request_contracts(trades: list[Trade], source: str) -> int:
    """Ask a worker to look up these trades' contracts and judge the trades again."""
    frame = orjson.dumps([trade_event(trade) for trade in trades]).decode()
    current_app.send_task(queues.RESOLVE_CONTRACTS, args=[[frame]], kwargs={"source": source})
    return len(trades)


def _as_contract_says(trade: Trade, contract: Mapping[str, Any] | None) -> Trade:
    if contract is None:
        return trade
    return with_contract(trade, contract["underlying"], contract["shares_per_contract"])


def _reference(contract: Mapping[str, Any] | None, underlying: Mapping[str, Any] | None, now: datetime) -> Reference:
    def age(read_at: datetime | None) -> float | None:
        return None if read_at is None else (now - read_at).total_seconds()

    contract = contract or {}
    underlying = underlying or {}
    return Reference(
        open_interest=contract.get("open_interest"),
        spot=optional_float(underlying.get("spot")),
        strike_min=optional_float(underlying.get("strike_min")),
        strike_max=optional_float(underlying.get("strike_max")),
        open_interest_age=age(contract.get("open_interest_updated_at")),
        spot_age=age(underlying.get("spot_updated_at")),
        strikes_age=age(underlying.get("strikes_updated_at")),
    )


def store_hits(
    hits: list[Hit], source: str, received_at: datetime, rejections: Rejections, deliver: bool = True
) -> list[Hit]:
    """Insert the hits that are not stored yet, with their profile matches (and, with ``deliver``,
    their webhook deliveries); return those.

    All in one transaction; if the database refuses it for something other than being away (a
    value no column holds), each hit is stored on its own, so one bad row costs only itself.
    """
    try:
        return _store(hits, source, received_at, deliver)
    except DatabaseAway:
        raise
    except Exception as exc:
        logger.warning("The database refused this batch's %d hits (%s); storing them one by one", len(hits), exc)
    stored: list[Hit] = []
    for hit in hits:
        try:
            stored += _store([hit], source, received_at, deliver)
        except Exception as exc:
            rejections.reject(exc, trade_event(hit.trade), reason=NOT_STORABLE)
    return stored


def _store(hits: list[Hit], source: str, received_at: datetime, deliver: bool) -> list[Hit]:
    incoming = [IncomingPrint(hit.trade.print_key, hit.trade.sequence) for hit in hits]
    print_keys = list({item.print_key for item in incoming})
    with transaction.atomic():
        # Two workers placing the same print key wait for each other, so two identical prints in
        # concurrent batches never take the same place.
        locks.lock_names("print", print_keys)
        placement = place_prints(incoming, _stored_prints(print_keys))
        new_rows = {
            index: trade_row(hits[index], incoming[index].print_key, occurrence, source, received_at)
            for index, occurrence in placement.new.items()
        }
        inserted = rows.insert_instances(list(new_rows.values()), "ON CONFLICT DO NOTHING RETURNING trade_key, id")
        for index, row in placement.claims.items():  # REST stored it first; now we know its sequence
            OptionTrade.objects.filter(trade_key=trade_key(row.print_key, row.occurrence)).update(
                sequence=hits[index].trade.sequence
            )
        keys = {index: trade_key(incoming[index].print_key, place) for index, place in placement.new.items()}
        keys |= {index: trade_key(row.print_key, row.occurrence) for index, row in placement.stored.items()}
        ids: dict[str, int] = dict(inserted)
        if missing := [key for key in keys.values() if key not in ids]:  # stored before (REST, a redelivery)
            ids |= dict(OptionTrade.objects.filter(trade_key__in=missing).values_list("trade_key", "id"))
        TradeMatch.objects.bulk_create(
            [
                TradeMatch(trade_id=ids[key], profile_id=profile.id)
                for index, key in keys.items()
                for profile in hits[index].profiles
            ],
            ignore_conflicts=True,
        )
        if deliver:  # the outbox, in the same transaction: a stored hit always has its deliveries
            webhooks.create_deliveries(
                {ids[keys[index]]: {profile.id for profile in hits[index].profiles} for index in placement.new},
                stored=_as_stored(new_rows, hits, ids),
            )
    return [hits[index] for index in placement.new]


def _as_stored(new_rows: dict[int, OptionTrade], hits: list[Hit], ids: dict[str, int]) -> dict[int, OptionTrade]:
    """The new hits' rows by id, as stored, with their profiles' names: what their webhooks send."""
    for index, row in new_rows.items():
        row.pk, row.profile_names = ids[row.trade_key], [profile.name for profile in hits[index].profiles]
    return {row.pk: row for row in new_rows.values()}


def _stored_prints(print_keys: list[str]) -> list[StoredPrint]:
    rows = OptionTrade.objects.filter(print_key__in=print_keys).values_list("print_key", "occurrence", "sequence")
    return [StoredPrint(*row) for row in rows]


def trade_row(hit: Hit, print_key: str, occurrence: int, source: str, received_at: datetime) -> OptionTrade:
    trade, option, reference = hit.trade, hit.trade.option, hit.reference
    return OptionTrade(
        trade_key=trade_key(print_key, occurrence),
        print_key=print_key,
        occurrence=occurrence,
        symbol=trade.symbol,
        underlying=trade.underlying,
        root=option.root,
        expiry=option.expiry,
        right=option.right,
        strike=option.strike,
        price=Decimal(repr(trade.price)),
        size=trade.size,
        shares_per_contract=trade.shares_per_contract,
        premium=Decimal(f"{trade.premium:.2f}"),
        dte=trade.dte,
        exchange=trade.exchange,
        conditions=list(trade.conditions),
        sequence=trade.sequence,
        sip_timestamp=trade.sip_timestamp,
        traded_at=utc_datetime(trade.sip_timestamp),
        open_interest=reference.open_interest,
        spot=None if reference.spot is None else Decimal(repr(reference.spot)),
        stale_reference=hit.stale,
        source=source,
        received_at=received_at,
        stored_at=timezone.now(),
    )
