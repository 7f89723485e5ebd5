"""The feed's market: which tickers it knows (spot, volatility, how busy), which contracts are
listed (real Fridays, a listed-looking strike grid) and what they are worth (Black-Scholes, ticks).
Plausible, not live; the synthetic flow and the REST snapshots both price from here.

A contract's NBBO is fixed for the day: one tick either side of its model value on that New York
day (DayQuote). The synthetic prints trade against it and /v3/quotes serves it (quotes.py), so
the two always agree."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache

from trades.domain.occ import format_occ

# The feed stands in for Polygon: its own default tickers, not the product's presets (the demo
# asks for exactly the tickers its profiles watch).
DEFAULT_TICKERS: tuple[str, ...] = ("AAPL", "MSFT", "GOOGL", "GOOG", "AMZN", "NVDA", "META", "TSLA", "SPY", "QQQ")

# ticker: (spot, implied volatility, relative print volume). Plausible, not live.
KNOWN_UNDERLYINGS: dict[str, tuple[float, float, float]] = {
    "AAPL": (230.0, 0.28, 8),
    "MSFT": (420.0, 0.25, 4),
    "GOOGL": (175.0, 0.30, 3),
    "GOOG": (176.0, 0.30, 1),
    "AMZN": (200.0, 0.33, 5),
    "NVDA": (130.0, 0.50, 12),
    "META": (580.0, 0.35, 4),
    "TSLA": (250.0, 0.60, 12),
    "SPY": (570.0, 0.15, 15),
    "QQQ": (490.0, 0.20, 8),
    "IWM": (220.0, 0.22, 4),
    "DIA": (420.0, 0.15, 1),
    "AMD": (150.0, 0.50, 5),
    "AVGO": (170.0, 0.45, 3),
    "NFLX": (700.0, 0.35, 2),
    "PLTR": (40.0, 0.65, 4),
    "COIN": (200.0, 0.75, 2),
    "MSTR": (180.0, 0.90, 2),
    "SMCI": (45.0, 0.90, 2),
    "BA": (160.0, 0.35, 1),
    "JPM": (210.0, 0.22, 1),
    "XOM": (115.0, 0.22, 1),
    "SPX": (5700.0, 0.15, 6),
    "NDX": (20000.0, 0.20, 1),
    "RUT": (2200.0, 0.22, 1),
    "VIX": (16.0, 0.90, 2),
}
# Polygon's options exchange ids (/v3/reference/exchanges?asset_class=options), Cboe the busiest.
EXCHANGE_IDS = (300, 301, 302, 302, 302, 303, 304, 307, 308, 308, 309, 312, 313, 315, 316, 319, 322, 323, 323, 325)
VENUES = tuple(sorted(set(EXCHANGE_IDS)))  # each exchange once

# Most index prints are on the weekly roots.
OPTION_ROOTS = {"SPX": "SPXW", "NDX": "NDXP", "RUT": "RUTW", "BRK.B": "BRKB", "BF.B": "BFB"}

HORIZON_DAYS = 63  # expiries up to nine weeks out
MAX_MONEYNESS = 0.35  # strikes within ±35% of spot
RISK_FREE_RATE = 0.04


@dataclass(frozen=True, slots=True)
class UnderlyingModel:
    ticker: str
    root: str
    spot: float
    volatility: float
    weight: float


def underlying_model(ticker: str, seed: int) -> UnderlyingModel:
    """The built-in spot for known tickers; a seeded random one for the rest."""
    root = OPTION_ROOTS.get(ticker, ticker)
    if not (1 <= len(root) <= 6 and root.isascii() and root.isalnum() and root == root.upper()):
        raise ValueError(f"{ticker!r} is not a ticker this generator can build option symbols for")
    known = KNOWN_UNDERLYINGS.get(ticker)
    if known is not None:
        spot, volatility, weight = known
        return UnderlyingModel(ticker, root, spot, volatility, weight)
    rng = random.Random(f"{seed}:{ticker}")
    spot = round(math.exp(rng.uniform(math.log(10), math.log(400))), 2)
    return UnderlyingModel(ticker, root, spot, rng.uniform(0.30, 0.80), rng.uniform(1, 3))


# The spot moves from day to day: a walk pulled back toward the table's spot (each day keeps
# SPOT_MEMORY of the day before's deviation), daily moves of about volatility / √252, so that
# history has days up and down and never wanders far (about ±10% for a 28%-volatility stock).
SPOT_MEMORY = 0.98
SPOT_MEMORY_DAYS = 150  # older moves weigh under 5% and are left out
TRADING_DAYS_PER_YEAR = 252


def on_day(model: UnderlyingModel, day: date) -> UnderlyingModel:
    """The underlying as it stood on ``day``: its spot that day."""
    return replace(model, spot=spot_on(model, day))


def spot_on(model: UnderlyingModel, day: date) -> float:
    """The underlying's price on ``day`` (the same for every seed: it depends on the ticker and day)."""
    deviation = sum(SPOT_MEMORY**lag * _daily_move(model, day.toordinal() - lag) for lag in range(SPOT_MEMORY_DAYS))
    return round(model.spot * math.exp(deviation), 2)


@lru_cache(maxsize=65_536)
def _daily_move(model: UnderlyingModel, ordinal: int) -> float:
    return random.Random(f"{model.ticker}:{ordinal}").gauss(0, model.volatility / math.sqrt(TRADING_DAYS_PER_YEAR))


