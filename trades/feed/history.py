"""The local feed's history: its synthetic flow's past trading days, as Polygon serves past days.

Backfills need what Polygon keeps of a day gone by; the feed makes it up, the same every time for
a given seed and day, so that a backfill can be checked against streaming the same day:

- each trading day's tape: the synthetic flow (sweeps, blocks, cancels... as live) over the regular
  session, ``prints_per_day`` prints from 09:30 to 16:00 New York, sequence numbers from the
  session's open; ``/v3/trades/{contract}`` serves it, and ``manage.py feed --day`` streams it;
- the contracts as they were listed that day (``/v3/reference/options/contracts?as_of=``);
- each session's open interest per contract (``/options/v1/open-interest``): the figure the
  snapshots give on the next trading day's morning;
- the underlyings' day and minute bars (``/v2/aggs/ticker/.../range/1/day|minute/...``).

Open interest and bars go back before the first day with a tape, as Polygon's do: a backfill's
first day has its session before.

Trading days are the weekdays before the flow's own day (the feed keeps no holiday calendar; a
backfill learns the trading days from the bars, as it must from Polygon's).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from trades.domain.calendar import MARKET_CLOSE, MARKET_OPEN, NEW_YORK, trading_days_before
from trades.feed.market import UnderlyingModel, spot_on
from trades.feed.source import Frame
from trades.feed.synthetic import SyntheticFlow
from trades.feed.trade_log import TradeLog
from trades.feed.universe import Contract, SyntheticReference, Universe, synthetic_universe

K = TypeVar("K")
V = TypeVar("V")

HISTORY_DAYS = 90
PRINTS_PER_DAY = 20_000  # over every underlying of the flow
FRAME_SIZE = 10  # prints per frame of a day's tape (they share a time, as a live frame's do)
MS_PER_MINUTE = 60_000
CACHED_DAYS = 4  # day tapes kept in memory (a backfill asks for a day's contracts one after another)
MAX_BAR_DAYS = 3_660  # bars of at most ten years in one answer


def session_ms(day: date) -> tuple[int, int]:
    """The regular session's first and last millisecond (New York 09:30 to 16:00)."""
    opens = datetime.combine(day, MARKET_OPEN, tzinfo=NEW_YORK)
    closes = datetime.combine(day, MARKET_CLOSE, tzinfo=NEW_YORK)
    return int(opens.timestamp() * 1000), int(closes.timestamp() * 1000) - 1


def midnight_ms(day: date) -> int:
    """Midnight in New York: where Polygon stamps a day bar."""
    return int(datetime.combine(day, datetime.min.time(), tzinfo=NEW_YORK).timestamp() * 1000)


@dataclass(frozen=True)
class DayTape:
    day: date
    frames: list[Frame]
    log: TradeLog  # its trades per contract, for /v3/trades


