"""Polygon REST responses → the records of trades/domain/reference_data.py.

Every loader reads all it needs before returning (nothing is written here), and judges each item
on its own: a malformed item is logged, counted in ``issues`` by reason and skipped, never fatal,
and so is an item that raises what nobody foresaw. A record holds only what its columns can store
(trades/models.py): a count beyond PostgreSQL's integer, a ticker that is none, text with a NUL
is the item's fault, not the database's. What the network or the server does wrong (timeouts,
429/5xx after retries, non-200, a page that is not JSON) raises, so the caller keeps its old data.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from itertools import islice
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from polygon import RESTClient
from polygon.exceptions import BadResponse

from trades.domain import conditions
from trades.domain.occ import InvalidSymbol, parse_occ
from trades.domain.reference_data import ChainSnapshot, ConditionInfo, ContractInfo, DividendInfo, ExchangeInfo
from trades.domain.side import Quote
from trades.models import TICKER_PATTERN
from trades.polygon_rest.client import ReferenceDataError

logger = logging.getLogger(__name__)

CONTRACTS_PAGE_SIZE = 1000  # the endpoint's maximum
CHAIN_PAGE_SIZE = 250  # the endpoint's maximum
CONDITIONS_PAGE_SIZE = 1000
DIVIDENDS_PAGE_SIZE = 1000
MAX_DIVIDEND = 1_000_000
_DIVIDEND_PLACES = Decimal("0.000001")
MAX_ISSUES_LOGGED = 20
# Index options: the chain snapshot may want the index ticker ("I:SPX") rather than "SPX".
INDEX_UNDERLYINGS = frozenset({"SPX", "NDX", "RUT", "VIX", "XSP", "DJX", "OEX", "XEO"})
_PRICE_PLACES = Decimal("0.0001")
_MAX_PRICE = Decimal("9999999999.9999")  # Underlying.spot: max_digits=14, decimal_places=4
MAX_COUNT = 2_147_483_647  # PositiveIntegerField: PostgreSQL's integer
_TICKER = re.compile(TICKER_PATTERN)
_RIGHTS = {"call": "C", "put": "P"}
UNEXPECTED = "unexpected_error"  # an item raised what no check foresaw

T = TypeVar("T")


class MalformedItem(ValueError):
    """One item of a response that cannot become a record; ``reason`` says which check it failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class LoadIssues:
    """Items skipped while loading, counted by reason, with the first few messages (each one also logged)."""

    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)

    def skip(self, what: str, reason: str, item: object, *, key: str = "malformed") -> None:
        self.skipped += 1
        self.by_reason[key] += 1
        if self.skipped <= MAX_ISSUES_LOGGED:
            self.reasons.append(f"{what}: {reason}")
            logger.warning("skipped %s: %s: %.300r", what, reason, item)
        elif self.skipped == MAX_ISSUES_LOGGED + 1:
            logger.warning("skipping more malformed items (only the first %d are logged)", MAX_ISSUES_LOGGED)

    def counts(self) -> dict[str, Any]:
        """For a refresh's counts: how many were skipped and, if any, why."""
        if not self.skipped:
            return {"skipped": 0}
        return {"skipped": self.skipped, "skipped_by_reason": dict(self.by_reason)}


def parse_each(items: Iterable[Any], parse: Callable[[Any], T], what: str, issues: LoadIssues) -> Iterable[T]:
    """Each item parsed; one that is malformed, or raises anything else, is skipped and counted."""
    for item in items:
        try:
            yield parse(item)
        except MalformedItem as exc:
            issues.skip(what, str(exc), item, key=exc.reason)
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: not this item's fault
        except Exception as exc:  # a check nobody wrote yet: it costs this item, not the load
            issues.skip(what, f"{type(exc).__name__}: {exc}", item, key=UNEXPECTED)


def normalize_ticker(ticker: str) -> str:
    """Upper case, and Polygon's index form "I:SPX" as "SPX" (what watchlists and trades use)."""
    ticker = ticker.strip().upper()
    return ticker.removeprefix("I:")


# --- contracts -------------------------------------------------------------------------------


def load_contracts(client: RESTClient, underlying: str, issues: LoadIssues | None = None) -> list[ContractInfo]:
    """Every listed (unexpired) contract of the underlying, all pages; SPX lists SPXW too."""
    issues = issues if issues is not None else LoadIssues()
    items = client.list_options_contracts(underlying_ticker=underlying, expired=False, limit=CONTRACTS_PAGE_SIZE)
    contracts: dict[str, ContractInfo] = {}  # by symbol: a contract repeated across pages counts once
    for contract in parse_each(items, contract_from_reference, f"contract of {underlying}", issues):
        contracts[contract.symbol] = contract
    return list(contracts.values())


