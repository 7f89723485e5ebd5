"""Synthetic options flow that looks like a real tape, for demos, tuning and the benchmark.

Each day builds a pool of print templates (contract, exchange, price) drawn from a rough market
model: spots from a built-in table, expiries on real Fridays up to ~9 weeks out (most volume
near-term), strikes on a listed-looking grid (heavier near the money), Black-Scholes values. A
contract's quote for the day sits one tick either side of its value (market.DayQuote) and a
template's price is its bid, mid or ask. Each print then picks a template, a heavy-tailed size
and conditions by table lookup, so a trade costs one random draw and one bytes format: fast
enough to pre-build millions.

Orders (orders.py: sweeps, splits, blocks, crosses, floor prints, repeated hits and spreads on
quiet contracts, which the pool never prints; prints and their cancels) start now and then, at
random positions of the tape (ORDER_RATES per 100,000 prints). Their prints are due at their own
times (the order's start plus an offset): a frame first sends the prints that are due by its
time, each with its own ``t``, then fills up with regular prints at the frame's ``t``. So ``t``
never goes backwards and a frame holds exactly the trades asked for.

Deterministic for a given seed and clock, except ``q`` (sequence numbers start from the current
time, so two runs never share trade keys).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
import time
from collections.abc import Iterator, Sequence
from datetime import date

from trades.domain.calendar import new_york_date
from trades.domain.conditions import CANCELLED, LATE, MULTI_LEG, REGULAR_AUTO
from trades.feed.market import (
    DEFAULT_TICKERS,
    EXCHANGE_IDS,
    ListedContract,
    UnderlyingModel,
    expected_move,
    fridays,
    listed_contract,
    on_day,
    open_interest,
    strike_at,
    underlying_model,
)
from trades.feed.orders import BUY, MID, ORDER_RATES, SELL, Order, OrderMaker, PrintTemplate, price_at
from trades.feed.source import Frame
from trades.feed.trade_log import NS_PER_MS, day_bounds_ns

# Share of prints with each kind of condition (209 is a regular print); the rest carry no "c" at
# all. Most cancels cancel a real print (orders.CANCEL); these few match nothing.
CONDITION_SHARES = (
    (sorted(CANCELLED), 0.002),
    (sorted(LATE), 0.005),
    (sorted(MULTI_LEG), 0.03),
    ([REGULAR_AUTO], 0.60),
)

CALL_SHARE = 0.58
POOL_BITS = 12  # 4096 print templates per day
QUIET_CONTRACTS = 256  # contracts for orders per day
TABLE_BITS = 12  # 4096 entries in the size and condition tables
_TABLE_MASK = (1 << TABLE_BITS) - 1
ORDER_KINDS = tuple(ORDER_RATES)
ORDER_THRESHOLDS = tuple(itertools.accumulate(ORDER_RATES.values()))  # a kind by bisecting a draw below the last
ORDERS_PER_PRINT = ORDER_THRESHOLDS[-1] / 100_000


def draw_size(rng: random.Random) -> int:
    """Heavy-tailed: 88% of prints 1-10 contracts, 10.5% of 11-50, 1.1% of 50-500, 0.4% of 500-5000."""
    band = rng.random()
    if band < 0.88:
        return round(10 ** rng.random())
    if band < 0.985:
        return round(10 ** rng.uniform(1, math.log10(50)))
    if band < 0.996:
        return round(10 ** rng.uniform(math.log10(50), math.log10(500)))
    return round(10 ** rng.uniform(math.log10(500), math.log10(5000)))


def size_table(rng: random.Random) -> list[int]:
    return [draw_size(rng) for _ in range(1 << TABLE_BITS)]


def condition_table(rng: random.Random) -> list[bytes]:
    """The ``"c"`` member of each print, pre-serialized; exact shares, shuffled."""
    table: list[bytes] = []
    for codes, share in CONDITION_SHARES:
        table += [b',"c":[%d]' % rng.choice(codes) for _ in range(round(share * (1 << TABLE_BITS)))]
    table += [b""] * ((1 << TABLE_BITS) - len(table))
    rng.shuffle(table)
    return table


def pool_contract(
    underlying: UnderlyingModel, expiries: Sequence[date], trade_date: date, rng: random.Random
) -> ListedContract:
    """A contract of ``underlying``, most likely near-term and about one expected move from spot."""
    expiry = rng.choices(expiries, weights=[1 / (week + 1) ** 1.3 for week in range(len(expiries))])[0]
    right = "C" if rng.random() < CALL_SHARE else "P"
    # Strikes spread about one expected move around spot; calls lean above it, puts below.
    spread = expected_move(underlying, (expiry - trade_date).days)
    lean = (0.8 if right == "C" else -0.8) * spread
    strike = strike_at(underlying, rng.gauss(lean, spread))
    return listed_contract(underlying, expiry, right, strike, trade_date)


def print_template(contract: ListedContract, rng: random.Random) -> PrintTemplate:
    """A print of ``contract`` at the bid, the mid or the ask (the mid twice as often)."""
    side = rng.choice((SELL, MID, MID, BUY))
    return PrintTemplate(contract, rng.choice(EXCHANGE_IDS), price_at(contract.quote, side), side)


def pool_contracts(
    underlyings: Sequence[UnderlyingModel], trade_date: date, count: int, rng: random.Random
) -> list[ListedContract]:
    """``count`` contracts, each underlying as often as its weight says (repeats likely)."""
    expiries = fridays(trade_date)
    chosen = rng.choices(underlyings, weights=[underlying.weight for underlying in underlyings], k=count)
    return [pool_contract(underlying, expiries, trade_date, rng) for underlying in chosen]


def template_pool(underlyings: Sequence[UnderlyingModel], trade_date: date, rng: random.Random) -> list[PrintTemplate]:
    return [print_template(contract, rng) for contract in pool_contracts(underlyings, trade_date, 1 << POOL_BITS, rng)]


def quiet_contracts(
    underlyings: Sequence[UnderlyingModel], trade_date: date, busy: set[str], rng: random.Random
) -> list[ListedContract]:
    """Up to QUIET_CONTRACTS contracts drawn as the pool's are, that the pool never prints."""
    drawn = pool_contracts(underlyings, trade_date, 4 * QUIET_CONTRACTS, rng)
    quiet = {contract.symbol: contract for contract in drawn if contract.symbol not in busy}
    return list(quiet.values())[:QUIET_CONTRACTS]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sequence_start() -> int:
    """Microseconds since the epoch: a fresh range for every run, below 2**53 for JSON readers."""
    return time.time_ns() // 1000


