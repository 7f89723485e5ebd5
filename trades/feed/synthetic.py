"""Synthetic options flow that looks like a real tape, for demos, tuning and the benchmark.

Each iteration builds a pool of print templates (contract, exchange, price) drawn from a rough
market model: spots from a built-in table, expiries on real Fridays up to ~9 weeks out (most
volume near-term), strikes on a listed-looking grid (heavier near the money), Black-Scholes
prices. Each print then picks a template, a heavy-tailed size and conditions by table lookup,
so a trade costs one random draw and one bytes format: fast enough to pre-build millions.

Deterministic for a given seed and New York date, except ``t`` (the clock) and ``q``
(sequence numbers start from the current time, so two runs never share trade keys).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from datetime import date

from trades.domain.calendar import new_york_date
from trades.domain.conditions import CANCELLED, LATE, MULTI_LEG
from trades.domain.occ import format_occ
from trades.feed.market import (
    DEFAULT_TICKERS,
    UnderlyingModel,
    expected_move,
    fridays,
    option_price,
    round_to_tick,
    strike_at,
    tick_size,
    underlying_model,
)
from trades.feed.source import Frame

# Polygon's options exchange ids (/v3/reference/exchanges?asset_class=options), Cboe the busiest.
EXCHANGE_IDS = (300, 301, 302, 302, 302, 303, 304, 307, 308, 308, 309, 312, 313, 315, 316, 319, 322, 323, 323, 325)
# Share of prints with each kind of condition (209 is a regular print); the rest carry no "c" at all.
CONDITION_SHARES = ((sorted(CANCELLED), 0.01), (sorted(LATE), 0.005), (sorted(MULTI_LEG), 0.03), ([209], 0.60))

CALL_SHARE = 0.58
POOL_BITS = 12  # 4096 print templates per iteration
TABLE_BITS = 12  # 4096 entries in the size and condition tables
_TABLE_MASK = (1 << TABLE_BITS) - 1


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


def print_template(
    underlying: UnderlyingModel, expiries: Sequence[date], trade_date: date, rng: random.Random
) -> bytes:
    """One contract at one exchange and price: the start of a trade event, up to ``"s":``."""
    expiry = rng.choices(expiries, weights=[1 / (week + 1) ** 1.3 for week in range(len(expiries))])[0]
    days = (expiry - trade_date).days
    right = "C" if rng.random() < CALL_SHARE else "P"
    # Strikes spread about one expected move around spot; calls lean above it, puts below.
    spread = expected_move(underlying, days)
    lean = (0.8 if right == "C" else -0.8) * spread
    strike = strike_at(underlying, rng.gauss(lean, spread))
    value = option_price(underlying.spot, strike, right, days, underlying.volatility)
    # Prints land around the mid: at the bid, the ask or in between.
    price = round_to_tick(value + rng.choice((-1, 0, 0, 1)) * tick_size(value))
    symbol = format_occ(underlying.root, expiry, right, strike)
    exchange = rng.choice(EXCHANGE_IDS)
    return b'{"ev":"T","sym":"%s","x":%d,"p":%r,"s":' % (symbol.encode(), exchange, price)


def template_pool(underlyings: Sequence[UnderlyingModel], trade_date: date, rng: random.Random) -> list[bytes]:
    expiries = fridays(trade_date)
    weights = [underlying.weight for underlying in underlyings]
    chosen = rng.choices(underlyings, weights=weights, k=1 << POOL_BITS)
    return [print_template(underlying, expiries, trade_date, rng) for underlying in chosen]


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

    def printer(self) -> PrintMaker:
        return PrintMaker(self.underlyings, self.seed)

    def clock(self, traded: int) -> int:
        """``t`` (ms) for a frame after ``traded`` trades."""
        if self.start_ms is None:
            return now_ms()
        return self.start_ms + int(traded * 1000 / self.clock_rate)

    def __str__(self) -> str:
        return f"synthetic flow for {','.join(u.ticker for u in self.underlyings)} (seed {self.seed})"


class PrintMaker:
    """One iteration's state: the seeded draws, the template pool for the day, the next ``q``."""

    def __init__(self, underlyings: Sequence[UnderlyingModel], seed: int) -> None:
        self.underlyings = underlyings
        self.rng = random.Random(seed)
        self.sizes = size_table(self.rng)
        self.conditions = condition_table(self.rng)
        self.pool: list[bytes] = []
        self.pool_date: date | None = None
        self.next_sequence = sequence_start()

    def frame(self, size: int, t: int) -> Frame:
        """``size`` prints at time ``t`` (ms), as one pre-serialized frame."""
        trade_date = new_york_date(t)
        if trade_date != self.pool_date:
            # A new day: yesterday's pool would hold contracts that have expired.
            self.pool = template_pool(self.underlyings, trade_date, self.rng)
            self.pool_date = trade_date
        pool, sizes, conditions, getrandbits = self.pool, self.sizes, self.conditions, self.rng.getrandbits
        pool_mask, bits = (1 << POOL_BITS) - 1, POOL_BITS + 2 * TABLE_BITS
        q = self.next_sequence
        events = []
        for _ in range(size):
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
        return Frame(b"[" + b",".join(events) + b"]", size)


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
