"""Orders the synthetic flow mixes into its tape, shaped the way ../shared/FLOW.md groups prints.

An order is a few prints at offsets (ms) from its start, priced against its contract's quote for
the day (market.DayQuote), which /v3/quotes serves too. Its contract is a quiet one: drawn as the
day's print templates are, but not among them, so that no regular print of the tape joins the
order when FLOW.md's grouping cuts runs (a busy contract prints every few hundred ms). Cancels
are the exception: they cancel prints of the busy contracts.

- SWEEP: 3-20 prints on 2-8 exchanges within 300 ms, walking the book: a buy from the ask up to
  two ticks above it, a sell from the bid down; ISO (219) and regular (209) prints; $100K-$3M,
  so a buy of $1M or more (a golden sweep) now and then.
- SPLIT: 2-6 prints on one exchange within 100 ms, at the ask (a buy) or the bid (a sell).
- BLOCK: one print of $100K or more at the bid, the mid or the ask; CROSS (229) and FLOOR (231)
  are blocks with their own condition.
- REPEATED_HITS: 6-12 prints at one price, each at most 60 ms after the last, on one exchange or a few.
- SPREAD: the two legs of a vertical, at the same moment, size and exchange, each at its mid,
  with a multi-leg condition.
- ROLL: a position rolled out a week: the same size sold at the bid in one expiry and bought at
  the ask in the next, same right and strike, at the same moment, as two single-leg prints.
- CANCEL: a print, then its cancel (201: same contract, exchange, price and size) up to 30 s later;
  one in ten is block-sized (a busted block).

Sizes follow from premium: a target drawn log-uniform in the kind's range, divided by the order's
lowest price (so the premium reaches the target). A contract too cheap for its target (more than
MAX_ORDER_SIZE contracts) is passed over for another.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from trades.domain.conditions import (
    CANCELLED,
    FLOOR,
    INTERMARKET_SWEEP,
    MULTI_LEG,
    REGULAR_AUTO,
    SINGLE_LEG_CROSS,
)
from trades.feed.market import (
    VENUES,
    DayQuote,
    ListedContract,
    fridays,
    listed_contract,
    listed_strikes,
    tick_down,
    tick_up,
)

# Where a print's price sits: BUY at the ask (or above), SELL at the bid (or below), MID between.
BUY, SELL, MID = "BUY", "SELL", "MID"

SWEEP, SPLIT, BLOCK, CROSS, FLOOR_PRINT = "SWEEP", "SPLIT", "BLOCK", "CROSS", "FLOOR"
REPEATED_HITS, SPREAD, ROLL, CANCEL = "REPEATED_HITS", "SPREAD", "ROLL", "CANCEL"
# Orders started per 100,000 prints. At the demo's 300 prints/s (18,000 a minute) that is a few of
# each kind a minute; cancels are about 0.75% of prints, as the random ones were before them.
ORDER_RATES = {
    SWEEP: 30,
    SPLIT: 20,
    BLOCK: 20,
    CROSS: 12,
    FLOOR_PRINT: 12,
    REPEATED_HITS: 12,
    SPREAD: 10,
    CANCEL: 750,
    ROLL: 6,
}
# Premium targets ($) by kind: drawn log-uniform between the two.
PREMIUMS = {
    SWEEP: (100_000, 3_000_000),
    SPLIT: (50_000, 1_000_000),
    BLOCK: (100_000, 2_000_000),
    CROSS: (100_000, 5_000_000),
    FLOOR_PRINT: (100_000, 2_000_000),
    REPEATED_HITS: (20_000, 500_000),
    SPREAD: (20_000, 500_000),
    ROLL: (100_000, 1_000_000),
    CANCEL: (100_000, 1_000_000),  # a busted block
}
BUY_SHARE = 0.6
# Of sweeps, splits and blocks: sized above their contract's open interest (they open positions), so
# that a profile asking for opening orders (the shipped "sweeps") has some to show.
OPENING_SHARE = 0.5
ISO_SHARE = 0.6  # of a sweep's prints
BUSTED_BLOCK_SHARE = 0.1  # of cancels
MAX_ORDER_SIZE = 10_000  # contracts in one order
MIN_ORDER_PRICE = 0.20  # no orders on contracts bid below this
CONTRACT_TRIES = 20
SWEEP_SPAN_MS = 300
SPLIT_SPAN_MS = 100
REPEATED_HIT_GAP_MS = 60
CANCEL_DELAY_MS = (200, 30_000)
SHARES_PER_CONTRACT = 100

# The plain code of each class: 219 is ISO alone (228 and 230 are ISO auctions and crosses),
# 229 a cross that is not ISO.
ISO = min(INTERMARKET_SWEEP)
CROSS_CONDITION = min(SINGLE_LEG_CROSS - INTERMARKET_SWEEP)
FLOOR_CONDITION = min(FLOOR)
CANCEL_CONDITION = min(CANCELLED)
MULTI_LEG_CODES = sorted(MULTI_LEG)
BLOCK_CONDITIONS = {BLOCK: REGULAR_AUTO, CROSS: CROSS_CONDITION, FLOOR_PRINT: FLOOR_CONDITION}
OPENING_KINDS = frozenset({SWEEP, SPLIT, BLOCK})


class PrintTemplate(NamedTuple):
    """A regular print's contract, exchange and price (at the bid, the mid or the ask)."""

    contract: ListedContract
    exchange: int
    price: float
    side: str

    def prefix(self) -> bytes:
        """The start of its trade event, up to ``"s":``."""
        return b'{"ev":"T","sym":"%s","x":%d,"p":%r,"s":' % (self.contract.symbol.encode(), self.exchange, self.price)


