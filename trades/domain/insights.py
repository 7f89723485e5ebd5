"""Insights: is this order unusual for its strike, what happened the last times, and the sentence a
trader reads (FLOW.md, "Rules on orders and windows" and "Daily aggregates and outcomes").

- **Concentration.** The strike's premium in the 30 minutes up to the order (the order's own
  included), and the day's, against the underlying's; its *usual* is the mean premium of the same
  strike in the same 30 minutes of the day (New York time) over the past trading days of stored
  history (up to 20). Unusual at 3× its usual, or with none there before, given 5 days of history.
- **Analogs and cohorts.** Earlier alerts like this one: the same underlying, sentiment, premium
  bucket, DTE bucket and a profile in common, whose next-day move was known before this order's
  day (nothing it could not have known). The last of them and the cohort: N, how many went the
  alert's way the next day with a Wilson 95% interval, and the median signed move; under 10 the
  sentence adds "too few to say".
- **The sentence**, by a fixed template from those figures alone.

Money is in whole cents (integers: sums that do not depend on the order they were added in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from math import sqrt
from statistics import median
from typing import Any

from trades.domain.calendar import MARKET_OPEN, NEW_YORK
from trades.domain.formatting import optional_float
from trades.domain.formatting import strike as strike_text

WINDOW_MINUTES = 30
BASELINE_DAYS = 20
BASELINE_WEEKS = 5  # of calendar: they hold the 20 trading days, holidays included
MIN_BASELINE_DAYS = 5  # fewer days of history: no verdict on what is usual
UNUSUAL_MULTIPLE = 3.0
TOO_FEW = 10  # a cohort smaller than this is reported, not judged
COHORT_MOST = 1_000  # a cohort is the newest this many similar alerts (years of a busy name)
Z_95 = 1.959964
MS_PER_MINUTE = 60_000

# Bucket edges: an alert is like another when both fall in the same bucket.
PREMIUM_EDGES = (100_000, 250_000, 500_000, 1_000_000, 5_000_000)  # dollars
DTE_EDGES = (8, 31, 91)  # 0–7, 8–30, 31–90, 91+ days
DIRECTIONS = {"BULLISH": ("rose", 1), "BEARISH": ("fell", -1)}


# --- concentration ---------------------------------------------------------------------------------


def window_sum(minutes: Mapping[int, int], start: int, end: int) -> int:
    """The premium (cents) of the minutes from ``start`` up to, not including, ``end``."""
    return sum(cents for minute, cents in minutes.items() if start <= minute < end)


def same_time_on(day: date, minute: int, length: int = WINDOW_MINUTES) -> tuple[int, int]:
    """The ``length`` minutes before ``minute``'s New York time of day, on ``day``: [start, end)."""
    local = datetime.fromtimestamp(minute * 60, tz=NEW_YORK)
    end = datetime.combine(day, local.time(), tzinfo=NEW_YORK)
    end_minute = int(end.timestamp()) // 60
    return end_minute - length, end_minute


def session_open(minute: int) -> int:
    """The minute the regular session opened on ``minute``'s New York day."""
    local = datetime.fromtimestamp(minute * 60, tz=NEW_YORK)
    return int(datetime.combine(local.date(), MARKET_OPEN, tzinfo=NEW_YORK).timestamp()) // 60


@dataclass(frozen=True)
class Concentration:
    """The strike's premium around an order (cents) and what is usual for it then."""

    strike: int  # the strike's premium in the window, the order's own included
    underlying: int  # the underlying's, likewise
    strike_day: int  # since the session opened
    underlying_day: int
    days: tuple[date, ...]  # the past trading days the usual is averaged over
    strike_usual: float | None  # mean premium of the strike in the same window on those days
    underlying_usual: float | None
    daily_usual: float | None = None  # the underlying's mean option premium a day on those days
    strike_size: int = 0  # contracts of the strike in the window, the order's own included
    strike_size_day: int = 0

    @property
    def share(self) -> float | None:
        """The strike's share of the underlying's premium in the window."""
        return self.strike / self.underlying if self.underlying > 0 else None

    @property
    def multiple(self) -> float | None:
        """The window's premium over the strike's usual; None when nothing is usual there."""
        return self.strike / self.strike_usual if self.strike_usual else None

    @property
    def underlying_multiple(self) -> float | None:
        return self.underlying / self.underlying_usual if self.underlying_usual else None

    @property
    def enough_history(self) -> bool:
        return len(self.days) >= MIN_BASELINE_DAYS

    @property
    def unusual(self) -> bool:
        if not self.enough_history or self.strike <= 0:
            return False
        return self.multiple is None or self.multiple >= UNUSUAL_MULTIPLE