class SyntheticFlow:
    """A Source of synthetic prints for ``tickers``.

    With ``start_ms`` unset, ``t`` is the wall clock when a frame is built; with it set, the clock
    starts there and advances ``1000 / clock_rate`` ms per trade (replays that must not depend on
    when they run). Without a seed, one is drawn once so every connection sees the same flow.
    """

    def __init__(
        self,
        tickers: Sequence[str] = DEFAULT_TICKERS,
        *,
        seed: int | None = None,
        start_ms: int | None = None,
        clock_rate: float = 500.0,
    ) -> None:
        if not tickers:
            raise ValueError("at least one ticker is needed")
        self.seed = seed if seed is not None else random.randrange(2**32)
        self.underlyings = [underlying_model(ticker, self.seed) for ticker in dict.fromkeys(tickers)]
        self.start_ms = start_ms
        self.clock_rate = clock_rate

    def frames(self, frame_size: int) -> Iterator[Frame]:
        printer = self.printer()
        traded = 0
        while True:
            yield printer.frame(frame_size, self.clock(traded))
            traded += frame_size

    def printer(self, record_orders: bool = False, first_sequence: int | None = None) -> PrintMaker:
        """A fresh iteration; ``record_orders`` keeps every order it makes (tests: it grows without
        end); ``first_sequence``: the first ``q`` (default: from the wall clock)."""
        return PrintMaker(self.underlyings, self.seed, record_orders, first_sequence)

    def clock(self, traded: int) -> int:
        """``t`` (ms) for a frame after ``traded`` trades."""
        if self.start_ms is None:
            return now_ms()
        return self.start_ms + int(traded * 1000 / self.clock_rate)

    def __str__(self) -> str:
        return f"synthetic flow for {','.join(u.ticker for u in self.underlyings)} (seed {self.seed})"


