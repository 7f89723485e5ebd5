"""The filter rules, exactly as DESIGN.md states them, over plain dataclasses.

A trade is a hit when it passes every enabled rule of at least one enabled profile.
Rules split in two: those that need only the trade (watched ticker, size, premium, DTE,
conditions) run on everything; those that need reference data (open interest, strike band)
run only on the few survivors.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field, replace
from datetime import date

from trades.domain import identity
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


# The widest values a print may carry. Beyond them it is garbage (a timestamp in µs or ns, an
# overflowed counter), not a trade; tests/services/test_limits.py checks the trade table holds them all.
MIN_PRICE = 0.0001  # dollars per share: the smallest increment stored
MAX_PRICE = 10_000_000.0
MAX_SIZE = 10_000_000  # contracts
MAX_PREMIUM = 1e12  # dollars: a trillion, far beyond any print
MAX_EXCHANGE = 2**31 - 1
MAX_CONDITION = 2**31 - 1
MAX_SEQUENCE = 2**63 - 1
MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01 UTC
MAX_TIMESTAMP_MS = 4_102_444_800_000  # 2100-01-01 UTC: a µs or ns timestamp is far beyond


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 3, 8, 8
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 60


def shown(value: object) -> str:
    """A short repr of any JSON value for a message: bounded in length and depth."""
    return _SHORT_REPR.repr(value)


class InvalidTrade(ValueError):
    """A trade event that cannot be judged: missing or malformed fields.

    ``reason`` names the field at fault (``price``, ``timestamp``…), for counting rejections.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


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
    def print_key(self) -> str:
        """What identifies this print whichever way it arrived: the WebSocket (with a sequence
        number) or REST (without one, and in ns where the WebSocket has ms).

        The contract, the SIP millisecond and a digest of exchange, price, size and conditions.
        Byte-identical prints that are separate trades share it; `trade_key` adds which of them.
        """
        return identity.print_key(
            self.symbol, self.sip_timestamp, self.exchange, self.price, self.size, self.conditions
        )


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
    # A profile judges each print alone, or orders (trades/domain/order_rules.py): then premium and
    # size apply to the order's totals, and these further rules apply (empty or False: off).
    judges_orders: bool = False
    order_types: frozenset[str] = frozenset()
    golden_only: bool = False
    iso_only: bool = False
    aggressors: frozenset[str] = frozenset()
    sentiments: frozenset[str] = frozenset()
    opening: str = ""  # "opening" or "strict"
    min_vol_oi: float | None = None
    repeated_hits_only: bool = False
    # Rules on the order's flow history (trades/domain/insights.py), judged once that history is stored.
    min_strike_multiple: float | None = None
    min_strike_share: float | None = None
    min_share_of_daily_premium: float | None = None

    @property
    def needs_reference(self) -> bool:
        return self.size_gt_open_interest or self.strike_band is not None

    def watches(self, underlying: str) -> bool:
        return underlying in self.tickers or WILDCARD in self.tickers


@dataclass(frozen=True, slots=True)
class Reference:
    """What the reference data knew when a trade was judged; None where unknown.

    The ages (seconds since each value was read) let a hit say it was judged on stale data.
    """

    open_interest: int | None = None
    spot: float | None = None
    strike_min: float | None = None
    strike_max: float | None = None
    open_interest_age: float | None = None
    spot_age: float | None = None
    strikes_age: float | None = None


@dataclass(frozen=True, slots=True)
class MaxAges:
    """How old (seconds) reference data may be before a rule judged on it counts as stale."""

    open_interest: float
    spot: float
    strikes: float


def judged_on_stale_data(profiles: list[Profile], reference: Reference, max_ages: MaxAges) -> bool:
    """True when a matched profile's reference rule used data older than its maximum age."""

    def too_old(age: float | None, limit: float) -> bool:
        return age is not None and age > limit

    for profile in profiles:
        if profile.size_gt_open_interest and too_old(reference.open_interest_age, max_ages.open_interest):
            return True
        if profile.strike_band is not None and (
            too_old(reference.spot_age, max_ages.spot) or too_old(reference.strikes_age, max_ages.strikes)
        ):
            return True
    return False


