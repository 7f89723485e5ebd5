"""Reference data as the loaders hand it over: plain records, parsed and validated.

The REST loaders (trades/polygon_rest/) turn Polygon's responses into these; the services store
them. Nothing here knows about HTTP or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from trades.domain import conditions


@dataclass(frozen=True)
class ContractInfo:
    """One listed contract (``/v3/reference/options/contracts``)."""

    symbol: str  # "O:AAPL251220C00190000"
    underlying: str  # "AAPL"; "SPX" for SPXW, "AMC" for AMC1
    root: str  # from the symbol
    expiry: date
    right: str  # "C" or "P"
    strike: Decimal
    shares_per_contract: int


@dataclass(frozen=True)
class ChainSnapshot:
    """One underlying's options chain snapshot (``/v3/snapshot/options/{underlying}``)."""

    underlying: str
    underlying_price: Decimal | None  # spot (or an index's value); None if the snapshot had none
    open_interest: dict[str, int]  # symbol → open interest, for contracts that reported one
    contracts: list[ContractInfo]  # the details each result carried
    day_volume: dict[str, int] = field(default_factory=dict)  # symbol → the day's volume so far, where reported


@dataclass(frozen=True)
class ConditionInfo:
    code: int
    name: str
    abbreviation: str
    category: str  # one of conditions.CATEGORIES


@dataclass(frozen=True)
class ExchangeInfo:
    id: int
    name: str
    acronym: str
    mic: str


@dataclass(frozen=True)
class DividendInfo:
    """One cash dividend (``/v3/reference/dividends``): deep in-the-money calls are exercised for it."""

    ticker: str
    ex_dividend_date: date
    cash_amount: Decimal | None


def strike_range(contracts: list[ContractInfo]) -> tuple[Decimal, Decimal] | None:
    """The listed strikes' [min, max] of one underlying, for the strike band."""
    strikes = [contract.strike for contract in contracts]
    return (min(strikes), max(strikes)) if strikes else None


def condition_category(code: int, name: str) -> str:
    """Which of flowsite's condition groups a live condition belongs to, by its name."""
    return conditions.category_of(code, name)