def concentration(
    minute: int,
    own_cents: int,
    today_strike: Mapping[int, int],
    today_underlying: Mapping[int, int],
    past_strike: Mapping[date, Mapping[int, int]],
    past_underlying: Mapping[date, Mapping[int, int]],
    daily_totals: Mapping[date, int] | None = None,
    today_strike_size: tuple[Mapping[int, int], int] = ({}, 0),
) -> Concentration:
    """The concentration of an order whose first print is in ``minute`` (epoch minutes), of
    premium ``own_cents``: the per-minute premium (cents) of its strike and of its underlying
    today (minutes before the order's are read: the order's own stand for its minute) and on the
    past days of history (every day of ``past_underlying`` is a day of history, its strike
    possibly silent; ``daily_totals``: the underlying's whole premium on each of them;
    ``today_strike_size``: the strike's contracts per minute today, and the order's size)."""
    start, opened = minute - WINDOW_MINUTES, session_open(minute)
    sizes, own_size = today_strike_size
    days = tuple(sorted(past_underlying)[-BASELINE_DAYS:])
    strike_usual = underlying_usual = daily_usual = None
    if days:
        daily_usual = _mean([(daily_totals or {}).get(day, 0) for day in days])
        windows = [same_time_on(day, minute) for day in days]
        strike_usual = _mean([window_sum(past_strike.get(day, {}), *w) for day, w in zip(days, windows, strict=True)])
        underlying_usual = _mean([window_sum(past_underlying[day], *w) for day, w in zip(days, windows, strict=True)])
    return Concentration(
        strike=window_sum(today_strike, start, minute) + own_cents,
        underlying=window_sum(today_underlying, start, minute) + own_cents,
        strike_day=window_sum(today_strike, opened, minute) + own_cents,
        underlying_day=window_sum(today_underlying, opened, minute) + own_cents,
        days=days,
        strike_usual=strike_usual,
        underlying_usual=underlying_usual,
        daily_usual=daily_usual,
        strike_size=window_sum(sizes, start, minute) + own_size,
        strike_size_day=window_sum(sizes, opened, minute) + own_size,
    )


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values)


# --- analogs and cohorts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """An order with a direction, as analogs compare them; ``move`` and ``market`` are the raw
    next-day moves of the stock and of SPY, ``known_on`` the session whose close told the move
    (None while it is pending)."""

    order_id: str
    underlying: str
    day: date
    ts_ns: int
    sentiment: str
    premium: Decimal
    dte: int
    profiles: frozenset[str]
    move: Decimal | None = None
    market: Decimal | None = None
    known_on: date | None = None

    @property
    def signed_move(self) -> Decimal | None:
        direction = DIRECTIONS.get(self.sentiment)
        return None if self.move is None or direction is None else self.move * direction[1]

    @property
    def went_its_way(self) -> bool:
        signed = self.signed_move
        return signed is not None and signed > 0


def bucket(value: float, edges: Sequence[float]) -> int:
    return sum(value >= edge for edge in edges)


def bucket_range(value: float, edges: Sequence[float]) -> tuple[float | None, float | None]:
    """The [low, high) of ``value``'s bucket (None: unbounded on that side)."""
    index = bucket(value, edges)
    return (None if index == 0 else edges[index - 1]), (None if index == len(edges) else edges[index])


