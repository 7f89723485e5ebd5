"""Side and sentiment against the NBBO, exactly as ../shared/FLOW.md states them.

A print is judged only against a quote known at its time: the latest NBBO at or before it, at
most QUOTE_MAX_AGE_MS old. Without one (no quote, too old, a zero side, a crossed market) the
answer is UNKNOWN, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

QUOTE_MAX_AGE_MS = 1_000
_NS_PER_MS = 1_000_000


class Position(StrEnum):
    """Where a price sits against the quote."""

    ABOVE_ASK = "AA"
    AT_ASK = "A"
    MID = "M"  # strictly between bid and ask (and a locked market)
    AT_BID = "B"
    BELOW_BID = "BB"


class Aggressor(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    NEUTRAL = "NEUTRAL"  # exactly at the mid
    MIXED = "MIXED"  # an order whose classified size leans neither way
    NONE = "NONE"  # a cross, a late or a cancelled print: nobody crossed the spread
    UNKNOWN = "UNKNOWN"  # no usable quote


class Sentiment(StrEnum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"


@dataclass(frozen=True, slots=True)
class Quote:
    bid: Decimal
    ask: Decimal
    ts_ns: int  # SIP time of the quote

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    def usable_for(self, print_ts_ns: int) -> bool:
        """At or before the print, young enough, both sides quoted, not crossed."""
        age_ns = print_ts_ns - self.ts_ns
        return 0 <= age_ns <= QUOTE_MAX_AGE_MS * _NS_PER_MS and self.bid > 0 and self.ask > 0 and self.bid <= self.ask


@dataclass(frozen=True, slots=True)
class PrintSide:
    position: Position | None  # None where the aggressor is UNKNOWN or NONE
    aggressor: Aggressor


UNKNOWN_SIDE = PrintSide(None, Aggressor.UNKNOWN)
NO_SIDE = PrintSide(None, Aggressor.NONE)


def print_side(price: Decimal, ts_ns: int, quote: Quote | None) -> PrintSide:
    """The position and aggressor of one print against the quote in force."""
    if quote is None or not quote.usable_for(ts_ns):
        return UNKNOWN_SIDE
    bid, ask, mid = quote.bid, quote.ask, quote.mid
    if bid == ask:  # locked: at the quote is the mid
        position = Position.ABOVE_ASK if price > ask else Position.BELOW_BID if price < bid else Position.MID
    elif price > ask:
        position = Position.ABOVE_ASK
    elif price == ask:
        position = Position.AT_ASK
    elif price > bid:
        position = Position.MID
    elif price == bid:
        position = Position.AT_BID
    else:
        position = Position.BELOW_BID
    if (price >= ask and bid != ask) or price > mid:
        aggressor = Aggressor.BUY
    elif (price <= bid and bid != ask) or price < mid:
        aggressor = Aggressor.SELL
    else:
        aggressor = Aggressor.NEUTRAL
    return PrintSide(position, aggressor)


def order_aggressor(buy_size: int, sell_size: int, neutral_size: int, unjudged: Aggressor) -> Aggressor:
    """BUY when buy size is at least half the classified size and more than the sell size; SELL
    likewise; else MIXED. With nothing classified: ``unjudged`` (UNKNOWN, or NONE for crosses).

    FLOW.md would call an order of mid prints alone MIXED; it is NEUTRAL here: nobody leaned either
    way, which is not the same as buyers and sellers both at work."""
    classified = buy_size + sell_size + neutral_size
    if classified == 0:
        return unjudged
    if buy_size == sell_size == 0:
        return Aggressor.NEUTRAL
    if 2 * buy_size >= classified and buy_size > sell_size:
        return Aggressor.BUY
    if 2 * sell_size >= classified and sell_size > buy_size:
        return Aggressor.SELL
    return Aggressor.MIXED


def sentiment(right: str, aggressor: Aggressor, directional: bool = True) -> Sentiment:
    """Bought calls and sold puts are bullish; sold calls and bought puts bearish. Legs of
    multi-leg and stock-option orders (``directional`` False) are neutral: the quote rule is wrong
    about half the time on them."""
    if not directional or aggressor not in (Aggressor.BUY, Aggressor.SELL):
        return Sentiment.NEUTRAL
    bought = aggressor is Aggressor.BUY
    return Sentiment.BULLISH if bought == (right == "C") else Sentiment.BEARISH


def signed_premium(premium: Decimal, mood: Sentiment) -> Decimal:
    if mood is Sentiment.BULLISH:
        return premium
    if mood is Sentiment.BEARISH:
        return -premium
    return Decimal(0)
