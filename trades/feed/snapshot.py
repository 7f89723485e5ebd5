"""Option contract snapshots in Polygon's shape (``/v3/snapshot/options/{underlying}``).

Prices and greeks come from Black-Scholes at the underlying's volatility (with a mild smile);
the day bar, quote and last trade are seeded by the contract's ticker, so asking twice gives
the same answer (timestamps aside). Where the feed's trade log has a contract's trades, its
last trade and day bar come from the log instead (see Trading); where the synthetic flow quotes
the contract (quotes.py), the last quote is that quote.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from trades.domain.calendar import NEW_YORK
from trades.feed.market import (
    EXCHANGE_IDS,
    RISK_FREE_RATE,
    DayQuote,
    normal_cdf,
    option_price,
    round_to_tick,
    tick_size,
)
from trades.feed.trade_log import DayTrades, LoggedTrade
from trades.feed.universe import Contract, Underlying

# Polygon leaves greeks and implied volatility out when they cannot be computed: deep in or
# out of the money. Outside these deltas, so does this feed.
GREEKS_DELTA_RANGE = (0.005, 0.995)
TIMEFRAME = "REAL-TIME"


@dataclass(frozen=True, slots=True)
class Trading:
    """What the trade log says of a contract's trading; the rest of its snapshot is synthetic."""

    logged: DayTrades | None = None  # its latest logged trade and that day's bar
    untraded: bool = False  # nothing logged, and the log is complete: no last trade, no volume
    synthetic_before_ns: int | None = None  # nothing logged: a synthetic last trade before this time


SYNTHETIC = Trading()


def number(value: float) -> float | int:
    """Whole numbers as integers, as Polygon writes strikes (``150``, ``2.5``)."""
    return int(value) if float(value).is_integer() else value


def days_to_expiry(contract: Contract, as_of: date) -> int:
    return (contract.expiration_date - as_of).days


def years_to_expiry(days: int) -> float:
    """As market.option_price counts it: a 0-DTE contract still has a few hours left."""
    return max(days, 0.3) / 365


def implied_volatility(contract: Contract, underlying: Underlying) -> float:
    """The underlying's volatility with a mild smile: wings are dearer."""
    log_moneyness = math.log(contract.strike_price / underlying.price)
    return underlying.volatility * (1 + 2 * log_moneyness**2)


def greeks(contract: Contract, underlying: Underlying, volatility: float, years: float) -> dict[str, float]:
    """Black-Scholes delta, gamma, theta (per calendar day) and vega (per volatility point)."""
    spot, strike = underlying.price, contract.strike_price
    deviation = volatility * math.sqrt(years)
    d1 = (math.log(spot / strike) + (RISK_FREE_RATE + volatility**2 / 2) * years) / deviation
    d2 = d1 - deviation
    density = math.exp(-(d1**2) / 2) / math.sqrt(2 * math.pi)
    discounted_strike = strike * math.exp(-RISK_FREE_RATE * years)
    decay = -spot * density * volatility / (2 * math.sqrt(years))
    if contract.contract_type == "call":
        delta = normal_cdf(d1)
        theta = decay - RISK_FREE_RATE * discounted_strike * normal_cdf(d2)
    else:
        delta = normal_cdf(d1) - 1
        theta = decay + RISK_FREE_RATE * discounted_strike * normal_cdf(-d2)
    return {
        "delta": delta,
        "gamma": density / (spot * deviation),
        "theta": theta / 365,
        "vega": spot * density * math.sqrt(years) / 100,
    }


def contract_snapshot(
    contract: Contract,
    underlying: Underlying,
    as_of: date,
    now_ns: int,
    trading: Trading = SYNTHETIC,
    day_quote: DayQuote | None = None,
) -> dict[str, Any]:
    """One result of the chain snapshot, as Polygon documents it; ``day_quote``: the contract's
    quote today, where the synthetic flow has one."""
    rng = random.Random(contract.ticker)
    days = days_to_expiry(contract, as_of)
    volatility = implied_volatility(contract, underlying)
    right = "C" if contract.contract_type == "call" else "P"
    value = option_price(underlying.price, contract.strike_price, right, days, volatility)
    quote = last_quote(value, rng, now_ns, day_quote)
    before_ns = now_ns if trading.synthetic_before_ns is None else min(now_ns, trading.synthetic_before_ns)
    synthetic_trade = last_trade(quote, rng, before_ns)
    trade, day = traded(trading, synthetic_trade, day_bar(value, synthetic_trade["price"], rng, as_of))
    break_even = contract.strike_price + (quote["midpoint"] if right == "C" else -quote["midpoint"])
    snapshot: dict[str, Any] = {
        "break_even_price": round(break_even, 4),
        "day": day,
        "details": {
            "contract_type": contract.contract_type,
            "exercise_style": contract.exercise_style,
            "expiration_date": contract.expiration_date.isoformat(),
            "shares_per_contract": contract.shares_per_contract,
            "strike_price": number(contract.strike_price),
            "ticker": contract.ticker,
        },
    }
    sensitivities = greeks(contract, underlying, volatility, years_to_expiry(days))
    if GREEKS_DELTA_RANGE[0] < abs(sensitivities["delta"]) < GREEKS_DELTA_RANGE[1]:
        snapshot["greeks"] = sensitivities
        snapshot["implied_volatility"] = volatility
    snapshot["last_quote"] = quote
    if trade is not None:
        snapshot["last_trade"] = trade
    if contract.open_interest is not None:
        snapshot["open_interest"] = contract.open_interest
    snapshot["underlying_asset"] = underlying_asset(underlying, break_even, now_ns)
    return snapshot


