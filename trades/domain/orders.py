"""From prints to orders: condition classes, sweeps, splits, blocks, golden sweeps, repeated hits
and opening inference, exactly as ../shared/FLOW.md states them.

Everything here is a pure function of a contract's ordered prints (and, for side, the quote at
the order's first print): no clock, no randomness, nothing that depends on how the prints were
batched. `group` cuts a contract's prints into orders; `OpenRuns` does the same a batch at a
time and says which orders are final once the watermark has passed them, so a stream, a replay
and a backfill of the same prints give the same orders with the same ids.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from trades.domain import conditions
from trades.domain.side import Aggressor, Quote, Sentiment, order_aggressor, print_side, sentiment, signed_premium

GAP_MS = 500  # a longer pause between two prints of a contract starts a new order
MAX_SPAN_MS = 2_000  # no order spans longer
# How late a print may arrive and still be grouped as if it had come in time. FLOW.md suggests
# 2,000; 1,000 closes orders a second sooner (1.5 s after their last print). The listener sends a
# batch every 200 ms and a worker takes it in tens of ms, so a later print means a stalled worker,
# and even then nothing is lost: the late print reopens its orders (order_book.py).
LATENESS_MS = 1_000
BLOCK_PREMIUM = Decimal(100_000)
BLOCK_SIZE = 1_000
GOLDEN_PREMIUM = Decimal(1_000_000)
NS_PER_MS = 1_000_000
_CENT = Decimal("0.01")
_VWAP_PLACES = Decimal("0.0001")


class PrintClass(StrEnum):
    """What a print's conditions make of it (FLOW.md's table)."""

    REGULAR = "regular"  # groupable: regular, ISO, auction and unknown codes
    CANCEL = "cancel"  # not a trade: cancels an earlier print
    LATE = "late"  # an order of one, type LATE
    CROSS = "cross"  # an order of one, BLOCK CROSS or SINGLE
    FLOOR = "floor"  # an order of one, BLOCK FLOOR or SINGLE
    MULTI_LEG = "multi_leg"  # a leg of a spread: an order of one, neutral
    STOCK_OPTION = "stock_option"  # as multi-leg
    COMPRESSION = "compression"  # dropped from everything


class OrderType(StrEnum):
    SWEEP = "SWEEP"  # two or more prints on two or more exchanges
    SPLIT = "SPLIT"  # two or more prints on one exchange
    BLOCK = "BLOCK"  # one large print
    SINGLE = "SINGLE"
    LATE = "LATE"
    MULTI_LEG = "MULTI_LEG"


class Subtype(StrEnum):
    CROSS = "CROSS"
    FLOOR = "FLOOR"


class PricePath(StrEnum):
    FLAT = "FLAT"
    ASC = "ASC"
    DESC = "DESC"
    MIXED = "MIXED"


@dataclass(frozen=True, slots=True)
class PrintFlags:
    kind: PrintClass
    iso: bool = False
    extended_hours: bool = False
    unknown_codes: tuple[int, ...] = ()


def classify(codes: Iterable[int]) -> PrintFlags:
    """A print's class and flags from its condition codes; the first matching class of FLOW.md's
    table wins (a cancel that is also late is a cancel)."""
    return _classify(tuple(codes))


@lru_cache(maxsize=4096)  # a tape holds a few dozen distinct condition lists
def _classify(codes: tuple[int, ...]) -> PrintFlags:
    found = set(codes)
    kind = PrintClass.REGULAR
    for codes_of_class, klass in _CLASS_ORDER:
        if found & codes_of_class:
            kind = klass
            break
    return PrintFlags(
        kind,
        iso=bool(found & conditions.INTERMARKET_SWEEP),
        extended_hours=bool(found & conditions.EXTENDED_HOURS),
        unknown_codes=tuple(code for code in codes if code not in conditions.KNOWN),
    )


_CLASS_ORDER: tuple[tuple[frozenset[int], PrintClass], ...] = (
    (conditions.COMPRESSION, PrintClass.COMPRESSION),
    (conditions.CANCELLED, PrintClass.CANCEL),
    (conditions.LATE, PrintClass.LATE),
    (conditions.MULTI_LEG, PrintClass.MULTI_LEG),
    (conditions.STOCK_OPTION, PrintClass.STOCK_OPTION),
    (conditions.SINGLE_LEG_CROSS, PrintClass.CROSS),
    (conditions.FLOOR, PrintClass.FLOOR),
)
_IN_VOLUME = frozenset(PrintClass) - {PrintClass.CANCEL, PrintClass.COMPRESSION}
_NO_SIDE = frozenset({PrintClass.CROSS, PrintClass.LATE, PrintClass.CANCEL})
_NOT_DIRECTIONAL = frozenset({PrintClass.MULTI_LEG, PrintClass.STOCK_OPTION})


@dataclass(frozen=True, slots=True)
class Print:
    """One print of one contract, as the order logic needs it."""

    symbol: str
    ts_ns: int
    sequence: int | None
    exchange: int
    price: Decimal
    size: int
    conditions: tuple[int, ...] = ()
    shares_per_contract: int = 100
    # Its place among identical prints (same contract, time, exchange, price, size and conditions):
    # they are separate trades, and a print from REST has no sequence number to tell them apart.
    occurrence: int = 0
    # FLOW.md's order of prints: (ts_ns, sequence, exchange, price, size), then the occurrence.
    key: tuple[int, int, int, Decimal, int, int] = field(init=False, compare=False, repr=False)
    flags: PrintFlags = field(init=False, compare=False, repr=False)
    hash_value: int = field(init=False, compare=False, repr=False)

    def __hash__(self) -> int:
        return self.hash_value

    def __post_init__(self) -> None:
        sequence = -1 if self.sequence is None else self.sequence
        key = (self.ts_ns, sequence, self.exchange, self.price, self.size, self.occurrence)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "flags", _classify(self.conditions))
        # Prints live in sets and dicts: hash once, and without the Decimal price (the costly part).
        hash_value = hash((self.ts_ns, sequence, self.exchange, self.size, self.symbol, self.occurrence))
        object.__setattr__(self, "hash_value", hash_value)

    @property
    def kind(self) -> PrintClass:
        return self.flags.kind

    @property
    def ts_ms(self) -> int:
        return self.ts_ns // NS_PER_MS

    @property
    def premium(self) -> Decimal:
        return self.price * self.size * self.shares_per_contract

    @property
    def right(self) -> str:
        return self.symbol[-9]  # O:ROOT YYMMDD C|P STRIKE8


def sorted_prints(prints: Iterable[Print]) -> list[Print]:
    return sorted(prints, key=_print_key)


def _print_key(item: Print) -> tuple[int, int, int, Decimal, int, int]:
    return item.key


# --- Cancels and day volume ------------------------------------------------------------------------


def cancelled_prints(prints: Sequence[Print]) -> set[Print]:
    """The prints that a later cancel takes back: each cancel, in order, takes the latest earlier
    un-cancelled print of the same contract, price and size (``prints`` sorted)."""
    return match_cancels(prints)[0]


def match_cancels(prints: Sequence[Print]) -> tuple[set[Print], list[Print]]:
    """The prints the cancels take back (as `cancelled_prints`), and the cancels that find no
    earlier print to take back among ``prints``."""
    cancelled: set[Print] = set()
    unmatched: list[Print] = []
    for index, item in enumerate(prints):
        if item.kind is not PrintClass.CANCEL:
            continue
        for earlier in reversed(prints[:index]):
            if (
                earlier not in cancelled
                and earlier.kind not in (PrintClass.CANCEL, PrintClass.COMPRESSION)
                and (earlier.symbol, earlier.price, earlier.size) == (item.symbol, item.price, item.size)
            ):
                cancelled.add(earlier)
                break
        else:
            unmatched.append(item)
    return cancelled, unmatched


def volume_change(item: Print) -> int:
    """What a print adds to its contract's day volume: its size, or minus it for a cancel (late,
    multi-leg and cross prints count; compressions do not)."""
    return volume_change_of(item.size, item.conditions)


def volume_change_of(size: int, codes: tuple[int, ...]) -> int:
    kind = _classify(codes).kind
    if kind is PrintClass.CANCEL:
        return -size
    return size if kind in _IN_VOLUME else 0


# --- Orders ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Order:
    """An order behind one or more prints of one contract, with its aggregates."""

    id: str
    symbol: str
    type: OrderType
    subtype: Subtype | None
    prints: tuple[Print, ...]
    size: int
    premium: Decimal  # dollars, to the cent
    vwap: Decimal
    first_ts_ns: int
    last_ts_ns: int
    exchanges: tuple[int, ...]
    conditions: tuple[int, ...]
    price_path: PricePath
    iso: bool
    buy_size: int = 0
    sell_size: int = 0
    neutral_size: int = 0
    aggressor: Aggressor = Aggressor.UNKNOWN
    sentiment: Sentiment = Sentiment.NEUTRAL
    signed_premium: Decimal = Decimal(0)
    golden: bool = False

    @property
    def span_ms(self) -> int:
        return (self.last_ts_ns - self.first_ts_ns) // NS_PER_MS

    @property
    def right(self) -> str:
        return self.prints[0].right

    @property
    def kind(self) -> PrintClass:
        return self.prints[0].kind


class Run(NamedTuple):
    """The prints of one order, closed: its id and its aggregates (`order`) when asked for.

    Most runs of the firehose are one small print that no profile wants: hashing every one's id
    and building its aggregates in Decimal would cost more than grouping them.
    """

    prints: tuple[Print, ...]

    @property
    def id(self) -> str:
        return order_id(self.prints[0])

    @property
    def symbol(self) -> str:
        return self.prints[0].symbol

    @property
    def last_ts_ns(self) -> int:
        return self.prints[-1].ts_ns

    @property
    def groupable(self) -> bool:
        return is_groupable(self.prints[0])

    @property
    def size(self) -> int:
        return sum(item.size for item in self.prints)

    @property
    def rough_premium(self) -> float:
        """The premium in floating point, to rule a run out cheaply (the order's is exact)."""
        return sum(float(item.price) * item.size * item.shares_per_contract for item in self.prints)

    def order(self, quote: Quote | None = None) -> Order:
        return build_order(self.prints, quote)


def run_of(prints: Sequence[Print]) -> Run:
    return Run(tuple(prints))


def order_id(first: Print) -> str:
    """Stable on reruns: the contract and its first print's identity, hashed."""
    return hashlib.blake2b(print_identity(first).encode(), digest_size=10).hexdigest()


def print_digest(item: Print) -> str:
    """A short stable name for a print (32 hex digits), to store it once."""
    return hashlib.blake2b(print_identity(item).encode(), digest_size=16).hexdigest()


def print_identity(item: Print) -> str:
    """The print as text, the same whatever precision its price came with and whichever way it came:
    no sequence number (REST has none), its occurrence among identical prints instead."""
    codes = ",".join(map(str, item.conditions))
    place = f"#{item.occurrence}" if item.occurrence else ""
    return f"{item.symbol}/{item.ts_ns}/{item.exchange}/{item.price:.4f}/{item.size}/{codes}{place}"


def is_groupable(item: Print) -> bool:
    return item.kind is PrintClass.REGULAR


def runs(prints: Sequence[Print]) -> list[list[Print]]:
    """Cut a contract's sorted groupable prints into runs: a new one starts when the gap to the
    previous print exceeds GAP_MS or the run would span more than MAX_SPAN_MS. Price plays no
    part: sweeps walk the book."""
    cut: list[list[Print]] = []
    for item in prints:
        current = cut[-1] if cut else None
        if (
            current is None
            or item.ts_ns - current[-1].ts_ns > GAP_MS * NS_PER_MS
            or item.ts_ns - current[0].ts_ns > MAX_SPAN_MS * NS_PER_MS
        ):
            cut.append([item])
        else:
            current.append(item)
    return cut


def group(prints: Iterable[Print], quote: Quote | None = None) -> list[Order]:
    """A contract's orders from all its prints (any order; cancels applied; compressions dropped)."""
    ordered = sorted_prints(prints)
    gone = cancelled_prints(ordered)
    kept = [item for item in ordered if item not in gone and item.kind not in _NOT_AN_ORDER]
    groupable = [item for item in kept if is_groupable(item)]
    orders = [build_order(run, quote) for run in runs(groupable)]
    orders += [build_order([item], quote) for item in kept if not is_groupable(item)]
    return sorted(orders, key=lambda order: order.prints[0].key)


_NOT_AN_ORDER = frozenset({PrintClass.CANCEL, PrintClass.COMPRESSION})


def build_order(prints: Sequence[Print], quote: Quote | None = None) -> Order:
    """One order's type and aggregates; side from ``quote`` (the NBBO at its first print) if any."""
    first, last = prints[0], prints[-1]
    size = sum(item.size for item in prints)
    notional = sum((item.price * item.size for item in prints), Decimal(0))
    premium = (notional * first.shares_per_contract).quantize(_CENT, ROUND_HALF_EVEN)
    exchanges = tuple(sorted({item.exchange for item in prints}))
    kind = first.kind
    order_type, subtype = _type_of(kind, len(prints), len(exchanges), premium, size)
    sides = _side_sizes(prints, quote)
    aggressor = order_aggressor(*sides, unjudged=Aggressor.NONE if kind in _NO_SIDE else Aggressor.UNKNOWN)
    mood = sentiment(first.right, aggressor, directional=kind not in _NOT_DIRECTIONAL)
    return Order(
        id=order_id(first),
        symbol=first.symbol,
        type=order_type,
        subtype=subtype,
        prints=tuple(prints),
        size=size,
        premium=premium,
        vwap=(notional / size).quantize(_VWAP_PLACES, ROUND_HALF_EVEN),
        first_ts_ns=first.ts_ns,
        last_ts_ns=last.ts_ns,
        exchanges=exchanges,
        conditions=tuple(sorted({code for item in prints for code in item.conditions})),
        price_path=price_path([item.price for item in prints]),
        iso=any(item.flags.iso for item in prints),
        buy_size=sides[0],
        sell_size=sides[1],
        neutral_size=sides[2],
        aggressor=aggressor,
        sentiment=mood,
        signed_premium=signed_premium(premium, mood),
        golden=order_type is OrderType.SWEEP and premium >= GOLDEN_PREMIUM and aggressor is Aggressor.BUY,
    )


def _type_of(
    kind: PrintClass, prints: int, exchanges: int, premium: Decimal, size: int
) -> tuple[OrderType, Subtype | None]:
    if kind is PrintClass.LATE:
        return OrderType.LATE, None
    if kind in _NOT_DIRECTIONAL:
        return OrderType.MULTI_LEG, None
    if prints >= 2:
        return (OrderType.SWEEP if exchanges >= 2 else OrderType.SPLIT), None
    large = premium >= BLOCK_PREMIUM or size >= BLOCK_SIZE
    subtype = {PrintClass.CROSS: Subtype.CROSS, PrintClass.FLOOR: Subtype.FLOOR}.get(kind)
    return (OrderType.BLOCK if large else OrderType.SINGLE), subtype if large else None


def _side_sizes(prints: Sequence[Print], quote: Quote | None) -> tuple[int, int, int]:
    """Buy, sell and neutral size of the prints against the quote (none for crosses, late prints)."""
    buy = sell = neutral = 0
    for item in prints:
        if item.kind in _NO_SIDE:
            continue
        aggressor = print_side(item.price, item.ts_ns, quote).aggressor
        if aggressor is Aggressor.BUY:
            buy += item.size
        elif aggressor is Aggressor.SELL:
            sell += item.size
        elif aggressor is Aggressor.NEUTRAL:
            neutral += item.size
    return buy, sell, neutral


def price_path(prices: Sequence[Decimal]) -> PricePath:
    """FLAT, ASC (non-decreasing, last above first), DESC (likewise down) or MIXED."""
    pairs = list(itertools.pairwise(prices))
    if all(a == b for a, b in pairs):
        return PricePath.FLAT
    if all(a <= b for a, b in pairs):
        return PricePath.ASC
    if all(a >= b for a, b in pairs):
        return PricePath.DESC
    return PricePath.MIXED


# --- Repeated hits ---------------------------------------------------------------------------------

REPEATED_GAP_MS = 100
REPEATED_MIN_PRINTS = 6  # more than 5
_REPEATED_LEFT_OUT = frozenset(
    {PrintClass.MULTI_LEG, PrintClass.STOCK_OPTION, PrintClass.FLOOR, PrintClass.CANCEL, PrintClass.LATE}
)


def repeated_hits_floor(market_cap: float | None) -> Decimal:
    """The premium a repeated-hits burst must exceed: 10,000, or 50,000 above a $50B market cap,
    100,000 above $500B (unknown cap: the base tier)."""
    if market_cap is not None and market_cap > 500e9:
        return Decimal(100_000)
    if market_cap is not None and market_cap > 50e9:
        return Decimal(50_000)
    return Decimal(10_000)


@dataclass(frozen=True, slots=True)
class RepeatedHits:
    prints: tuple[Print, ...]
    premium: Decimal
    size: int
    price_path: PricePath  # ASC: an ascending fill, DESC: descending, FLAT


def repeated_hits(prints: Iterable[Print], market_cap: float | None) -> list[RepeatedHits]:
    """Bursts of more than five prints of one contract, each within 100 ms of the previous, with
    premium above the market-cap tier (multi-leg, floor, cancelled and late prints left out)."""
    ordered = sorted_prints(prints)
    gone = cancelled_prints(ordered)
    eligible = [
        item for item in ordered if item not in gone and item.kind not in _REPEATED_LEFT_OUT | {PrintClass.COMPRESSION}
    ]
    bursts: list[list[Print]] = []
    for item in eligible:
        if bursts and item.ts_ns - bursts[-1][-1].ts_ns <= REPEATED_GAP_MS * NS_PER_MS:
            bursts[-1].append(item)
        else:
            bursts.append([item])
    floor = repeated_hits_floor(market_cap)
    found = []
    for burst in bursts:
        premium = sum((item.premium for item in burst), Decimal(0)).quantize(_CENT, ROUND_HALF_EVEN)
        if len(burst) >= REPEATED_MIN_PRINTS and premium > floor:
            path = price_path([item.price for item in burst])
            found.append(RepeatedHits(tuple(burst), premium, sum(item.size for item in burst), path))
    return found


# --- Opening inference -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opening:
    """Does an order open new positions? All None when the open interest or the day's volume is unknown."""

    opening: bool | None = None  # S > oi_prev − vol_before (the common rule)
    opening_strict: bool | None = None  # S > oi_prev + vol_before: no closing trades can explain it
    vol_oi: Decimal | None = None  # (vol_before + S) / max(oi_prev, 1)


UNKNOWN_OPENING = Opening()


def opening(size: int, oi_prev: int | None, vol_before: int | None) -> Opening:
    if oi_prev is None or vol_before is None:
        return UNKNOWN_OPENING
    ratio = (Decimal(vol_before + size) / max(oi_prev, 1)).quantize(_CENT, ROUND_HALF_EVEN)
    return Opening(size > oi_prev - vol_before, size > oi_prev + vol_before, ratio)


def oi_confirmed(opening_flag: bool | None, size: int, oi_prev: int | None, oi_next: int | None) -> bool | None:
    """The next morning's open interest confirms an opening order when it rose by at least half the
    order's size (FLOW.md: oi_delta = oi_next − oi_prev ≥ S/2); None when either is unknown or the
    order was not inferred opening."""
    if opening_flag is not True or oi_prev is None or oi_next is None:
        return None
    return oi_next - oi_prev >= size / 2
