"""Orders in the live pipeline: keep prints, close orders by watermark, judge them, store the hits.

The design, and why (README, "Orders"): prints of one sweep arrive in different batches, handled
by different workers, in any order. Each worker writes the prints it keeps as one `PrintBatch` row
per batch (a log, insert-only: the firehose writes one row where it would write thousands), and
beat's tick (`close_due`, every ORDER_CLOSE_SECONDS) closes orders over an in-memory book of those
prints (`MemoryPrints`, trades/domain/order_book.py), one closer at a time. Which prints form an
order is then a function of the prints alone, whatever the batching: late prints and cancels
reopen and regroup what they touch. The book lives in the process that runs the ticks (the
`orders` queue's worker, -P solo); the closer records in `OrderCloser`, in the transaction that
closes, the watermark it closed to and which book it was, so any other process (a restart, a
second closer) builds the book again from the consumed batches and goes on exactly where the last
one stopped. Only orders that pass a profile's rules known at close are written (`Order`, their
prints as `KeptPrint`).

Only prints of underlyings watched by a profile that judges orders are kept, from
ORDER_PRINT_MIN_PREMIUM up; the volume of all their prints is counted per minute
(services/day_volume.py). The watermark comes from `OrderClock`: the latest event time any worker
has stored prints up to, advanced by the wall clock when the feed goes quiet. The book forgets
orders that ended ORDER_BOOK_HORIZON_SECONDS before the watermark: a print later than that groups
only with what is left.

A closed order that passes a profile's rules known at close becomes an `Order` row in state
JUDGING, in the transaction that closed it, and is sent to `trades.judge_orders` (the reference
queue): its quote is looked up (services/quotes.py), its side and sentiment classified, and it
becomes a HIT (with its webhook deliveries) or is dropped. Beat's tick sends again what has waited
longer than JUDGING_LOST_SECONDS (its task was lost).
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from trades import queues
from trades.domain import formatting
from trades.domain.calendar import new_york_date, utc_datetime
from trades.domain.formatting import optional_float
from trades.domain.noise import DIVIDEND_LOOKAHEAD, Suppression, dividend_capture, suppression
from trades.domain.occ import parse_occ, underlying_for_root
from trades.domain.order_book import Closed, MemoryPrints, close_orders, watermark
from trades.domain.order_rules import (
    OrderFacts,
    looks_like_a_bet,
    passes_context_rules,
    passes_kind_rules,
    passes_side,
)
from trades.domain.orders import (
    LATENESS_MS,
    NS_PER_MS,
    UNKNOWN_OPENING,
    Order,
    Print,
    PrintClass,
    Run,
    build_order,
    opening,
    print_digest,
    repeated_hits,
)
from trades.domain.rules import Profile, Reference, Trade
from trades.domain.side import Quote
from trades.models import (
    Dividend,
    KeptPrint,
    OptionContract,
    OrderClock,
    OrderCloser,
    OrderMatch,
    OrderState,
    PrintBatch,
    Underlying,
    VolumeCount,
)
from trades.models import Order as OrderRow
from trades.selectors.flow_rules import current_flow_rules
from trades.services import day_volume, insights, locks, quotes, rows, webhooks

logger = logging.getLogger(__name__)

JUDGING_LOST_SECONDS = 30  # a candidate sent to be judged this long ago and still waiting: its task was lost
PRUNE_STEPS = 32  # the book forgets old orders each time the watermark has moved this fraction of its horizon
FULL_COLLECTION_EVERY_SECONDS = 60.0  # see Closer.spare_the_collector
VOLUME_COUNT_SECONDS = 5.0  # see Book.count_volume
# Batches taken per close: a closer that starts behind a backlog (it was down) catches up a slice at
# a time (400 batches a second at two ticks a second; a live feed logs five) instead of at once.
MAX_BATCHES_PER_CLOSE = 200

# A kept print as a PrintBatch holds it: (contract, ts_ns, sequence, exchange, price as its repr
# (exact when read back as a Decimal), size, conditions, shares per contract, occurrence among
# identical prints). Batches logged before the occurrence was added hold the first eight.
PackedPrint = tuple[str, int, int | None, int, str, int, tuple[int, ...], int, int]


@dataclass
class OrderReport:
    closed: int = 0  # orders closed (again, after a reopen, included)
    candidates: int = 0  # passed every rule known at close: their quote is looked up
    suppressed: int = 0  # would have been candidates but are noise (a spread's leg, a roll): held back
    hits: int = 0
    withdrawn: int = 0  # orders taken apart that did not come back

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def packed_print(trade: Trade, sequence: int | None = None) -> PackedPrint:
    """``sequence``: the trade's (None), or a stand-in that orders prints of one millisecond (a
    backfill's place in the day's listing: REST has no sequence number)."""
    return (
        trade.symbol,
        trade.sip_timestamp * NS_PER_MS,
        trade.sequence if sequence is None else sequence,
        trade.exchange,
        repr(trade.price),
        trade.size,
        trade.conditions,
        trade.shares_per_contract,
        0,
    )


def number_identical(prints: list[PackedPrint]) -> list[PackedPrint]:
    """A batch's kept prints, each with its occurrence among identical prints of the batch (by
    sequence number, then as they came). Identical prints of one millisecond that come in two
    batches are both the first: the one case where two trades could share an identity."""
    places: dict[tuple, list[int]] = defaultdict(list)
    for index, item in enumerate(prints):
        places[(item[0], item[1], item[3], item[4], item[5], item[6])].append(index)
    if len(places) == len(prints):
        return prints  # nearly always: no print repeats another
    numbered = list(prints)
    for indexes in places.values():
        ranked = sorted(indexes, key=lambda index: (prints[index][2] is None, prints[index][2] or 0, index))
        for place, index in enumerate(ranked):
            numbered[index] = (*prints[index][:8], place)  # type: ignore[assignment]
    return numbered


def unpacked(row: Sequence[Any]) -> Print:
    """A Print from a packed print, or from the values of a KeptPrint row's PRINT_FIELDS (the same order)."""
    symbol, ts_ns, sequence, exchange, price, size, codes, shares_per_contract, *occurrence = row
    return Print(
        symbol, ts_ns, sequence, exchange, Decimal(price), size, tuple(codes), shares_per_contract, *occurrence
    )