def load_contract(client: RESTClient, symbol: str) -> ContractInfo | None:
    """One contract by its OCC symbol, or None when Polygon's answer holds no usable contract."""
    item = client.get_options_contract(symbol)
    if not hasattr(item, "ticker"):  # the client returns [] for a body without "results"
        logger.warning("no contract in Polygon's answer for %s: %.300r", symbol, item)
        return None
    try:
        contract = contract_from_reference(item)
    except MalformedItem as exc:
        logger.warning("contract %s is malformed: %s: %.300r", symbol, exc, item)
        return None
    if contract.symbol != symbol:
        logger.warning("asked for contract %s, Polygon answered %s", symbol, contract.symbol)
        return None
    return contract


def contract_from_reference(item: Any) -> ContractInfo:
    """A ContractInfo from ``/v3/reference/options/contracts`` (underlying and multiplier as given)."""
    underlying = getattr(item, "underlying_ticker", None)
    ticker = normalize_ticker(underlying) if isinstance(underlying, str) else None
    if ticker is None or not _TICKER.fullmatch(ticker):
        raise MalformedItem("bad_underlying", f"underlying_ticker must be a ticker, got {underlying!r:.100}")
    return _contract(
        getattr(item, "ticker", None),
        ticker,
        getattr(item, "shares_per_contract", None),
        getattr(item, "expiration_date", None),
        getattr(item, "contract_type", None),
    )


def _contract(ticker: object, underlying: str, shares: object, expiration: object, kind: object) -> ContractInfo:
    try:
        option = parse_occ(ticker)
    except InvalidSymbol as exc:
        raise MalformedItem("bad_ticker", str(exc)) from None
    if expiration is not None and expiration != option.expiry.isoformat():
        raise MalformedItem(
            "bad_expiration_date", f"expiration_date {expiration!r:.100} disagrees with the symbol's {option.expiry}"
        )
    if kind is not None and (not isinstance(kind, str) or _RIGHTS.get(kind.lower()) != option.right):
        raise MalformedItem(
            "bad_contract_type", f"contract_type {kind!r:.100} disagrees with the symbol's {option.right}"
        )
    return ContractInfo(
        symbol=option.symbol,
        underlying=underlying,
        root=option.root,
        expiry=option.expiry,
        right=option.right,
        strike=option.strike,
        shares_per_contract=_shares(shares),
    )


def _shares(value: object) -> int:
    """shares_per_contract as given (adjusted contracts deliver other than 100): a positive whole number."""
    shares = _whole_number(value)
    if shares is None or not 0 < shares <= MAX_COUNT:
        raise MalformedItem(
            "bad_shares", f"shares_per_contract must be a whole number 1-{MAX_COUNT}, got {value!r:.100}"
        )
    return shares


def _whole_number(value: object) -> int | None:
    """10 or 10.0 (JSON numbers may come as floats); None for anything else, bools, NaN and inf included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _storable_text(value: object) -> str | None:
    """The text stripped, if a text column can hold it: PostgreSQL refuses NUL, UTF-8 has no lone surrogate."""
    if not isinstance(value, str) or "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value.strip()


# --- chain snapshot, spot, one contract's snapshot ----------------------------------------------


def load_chain(client: RESTClient, underlying: str, issues: LoadIssues | None = None) -> ChainSnapshot:
    """The whole chain snapshot, all pages: open interest, each contract's details, the spot."""
    issues = issues if issues is not None else LoadIssues()
    return chain_from_items(underlying, chain_items(client, underlying), issues)


def chain_items(client: RESTClient, underlying: str) -> list[Any]:
    """Every item of the underlying's chain snapshot, all pages, as the client returns them."""
    return _chain_items(client, underlying, CHAIN_PAGE_SIZE, first_page_only=False)


def load_spot(client: RESTClient, underlying: str) -> Decimal | None:
    """The underlying's price from the cheapest call an options plan allows: one contract's snapshot."""
    items = _chain_items(client, underlying, 1, first_page_only=True)
    return _underlying_price(items)


def load_contract_snapshot(client: RESTClient, contract: ContractInfo) -> ChainSnapshot:
    """One contract's snapshot as a one-contract chain: its open interest and the underlying's price.

    The contract itself comes from the contracts reference, which knows the underlying and the
    multiplier better than a snapshot's details do.
    """
    item = _contract_snapshot_item(client, contract)
    open_interest: dict[str, int] = {}
    if item is not None:
        try:
            found, interest = _chain_item(contract.underlying, item)
        except MalformedItem as exc:
            logger.warning("snapshot of %s is malformed: %s: %.300r", contract.symbol, exc, item)
        else:
            if found.symbol == contract.symbol and interest is not None:
                open_interest[contract.symbol] = interest
    price = _asset_price(item) if item is not None else None
    return ChainSnapshot(contract.underlying, price, open_interest, [contract])