def premium_bucket_label(premium: Decimal) -> str:
    index = bucket(float(premium), PREMIUM_EDGES)
    if index == 0:
        return f"under {short_money(PREMIUM_EDGES[0])}"
    low = PREMIUM_EDGES[index - 1]
    if index == len(PREMIUM_EDGES):
        return f"{short_money(low)}+"
    return f"{short_money(low)}–{short_money(PREMIUM_EDGES[index])}"


def dte_bucket_label(dte: int) -> str:
    index = bucket(dte, DTE_EDGES)
    low = 0 if index == 0 else DTE_EDGES[index - 1]
    return f"{low}+ DTE" if index == len(DTE_EDGES) else f"{low}–{DTE_EDGES[index] - 1} DTE"


def is_similar(alert: Alert, other: Alert) -> bool:
    """Same underlying and sentiment, same premium and DTE bucket, a profile in common."""
    return (
        alert.underlying == other.underlying
        and alert.sentiment == other.sentiment
        and bucket(float(alert.premium), PREMIUM_EDGES) == bucket(float(other.premium), PREMIUM_EDGES)
        and bucket(alert.dte, DTE_EDGES) == bucket(other.dte, DTE_EDGES)
        and bool(alert.profiles & other.profiles)
    )


def analogs(alert: Alert, earlier: Iterable[Alert]) -> list[Alert]:
    """The similar alerts whose next-day move was known before ``alert``'s day, newest first."""
    found = [
        other
        for other in earlier
        if other.order_id != alert.order_id
        and other.known_on is not None
        and other.known_on < alert.day
        and other.ts_ns < alert.ts_ns
        and other.move is not None
        and is_similar(alert, other)
    ]
    return sorted(found, key=lambda other: (other.ts_ns, other.order_id), reverse=True)


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% with the default z)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Cohort:
    n: int
    went_its_way: int
    since: date | None
    low: float
    high: float
    median_move: Decimal | None  # signed by each alert's sentiment
    median_versus_market: Decimal | None

    @property
    def rate(self) -> float | None:
        return self.went_its_way / self.n if self.n else None

    @property
    def enough(self) -> bool:
        return self.n >= TOO_FEW


def cohort(alerts: Sequence[Alert]) -> Cohort:
    """N, how many went the alert's way the next day (Wilson 95% interval), the median signed move
    and the median signed move over SPY's, of alerts with a known next-day move."""
    measured = [alert for alert in alerts if alert.signed_move is not None]
    right = sum(alert.went_its_way for alert in measured)
    low, high = wilson(right, len(measured))
    moves = [alert.signed_move for alert in measured if alert.signed_move is not None]
    versus = [
        (alert.move - alert.market) * DIRECTIONS[alert.sentiment][1]
        for alert in measured
        if alert.move is not None and alert.market is not None
    ]
    return Cohort(
        n=len(measured),
        went_its_way=right,
        since=min((alert.day for alert in measured), default=None),
        low=low,
        high=high,
        median_move=Decimal(median(moves)) if moves else None,
        median_versus_market=Decimal(median(versus)) if versus else None,
    )


def next_session(day: date, sessions: Sequence[date]) -> date | None:
    """The first of ``sessions`` (trading days, sorted) after ``day``."""
    return next((session for session in sessions if session > day), None)


# --- the sentence ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    ticker: str
    strike: Decimal
    right: str  # "C" or "P"
    expiry: date
    dte: int


def sentence(
    contract: Contract,
    sentiment: str,
    found: Concentration | None,
    last: Alert | None,
    similar: Cohort | None,
) -> str:
    """ "AAPL $195 calls 12/20 (14 DTE, bullish): $850K premium in the last 30 minutes (38% of AAPL's), 6.1×
    this strike's usual — unusual concentration. Last time (Nov 15) the stock moved +3.0% next day;
    of 23 similar alerts since Sep 2, 15 rose next day (65%, 95% CI 45–81%)." """
    right = "calls" if contract.right == "C" else "puts"
    direction = DIRECTIONS.get(sentiment)
    bet = f", {sentiment.lower()}" if direction else ""  # sold puts are bullish: say which way it bet
    head = (
        f"{contract.ticker} ${strike_text(contract.strike)} {right} "
        f"{contract.expiry.month}/{contract.expiry.day} ({contract.dte} DTE{bet})"
    )
    text = head + ": " + _concentration_clause(contract.ticker, found) + "."
    if direction is None or similar is None:
        return text
    return text + " " + _history_clause(direction[0], last, similar)


