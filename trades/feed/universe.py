"""What the local feed's REST side lists: option contracts, their open interest and the underlyings.

Two sources: the synthetic flow's own universe (every contract it can print on the day, with a
seeded, heavy-tailed open interest), or a hand-written reference file (tests and tuning).
Field names are Polygon's, so the file reads like the API's answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import orjson

from trades.domain.calendar import new_york_date
from trades.domain.occ import InvalidSymbol, OptionSymbol, format_occ, parse_occ
from trades.feed.market import UnderlyingModel, listed_contracts, on_day, open_interest
from trades.feed.synthetic import SyntheticFlow, now_ms

# Index options: European, cash-settled, and the snapshot reports the index's ``value``.
INDEX_TICKERS = frozenset({"SPX", "NDX", "VIX", "RUT", "XSP", "DJX", "OEX", "XEO"})
DEFAULT_VOLATILITY = 0.30  # for reference-file contracts, which carry none
# Open interest, per underlying at the money, scaled by the underlying's relative print volume.


class ReferenceFileError(ValueError):
    """The reference file cannot be read or is not valid."""


@dataclass(frozen=True, slots=True)
class Underlying:
    ticker: str  # "SPY", "SPX"
    price: float  # spot, or an index's value
    is_index: bool = False
    volatility: float = DEFAULT_VOLATILITY


@dataclass(frozen=True, slots=True)
class Contract:
    """One listed contract, in Polygon's terms (``/v3/reference/options/contracts``)."""

    ticker: str  # "O:SPY251219C00650000"
    underlying_ticker: str
    expiration_date: date
    contract_type: str  # "call" or "put"
    strike_price: float
    shares_per_contract: int = 100
    exercise_style: str = "american"
    primary_exchange: str = "BATO"
    open_interest: int | None = None  # None: unknown (the snapshot leaves the field out)
    additional_underlyings: tuple[dict[str, Any], ...] = ()
    cfi: str = ""  # empty: derived from the other fields

    def __post_init__(self) -> None:
        if not self.cfi:
            object.__setattr__(self, "cfi", derive_cfi(self))


def derive_cfi(contract: Contract) -> str:
    """ISO 10962 CFI: option, call/put, American/European, stock/index, physical/cash, standard or not."""
    right = "C" if contract.contract_type == "call" else "P"
    style = "E" if contract.exercise_style == "european" else "A"
    asset, delivery = ("I", "C") if contract.underlying_ticker in INDEX_TICKERS else ("S", "P")
    standard = "S" if contract.shares_per_contract == 100 and not contract.additional_underlyings else "N"
    return f"O{right}{style}{asset}{delivery}{standard}"


class Reference(Protocol):
    def universe(self) -> Universe:
        """The contracts and underlyings to serve now."""
        ...


class Universe:
    """A fixed set of contracts and underlyings; ``as_of`` decides which contracts have expired
    (None: none has)."""

    def __init__(
        self, underlyings: Iterable[Underlying] = (), contracts: Iterable[Contract] = (), as_of: date | None = None
    ) -> None:
        self.underlyings = {underlying.ticker: underlying for underlying in underlyings}
        self.contracts = sorted(contracts, key=lambda contract: contract.ticker)
        self.as_of = as_of
        self._by_ticker = {contract.ticker: contract for contract in self.contracts}
        self._chains: dict[str, list[Contract]] = {}
        for contract in self.contracts:
            self._chains.setdefault(contract.underlying_ticker, []).append(contract)

    def universe(self) -> Universe:
        return self

    def contract(self, ticker: str) -> Contract | None:
        return self._by_ticker.get(ticker)

    def underlying(self, ticker: str) -> Underlying | None:
        return self.underlyings.get(ticker)

    def chain(self, underlying: str) -> list[Contract]:
        """The underlying's contracts, by ticker."""
        return self._chains.get(underlying, [])

    def __str__(self) -> str:
        return f"{len(self.contracts)} contracts on {len(self.underlyings)} underlyings"


# --- The synthetic flow's universe --------------------------------------------------------


class SyntheticReference:
    """The synthetic flow's universe for its trading day (today in New York, or the day of its
    ``start_ms``), built once per day."""

    def __init__(self, flow: SyntheticFlow) -> None:
        self.flow = flow
        self._built: Universe | None = None

    def trade_date(self) -> date:
        return new_york_date(self.flow.start_ms if self.flow.start_ms is not None else now_ms())

    def universe(self) -> Universe:
        trade_date = self.trade_date()
        if self._built is None or self._built.as_of != trade_date:
            self._built = synthetic_universe(self.flow.underlyings, self.flow.seed, trade_date)
        return self._built

    def __str__(self) -> str:
        return f"the synthetic flow's {self.universe()}"