def parse_trade(event: dict, roots: dict[str, RootInfo]) -> Trade:
    """Build a Trade from a Polygon options trade event (``ev == "T"``), or raise InvalidTrade.

    Whatever the event holds, this returns a Trade or raises InvalidTrade. It runs for every
    trade of the firehose, so it is written for speed: exact type checks (which also refuse
    bools and the floats orjson makes of integers beyond 64 bits), positional construction.
    """
    get = event.get
    try:
        option = parse_occ(get("sym"))
    except InvalidSymbol as exc:
        raise InvalidTrade("bad_symbol", str(exc)) from None
    price, size, timestamp, exchange, sequence = get("p"), get("s"), get("t"), get("x"), get("q")
    if not ((type(price) is float or type(price) is int) and MIN_PRICE <= price < MAX_PRICE):  # NaN fails too
        raise InvalidTrade("bad_price", f"price 'p' must be from {MIN_PRICE} to {MAX_PRICE:.0f}, got {shown(price)}")
    if type(size) is not int or not 0 < size <= MAX_SIZE:
        raise InvalidTrade("bad_size", f"size 's' must be a positive integer up to {MAX_SIZE}, got {shown(size)}")
    if type(timestamp) is not int or not MIN_TIMESTAMP_MS <= timestamp < MAX_TIMESTAMP_MS:
        raise InvalidTrade("bad_timestamp", f"timestamp 't' must be milliseconds in 2000-2099, got {shown(timestamp)}")
    if type(exchange) is not int or not 0 <= exchange <= MAX_EXCHANGE:
        raise InvalidTrade("bad_exchange", f"exchange 'x' must be a non-negative integer, got {shown(exchange)}")
    if sequence is not None and (type(sequence) is not int or not 0 <= sequence <= MAX_SEQUENCE):
        raise InvalidTrade("bad_sequence", f"sequence 'q' must be a non-negative 64-bit integer, got {shown(sequence)}")
    conditions = _parse_conditions(get("c"))
    trade_date = new_york_date(timestamp)
    if option.expiry < trade_date:
        raise InvalidTrade("expired_contract", f"contract expired {option.expiry} before the trade's date {trade_date}")
    root = roots.get(option.root)
    if root is None:
        underlying, shares_per_contract = underlying_for_root(option.root), DEFAULT_SHARES_PER_CONTRACT
    else:
        underlying, shares_per_contract = root.underlying, root.shares_per_contract
    _check_premium(price, size, shares_per_contract)
    return Trade(
        option,
        underlying,
        shares_per_contract,
        float(price),
        size,
        exchange,
        conditions,
        timestamp,
        sequence,
        trade_date,
    )


def _check_premium(price: float, size: int, shares_per_contract: int) -> None:
    if not price * size * shares_per_contract < MAX_PREMIUM:
        premium = f"{price} × {size} × {shares_per_contract}"
        raise InvalidTrade("implausible_premium", f"premium {premium} is beyond any real print")


def trade_event(trade: Trade) -> dict:
    """The Polygon event a Trade was parsed from (the inverse of parse_trade), to judge it again."""
    event = {"ev": "T", "sym": trade.symbol, "x": trade.exchange, "p": trade.price, "s": trade.size}
    event |= {"c": list(trade.conditions), "t": trade.sip_timestamp}
    if trade.sequence is not None:
        event["q"] = trade.sequence
    return event


def _parse_conditions(raw: object) -> tuple[int, ...]:
    if raw is None:
        return ()
    if type(raw) is list:
        for code in raw:
            if type(code) is not int or not 0 <= code <= MAX_CONDITION:
                break
        else:
            return tuple(raw)
    raise InvalidTrade("bad_conditions", f"conditions 'c' must be a list of non-negative integers, got {shown(raw)}")


def price_size_floor(profiles: list[Profile], roots: dict[str, RootInfo]) -> float | None:
    """The price × size under which no profile's minimum premium can be met, even at the largest
    known multiplier; None when some profile has no minimum premium (then nothing is too small)."""
    minimums = [profile.min_premium for profile in profiles]
    if not minimums or None in minimums:
        return None
    largest_multiplier = max([DEFAULT_SHARES_PER_CONTRACT, *(root.shares_per_contract for root in roots.values())])
    return (min(m for m in minimums if m is not None) - 0.005) / largest_multiplier


def is_too_small(event: dict, price_size_floor: float) -> bool:
    """True for a well-formed print whose price × size is under the floor: it cannot be a hit.

    The fast path of the firehose: two lookups instead of a full parse. Anything odd about
    price or size answers False, so the full parse sees it and rejects it with a reason.
    """
    price, size = event.get("p"), event.get("s")
    return (
        (type(price) is float or type(price) is int)
        and type(size) is int
        and price > 0
        and size > 0
        and price * size < price_size_floor
    )


def with_contract(trade: Trade, underlying: str, shares_per_contract: int) -> Trade:
    """The trade as the contracts reference describes it (underlying, multiplier)."""
    if trade.underlying == underlying and trade.shares_per_contract == shares_per_contract:
        return trade
    _check_premium(trade.price, trade.size, shares_per_contract)
    return replace(trade, underlying=underlying, shares_per_contract=shares_per_contract)


def passes_trade_rules(trade: Trade, profile: Profile) -> bool:
    """The rules that need only the trade: ticker, size, premium, DTE, conditions."""
    tickers = profile.tickers
    if trade.underlying not in tickers and WILDCARD not in tickers:
        return False
    if profile.min_size is not None and trade.size < profile.min_size:
        return False
    # Unrounded premium against min − half a cent: the same answer as the rounded premium ≥ min,
    # without a round() per trade and profile.
    if profile.min_premium is not None and (
        trade.price * trade.size * trade.shares_per_contract < profile.min_premium - 0.005
    ):
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
    return size_and_strike_pass(trade.size, trade.option.strike_float, profile, reference)


def size_and_strike_pass(size: int, strike: float, profile: Profile, reference: Reference) -> bool:
    """The reference rules for a print's or an order's size and its contract's strike."""
    if profile.size_gt_open_interest and (reference.open_interest is None or size <= reference.open_interest):
        return False
    if profile.strike_band is not None:
        band = strike_band(reference, profile.strike_band)
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