class History:
    """The past ``days`` trading days before ``today`` of a synthetic flow of ``underlyings``."""

    def __init__(
        self,
        underlyings: Sequence[UnderlyingModel],
        seed: int,
        today: date,
        days: int = HISTORY_DAYS,
        prints_per_day: int = PRINTS_PER_DAY,
    ) -> None:
        if prints_per_day < 1:
            raise ValueError(f"a history day needs at least one print, got {prints_per_day}")
        self.underlyings = list(underlyings)
        self.seed = seed
        self.today = today
        self.days = trading_days_before(today, days)
        self.prints_per_day = prints_per_day
        self._day_set = frozenset(self.days)
        self._tapes: OrderedDict[date, DayTape] = OrderedDict()
        self._universes: OrderedDict[date, Universe] = OrderedDict()

    def covers(self, day: date) -> bool:
        return day in self._day_set

    def next_trading_day(self, day: date) -> date:
        following = day + timedelta(days=1)
        while following.weekday() >= 5:
            following += timedelta(days=1)
        return following

    # --- Trades ---

    def tape(self, day: date) -> DayTape:
        """The day's tape (built on first use; the last few are kept)."""
        return _cached(self._tapes, day, self._build_tape)

    def _build_tape(self, day: date) -> DayTape:
        opens, closes = session_ms(day)
        tickers = [model.ticker for model in self.underlyings]
        flow = SyntheticFlow(tickers, seed=self.day_seed(day), start_ms=opens, clock_rate=self._clock_rate(day))
        printer = flow.printer(first_sequence=opens * 1000)
        frames = []
        for first in range(0, self.prints_per_day, FRAME_SIZE):
            t = min(flow.clock(first), closes)
            frames.append(printer.frame(min(FRAME_SIZE, self.prints_per_day - first), t))
        log = TradeLog(capacity=self.prints_per_day)
        position = 0
        for frame in frames:
            log.record(frame, position)
            position += frame.trades
        return DayTape(day, frames, log)

    def day_seed(self, day: date) -> int:
        digest = hashlib.blake2b(f"{self.seed}:{day.isoformat()}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big")

    def _clock_rate(self, day: date) -> float:
        opens, closes = session_ms(day)
        return self.prints_per_day * 1000 / (closes - opens)

    # --- Contracts and open interest ---

    def as_of(self, day: date) -> SyntheticReference:
        """The REST side's reference as it stood on ``day``: that day's contracts, open interest
        and spots (and, through the feed's quote book, its quotes)."""
        tickers = [model.ticker for model in self.underlyings]
        return SyntheticReference(SyntheticFlow(tickers, seed=self.seed, start_ms=session_ms(day)[0]))

    def universe(self, day: date) -> Universe:
        """The contracts listed on ``day``, with the open interest the snapshots gave that morning."""
        return _cached(self._universes, day, lambda when: synthetic_universe(self.underlyings, self.seed, when))

    def reports_open_interest(self, session: date) -> bool:
        """Open interest is reported for every past session (published the next trading morning)."""
        return session.weekday() < 5 and self.next_trading_day(session) <= self.today

    def open_interest(self, session: date) -> list[tuple[Contract, int]]:
        """The open interest reported for ``session`` (published the next trading morning): every
        contract listed on the next trading day, with what that day's snapshots give."""
        published = self.universe(self.next_trading_day(session))
        return [(contract, contract.open_interest or 0) for contract in published.contracts]

    # --- Bars ---

    def spot(self, ticker: str, day: date) -> float | None:
        """The underlying's price that day (the synthetic flow prices its options from it all day)."""
        model = next((model for model in self.underlyings if model.ticker == ticker), None)
        return None if model is None else spot_on(model, day)

    def sessions(self, first: date, last: date) -> list[date]:
        """The trading days in ``first``..``last`` before today: prices go back further than the tapes
        (a backfill's first day has a session before it, its open interest and bars)."""
        last = min(last, self.today - timedelta(days=1))
        count = (last - first).days + 1
        days = (first + timedelta(days=offset) for offset in range(max(0, min(count, MAX_BAR_DAYS))))
        return [day for day in days if day.weekday() < 5]

    def day_bars(self, ticker: str, first: date, last: date) -> list[dict[str, Any]]:
        """Polygon's day bars (``o h l c v vw t n``) of the trading days in ``first``..``last``."""
        bars = []
        for day in self.sessions(first, last):
            spot = self.spot(ticker, day)
            if spot is not None:
                bars.append(_bar(spot, midnight_ms(day), volume=1_000_000))
        return bars

    def minute_bars(self, ticker: str, first: date, last: date) -> list[dict[str, Any]]:
        """One bar per minute of each regular session in ``first``..``last``."""
        bars = []
        for day in self.sessions(first, last):
            spot = self.spot(ticker, day)
            if spot is not None:
                opens, closes = session_ms(day)
                bars += [_bar(spot, minute, volume=2_500) for minute in range(opens, closes, MS_PER_MINUTE)]
        return bars


def _bar(price: float, t: int, volume: int) -> dict[str, Any]:
    return {"o": price, "h": price, "l": price, "c": price, "v": volume, "vw": price, "t": t, "n": volume // 100}


def _cached(cache: OrderedDict[K, V], key: K, build: Callable[[K], V]) -> V:
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = build(key)
    while len(cache) > CACHED_DAYS:
        cache.popitem(last=False)
    return value
