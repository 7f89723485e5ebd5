"""The feed's trade log: every trade its timeline emitted, per contract, for the REST side
(``/v3/trades/{optionsTicker}``, the snapshots' ``last_trade`` and ``day``).

Recording is one append of the frame (no parsing), so streaming stays as fast with the log on;
frames are parsed into trades when the REST side first reads them. Memory is bounded by
``capacity`` trades over all contracts: past it the oldest recorded trades go first (whole
unparsed frames, or single parsed trades).

The log holds each position of the source's history once: when every connection replays the
source from its start, a second connection's frames are not recorded again.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, TypeVar

from trades.domain.calendar import day_bounds_ns, new_york_date
from trades.feed.source import Frame, is_trade

T = TypeVar("T")
# About 200 bytes a parsed trade: some 50 MB when full.
DEFAULT_CAPACITY = 250_000
NS_PER_MS = 1_000_000
SHARED_VALUES = 100_000  # distinct symbols, exchanges and condition lists kept as one object each
# Trade times a calendar can place (ms): a tape's nonsense is skipped, not logged.
MAX_MS = 253_370_764_799_999  # 9998-12-31T23:59:59.999Z: its New York day has a next midnight


class LoggedTrade(NamedTuple):
    """One trade as REST serves it. Ordered by (sip_timestamp, ordinal): time, then emission order."""

    sip_timestamp: int  # ns: the event's ``t`` (ms) × 1_000_000
    ordinal: int  # the log's count of trades before this one: a tie-breaker and a paging key
    price: float
    size: int
    exchange: int
    conditions: tuple[int, ...] | None  # None: the event had no ``c``

    def as_json(self) -> dict[str, Any]:
        """The fields every Polygon shape of a trade shares (``/v3/trades``, a snapshot's last trade)."""
        result: dict[str, Any] = {} if self.conditions is None else {"conditions": list(self.conditions)}
        result.update(exchange=self.exchange, price=self.price, sip_timestamp=self.sip_timestamp, size=self.size)
        return result


@dataclass(frozen=True, slots=True)
class DayTrades:
    """A contract's logged trades on the New York day of its latest one, as a day bar."""

    last: LoggedTrade
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: int
    vwap: float


class TradeLog:
    """Not thread-safe: the server records and its REST side reads on the server's event loop."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"the trade log's capacity must be 1 or more, got {capacity}")
        self.capacity = capacity
        self.recorded_through = 0  # source positions (trades) recorded so far
        self.first_ns: int | None = None  # the earliest trade recorded, evicted or not
        self.ignored = 0  # trade events too malformed to log
        self.evicted = 0  # trades dropped to stay within capacity
        self._pending: deque[tuple[Frame, int]] = deque()  # (frame, leading trades to leave out)
        self._pending_trades = 0
        self._by_contract: dict[str, deque[LoggedTrade]] = {}
        self._order: deque[str] = deque()  # each parsed trade's symbol, oldest recorded first
        self._next_ordinal = 0
        self._values: dict[Any, Any] = {}

    # --- Recording (the streaming hot path) ------------------------------------------------

    def record(self, frame: Frame, position: int) -> None:
        """Note ``frame``, which starts at trade ``position`` of the source's history."""
        end = position + frame.trades
        if end <= self.recorded_through:
            return  # a replay of what is already here
        skip = max(0, self.recorded_through - position)
        if self.first_ns is None:
            self._note_start(frame, skip)
        self._pending.append((frame, skip))
        self._pending_trades += end - max(position, self.recorded_through)
        self.recorded_through = end
        self._evict()

    def _note_start(self, frame: Frame, skip: int) -> None:
        """The first frame's earliest trade, parsed now: it may be evicted before anything reads it."""
        trades = [parse_trade(item, 0) for item in trade_events(frame.items(), skip)]
        self.first_ns = min((trade.sip_timestamp for trade in trades if trade is not None), default=None)

    def _evict(self) -> None:
        while len(self._order) + self._pending_trades > self.capacity and self._order:
            symbol = self._order.popleft()
            trades = self._by_contract[symbol]
            trades.popleft()
            if not trades:
                del self._by_contract[symbol]
            self.evicted += 1
        while self._pending_trades > self.capacity and len(self._pending) > 1:
            frame, skip = self._pending.popleft()
            self._pending_trades -= frame.trades - skip
            self.evicted += frame.trades - skip

    # --- Parsing, when something reads ---------------------------------------------------------

    def _catch_up(self) -> None:
        while self._pending:
            frame, skip = self._pending.popleft()
            self._pending_trades -= frame.trades - skip
            for item in trade_events(frame.items(), skip):
                self._add(item)
        self._evict()

    def _add(self, item: dict[str, Any]) -> None:
        # One object for each repeated value (symbols, exchanges, conditions): a third less memory.
        trade = parse_trade(item, self._next_ordinal, self._shared)
        if trade is None:
            self.ignored += 1
            return
        self._next_ordinal += 1
        symbol: str = self._shared(item["sym"])
        trades = self._by_contract.setdefault(symbol, deque())
        if not trades or trade_key(trade) >= trade_key(trades[-1]):
            trades.append(trade)
        else:  # a tape out of time order
            bisect.insort(trades, trade, key=trade_key)
        self._order.append(symbol)
        if self.first_ns is None or trade.sip_timestamp < self.first_ns:
            self.first_ns = trade.sip_timestamp

    def _shared(self, value: T) -> T:
        if len(self._values) > SHARED_VALUES:
            self._values.clear()
        return self._values.setdefault(value, value)

    # --- Reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        self._catch_up()
        return len(self._order)

    def started_ns(self) -> int | None:
        """The earliest trade ever logged (None: nothing yet)."""
        self._catch_up()
        return self.first_ns

    def trades(self, symbol: str, start: int | None = None, end: int | None = None) -> list[LoggedTrade]:
        """The contract's trades with ``start <= sip_timestamp <= end`` (ns; None is open), oldest first."""
        self._catch_up()
        trades = self._by_contract.get(symbol)
        if not trades:
            return []
        low = 0 if start is None else bisect.bisect_left(trades, (start, -1), key=trade_key)
        high = len(trades) if end is None else bisect.bisect_left(trades, (end + 1, -1), key=trade_key)
        return [trades[index] for index in range(low, high)]

    def page(
        self,
        symbol: str,
        start: int | None,
        end: int | None,
        *,
        descending: bool,
        after: tuple[int, int] | None,
        limit: int,
    ) -> list[LoggedTrade]:
        """Up to ``limit`` trades of the window in the order asked, after the (sip_timestamp,
        ordinal) key ``after`` when paging on: stable while trades keep arriving."""
        window = self.trades(symbol, start, end)
        if descending:
            window.reverse()
            if after is not None:
                window = window[bisect.bisect_right(window, (-after[0], -after[1]), key=reversed_key) :]
        elif after is not None:
            window = window[bisect.bisect_right(window, after, key=trade_key) :]
        return window[:limit]

    def day_trades(self, symbol: str) -> DayTrades | None:
        """The contract's logged trades on the New York day of its latest one; None if none is logged."""
        self._catch_up()
        trades = self._by_contract.get(symbol)
        if not trades:
            return None
        last = trades[-1]
        day = new_york_date(last.sip_timestamp // NS_PER_MS)
        return day_bar(last, day, self.trades(symbol, *day_bounds_ns(day)))


def trade_events(items: Sequence[Any], skip: int) -> Iterable[dict[str, Any]]:
    """The trade events among ``items``, leaving out the first ``skip``."""
    seen = 0
    for item in items:
        if is_trade(item):
            seen += 1
            if seen > skip:
                yield item


def parse_trade(
    item: dict[str, Any], ordinal: int, share: Callable[[Any], Any] = lambda value: value
) -> LoggedTrade | None:
    """A trade event as logged; None when it lacks what REST would serve or holds nonsense.

    ``type(...) is int`` rather than isinstance: it leaves out booleans, and this runs per trade.
    """
    symbol, exchange, t, size, price = item.get("sym"), item.get("x"), item.get("t"), item.get("s"), item.get("p")
    conditions = item.get("c")
    if type(symbol) is not str or not symbol or type(exchange) is not int:
        return None
    if type(t) is not int or not 0 <= t <= MAX_MS or type(size) is not int or size < 1:
        return None
    if not (type(price) is int or (type(price) is float and math.isfinite(price))) or price < 0:
        return None
    if conditions is not None and (type(conditions) is not list or any(type(c) is not int for c in conditions)):
        return None
    logged_conditions = share(tuple(conditions)) if conditions is not None else None
    return LoggedTrade(t * NS_PER_MS, ordinal, float(price), size, share(exchange), logged_conditions)


def trade_key(trade: LoggedTrade) -> tuple[int, int]:
    return trade.sip_timestamp, trade.ordinal


def reversed_key(trade: LoggedTrade) -> tuple[int, int]:
    """Ascending over a newest-first list."""
    return -trade.sip_timestamp, -trade.ordinal


def day_bar(last: LoggedTrade, day: date, trades: Sequence[LoggedTrade]) -> DayTrades:
    prices = [trade.price for trade in trades]
    volume = sum(trade.size for trade in trades)
    turnover = sum(trade.price * trade.size for trade in trades)
    return DayTrades(
        last=last,
        day=day,
        open=prices[0],
        high=max(prices),
        low=min(prices),
        close=prices[-1],
        volume=volume,
        vwap=round(turnover / volume, 4) if volume else prices[-1],
    )