def synthetic_universe(underlyings: Sequence[UnderlyingModel], seed: int, trade_date: date) -> Universe:
    """Every contract the synthetic flow can print on ``trade_date``, with seeded open interest."""
    models = [on_day(model, trade_date) for model in underlyings]
    contracts = [
        synthetic_contract(model, expiry, right, strike, trade_date, seed)
        for model in models
        for expiry, right, strike in listed_contracts(model, trade_date)
    ]
    return Universe((synthetic_underlying(model) for model in models), contracts, as_of=trade_date)


def synthetic_underlying(model: UnderlyingModel) -> Underlying:
    return Underlying(model.ticker, model.spot, model.ticker in INDEX_TICKERS, model.volatility)


def synthetic_contract(
    model: UnderlyingModel, expiry: date, right: str, strike: float, trade_date: date, seed: int
) -> Contract:
    ticker = format_occ(model.root, expiry, right, strike)
    index = model.ticker in INDEX_TICKERS
    return Contract(
        ticker=ticker,
        underlying_ticker=model.ticker,
        expiration_date=expiry,
        contract_type="call" if right == "C" else "put",
        strike_price=strike,
        exercise_style="european" if index else "american",
        primary_exchange="XCBO" if index else "BATO",
        open_interest=open_interest(model, expiry, right, strike, trade_date, seed),
    )


# --- A reference file ----------------------------------------------------------------------


def load_reference_file(path: Path | str) -> Universe:
    """A hand-written universe: ``{"as_of"?: "YYYY-MM-DD", "underlyings": {"SPY": {"price": 600.0},
    "SPX": {"value": 5900.5}}, "contracts": [{"ticker", "underlying_ticker", "expiration_date",
    "contract_type", "strike_price", "shares_per_contract"?, "open_interest"?, ...}]}``.

    Raises ReferenceFileError with what is wrong and where.
    """
    path = Path(path)
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ReferenceFileError(f"reference file {path}: cannot read it ({exc.strerror or exc})") from None
    except orjson.JSONDecodeError as exc:
        raise ReferenceFileError(f"reference file {path}: not JSON ({exc})") from None
    try:
        return parse_reference(document)
    except ReferenceFileError as exc:
        raise ReferenceFileError(f"reference file {path}: {exc}") from None


def parse_reference(document: object) -> Universe:
    if not isinstance(document, dict):
        raise ReferenceFileError("expected an object with 'underlyings' and 'contracts'")
    unknown = set(document) - {"as_of", "underlyings", "contracts"}
    if unknown:
        raise ReferenceFileError(f"unknown keys {sorted(unknown)}; expected as_of, underlyings, contracts")
    as_of = parse_date(document["as_of"], "as_of") if document.get("as_of") is not None else None
    underlyings = parse_underlyings(document.get("underlyings"))
    contracts = parse_contracts(document.get("contracts"), underlyings)
    return Universe(underlyings.values(), contracts, as_of=as_of)


def parse_underlyings(section: object) -> dict[str, Underlying]:
    if not isinstance(section, dict) or not section:
        raise ReferenceFileError('\'underlyings\' must be a non-empty object, e.g. {"SPY": {"price": 600.0}}')
    return {ticker: parse_underlying(ticker, fields) for ticker, fields in section.items()}


def parse_underlying(ticker: str, fields: object) -> Underlying:
    where = f"underlyings.{ticker}"
    if not ticker or not isinstance(fields, dict):
        raise ReferenceFileError(f'{where}: expected an object like {{"price": 600.0}} or {{"value": 5900.5}}')
    given = [key for key in ("price", "value") if key in fields]
    if len(given) != 1 or set(fields) != set(given):
        raise ReferenceFileError(f"{where}: give exactly one of 'price' (a stock or ETF) or 'value' (an index)")
    return Underlying(ticker, positive_number(fields[given[0]], f"{where}.{given[0]}"), is_index=given[0] == "value")