class OrderPrint(NamedTuple):
    offset_ms: int  # after the order's first print
    symbol: str
    exchange: int
    price: float
    size: int
    condition: int

    def event(self) -> bytes:
        """Its trade event without the closing ``"t"`` and ``"q"``."""
        return b'{"ev":"T","sym":"%s","x":%d,"p":%r,"s":%d,"c":[%d]' % (
            self.symbol.encode(),
            self.exchange,
            self.price,
            self.size,
            self.condition,
        )


@dataclass(frozen=True, slots=True)
class Order:
    kind: str
    side: str  # BUY, SELL or MID: where its prints sit against the quote
    contract: ListedContract  # a spread's first leg
    prints: tuple[OrderPrint, ...]

    @property
    def span_ms(self) -> int:
        return max(p.offset_ms for p in self.prints)

    @property
    def premium(self) -> float:
        return sum(p.price * p.size for p in self.prints if p.condition not in CANCELLED) * SHARES_PER_CONTRACT


def price_at(quote: DayQuote, side: str) -> float:
    return quote.ask if side == BUY else quote.bid if side == SELL else quote.mid


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def contracts_for(premium: float, price: float) -> int:
    return math.ceil(premium / (price * SHARES_PER_CONTRACT))


def share_out(total: int, count: int, rng: random.Random) -> list[int]:
    """``total`` contracts (at least one each) over ``count`` prints, unevenly."""
    total = max(total, count)
    weights = [rng.random() + 0.25 for _ in range(count)]
    scale = (total - count) / sum(weights)
    sizes = [1 + int(weight * scale) for weight in weights]
    sizes[0] += total - sum(sizes)
    return sizes


def offsets_within(count: int, span_ms: int, rng: random.Random) -> list[int]:
    """The first print at 0, the others anywhere up to ``span_ms`` later, in time order."""
    return [0, *sorted(rng.randint(0, span_ms) for _ in range(count - 1))]