def keeps(trade: Trade) -> bool:
    """Is this print of a watched underlying large enough to keep for grouping?"""
    return trade.price * trade.size * trade.shares_per_contract >= settings.ORDER_PRINT_MIN_PREMIUM


# --- the two ways in: a batch, and beat's tick -----------------------------------------------------


def log_batch(
    digest: str,
    source: str,
    prints: Sequence[PackedPrint],
    underlyings: dict[str, str],
    volume: dict[tuple[str, int], day_volume.Count],
    latest_event_ms: int | None,
) -> int:
    """Log a batch's kept prints (``underlyings``: of their contracts) and volume counts as one row
    (once: a redelivered batch has the same ``digest``), then move the clock to its latest event.
    Closing is beat's tick's (close_due): no batch waits on another."""
    if prints or volume:
        counts = [[symbol, minute, count, cents] for (symbol, minute), (count, cents) in volume.items()]
        payload = orjson.dumps({"underlyings": underlyings, "prints": number_identical(list(prints)), "volume": counts})
        row = (digest, timezone.now(), source, payload, False, False)
        rows.insert(PrintBatch._meta.db_table, _BATCH_COLUMNS, [row], "ON CONFLICT (digest) DO NOTHING")
    if latest_event_ms is not None:  # after the prints: a tick never closes past prints not logged yet
        advance_clock(latest_event_ms * NS_PER_MS)
    return len(prints)


_BATCH_COLUMNS: list[rows.Column] = [
    ("digest", "text"),
    ("received_at", "timestamptz"),
    ("source", "text"),
    ("prints", "bytea"),
    ("consumed", "boolean"),
    ("counted", "boolean"),
]


def close_due(now: datetime | None = None, closer: Closer | None = None) -> OrderReport:
    """Beat's tick: add the batches logged since the last close to the book, close the orders the
    watermark has passed (advancing it by the wall clock when no batch has moved it for
    LATENESS_MS), send the candidates to be judged, and send again those whose judging was lost.
    One closer at a time: a tick that finds another closing leaves the work to it and the next.
    ``closer``: this process's, unless a test plays another process."""
    report = OrderReport()
    mark = current_watermark(idle=True, now=now)
    with transaction.atomic():
        if locks.try_lock("orders:close"):
            _queue_judging((closer or CLOSER).close(mark, report))
    lost = OrderRow.objects.filter(
        state=OrderState.JUDGING, queued_at__lt=(now or timezone.now()) - timedelta(seconds=JUDGING_LOST_SECONDS)
    )
    with transaction.atomic():
        _queue_judging(list(lost.values_list("pk", flat=True)))
    return report