def last_quote(value: float, rng: random.Random, now_ns: int, day_quote: DayQuote | None = None) -> dict[str, Any]:
    """``day_quote``, else a one-tick market either side of the model value."""
    if day_quote is not None:
        bid, ask = day_quote.bid, day_quote.ask
    else:
        tick = tick_size(value)
        bid = max(0.0, round(round(value / tick) * tick - tick, 2))
        ask = round_to_tick(bid + 2 * tick)
    return {
        "ask": ask,
        "ask_size": rng.randint(1, 500),
        "bid": bid,
        "bid_size": rng.randint(1, 500),
        "last_updated": now_ns - rng.randint(1, 5_000) * 1_000_000,
        "midpoint": round((bid + ask) / 2, 4),
        "timeframe": TIMEFRAME,
    }


def last_trade(quote: dict[str, Any], rng: random.Random, before_ns: int) -> dict[str, Any]:
    """A print at the quote, up to ten minutes before ``before_ns``."""
    return {
        "conditions": [209],
        "exchange": rng.choice(EXCHANGE_IDS),
        "price": rng.choice((quote["bid"] or quote["ask"], quote["ask"])),
        "sip_timestamp": before_ns - rng.randint(1, 600) * 1_000_000_000,
        "size": rng.randint(1, 50),
        "timeframe": TIMEFRAME,
    }


def traded(
    trading: Trading, trade: dict[str, Any], day: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The last trade (None: none to show) and the day bar: the log's where it has them."""
    if trading.logged is not None:
        return logged_last_trade(trading.logged.last), logged_day_bar(trading.logged, day["previous_close"])
    if trading.untraded:
        return None, {"last_updated": day["last_updated"], "previous_close": day["previous_close"], "volume": 0}
    return trade, day


def logged_last_trade(trade: LoggedTrade) -> dict[str, Any]:
    return {**trade.as_json(), "timeframe": TIMEFRAME}


def logged_day_bar(logged: DayTrades, previous_close: float) -> dict[str, Any]:
    """The day bar of the logged trades; the previous session's close stays synthetic."""
    change = round(logged.close - previous_close, 4)
    return {
        "change": change,
        "change_percent": round(100 * change / previous_close, 4),
        "close": logged.close,
        "high": logged.high,
        "last_updated": session_start_ns(logged.day),
        "low": logged.low,
        "open": logged.open,
        "previous_close": previous_close,
        "volume": logged.volume,
        "vwap": logged.vwap,
    }


def day_bar(value: float, close: float, rng: random.Random, as_of: date) -> dict[str, Any]:
    previous_close = round_to_tick(value * rng.uniform(0.8, 1.25))
    opened = round_to_tick(previous_close * rng.uniform(0.9, 1.1))
    high = round_to_tick(max(opened, close) * rng.uniform(1.0, 1.1))
    low = round_to_tick(min(opened, close) * rng.uniform(0.9, 1.0))
    change = round(close - previous_close, 4)
    return {
        "change": change,
        "change_percent": round(100 * change / previous_close, 4),
        "close": close,
        "high": high,
        "last_updated": session_start_ns(as_of),
        "low": low,
        "open": opened,
        "previous_close": previous_close,
        "volume": rng.randint(1, 5_000),
        "vwap": round((opened + high + low + close) / 4, 4),
    }


def underlying_asset(underlying: Underlying, break_even: float, now_ns: int) -> dict[str, Any]:
    """Polygon gives an index's ``value`` (and its ``I:`` ticker) where a stock has a ``price``."""
    return {
        "change_to_break_even": round(break_even - underlying.price, 4),
        "last_updated": now_ns,
        "value" if underlying.is_index else "price": underlying.price,
        "ticker": f"I:{underlying.ticker}" if underlying.is_index else underlying.ticker,
        "timeframe": TIMEFRAME,
    }


def session_start_ns(day: date) -> int:
    """Midnight in New York, as Polygon stamps the day bar."""
    return int(datetime.combine(day, time(), tzinfo=NEW_YORK).timestamp()) * 1_000_000_000
