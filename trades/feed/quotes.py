"""The synthetic flow's NBBO as ``/v3/quotes/{optionsTicker}`` serves it.

A contract's bid and ask are fixed for a New York day (market.day_quote around its model value
that day, the very quote the synthetic prints trade against) and republished every
QUOTE_INTERVAL_MS on a grid of the epoch, with sizes and exchanges that vary from one quote to
the next (a hash of the contract and the quote's place on the grid). So the quote in force at
any moment is at most QUOTE_INTERVAL_MS old, and any window of quotes can be computed, in either
order, without storing anything. A contract has quotes on the days the flow lists it (its
expiry one of that day's Fridays, its strike on the grid); other tickers have none.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, NamedTuple

from trades.domain.calendar import new_york_date
from trades.domain.occ import InvalidSymbol, OptionSymbol, parse_occ
from trades.feed.market import (
    HORIZON_DAYS,
    VENUES,
    DayQuote,
    UnderlyingModel,
    fridays,
    listed_contract,
    listed_strikes,
    on_day,
)
from trades.feed.trade_log import NS_PER_MS, day_bounds_ns

QUOTE_INTERVAL_MS = 250
QUOTE_INTERVAL_NS = QUOTE_INTERVAL_MS * NS_PER_MS
MAX_QUOTE_SIZE = 500


class QuoteTick(NamedTuple):
    sip_timestamp: int  # ns, a multiple of QUOTE_INTERVAL_NS
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    bid_exchange: int
    ask_exchange: int

    @property
    def sequence_number(self) -> int:
        """Its place on the grid: increasing, unique per contract."""
        return self.sip_timestamp // QUOTE_INTERVAL_NS

    def as_json(self) -> dict[str, Any]:
        """One result of ``/v3/quotes/{optionsTicker}``, as Polygon gives options quotes."""
        return {
            "ask_exchange": self.ask_exchange,
            "ask_price": self.ask,
            "ask_size": self.ask_size,
            "bid_exchange": self.bid_exchange,
            "bid_price": self.bid,
            "bid_size": self.bid_size,
            "sequence_number": self.sequence_number,
            "sip_timestamp": self.sip_timestamp,
        }


def quote_tick(symbol: str, quote: DayQuote, grid_index: int) -> QuoteTick:
    mixed = zlib.crc32(f"{symbol}:{grid_index}".encode())
    return QuoteTick(
        sip_timestamp=grid_index * QUOTE_INTERVAL_NS,
        bid=quote.bid,
        ask=quote.ask,
        bid_size=1 + mixed % MAX_QUOTE_SIZE,
        ask_size=1 + (mixed >> 9) % MAX_QUOTE_SIZE,
        bid_exchange=VENUES[(mixed >> 18) % len(VENUES)],
        ask_exchange=VENUES[(mixed >> 23) % len(VENUES)],
    )


class QuoteBook:
    """The quotes of every contract the synthetic flow of ``underlyings`` can print."""

    def __init__(self, underlyings: Sequence[UnderlyingModel]) -> None:
        self.by_root = {underlying.root: underlying for underlying in underlyings}
        self._strikes: dict[tuple[str, date], frozenset[int]] = {}

    def day_quote(self, ticker: str, day: date) -> DayQuote | None:
        """The contract's quote on ``day``; None if the flow does not list it that day."""
        found = self.contract(ticker)
        if found is None:
            return None
        underlying, symbol = found
        return self._day_quote(underlying, symbol, day)

    def page(self, ticker: str, start: int, end: int, *, descending: bool, limit: int) -> list[QuoteTick]:
        """Up to ``limit`` quotes with ``start <= sip_timestamp <= end`` (ns), oldest or newest first."""
        found = self.contract(ticker)
        if found is None or start > end:
            return []
        underlying, symbol = found
        quotes: list[QuoteTick] = []
        for day in listing_days(symbol.expiry, start, end, descending):
            quote = self._day_quote(underlying, symbol, day)
            if quote is None:
                continue
            for index in grid_indexes(day, start, end, descending):
                quotes.append(quote_tick(symbol.symbol, quote, index))
                if len(quotes) == limit:
                    return quotes
        return quotes

    def contract(self, ticker: str) -> tuple[UnderlyingModel, OptionSymbol] | None:
        """The underlying and the parsed symbol of a contract the flow can print (on some day)."""
        try:
            symbol = parse_occ(ticker)
        except InvalidSymbol:
            return None
        underlying = self.by_root.get(symbol.root)
        if underlying is None:
            return None
        return underlying, symbol

    def _day_quote(self, underlying: UnderlyingModel, symbol: OptionSymbol, day: date) -> DayQuote | None:
        """The quote on ``day`` of a contract listed that day (its strike on that day's grid, which
        moves with the spot)."""
        if symbol.expiry not in fridays(day) or symbol.strike_thousandths not in self._listed(underlying, day):
            return None
        return listed_contract(on_day(underlying, day), symbol.expiry, symbol.right, symbol.strike_float, day).quote

    def _listed(self, underlying: UnderlyingModel, day: date) -> frozenset[int]:
        key = (underlying.root, day)
        if key not in self._strikes:
            if len(self._strikes) > 10_000:
                self._strikes.clear()
            strikes = listed_strikes(on_day(underlying, day))
            self._strikes[key] = frozenset(round(strike * 1000) for strike in strikes)
        return self._strikes[key]


def listing_days(expiry: date, start: int, end: int, descending: bool) -> list[date]:
    """The New York days that may list a contract expiring on ``expiry`` (the HORIZON_DAYS before
    it, and the day itself) and overlap ``start``..``end`` (ns), in the order asked."""
    start = max(start, day_bounds_ns(expiry - timedelta(days=HORIZON_DAYS))[0])
    end = min(end, day_bounds_ns(expiry)[1])
    if start > end:
        return []
    first, last = new_york_date(start // NS_PER_MS), new_york_date(end // NS_PER_MS)
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return days[::-1] if descending else days


def grid_indexes(day: date, start: int, end: int, descending: bool) -> range:
    """The grid's places within ``day`` and ``start``..``end`` (ns), in the order asked."""
    day_start, day_end = day_bounds_ns(day)
    first = -(-max(start, day_start) // QUOTE_INTERVAL_NS)  # rounded up
    last = min(end, day_end) // QUOTE_INTERVAL_NS
    return range(last, first - 1, -1) if descending else range(first, last + 1)