def _contract_snapshot_item(client: RESTClient, contract: ContractInfo) -> Any | None:
    tickers = _snapshot_tickers(contract.underlying)
    for ticker in tickers:
        try:
            item = client.get_snapshot_option(ticker, contract.symbol)
        except BadResponse:
            if ticker == tickers[-1]:
                raise
            continue
        if hasattr(item, "details"):  # the client returns [] for a body without "results"
            return item
    return None


def chain_from_items(underlying: str, items: Iterable[Any], issues: LoadIssues) -> ChainSnapshot:
    underlying = normalize_ticker(underlying)
    open_interest: dict[str, int] = {}
    contracts: dict[str, ContractInfo] = {}
    price: Decimal | None = None
    day_volume: dict[str, int] = {}
    parse = partial(_chain_entry, underlying)
    for item, contract, interest in parse_each(items, parse, f"chain item of {underlying}", issues):
        contracts[contract.symbol] = contract
        if interest is not None:
            open_interest[contract.symbol] = interest
        volume = _day_volume(item)
        if volume is not None:
            day_volume[contract.symbol] = volume
        if price is None:
            price = _asset_price(item)
    if contracts and price is None:
        logger.warning("the chain snapshot of %s carries no underlying price Underlying.spot can hold", underlying)
    return ChainSnapshot(underlying, price, open_interest, list(contracts.values()), day_volume)


def _day_volume(item: Any) -> int | None:
    """The day bar's volume, if it is a count (a missing or odd one is unknown, never zero)."""
    volume = _whole_number(getattr(getattr(item, "day", None), "volume", None))
    return volume if volume is not None and 0 <= volume <= MAX_COUNT else None


def _chain_entry(underlying: str, item: Any) -> tuple[Any, ContractInfo, int | None]:
    return (item, *_chain_item(underlying, item))


def _chain_item(underlying: str, item: Any) -> tuple[ContractInfo, int | None]:
    details = getattr(item, "details", None)
    if details is None:
        raise MalformedItem("no_details", "no contract details")
    contract = _contract(
        getattr(details, "ticker", None),
        underlying,
        getattr(details, "shares_per_contract", None),
        getattr(details, "expiration_date", None),
        getattr(details, "contract_type", None),
    )
    return contract, _open_interest(getattr(item, "open_interest", None))


def _open_interest(value: object) -> int | None:
    if value is None:
        return None  # not reported: unknown, which is not zero
    interest = _whole_number(value)
    if interest is None or not 0 <= interest <= MAX_COUNT:
        raise MalformedItem(
            "bad_open_interest", f"open_interest must be a whole number 0-{MAX_COUNT}, got {value!r:.100}"
        )
    return interest


def _underlying_price(items: Iterable[Any]) -> Decimal | None:
    for item in items:
        price = _asset_price(item)
        if price is not None:
            return price
    return None


def _asset_price(item: Any) -> Decimal | None:
    """underlying_asset.price for stocks and ETFs, .value for indices; None if neither is a price
    that Underlying.spot can hold."""
    asset = getattr(item, "underlying_asset", None)
    for value in (getattr(asset, "price", None), getattr(asset, "value", None)):
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            try:
                price = Decimal(repr(value)).quantize(_PRICE_PLACES)
            except InvalidOperation:  # inf, nan, or more digits than the context holds
                continue
            if 0 < price <= _MAX_PRICE:
                return price
    return None


def _snapshot_tickers(underlying: str) -> list[str]:
    return [underlying, f"I:{underlying}"] if underlying in INDEX_UNDERLYINGS else [underlying]


def _chain_items(client: RESTClient, underlying: str, limit: int, *, first_page_only: bool) -> list[Any]:
    """The chain's items; for an index whose plain ticker yields nothing, its "I:" form."""
    tickers = _snapshot_tickers(underlying)
    for ticker in tickers:
        try:
            pages = client.list_snapshot_options_chain(ticker, params={"limit": limit})
            items = list(islice(pages, limit)) if first_page_only else list(pages)
        except BadResponse:
            if ticker == tickers[-1]:
                raise
            continue
        if items or ticker == tickers[-1]:
            return items
    return []


# --- conditions and exchanges ----------------------------------------------------------------