def _queue_judging(order_pks: list[int]) -> None:
    """Judge these candidates in a task of the reference queue, once the transaction commits: a quote
    look-up is REST work, and a slow quote API must not hold the firehose up."""
    if order_pks:
        OrderRow.objects.filter(pk__in=order_pks).update(queued_at=timezone.now())
        transaction.on_commit(lambda: current_app.send_task(queues.JUDGE_ORDERS, args=[order_pks]), robust=True)


def judge_candidates(order_pks: Iterable[int]) -> OrderReport:
    report = OrderReport()
    judge(order_pks, report)
    return report


# --- the watermark ---------------------------------------------------------------------------------


def advance_clock(latest_event_ns: int) -> None:
    """Move the clock forward to ``latest_event_ns`` (never back). Its own statement, outside any
    transaction, so workers never queue behind each other on this row."""
    now = timezone.now()
    moved = OrderClock.objects.filter(pk=OrderClock.SINGLETON_PK, latest_event_ns__lt=latest_event_ns).update(
        latest_event_ns=latest_event_ns, advanced_at=now
    )
    if not moved:  # already as late, or the very first batch: one query more, once
        OrderClock.objects.get_or_create(
            pk=OrderClock.SINGLETON_PK, defaults={"latest_event_ns": latest_event_ns, "advanced_at": now}
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


# --- the book and its closer -----------------------------------------------------------------------


class Book(MemoryPrints):
    """The prints of the logged batches, in memory, with how each came and which prints a cancel
    took back or gave back since the last close (their stored rows follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: dict[Print, str] = {}
        self.underlyings: dict[str, str] = {}
        self.cancel_changes: dict[Print, bool] = {}
        # The volume (and premium) counts of the batches added, not in VolumeCount yet: `uncounted`
        # names them.
        self.volume: dict[tuple[str, int], int] = defaultdict(int)
        self.premium: dict[tuple[str, int], int] = defaultdict(int)
        self.uncounted: list[int] = []
        # Never yet (not 0.0: the monotonic clock may start near 0, on a machine just booted).
        self.counted_at = float("-inf")
        self.pruned_to = 0

    def add_batches(self, batches: Iterable[PrintBatch]) -> list[Print]:
        new = []
        for batch in batches:
            if batch.prints is None:  # cleared: only batches still held are read
                continue
            payload = orjson.loads(batch.prints)
            self.underlyings.update(payload["underlyings"])
            added = self.add([unpacked(row) for row in payload["prints"]])
            for item in added:
                self.sources[item] = batch.source
            new += added
            if not batch.counted:
                self._add_counts(batch.pk, payload["volume"])
        return new

    def add_counts(self, batches: Iterable[PrintBatch]) -> None:
        """Only the volume counts of these batches (not counted yet)."""
        for batch in batches:
            if batch.prints is not None:
                self._add_counts(batch.pk, orjson.loads(batch.prints)["volume"])

    def _add_counts(self, batch_pk: int, counts: list[list[Any]]) -> None:
        for symbol, minute, count, *cents in counts:  # batches logged before premium was counted: none
            self.volume[(symbol, minute)] += count
            self.premium[(symbol, minute)] += cents[0] if cents else 0
        self.uncounted.append(batch_pk)

    def count_volume(self, now: bool = False) -> None:
        """Every VOLUME_COUNT_SECONDS (or ``now``), add the counts held up in one statement and mark
        their batches counted (the same (contract, minute) comes in batch after batch: one row
        written, not one per batch). Until then opening inference adds them to what it reads
        (`volume`)."""
        if self.uncounted and (now or time.monotonic() - self.counted_at >= VOLUME_COUNT_SECONDS):
            day_volume.add({key: (volume, self.premium[key]) for key, volume in self.volume.items()})
            PrintBatch.objects.filter(pk__in=self.uncounted).update(counted=True)
            self.volume.clear()
            self.premium.clear()
            self.uncounted.clear()
            self.counted_at = time.monotonic()

    def set_cancelled(self, item: Print, cancelled: bool) -> None:
        super().set_cancelled(item, cancelled)
        self.cancel_changes[item] = cancelled

    def source_of(self, item: Print) -> str:
        """How the print came: live, replay, backfill or a gap fill."""
        return self.sources[item]

    def forget_before(self, mark_ns: int) -> None:
        """Forget the orders that ended ORDER_BOOK_HORIZON_SECONDS before the watermark, each time
        the watermark has moved 1/PRUNE_STEPS of the horizon: the book holds the horizon and a
        little more, however fast a replay runs."""
        horizon_ns = int(settings.ORDER_BOOK_HORIZON_SECONDS * 1e9)
        before = mark_ns - horizon_ns
        if before - self.pruned_to >= horizon_ns // PRUNE_STEPS:
            for item in self.prune(before):
                self.sources.pop(item, None)
            self.pruned_to = before


class Closer:
    """This process's closer: its book, and the name that tells whether the last close was its own."""

    def __init__(self) -> None:
        self.book: Book | None = None
        self.name = uuid.uuid4().hex[:16]
        self.closes = 0
        self.collected_at = time.monotonic()

    def close(self, mark_ns: int, report: OrderReport) -> list[int]:
        """Inside the closing transaction, the lock held: close over the batches logged since the
        last close; return the candidates' row ids. If the transaction fails, the book is dropped
        (it would be ahead of what is stored) and built again at the next close."""
        try:
            candidates = self._close(mark_ns, report)
        except BaseException:
            self.book = None
            raise
        self.spare_the_collector()
        return candidates

    def spare_the_collector(self) -> None:
        """The book is hundreds of thousands of long-lived objects, and the cyclic garbage collector
        walking them at every full collection took a fifth of the closer's CPU. After each close what
        survives is moved out of its sight (gc.freeze); now and then a full collection runs first, so
        that no garbage stays frozen for long. (The book's objects hold no cycles: their memory goes
        back by reference counting, frozen or not.)"""
        if time.monotonic() - self.collected_at >= FULL_COLLECTION_EVERY_SECONDS:
            gc.unfreeze()
            gc.collect()
            self.collected_at = time.monotonic()
        gc.freeze()

    def _close(self, mark_ns: int, report: OrderReport) -> list[int]:
        state, _ = OrderCloser.objects.get_or_create(pk=OrderCloser.SINGLETON_PK)
        book = self._book_as_of(state)
        book.forget_before(state.closed_mark_ns)
        batches = list(PrintBatch.objects.filter(consumed=False).order_by("id")[:MAX_BATCHES_PER_CLOSE])
        new = book.add_batches(batches)
        if len(batches) == MAX_BATCHES_PER_CLOSE:  # a backlog: close only as far as the prints taken
            mark_ns = min(mark_ns, watermark(max((item.ts_ns for item in new), default=0)))
        mark_ns = max(mark_ns, state.closed_mark_ns)
        book.count_volume()
        closed = close_orders(book, book.due(mark_ns), mark_ns, new)
        candidates = _consider(closed, book, timezone.now(), report)
        if candidates:  # their judging reads the strike's premium so far from the table: all of it
            book.count_volume(now=True)
        _store_cancelled(book)
        _withdraw_for_late_cancels(
            book.cancels_without_print({item for item in new if item.kind is PrintClass.CANCEL}), report
        )
        PrintBatch.objects.filter(pk__in=[batch.pk for batch in batches]).update(consumed=True)
        _held_batches().filter(received_at__lt=_held_from(), counted=True).update(prints=None)
        self.closes += 1
        state.closed_mark_ns, state.book = mark_ns, self._version()
        state.save()
        return candidates

    def _version(self) -> str:
        return f"{self.name}:{self.closes}"

    def _book_as_of(self, state: OrderCloser) -> Book:
        """This process's book if the last close was made with it; else a new one, built from the
        consumed batches and closed to the last close's watermark without judging again what the
        closer before judged (the orders are the same: a function of the prints)."""
        if self.book is not None and state.book == self._version():
            return self.book
        started = time.perf_counter()
        book = Book()
        held_from = _held_from()
        added = book.add_batches(_held_batches().filter(received_at__gte=held_from).order_by("id"))
        close_orders(book, book.due(state.closed_mark_ns), state.closed_mark_ns, added)
        book.cancel_changes.clear()
        # Counts the last closer held and did not write, of batches older than the book (it was down long).
        book.add_counts(_held_batches().filter(received_at__lt=held_from, counted=False).order_by("id"))
        logger.info(
            "Built the order book from %d logged prints in %.0f ms (the last close was %s)",
            len(added),
            (time.perf_counter() - started) * 1000,
            "another book's" if state.book else "none",
        )
        self.book = book
        return book


CLOSER = Closer()


def _held_batches() -> QuerySet[PrintBatch]:
    """Consumed batches whose prints are still held: a new book is built from them."""
    return PrintBatch.objects.filter(consumed=True, prints__isnull=False)


def _held_from() -> datetime:
    return timezone.now() - timedelta(seconds=2 * settings.ORDER_BOOK_HORIZON_SECONDS)


def _store_cancelled(book: Book) -> None:
    """Stored prints (of candidate orders) that a cancel took back or gave back since the last close."""
    for cancelled in (True, False):
        changed = [print_digest(item) for item, now in book.cancel_changes.items() if now is cancelled]
        if changed:
            KeptPrint.objects.filter(identity__in=changed).update(cancelled=cancelled)
    book.cancel_changes.clear()


def _withdraw_for_late_cancels(cancels: list[Print], report: OrderReport) -> None:
    """Cancels whose print the book no longer holds (later than its horizon): where that print is
    stored, as a fill of an order, it is taken back and its order withdrawn."""
    for cancel in cancels:
        earlier = KeptPrint.objects.filter(
            symbol=cancel.symbol, price=cancel.price, size=cancel.size, cancelled=False, ts_ns__lt=cancel.ts_ns
        )
        fill = earlier.order_by("-ts_ns", "-sequence").first()
        if fill is None:
            continue
        fill.cancelled = True
        fill.save(update_fields=["cancelled"])
        withdrawn = OrderRow.objects.filter(order_id=fill.order_id).exclude(state=OrderState.WITHDRAWN)
        report.withdrawn += withdrawn.update(state=OrderState.WITHDRAWN)
        logger.info("A cancel came after the order book's horizon: order %s withdrawn", fill.order_id)


_FILL_COLUMNS: list[rows.Column] = [
    ("identity", "text"),
    ("symbol", "text"),
    ("underlying", "text"),
    ("trade_date", "date"),
    ("ts_ns", "bigint"),
    ("sequence", "bigint"),
    ("exchange", "integer"),
    ("price", "numeric"),
    ("size", "integer"),
    ("conditions", "jsonb"),
    ("shares_per_contract", "integer"),
    ("occurrence", "integer"),
    ("kind", "text"),
    ("source", "text"),
    ("cancelled", "boolean"),
    ("order_id", "text"),
]

PRINT_FIELDS = (
    "symbol",
    "ts_ns",
    "sequence",
    "exchange",
    "price",
    "size",
    "conditions",
    "shares_per_contract",
    "occurrence",
)


def store_fills(orders: Sequence[Order], underlyings: Mapping[str, str], source_of: Callable[[Print], str]) -> None:
    """The candidates' prints, each as its order's (a print an earlier order held moves to this one)."""
    fills = {
        print_digest(item): (
            print_digest(item),
            item.symbol,
            underlyings.get(item.symbol, ""),
            new_york_date(item.ts_ms),
            item.ts_ns,
            item.sequence,
            item.exchange,
            item.price,
            item.size,
            orjson.dumps(list(item.conditions)).decode(),
            item.shares_per_contract,
            item.occurrence,
            item.kind.value,
            source_of(item),
            False,
            order.id,
        )
        for order in orders
        for item in order.prints
    }
    tail = "ON CONFLICT (identity) DO UPDATE SET order_id = EXCLUDED.order_id, cancelled = false"
    rows.insert(KeptPrint._meta.db_table, _FILL_COLUMNS, [fills[key] for key in sorted(fills)], tail)


# --- judging -------------------------------------------------------------------------------------


def _consider(closed: Closed, book: Book, received_at: datetime, report: OrderReport) -> list[int]:
    """Withdraw the orders that are gone; store the closed orders that pass a profile's rules known
    at close as JUDGING, with their prints. Returns their row ids."""
    report.closed += len(closed.runs)
    if closed.gone:
        report.withdrawn += OrderRow.objects.filter(order_id__in=closed.gone).update(state=OrderState.WITHDRAWN)
    profiles = current_flow_rules().order_profiles
    runs = [run for run in closed.runs if may_pass(run, profiles)]
    if not runs:
        return []
    contracts = _contracts({run.symbol for run in runs})

    def volumes(orders: list[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
        return day_volume.volumes_before(orders, pending=book.volume)

    def references(wanted: list[OrderFacts]) -> list[Reference]:
        underlyings = _underlyings({facts.underlying for facts in wanted})
        return [_reference(contracts.get(facts.order.symbol), underlyings.get(facts.underlying)) for facts in wanted]

    found = order_candidates(runs, profiles, contracts, references, volumes, book.near)
    candidates = [
        # The order came as its first print did.
        candidate_row(candidate, book.source_of(candidate.facts.order.prints[0]), received_at)
        for candidate in found
    ]
    report.candidates += sum(not candidate.suppression for candidate in found)
    report.suppressed += sum(bool(candidate.suppression) for candidate in found)
    store_fills([candidate.facts.order for candidate in found], book.underlyings, book.source_of)
    return _store_candidates(candidates)


@dataclass(frozen=True)
class Candidate:
    """A closed order that passes every rule a profile has but its side (that needs its quote), or
    one held back as noise (``suppression``: why) that the profiles would otherwise have alerted."""

    facts: OrderFacts
    reference: Reference
    volume_before: int | None
    profiles: list[Profile]
    suppression: Suppression | None = None


def order_candidates(
    runs: Sequence[Run],
    profiles: list[Profile],
    contracts: Mapping[str, Mapping[str, Any]],
    references: Callable[[list[OrderFacts]], list[Reference]],
    volumes: Callable[[list[tuple[str, int]]], dict[tuple[str, int], int | None]],
    nearby: Callable[[int], list[Print]],
) -> list[Candidate]:
    """The runs that pass a profile's rules known at close: the order rules, then, with the day's
    volume before each (``volumes``: by contract and first print) and its reference data
    (``references``: one for each facts given), opening and the context rules. An order that looks
    like a bet to a profile but is noise (trades/domain/noise.py; ``nearby``: the kept prints
    around a moment, its package's other legs among them) is a candidate held back, with its reason.
    The live closer and a backfill judge orders alike through this."""
    wanted: list[tuple[OrderFacts, list[Profile], Suppression | None]] = []
    for run in runs:
        if not may_pass(run, profiles):
            continue
        facts = order_facts(run.order(), contracts.get(run.symbol))
        bets = [profile for profile in profiles if looks_like_a_bet(facts, profile)]
        if not bets:
            continue
        held = suppression(facts.order, nearby(facts.order.first_ts_ns))
        cheap = bets if held else [profile for profile in bets if passes_kind_rules(facts, profile)]
        if cheap:
            wanted.append((facts, cheap, held))
    if not wanted:
        return []
    found_volumes = volumes([(facts.order.symbol, facts.order.first_ts_ns) for facts, _, _ in wanted])
    found_references = references([facts for facts, _, _ in wanted])
    candidates = []
    for (facts, cheap, held), reference in zip(wanted, found_references, strict=True):
        order = facts.order
        volume = found_volumes.get((order.symbol, order.first_ts_ns))
        facts = replace(facts, opening=opening(order.size, reference.open_interest, volume))
        passed = cheap if held else [profile for profile in cheap if passes_context_rules(facts, profile, reference)]
        if passed:
            candidates.append(Candidate(facts, reference, volume, passed, held))
    return _held_for_dividends(candidates)


def _held_for_dividends(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates that are dividend trades, held back as such (the underlyings' ex-dividend
    dates from `Dividend`: refreshed daily, and for a backfill's days before it runs)."""
    days = [new_york_date(candidate.facts.order.first_ts_ns // NS_PER_MS) for candidate in candidates]
    calls = [
        index
        for index, candidate in enumerate(candidates)
        if not candidate.suppression and candidate.facts.option.right == "C"
    ]
    if not calls:
        return candidates
    ahead = Dividend.objects.filter(
        ticker__in={candidates[index].facts.underlying for index in calls},
        ex_dividend_date__gt=min(days[index] for index in calls),
        ex_dividend_date__lte=max(days[index] for index in calls) + DIVIDEND_LOOKAHEAD,
    )
    ex_dates: dict[str, list[date]] = defaultdict(list)
    for ticker, day in ahead.values_list("ticker", "ex_dividend_date"):
        ex_dates[ticker].append(day)
    found = list(candidates)
    for index in calls:
        candidate = candidates[index]
        facts = candidate.facts
        held = dividend_capture(facts.order, candidate.reference.spot, ex_dates[facts.underlying], days[index])
        if held:
            found[index] = replace(candidate, suppression=held)
    return found


def may_pass(run: Run, profiles: list[Profile]) -> bool:
    """Could any profile want this run, judging by its size and (roughly) its premium alone? Most
    runs are one small print: this spares building their orders."""
    premium = run.rough_premium
    if not any(profile.min_premium is None or premium >= profile.min_premium * 0.999 for profile in profiles):
        return False
    size = run.size
    return any(
        (profile.min_premium is None or premium >= profile.min_premium * 0.999)
        and (profile.min_size is None or size >= profile.min_size)
        for profile in profiles
    )


def judge(order_pks: Iterable[int], report: OrderReport) -> None:
    """Look up the candidates' quotes, classify their side, and make each a hit or drop it."""
    rows_judging = list(OrderRow.objects.filter(pk__in=list(order_pks), state=OrderState.JUDGING))
    if not rows_judging:
        return
    fills: dict[str, list[Print]] = defaultdict(list)
    kept = KeptPrint.objects.filter(order_id__in=[row.order_id for row in rows_judging], cancelled=False)
    for order_id, *fields in kept.values_list("order_id", *PRINT_FIELDS):
        fills[order_id].append(unpacked(fields))
    ready = [(row, sorted(fills[row.order_id], key=_print_order)) for row in rows_judging if fills[row.order_id]]
    profiles = {profile.id: profile for profile in current_flow_rules().order_profiles}
    sided = with_sides(
        [(prints, [profiles[pk] for pk in row.candidate_profiles if pk in profiles]) for row, prints in ready]
    )
    judged = [
        (row, order, quote, insights.history_passes(row, matched) if matched else matched)
        for (row, _), (order, quote, matched) in zip(ready, sided, strict=True)
    ]
    for row, matched in _settle(judged):
        report.hits += 1
        logger.info(order_line(row, [profile.name for profile in matched]))


def with_sides(
    candidates: list[tuple[list[Print], list[Profile]]],
    nbbo_at_each: Callable[[list[tuple[str, int]]], list[Quote | None]] = quotes.nbbo_at_each,
) -> list[tuple[Order, Quote | None, list[Profile]]]:
    """Each candidate's order (its sorted prints) with its side from the quote at its first print
    (``nbbo_at_each``: the look-up), that quote, and the profiles (of those given) whose side rules
    it passes."""
    nbbo = nbbo_at_each([(prints[0].symbol, prints[0].ts_ns) for prints, _ in candidates])
    sided = []
    for (prints, profiles), quote in zip(candidates, nbbo, strict=True):
        order = build_order(prints, quote)
        sided.append((order, quote, [profile for profile in profiles if passes_side(order, profile)]))
    return sided


def _print_order(item: Print) -> tuple:
    return item.key


def _settle(judged: list[tuple[OrderRow, Order, Any, list[Profile]]]) -> list[tuple[OrderRow, list[Profile]]]:
    """In one transaction: the judged orders that still wait (none reopened meanwhile) become hits
    with their matches and webhook deliveries, or are dropped."""
    hits: list[tuple[OrderRow, list[Profile]]] = []
    with transaction.atomic():
        waiting = set(
            OrderRow.objects.select_for_update()
            .filter(pk__in=[row.pk for row, *_ in judged], state=OrderState.JUDGING)
            .values_list("pk", "order_id")
        )
        judged = [entry for entry in judged if (entry[0].pk, entry[1].id) in waiting]
        OrderRow.objects.filter(pk__in=[row.pk for row, _, _, matched in judged if not matched]).delete()
        now = timezone.now()
        for row, order, quote, matched in judged:
            if matched:
                for name, value in side_fields(order, quote).items():
                    setattr(row, name, value)
                row.state, row.judged_at = OrderState.HIT, now
                row.save(update_fields=[*side_fields(order, quote), "state", "judged_at"])
                hits.append((row, matched))
        OrderMatch.objects.bulk_create(
            [OrderMatch(order_id=row.pk, profile_id=profile.id) for row, matched in hits for profile in matched],
            ignore_conflicts=True,
        )
        insights.describe(row for row, _ in hits)  # before the webhooks: they carry it
        for row, matched in hits:
            row.profile_names = [profile.name for profile in matched]
        webhooks.create_deliveries(
            {row.pk: {profile.id for profile in matched} for row, matched in hits},
            orders=True,
            stored={row.pk: row for row, _ in hits},
        )
    return hits


def side_fields(order: Order, quote: Any) -> dict[str, Any]:
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
    kind = formatting.order_kind(row.type, row.golden, row.subtype)
    head = formatting.order_line_head(kind, row.symbol, row.premium, row.dte, row.aggressor, row.sentiment, row.opening)
    return head + ", ".join(profiles) + "]" + (f" {row.insight}" if row.insight else "")


# --- what judging needs: the contract, the reference, the day's volume -----------------------------


def _contracts(symbols: set[str]) -> dict[str, dict[str, Any]]:
    rows = OptionContract.objects.filter(symbol__in=symbols).values("symbol", "underlying", "open_interest")
    return {row["symbol"]: dict(row) for row in rows}


def order_facts(order: Order, contract: Mapping[str, Any] | None) -> OrderFacts:
    option = parse_occ(order.symbol)
    underlying = contract["underlying"] if contract else underlying_for_root(option.root)
    trade_date = new_york_date(order.first_ts_ns // NS_PER_MS)
    burst = bool(repeated_hits(order.prints, market_cap=None))
    return OrderFacts(order, option, underlying, (option.expiry - trade_date).days, UNKNOWN_OPENING, burst)


def _underlyings(tickers: set[str]) -> dict[str, dict[str, Any]]:
    rows = Underlying.objects.filter(ticker__in=tickers).values("ticker", "spot", "strike_min", "strike_max")
    return {row["ticker"]: dict(row) for row in rows}


def _reference(contract: dict[str, Any] | None, underlying: dict[str, Any] | None) -> Reference:
    underlying = underlying or {}
    return Reference(
        open_interest=(contract or {}).get("open_interest"),
        spot=optional_float(underlying.get("spot")),
        strike_min=optional_float(underlying.get("strike_min")),
        strike_max=optional_float(underlying.get("strike_max")),
    )


def candidate_row(candidate: Candidate, source: str, received_at: datetime) -> OrderRow:
    """The order row of a candidate: JUDGING (its side is looked up next), or SUPPRESSED with its reason."""
    facts, reference, held = candidate.facts, candidate.reference, candidate.suppression
    order, option = facts.order, facts.option
    return OrderRow(
        order_id=order.id,
        state=OrderState.SUPPRESSED if held else OrderState.JUDGING,
        noise=held.reason if held else "",
        noise_detail=held.detail if held else "",
        symbol=order.symbol,
        underlying=facts.underlying,
        expiry=option.expiry,
        right=option.right,
        strike=option.strike,
        type=order.type,
        subtype=order.subtype or "",
        prints=len(order.prints),
        size=order.size,
        premium=order.premium,
        vwap=order.vwap,
        dte=facts.dte,
        first_ts_ns=order.first_ts_ns,
        last_ts_ns=order.last_ts_ns,
        traded_at=utc_datetime(order.first_ts_ns // NS_PER_MS),
        exchanges=list(order.exchanges),
        conditions=list(order.conditions),
        price_path=order.price_path,
        iso=order.iso,
        repeated_hits=facts.repeated_hits,
        open_interest=reference.open_interest,
        volume_before=candidate.volume_before,
        opening=facts.opening.opening,
        opening_strict=facts.opening.opening_strict,
        vol_oi=facts.opening.vol_oi,
        spot=_decimal(reference.spot),
        strike_min=_decimal(reference.strike_min),
        strike_max=_decimal(reference.strike_max),
        candidate_profiles=sorted(profile.id for profile in candidate.profiles),
        source=source,
        received_at=received_at,
    )


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value))


# What closing an order again (after a reopen) updates; when it was first received stays.
_CANDIDATE_UPDATES = [
    field.name
    for field in OrderRow._meta.concrete_fields
    if field.name not in ("id", "order_id", "received_at", "queued_at", "judged_at")
]


def _store_candidates(candidates: list[OrderRow]) -> list[int]:
    if not candidates:
        return []
    OrderRow.objects.bulk_create(
        candidates, update_conflicts=True, unique_fields=["order_id"], update_fields=_CANDIDATE_UPDATES
    )
    ids = [row.order_id for row in candidates if row.state == OrderState.JUDGING]
    return list(OrderRow.objects.filter(order_id__in=ids).values_list("pk", flat=True))


# --- housekeeping --------------------------------------------------------------------------------


def purge(today: datetime | None = None) -> dict[str, int]:
    """Stored prints and logged batches older than ORDER_PRINT_RETENTION_DAYS, except the prints of
    stored orders; volume counts older than VOLUME_COUNT_RETENTION_DAYS (the insights' baselines
    read 20 trading days of them)."""
    cutoff = (today or timezone.now()).date() - timedelta(days=settings.ORDER_PRINT_RETENTION_DAYS)
    stored = OrderRow.objects.values("order_id")
    old_prints = KeptPrint.objects.filter(trade_date__lt=cutoff).exclude(order_id__in=stored)
    prints, _ = old_prints.delete()
    counts_cutoff = (today or timezone.now()).date() - timedelta(days=settings.VOLUME_COUNT_RETENTION_DAYS)
    counts, _ = VolumeCount.objects.filter(trade_date__lt=counts_cutoff).delete()
    logged_before = (today or timezone.now()) - timedelta(days=settings.ORDER_PRINT_RETENTION_DAYS)
    batches, _ = PrintBatch.objects.filter(received_at__lt=logged_before).delete()
    return {"prints": prints, "volume_counts": counts, "print_batches": batches}