def _concentration_clause(ticker: str, found: Concentration | None) -> str:
    if found is None:
        return "no flow history for this strike yet"
    text = f"{short_money(found.strike / 100)} premium in the last {WINDOW_MINUTES} minutes"
    if found.share is not None and found.share < 0.995:
        text += f" ({found.share:.0%} of {ticker}'s)"
    if not found.days:
        return text + "; no history yet to know its usual"
    if not found.enough_history:
        return text + f"; too little history to know its usual ({_days(len(found.days))})"
    if found.multiple is None:
        text += f", none at this time of day on the past {_days(len(found.days))}"
    else:
        text += f", {multiple_text(found.multiple)} this strike's usual"
    return text + (" — unusual concentration" if found.unusual else "")


def _history_clause(verb: str, last: Alert | None, similar: Cohort) -> str:
    if last is None or last.move is None:
        return "No similar alert before."
    text = f"Last time ({month_day(last.day)}) the stock moved {percent(last.move)} next day"
    assert similar.since is not None  # `last` is one of the cohort
    text += f"; of {similar.n} similar alert{'s' if similar.n != 1 else ''} since {month_day(similar.since)}, "
    assert similar.rate is not None
    interval = f"95% CI {similar.low * 100:.0f}–{similar.high * 100:.0f}%"
    text += f"{similar.went_its_way} {verb} next day ({similar.rate:.0%}, {interval})"
    return text + ("." if similar.enough else " — too few to say.")


def _days(number: int) -> str:
    return f"{number} trading day{'s' if number != 1 else ''}"


def short_money(dollars: float) -> str:
    """``$850``, ``$8.5K``, ``$850K``, ``$1.2M``, ``$5M``, ``$12M``."""
    value = abs(float(dollars))
    sign = "-" if dollars < 0 else ""
    for limit, divisor, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e3, 1e3, "K")):
        if value >= limit:
            scaled = value / divisor
            digits = f"{scaled:.1f}".removesuffix(".0") if scaled < 10 else f"{scaled:.0f}"
            return f"{sign}${digits}{suffix}"
    return f"{sign}${value:.0f}"


def multiple_text(value: float) -> str:
    """``4.5×``, ``12×``, ``100×+`` (a strike nearly silent before: the exact figure says little)."""
    if value >= 100:
        return "100×+"
    return f"{value:.1f}×" if value < 10 else f"{value:.0f}×"


def percent(move: Decimal | float) -> str:
    """``+3.0%``, ``-1.2%``, ``0.0%``."""
    tenths = round(float(move) * 1000)
    return "0.0%" if tenths == 0 else f"{tenths / 10:+.1f}%"


def month_day(day: date) -> str:
    return f"{day:%b} {day.day}"


def minute_of(ts_ns: int) -> int:
    return ts_ns // 60_000_000_000


def day_span(day: date) -> tuple[int, int]:
    """``day``'s minutes in New York: [midnight, next midnight)."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=NEW_YORK)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=NEW_YORK)
    return int(start.timestamp()) // 60, int(end.timestamp()) // 60


def similar_facts(alert: Alert) -> dict[str, Any]:
    """What "similar" meant for this order's analogs."""
    return {
        "underlying": alert.underlying,
        "sentiment": alert.sentiment,
        "premium": premium_bucket_label(alert.premium),
        "dte": dte_bucket_label(alert.dte),
        "profiles": sorted(alert.profiles),
        "horizon_days": 1,
    }


def cohort_facts(group: Cohort) -> dict[str, Any]:
    return {
        "n": group.n,
        "went_its_way": group.went_its_way,
        "rate": group.rate,
        "low": group.low,
        "high": group.high,
        "since": None if group.since is None else group.since.isoformat(),
        "median_move": optional_float(group.median_move),
        "median_versus_market": optional_float(group.median_versus_market),
        "enough": group.enough,
    }