def load_dividends(
    client: RESTClient, ticker: str, first: date, last: date, issues: LoadIssues | None = None
) -> list[DividendInfo]:
    """The ticker's cash dividends with an ex-dividend date from ``first`` to ``last``."""
    issues = issues if issues is not None else LoadIssues()
    items = client.list_dividends(
        ticker=ticker, ex_dividend_date_gte=first, ex_dividend_date_lte=last, limit=DIVIDENDS_PAGE_SIZE
    )
    return list(parse_each(items, partial(_dividend, ticker), "dividend", issues))


def _dividend(ticker: str, item: Any) -> DividendInfo:
    if getattr(item, "ticker", ticker) != ticker:
        raise MalformedItem("other_ticker", f"listed for {getattr(item, 'ticker', None)!r}")
    ex_date = getattr(item, "ex_dividend_date", None)
    if not isinstance(ex_date, str):
        raise MalformedItem("no_ex_date", "no ex_dividend_date")
    try:
        day = date.fromisoformat(ex_date)
    except ValueError:
        raise MalformedItem("bad_ex_date", f"ex_dividend_date {ex_date!r} is not a date") from None
    cash: Any = getattr(item, "cash_amount", None)
    fits = _is_number(cash) and 0 <= cash < MAX_DIVIDEND  # Dividend.cash_amount: 12 digits, 6 after the point
    amount = Decimal(repr(cash)).quantize(_DIVIDEND_PLACES) if fits else None
    return DividendInfo(ticker, day, amount)


def load_conditions(client: RESTClient, issues: LoadIssues | None = None) -> list[ConditionInfo]:
    """Polygon's options trade conditions, each grouped by its name (trades.domain.conditions)."""
    issues = issues if issues is not None else LoadIssues()
    found: dict[int, ConditionInfo] = {}
    items = client.list_conditions(asset_class="options", limit=CONDITIONS_PAGE_SIZE)
    for condition in parse_each(items, _condition, "condition", issues):
        if condition is not None:
            found.setdefault(condition.code, condition)
    return list(found.values())


def _condition(item: Any) -> ConditionInfo | None:
    """The condition, or None for a quote condition (trades never carry it)."""
    data_types = getattr(item, "data_types", None)
    if isinstance(data_types, list) and "trade" not in data_types:
        return None
    code, name = _code(item), _name(item)
    return ConditionInfo(
        code=code,
        name=name,
        abbreviation=(_storable_text(getattr(item, "abbreviation", None)) or "")[:50],
        category=conditions.category_of(code, name),
    )


def _code(item: Any) -> int:
    """The item's id, as a PositiveIntegerField primary key can hold it."""
    code = getattr(item, "id", None)
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= MAX_COUNT:
        raise MalformedItem("bad_id", f"id must be an integer 0-{MAX_COUNT}, got {code!r:.100}")
    return code


def _name(item: Any) -> str:
    name = getattr(item, "name", None)
    text = _storable_text(name)
    if not text:
        raise MalformedItem("bad_name", f"name must be text without NUL characters, got {name!r:.100}")
    return text[:200]


def load_exchanges(client: RESTClient, issues: LoadIssues | None = None) -> list[ExchangeInfo]:
    issues = issues if issues is not None else LoadIssues()
    items = client.get_exchanges(asset_class="options")
    if not isinstance(items, list):
        raise ReferenceDataError(f"exchanges: expected a list of results, got {items!r:.200}")
    found: dict[int, ExchangeInfo] = {}
    for exchange in parse_each(items, _exchange, "exchange", issues):
        found.setdefault(exchange.id, exchange)
    return list(found.values())


def _exchange(item: Any) -> ExchangeInfo:
    return ExchangeInfo(
        id=_code(item),
        name=_name(item),
        acronym=(_storable_text(getattr(item, "acronym", None)) or "")[:50],
        mic=(_storable_text(getattr(item, "mic", None)) or "")[:10],
    )


# --- quotes ----------------------------------------------------------------------------------------


def load_quote(client: RESTClient, symbol: str, at_ns: int) -> Quote | None:
    """The latest NBBO at or before ``at_ns`` (``/v3/quotes/{ticker}``, newest first, one result);
    None if there is none. A quote whose fields are not prices is no quote."""
    items = client.list_quotes(symbol, timestamp_lte=at_ns, order="desc", sort="timestamp", limit=1)
    for item in items:
        return _quote(item)
    return None


def _quote(item: Any) -> Quote | None:
    bid, ask, at = (getattr(item, name, None) for name in ("bid_price", "ask_price", "sip_timestamp"))
    if not (_is_number(bid) and _is_number(ask) and type(at) is int):
        return None
    try:
        return Quote(Decimal(repr(bid)), Decimal(repr(ask)), at)
    except InvalidOperation:
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