def parse_contracts(section: object, underlyings: dict[str, Underlying]) -> list[Contract]:
    if not isinstance(section, list):
        raise ReferenceFileError("'contracts' must be a list of contracts")
    contracts: dict[str, Contract] = {}
    for number, fields in enumerate(section):
        where = f"contracts[{number}]"
        contract = parse_contract(fields, where)
        if contract.ticker in contracts:
            raise ReferenceFileError(f"{where}: {contract.ticker} is listed twice")
        if contract.underlying_ticker not in underlyings:
            raise ReferenceFileError(f"{where}: underlying {contract.underlying_ticker!r} is not in 'underlyings'")
        contracts[contract.ticker] = contract
    return list(contracts.values())


EXERCISE_STYLES = ("american", "european", "bermudan")
CONTRACT_REQUIRED = ("ticker", "underlying_ticker", "expiration_date", "contract_type", "strike_price")
CONTRACT_OPTIONAL = (
    "shares_per_contract",
    "open_interest",
    "exercise_style",
    "primary_exchange",
    "additional_underlyings",
    "cfi",
)


def parse_contract(fields: object, where: str) -> Contract:
    if not isinstance(fields, dict):
        raise ReferenceFileError(f"{where}: expected an object")
    missing = [key for key in CONTRACT_REQUIRED if key not in fields]
    unknown = set(fields) - set(CONTRACT_REQUIRED) - set(CONTRACT_OPTIONAL)
    if missing or unknown:
        raise ReferenceFileError(f"{where}: missing {missing}, unknown {sorted(unknown)}")
    symbol = parse_ticker(fields["ticker"], f"{where}.ticker")
    expiry = parse_date(fields["expiration_date"], f"{where}.expiration_date")
    strike = positive_number(fields["strike_price"], f"{where}.strike_price")
    check_agrees(symbol, expiry, fields["contract_type"], strike, where)
    underlying = text(fields["underlying_ticker"], f"{where}.underlying_ticker")
    style, exchange = ("european", "XCBO") if underlying in INDEX_TICKERS else ("american", "BATO")
    return Contract(
        ticker=symbol.symbol,
        underlying_ticker=underlying,
        expiration_date=expiry,
        contract_type=fields["contract_type"],
        strike_price=strike,
        shares_per_contract=positive_int(fields.get("shares_per_contract", 100), f"{where}.shares_per_contract"),
        exercise_style=choice(fields.get("exercise_style", style), EXERCISE_STYLES, f"{where}.exercise_style"),
        primary_exchange=text(fields.get("primary_exchange", exchange), f"{where}.primary_exchange"),
        open_interest=parse_open_interest(fields.get("open_interest"), f"{where}.open_interest"),
        additional_underlyings=parse_additional(
            fields.get("additional_underlyings"), f"{where}.additional_underlyings"
        ),
        cfi=text(fields["cfi"], f"{where}.cfi") if "cfi" in fields else "",
    )


def parse_ticker(value: object, where: str) -> OptionSymbol:
    try:
        return parse_occ(value)
    except InvalidSymbol as exc:
        raise ReferenceFileError(f"{where}: {exc}") from None


def check_agrees(symbol: OptionSymbol, expiry: date, contract_type: object, strike: float, where: str) -> None:
    """The fields must say what the OCC symbol says (a typo in either is caught here)."""
    expected_type = "call" if symbol.right == "C" else "put"
    if (expiry, contract_type, format_occ(symbol.root, expiry, symbol.right, strike)) != (
        symbol.expiry,
        expected_type,
        symbol.symbol,
    ):
        raise ReferenceFileError(
            f"{where}: expiration_date, contract_type and strike_price must agree with {symbol.symbol} "
            f"({symbol.expiry}, {expected_type}, {symbol.strike_float:g})"
        )


def parse_date(value: object, where: str) -> date:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ReferenceFileError(f"{where}: expected a date as YYYY-MM-DD, got {value!r}")


def positive_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ReferenceFileError(f"{where}: expected a number above 0, got {value!r}")
    return float(value)


def positive_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ReferenceFileError(f"{where}: expected a whole number of 1 or more, got {value!r}")
    return value


def parse_open_interest(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReferenceFileError(f"{where}: expected a whole number of 0 or more, or null, got {value!r}")
    return value


def choice(value: object, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ReferenceFileError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
    return str(value)


def text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ReferenceFileError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def parse_additional(value: object, where: str) -> tuple[dict[str, Any], ...]:
    """Polygon's ``additional_underlyings``: ``[{"type": "equity", "underlying": "AMC", "amount": 10}]``."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ReferenceFileError(f'{where}: expected a list of objects such as {{"type": "equity", ...}}')
    return tuple(value)