class PrintMaker:
    """One iteration's state: the seeded draws, the day's print templates, the orders under way,
    the next ``q``."""

    def __init__(
        self,
        underlyings: Sequence[UnderlyingModel],
        seed: int,
        record_orders: bool = False,
        first_sequence: int | None = None,
    ) -> None:
        self.underlyings = underlyings
        self.seed = seed
        self.rng = random.Random(seed)
        self.sizes = size_table(self.rng)
        self.conditions = condition_table(self.rng)
        self.pool: list[bytes] = []
        self.pool_date: date | None = None
        self.day_end_ms = 0
        self.order_maker: OrderMaker | None = None
        self.next_sequence = sequence_start() if first_sequence is None else first_sequence
        self.traded = 0  # prints made so far
        self.next_order_at = self.order_gap()  # the position in the tape where the next order starts
        # Order prints not sent yet, soonest first: (due t, scheduling order, event up to "t").
        self.pending: list[tuple[int, int, bytes]] = []
        self.scheduled = 0
        self.orders: list[tuple[int, Order]] | None = [] if record_orders else None  # (start t, order)

    def frame(self, size: int, t: int) -> Frame:
        """``size`` prints by time ``t`` (ms), as one pre-serialized frame: order prints due by
        then at their own times, then regular prints at ``t``."""
        trade_date = new_york_date(t)
        if trade_date != self.pool_date:
            self.new_day(trade_date)
        while self.next_order_at < self.traded + size:
            self.start_order(t)
            self.next_order_at += self.order_gap()
        q = self.next_sequence
        events: list[bytes] = []
        pending = self.pending
        while pending and pending[0][0] <= t and len(events) < size:
            due, _, event = heapq.heappop(pending)
            events.append(b'%s,"t":%d,"q":%d}' % (event, due, q))
            q += 1
        pool, sizes, conditions, getrandbits = self.pool, self.sizes, self.conditions, self.rng.getrandbits
        pool_mask, bits = (1 << POOL_BITS) - 1, POOL_BITS + 2 * TABLE_BITS
        for _ in range(size - len(events)):
            draw = getrandbits(bits)
            events.append(
                b'%s%d%s,"t":%d,"q":%d}'
                % (
                    pool[draw & pool_mask],
                    sizes[(draw >> POOL_BITS) & _TABLE_MASK],
                    conditions[draw >> (POOL_BITS + TABLE_BITS)],
                    t,
                    q,
                )
            )
            q += 1
        self.next_sequence = q
        self.traded += size
        return Frame(b"[" + b",".join(events) + b"]", size)

    def new_day(self, trade_date: date) -> None:
        """A new pool: yesterday's would hold contracts that have expired."""
        underlyings = [on_day(underlying, trade_date) for underlying in self.underlyings]
        templates = template_pool(underlyings, trade_date, self.rng)
        busy = {template.contract.symbol for template in templates}
        quiet = quiet_contracts(underlyings, trade_date, busy, self.rng)
        self.pool = [template.prefix() for template in templates]
        self.pool_date = trade_date
        self.day_end_ms = day_bounds_ns(trade_date)[1] // NS_PER_MS
        seed = self.seed

        def contract_open_interest(contract: ListedContract) -> int:
            return open_interest(
                contract.underlying, contract.expiry, contract.right, contract.strike, trade_date, seed
            )

        self.order_maker = OrderMaker(templates, quiet, trade_date, self.rng, contract_open_interest)

    def order_gap(self) -> float:
        """Prints until the next order starts."""
        return self.rng.expovariate(ORDERS_PER_PRINT)

    def start_order(self, t: int) -> None:
        """Make an order starting at ``t`` and schedule its prints."""
        assert self.order_maker is not None
        kind = ORDER_KINDS[bisect.bisect(ORDER_THRESHOLDS, self.rng.random() * ORDER_THRESHOLDS[-1])]
        order = self.order_maker.make(kind)
        if order is None or t + order.span_ms > self.day_end_ms:
            return  # no contract could carry it, or it would run into tomorrow, when its contract may be gone
        for order_print in order.prints:
            heapq.heappush(self.pending, (t + order_print.offset_ms, self.scheduled, order_print.event()))
            self.scheduled += 1
        if self.orders is not None:
            self.orders.append((t, order))


def pregenerate_frames(
    trades: int,
    frame_size: int = 100,
    tickers: Sequence[str] = DEFAULT_TICKERS,
    *,
    seed: int | None = None,
    start_ms: int | None = None,
    clock_rate: float = 500.0,
) -> list[Frame]:
    """``trades`` synthetic prints as frames of ``frame_size`` events (the last may be smaller).

    ``t`` starts at ``start_ms`` (default: now) and advances ``1000 / clock_rate`` ms per trade.
    """
    start = now_ms() if start_ms is None else start_ms
    flow = SyntheticFlow(tickers, seed=seed, start_ms=start, clock_rate=clock_rate)
    printer = flow.printer()
    return [printer.frame(min(frame_size, trades - first), flow.clock(first)) for first in range(0, trades, frame_size)]