def book_walk(quote: DayQuote, side: str, count: int, rng: random.Random) -> list[float]:
    """``count`` prices walking the book from the touch: up from the ask or down from the bid,
    one to three levels, the earlier prints at the better levels."""
    levels = [price_at(quote, side)]
    for _ in range(rng.randint(0, 2)):
        levels.append(tick_up(levels[-1]) if side == BUY else tick_down(levels[-1]))
    return [levels[index * len(levels) // count] for index in range(count)]


class OrderMaker:
    """Makes orders on one trading day: on ``quiet`` contracts (or, if there are none, on the print
    templates' contracts), and cancels of prints made from the print templates."""

    def __init__(
        self,
        templates: Sequence[PrintTemplate],
        quiet: Sequence[ListedContract],
        trade_date: date,
        rng: random.Random,
        open_interest: Callable[[ListedContract], int] = lambda contract: 0,
    ) -> None:
        self.templates = templates
        self.contracts = quiet or [template.contract for template in templates]
        self.trade_date = trade_date
        self.rng = rng
        self.open_interest = open_interest
        self.makers = {
            SWEEP: self.sweep,
            SPLIT: self.split,
            BLOCK: lambda: self.block(BLOCK),
            CROSS: lambda: self.block(CROSS),
            FLOOR_PRINT: lambda: self.block(FLOOR_PRINT),
            REPEATED_HITS: self.repeated_hits,
            SPREAD: self.spread,
            CANCEL: self.cancel,
            ROLL: self.roll,
        }

    def make(self, kind: str) -> Order | None:
        """An order of ``kind``; None when no contract could carry it."""
        return self.makers[kind]()

    def sized_contract(self, kind: str) -> tuple[ListedContract, float] | None:
        """A contract and a premium target for ``kind`` that it can carry; for OPENING_SHARE of the
        orders that can open positions, a contract whose open interest the order's size exceeds."""
        premium = log_uniform(self.rng, *PREMIUMS[kind])
        opening = kind in OPENING_KINDS and self.rng.random() < OPENING_SHARE
        fallback = None
        for _ in range(CONTRACT_TRIES):
            contract = self.rng.choice(self.contracts)
            bid = contract.quote.bid
            size = contracts_for(premium, bid)
            if bid < MIN_ORDER_PRICE or size > MAX_ORDER_SIZE:
                continue
            if not opening or size > self.open_interest(contract):
                return contract, premium
            fallback = fallback or (contract, premium)
        return fallback

    def side(self) -> str:
        return BUY if self.rng.random() < BUY_SHARE else SELL

    def sweep(self) -> Order | None:
        picked = self.sized_contract(SWEEP)
        if picked is None:
            return None
        contract, premium = picked
        rng, side = self.rng, self.side()
        count = 3 + int(18 * rng.random() ** 2)  # 3-20, mostly a few
        prices = book_walk(contract.quote, side, count, rng)
        exchanges = rng.sample(VENUES, rng.randint(2, min(count, 8)))
        offsets = offsets_within(count, int(SWEEP_SPAN_MS * rng.random() ** 2), rng)
        sizes = share_out(contracts_for(premium, min(prices)), count, rng)
        prints = tuple(
            OrderPrint(
                offsets[index],
                contract.symbol,
                exchanges[index % len(exchanges)],
                prices[index],
                sizes[index],
                ISO if rng.random() < ISO_SHARE else REGULAR_AUTO,
            )
            for index in range(count)
        )
        return Order(SWEEP, side, contract, prints)

    def split(self) -> Order | None:
        picked = self.sized_contract(SPLIT)
        if picked is None:
            return None
        contract, premium = picked
        rng, side = self.rng, self.side()
        count = rng.randint(2, 6)
        price = price_at(contract.quote, side)
        exchange = rng.choice(VENUES)
        offsets = offsets_within(count, rng.randint(1, SPLIT_SPAN_MS), rng)
        sizes = share_out(contracts_for(premium, price), count, rng)
        prints = tuple(
            OrderPrint(offset, contract.symbol, exchange, price, size, REGULAR_AUTO)
            for offset, size in zip(offsets, sizes, strict=True)
        )
        return Order(SPLIT, side, contract, prints)

    def block(self, kind: str) -> Order | None:
        """One big print: a BLOCK (209), a CROSS (229) or a FLOOR print (231)."""
        picked = self.sized_contract(kind)
        if picked is None:
            return None
        contract, premium = picked
        side = self.rng.choices((BUY, SELL, MID), weights=(0.4, 0.3, 0.3))[0]
        price = price_at(contract.quote, side)
        size = contracts_for(premium, price)
        exchange = self.rng.choice(VENUES)
        big_print = OrderPrint(0, contract.symbol, exchange, price, size, BLOCK_CONDITIONS[kind])
        return Order(kind, side, contract, (big_print,))

    def repeated_hits(self) -> Order | None:
        picked = self.sized_contract(REPEATED_HITS)
        if picked is None:
            return None
        contract, premium = picked
        rng, side = self.rng, self.side()
        count = rng.randint(6, 12)
        price = price_at(contract.quote, side)
        exchanges = [rng.choice(VENUES)] if rng.random() < 0.5 else rng.sample(VENUES, rng.randint(2, 4))
        offset, offsets = 0, []
        for _ in range(count):
            offsets.append(offset)
            offset += rng.randint(1, REPEATED_HIT_GAP_MS)
        sizes = share_out(contracts_for(premium, price), count, rng)
        prints = tuple(
            OrderPrint(offsets[index], contract.symbol, rng.choice(exchanges), price, sizes[index], REGULAR_AUTO)
            for index in range(count)
        )
        return Order(REPEATED_HITS, side, contract, prints)

    def spread(self) -> Order | None:
        """A vertical: the same right and expiry, one to three strikes apart."""
        picked = self.sized_contract(SPREAD)
        if picked is None:
            return None
        contract, premium = picked
        rng = self.rng
        strikes = listed_strikes(contract.underlying)
        at = strikes.index(contract.strike)
        other = strikes[min(len(strikes) - 1, max(0, at + rng.choice((-1, 1)) * rng.randint(1, 3)))]
        if other == contract.strike:
            return None
        leg = listed_contract(contract.underlying, contract.expiry, contract.right, other, self.trade_date)
        size = min(MAX_ORDER_SIZE, contracts_for(premium, contract.quote.mid + leg.quote.mid))
        exchange, condition = rng.choice(VENUES), rng.choice(MULTI_LEG_CODES)
        prints = tuple(
            OrderPrint(0, each.symbol, exchange, each.quote.mid, size, condition) for each in (contract, leg)
        )
        return Order(SPREAD, MID, contract, prints)

    def roll(self) -> Order | None:
        """Sold at the bid in one expiry, bought at the ask a week later: same size, same moment."""
        picked = self.sized_contract(ROLL)
        if picked is None:
            return None
        contract, premium = picked
        later = contract.expiry + timedelta(days=7)
        if later not in fridays(self.trade_date):  # the next expiry is not listed yet
            return None
        new = listed_contract(contract.underlying, later, contract.right, contract.strike, self.trade_date)
        size = min(MAX_ORDER_SIZE, contracts_for(premium, new.quote.ask))
        closing, opening = self.rng.sample(VENUES, 2)
        prints = (
            OrderPrint(0, contract.symbol, closing, contract.quote.bid, size, REGULAR_AUTO),
            OrderPrint(0, new.symbol, opening, new.quote.ask, size, REGULAR_AUTO),
        )
        return Order(ROLL, MID, contract, prints)

    def cancel(self) -> Order:
        """A print and, a little later, its cancel. The most frequent order: kept cheap."""
        random = self.rng.random
        template = self.templates[int(random() * len(self.templates))]
        size = round(10 ** (2 * random()))  # 1-100 contracts
        if random() < BUSTED_BLOCK_SHARE:
            block_size = contracts_for(log_uniform(self.rng, *PREMIUMS[CANCEL]), template.price)
            size = block_size if block_size <= MAX_ORDER_SIZE else size
        symbol, exchange, price = template.contract.symbol, template.exchange, template.price
        delay = CANCEL_DELAY_MS[0] + int(random() * (CANCEL_DELAY_MS[1] - CANCEL_DELAY_MS[0]))
        printed = OrderPrint(0, symbol, exchange, price, size, REGULAR_AUTO)
        cancelled = OrderPrint(delay, symbol, exchange, price, size, CANCEL_CONDITION)
        return Order(CANCEL, template.side, template.contract, (printed, cancelled))