def fridays(trade_date: date, horizon_days: int = HORIZON_DAYS) -> list[date]:
    """Every Friday from the trade's date (inclusive) up to ``horizon_days`` later."""
    first = trade_date + timedelta(days=(4 - trade_date.weekday()) % 7)
    return [first + timedelta(weeks=week) for week in range((horizon_days - (first - trade_date).days) // 7 + 1)]


def strike_step(spot: float) -> float:
    """A listed-looking strike increment for an underlying at ``spot``."""
    for below, step in ((25, 0.5), (100, 1.0), (250, 2.5), (10_000, 5.0)):
        if spot < below:
            return step
    return 25.0


def expected_move(underlying: UnderlyingModel, days: int) -> float:
    """One standard deviation of the underlying's move by expiry, as a fraction of spot."""
    return max(0.005, underlying.volatility * math.sqrt(max(days, 1) / 365))


def strike_at(underlying: UnderlyingModel, moneyness: float) -> float:
    """The listed strike nearest ``spot × (1 + moneyness)``, moneyness clamped to ±MAX_MONEYNESS."""
    moneyness = min(MAX_MONEYNESS, max(-MAX_MONEYNESS, moneyness))
    step = strike_step(underlying.spot)
    return max(1, round(underlying.spot * (1 + moneyness) / step)) * step


def listed_strikes(underlying: UnderlyingModel) -> list[float]:
    """Every strike strike_at can give, low to high (rounding is monotonic: no gaps)."""
    step = strike_step(underlying.spot)
    low = round(strike_at(underlying, -MAX_MONEYNESS) / step)
    high = round(strike_at(underlying, MAX_MONEYNESS) / step)
    return [index * step for index in range(low, high + 1)]


def listed_contracts(underlying: UnderlyingModel, trade_date: date) -> Iterator[tuple[date, str, float]]:
    """(expiry, right, strike) of every contract the flow can print for ``underlying`` on ``trade_date``."""
    strikes = listed_strikes(underlying)
    for expiry in fridays(trade_date):
        for right in ("C", "P"):
            for strike in strikes:
                yield expiry, right, strike


def option_price(spot: float, strike: float, right: str, days: int, volatility: float) -> float:
    """Black-Scholes value; a 0-DTE contract still has a few hours of time value."""
    years = max(days, 0.3) / 365
    deviation = volatility * math.sqrt(years)
    d1 = (math.log(spot / strike) + (RISK_FREE_RATE + volatility**2 / 2) * years) / deviation
    d2 = d1 - deviation
    discount = math.exp(-RISK_FREE_RATE * years)
    if right == "C":
        return spot * normal_cdf(d1) - strike * discount * normal_cdf(d2)
    return strike * discount * normal_cdf(-d2) - spot * normal_cdf(-d1)


def normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def tick_size(price: float) -> float:
    return 0.01 if price < 3 else 0.05


def round_to_tick(price: float) -> float:
    tick = tick_size(price)
    return max(0.01, round(round(price / tick) * tick, 2))


def tick_up(price: float) -> float:
    """The next price level above ``price``."""
    return round(price + tick_size(price), 2)


def tick_down(price: float) -> float:
    """The next price level below ``price`` (pennies up to 3.00, nickels above), never below 0.01."""
    step = 0.01 if price <= 3 else 0.05
    return max(0.01, round(price - step, 2))


@dataclass(frozen=True, slots=True)
class DayQuote:
    """A contract's NBBO for one day: a market one tick either side of the rounded model value."""

    bid: float
    mid: float  # (bid + ask) / 2 exactly
    ask: float


def day_quote(value: float) -> DayQuote:
    """The quote around a model value; at least 0.02 in the middle, so that the bid is never 0."""
    mid = max(round_to_tick(value), 0.02)
    tick = tick_size(mid)  # the same tick either side, so that the mid is exactly in the middle
    return DayQuote(round(mid - tick, 2), mid, round(mid + tick, 2))


@dataclass(frozen=True, slots=True)
class ListedContract:
    """One contract on one trading day, with its quote for that day."""

    underlying: UnderlyingModel
    expiry: date
    right: str  # "C" or "P"
    strike: float
    symbol: str  # "O:AAPL250620C00230000"
    quote: DayQuote


def listed_contract(
    underlying: UnderlyingModel, expiry: date, right: str, strike: float, trade_date: date
) -> ListedContract:
    value = option_price(underlying.spot, strike, right, (expiry - trade_date).days, underlying.volatility)
    symbol = format_occ(underlying.root, expiry, right, strike)
    return ListedContract(underlying, expiry, right, strike, symbol, day_quote(value))


OPEN_INTEREST_AT_THE_MONEY = 1500


def open_interest(model: UnderlyingModel, expiry: date, right: str, strike: float, trade_date: date, seed: int) -> int:
    """A contract's open interest, seeded by the flow's seed and the contract: the snapshot serves
    it, and the flow's orders size some of theirs above it (opening orders)."""
    rng = random.Random(f"{seed}:{format_occ(model.root, expiry, right, strike)}")
    return synthetic_open_interest(model, expiry, right, strike, trade_date, rng)


def synthetic_open_interest(
    model: UnderlyingModel, expiry: date, right: str, strike: float, trade_date: date, rng: random.Random
) -> int:
    """Heavy-tailed and peaked where the flow prints (about one expected move around spot, calls
    above, puts below): most contracts hold a few hundred at most, far wings next to none, a few
    tens of thousands; one in 25 is empty."""
    if rng.random() < 1 / 25:
        return 0
    spread = expected_move(model, (expiry - trade_date).days)
    lean = (0.8 if right == "C" else -0.8) * spread
    distance = (strike / model.spot - 1 - lean) / spread
    peak = OPEN_INTEREST_AT_THE_MONEY * math.sqrt(model.weight)
    return int(peak * math.exp(-(distance**2) / 8) * rng.lognormvariate(0, 1.0))
