"""The filter rules, exactly as DESIGN.md states them, over plain dataclasses.

A trade is a hit when it passes every enabled rule of at least one enabled profile.
Rules split in two: those that need only the trade (watched ticker, size, premium, DTE,
conditions) run on everything; those that need reference data (open interest, strike band)
run only on the few survivors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date

from trades.domain.calendar import new_york_date
from trades.domain.conditions import DEFAULT_EXCLUDED
from trades.domain.occ import (
    DEFAULT_SHARES_PER_CONTRACT,
    InvalidSymbol,
    OptionSymbol,
    parse_occ,
    underlying_for_root,
)

WILDCARD = "*"
DEFAULT_STRIKE_BAND = 0.40
# Strikes are exact to 1/1000; a band edge computed in floating point may be off by 1e-14.
_STRIKE_TOLERANCE = 1e-6


class InvalidTrade(ValueError):
    """A trade event that cannot be judged: missing or malformed fields."""


@dataclass(frozen=True, slots=True)
class RootInfo:
    """What the contracts reference says about a root, when it differs from the defaults."""

    underlying: str
    shares_per_contract: int = DEFAULT_SHARES_PER_CONTRACT


@dataclass(slots=True)  # not frozen: frozen __init__ costs ~2x, and this is built per trade
class Trade:
    option: OptionSymbol
    underlying: str
    shares_per_contract: int
    price: float  # per share
    size: int  # contracts
    exchange: int
    conditions: tuple[int, ...]
    sip_timestamp: int  # milliseconds since the epoch
    sequence: int | None
    trade_date: date  # in America/New_York

    @property
    def symbol(self) -> str:
        return self.option.symbol

    @property
    def premium(self) -> float:
        # Rounded to cents: 0.29 × 100 × 100 is 2899.9999999999995 in binary floating point.
        return round(self.price * self.size * self.shares_per_contract, 2)

    @property
    def dte(self) -> int:
        return (self.option.expiry - self.trade_date).days

    @property
    def key(self) -> str:
        """The natural key: (symbol, sequence) live; REST trades have no sequence."""
        if self.sequence is not None:
            return f"{self.symbol}#{self.sequence}"
        return f"{self.symbol}@{self.sip_timestamp}/{self.exchange}/{self.price!r}/{self.size}"


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    name: str
    tickers: frozenset[str]  # underlyings; contains WILDCARD for every underlying
    min_premium: float | None = None  # dollars
    min_size: int | None = None  # contracts
    min_dte: int | None = None  # days
    max_dte: int | None = None  # days
    size_gt_open_interest: bool = False
    strike_band: float | None = None  # fraction of the listed strike range, e.g. 0.40
    exclude_conditions: frozenset[int] = field(default=DEFAULT_EXCLUDED)

    @property
    def needs_reference(self) -> bool:
        return self.size_gt_open_interest or self.strike_band is not None

    def watches(self, underlying: str) -> bool:
        return underlying in self.tickers or WILDCARD in self.tickers


@dataclass(frozen=True, slots=True)
class Reference:
    """What the reference data knew when a trade was judged; None where unknown."""

    open_interest: int | None = None
    spot: float | None = None
    strike_min: float | None = None
    strike_max: float | None = None


def parse_trade(event: dict, roots: dict[str, RootInfo]) -> Trade:
    """Build a Trade from a Polygon options trade event (``ev == "T"``), or raise InvalidTrade."""
    try:
        option = parse_occ(event.get("sym"))
    except InvalidSymbol as exc:
        raise InvalidTrade(str(exc)) from None
    price = event.get("p")
    size = event.get("s")
    timestamp = event.get("t")
    exchange = event.get("x")
    sequence = event.get("q")
    if not ((type(price) is float or type(price) is int) and 0 < price < math.inf):  # excludes bool and NaN
        raise InvalidTrade(f"price 'p' must be a positive number, got {price!r}")
    if type(size) is not int or size <= 0:
        raise InvalidTrade(f"size 's' must be a positive integer, got {size!r}")
    if type(timestamp) is not int or timestamp <= 0:
        raise InvalidTrade(f"timestamp 't' must be a positive integer (ms), got {timestamp!r}")
    if type(exchange) is not int:
        raise InvalidTrade(f"exchange 'x' must be an integer, got {exchange!r}")
    if sequence is not None and (type(sequence) is not int or sequence < 0):
        raise InvalidTrade(f"sequence 'q' must be a non-negative integer, got {sequence!r}")
    conditions = _parse_conditions(event.get("c"))
    trade_date = new_york_date(timestamp)
    if option.expiry < trade_date:
        raise InvalidTrade(f"contract expired {option.expiry} before the trade's date {trade_date}")
    root = roots.get(option.root)
    return Trade(
        option=option,
        underlying=root.underlying if root else underlying_for_root(option.root),
        shares_per_contract=root.shares_per_contract if root else DEFAULT_SHARES_PER_CONTRACT,
        price=float(price),
        size=size,
        exchange=exchange,
        conditions=conditions,
        sip_timestamp=timestamp,
        sequence=sequence,
        trade_date=trade_date,
    )


def _parse_conditions(raw: object) -> tuple[int, ...]:
    if raw is None:
        return ()
    if type(raw) is not list or any(type(code) is not int for code in raw):
        raise InvalidTrade(f"conditions 'c' must be a list of integers, got {raw!r}")
    return tuple(raw)


def with_contract(trade: Trade, underlying: str, shares_per_contract: int) -> Trade:
    """The trade as the contracts reference describes it (underlying, multiplier)."""
    if trade.underlying == underlying and trade.shares_per_contract == shares_per_contract:
        return trade
    return replace(trade, underlying=underlying, shares_per_contract=shares_per_contract)


def passes_trade_rules(trade: Trade, profile: Profile) -> bool:
    """The rules that need only the trade: ticker, size, premium, DTE, conditions."""
    if not profile.watches(trade.underlying):
        return False
    if profile.min_size is not None and trade.size < profile.min_size:
        return False
    if profile.min_premium is not None and trade.premium < profile.min_premium:
        return False
    if profile.min_dte is not None or profile.max_dte is not None:
        dte = trade.dte
        if profile.min_dte is not None and dte < profile.min_dte:
            return False
        if profile.max_dte is not None and dte > profile.max_dte:
            return False
    return not (trade.conditions and profile.exclude_conditions.intersection(trade.conditions))


def passes_reference_rules(trade: Trade, profile: Profile, reference: Reference) -> bool:
    """Size above open interest (strict) and the strike band (inclusive); unknown data fails."""
    if profile.size_gt_open_interest and (reference.open_interest is None or trade.size <= reference.open_interest):
        return False
    if profile.strike_band is not None:
        band = strike_band(reference, profile.strike_band)
        strike = trade.option.strike_float
        if band is None or not band[0] - _STRIKE_TOLERANCE <= strike <= band[1] + _STRIKE_TOLERANCE:
            return False
    return True


def strike_band(reference: Reference, fraction: float) -> tuple[float, float] | None:
    """[max(min, S − h), min(max, S + h)] with h = fraction/2 × (max − min); None if unknown."""
    spot, low, high = reference.spot, reference.strike_min, reference.strike_max
    if spot is None or low is None or high is None:
        return None
    half_width = fraction / 2 * (high - low)
    return max(low, spot - half_width), min(high, spot + half_width)


def matching_profiles(trade: Trade, profiles: list[Profile], reference: Reference) -> list[Profile]:
    """Every profile whose enabled rules the trade passes."""
    return [
        profile
        for profile in profiles
        if passes_trade_rules(trade, profile)
        and (not profile.needs_reference or passes_reference_rules(trade, profile, reference))
    ]
