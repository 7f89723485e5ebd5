"""Polygon's REST API, the part flowsite calls, served from a Reference.

``GET /v3/reference/options/contracts[/{ticker}]``, ``/v3/snapshot/options/{underlying}[/{ticker}]``,
``/v3/reference/conditions``, ``/v3/reference/exchanges``, ``/v3/reference/dividends``,
``/v3/trades/{ticker}`` (the trade log)
and ``/v3/quotes/{ticker}`` (the synthetic flow's NBBO, quotes.py): the paths, parameters, paging
(``next_url`` with a ``cursor``), key check and JSON shapes of polygon-api-client 1.16.3's
``RESTClient``. Pure: a request target and headers in, a status and a JSON body out.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import operator
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from trades.domain.calendar import new_york_date
from trades.domain.occ import parse_occ
from trades.feed.dividends import dividend_json, ex_dividend_dates
from trades.feed.history import History
from trades.feed.quotes import QuoteBook, QuoteTick
from trades.feed.reference_data import OPTIONS_CONDITIONS, OPTIONS_EXCHANGES
from trades.feed.snapshot import SYNTHETIC, Trading, contract_snapshot, number
from trades.feed.trade_log import MAX_MS, NS_PER_MS, LoggedTrade, TradeLog, day_bounds_ns
from trades.feed.universe import Contract, Reference, Universe

log = logging.getLogger("trades.feed")

T = TypeVar("T")
Query = dict[str, str]
Field = tuple[Callable[[Any], Any], Callable[[str], Any]]  # how to read it from an item, how to parse the parameter

CONTRACT_LIMITS = (10, 1000)  # (default, maximum) per page
SNAPSHOT_LIMITS = (10, 250)
CONDITION_LIMITS = (10, 1000)
TRADE_LIMITS = (1000, 50000)
QUOTE_LIMITS = (1000, 50000)
AGGS_LIMITS = (5000, 50000)
OPEN_INTEREST_LIMITS = (1000, 50000)
DIVIDEND_LIMITS = (10, 1000)
# The latest time both a calendar can place and a timestamp parameter (19 digits) can say: a
# next_url never holds a bound its own API refuses.
LAST_NS = min(MAX_MS * NS_PER_MS, 10**19 - 1)
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


@dataclass(frozen=True, slots=True)
class RestResponse:
    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class RestFaults:
    """Faults the REST side injects (tests, demos of a bad day): the next ``server_errors``
    requests are answered 503, then the next ``rate_limited`` 429 with ``Retry-After``."""

    rate_limited: int = 0
    retry_after: float = 1.0
    server_errors: int = 0
    injected: int = 0

    def answer(self, request_id: str) -> RestResponse | None:
        if self.server_errors > 0:
            self.server_errors -= 1
            self.injected += 1
            return RestResponse(503, {"status": "ERROR", "request_id": request_id, "error": "service unavailable"})
        if self.rate_limited > 0:
            self.rate_limited -= 1
            self.injected += 1
            body = {"status": "ERROR", "request_id": request_id, "error": "You've exceeded the maximum requests"}
            return RestResponse(429, body, (("Retry-After", f"{self.retry_after:g}"),))
        return None


class ApiError(Exception):
    """An answer other than 200: its HTTP status, Polygon's ``status`` and the message."""

    def __init__(self, http_status: int, status: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.message = message

    def body(self, request_id: str) -> dict[str, Any]:
        detail = "message" if self.status in ("NOT_FOUND", "NOT_AUTHORIZED") else "error"
        return {"status": self.status, "request_id": request_id, detail: self.message}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "ERROR", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


# --- Parameters --------------------------------------------------------------------------


def parse_date(text: str) -> date:
    return date.fromisoformat(text)


def parse_bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(text)
    return text == "true"


def parse_contract_type(text: str) -> str:
    if text not in ("call", "put"):
        raise ValueError(text)
    return text


def parameter(query: Query, key: str, parse: Callable[[str], T], default: T) -> T:
    if key not in query:
        return default
    try:
        return parse(query[key])
    except ValueError:
        raise bad_request(f"invalid value for {key}: {query[key]!r}") from None


def filters(query: Query, fields: Mapping[str, Field]) -> list[Callable[[Any], bool]]:
    """``field``, ``field.gt``, ``.gte``, ``.lt``, ``.lte`` parameters as predicates."""
    predicates = []
    for key in query:
        name, _, suffix = key.partition(".")
        if name not in fields:
            continue
        if suffix not in OPERATORS:
            raise bad_request(f"unsupported filter {key}: use {name}, {name}.gt, .gte, .lt or .lte")
        read, parse = fields[name]
        predicates.append(predicate(read, OPERATORS[suffix], parameter(query, key, parse, None)))
    return predicates


def predicate(read: Callable[[Any], Any], compare: Callable[[Any, Any], bool], wanted: Any) -> Callable[[Any], bool]:
    return lambda item: compare(read(item), wanted)


def select(items: Sequence[T], predicates: list[Callable[[T], bool]]) -> list[T]:
    return [item for item in items if all(predicate(item) for predicate in predicates)]


def sort_items(items: list[T], query: Query, keys: Mapping[str, Callable[[T], Any]], default: str) -> list[T]:
    sort = query.get("sort", default)
    if sort not in keys:
        raise bad_request(f"invalid value for sort: {sort!r}; one of {', '.join(keys)}")
    order = query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise bad_request(f"invalid value for order: {order!r}; asc or desc")
    return sorted(items, key=keys[sort], reverse=order == "desc")


def page_limit(query: Query, limits: tuple[int, int]) -> int:
    """``limit`` (default and maximum per endpoint); above the maximum is the maximum."""
    default, maximum = limits
    limit = parameter(query, "limit", int, default)
    if limit < 1:
        raise bad_request(f"invalid value for limit: {limit}; 1 to {maximum}")
    return min(limit, maximum)


# --- Paging: the cursor carries the query and the offset -----------------------------------


def pack_cursor(fields: Query) -> str:
    return base64.urlsafe_b64encode(urlencode(sorted(fields.items())).encode()).decode()


def unpack_cursor(cursor: str) -> Query:
    try:
        return dict(parse_qsl(base64.urlsafe_b64decode(cursor.encode()).decode(), keep_blank_values=True))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("invalid cursor") from None


def encode_cursor(query: Query, offset: int) -> str:
    return pack_cursor({**query, "offset": str(offset)})


def resolve_cursor(query: Query) -> tuple[Query, int]:
    """The query to answer and the offset to start at: from ``cursor`` when there is one."""
    if "cursor" not in query:
        return query, 0
    decoded = unpack_cursor(query["cursor"])
    try:
        offset = int(decoded.pop("offset"))
    except (KeyError, ValueError):
        raise bad_request("invalid cursor") from None
    return decoded, offset


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    next_url: str | None


def paginate(items: Sequence[T], query: Query, offset: int, limits: tuple[int, int], url: str) -> Page:
    limit = page_limit(query, limits)
    end = offset + limit
    next_url = f"{url}?{urlencode({'cursor': encode_cursor(query, end)})}" if end < len(items) else None
    return Page(list(items[offset:end]), next_url)


# --- Trades: a window of SIP time, newest first unless asked, paged by the last trade's key --


NANOSECONDS = re.compile(r"[0-9]{1,19}")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# How each ``timestamp`` parameter bounds the window, given the value's first and last nanosecond.
TIMESTAMP_BOUNDS: dict[str, Callable[[int, int], tuple[int | None, int | None]]] = {
    "": lambda first, last: (first, last),
    "gt": lambda first, last: (last + 1, None),
    "gte": lambda first, last: (first, None),
    "lt": lambda first, last: (None, first - 1),
    "lte": lambda first, last: (None, last),
}


def parse_timestamp(text: str) -> tuple[int, int]:
    """Nanoseconds since the epoch as (it, it); a YYYY-MM-DD date as its New York day's first and last ns."""
    if NANOSECONDS.fullmatch(text):
        return int(text), int(text)
    if not DAY.fullmatch(text):
        raise ValueError(text)
    try:
        return day_bounds_ns(date.fromisoformat(text))
    except OverflowError:  # the last day a date can hold has no next midnight
        raise ValueError(text) from None


def timestamp_window(query: Query) -> tuple[int | None, int | None]:
    """The inclusive (start, end) in ns that ``timestamp``, ``timestamp.gt`` (...) allow; None is open."""
    start: int | None = None
    end: int | None = None
    for key in query:
        name, _, suffix = key.partition(".")
        if name != "timestamp":
            continue
        if suffix not in TIMESTAMP_BOUNDS:
            raise bad_request(f"unsupported filter {key}: use timestamp, timestamp.gt, .gte, .lt or .lte")
        low, high = TIMESTAMP_BOUNDS[suffix](*parameter(query, key, parse_timestamp, (0, 0)))
        if low is not None:
            start = low if start is None else max(start, low)
        if high is not None:
            end = high if end is None else min(end, high)
    return start, end


def newest_first(query: Query) -> bool:
    """Whether newest first (Polygon's default for trades and quotes)."""
    if query.get("sort", "timestamp") != "timestamp":
        raise bad_request(f"invalid value for sort: {query['sort']!r}; timestamp")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request(f"invalid value for order: {order!r}; asc or desc")
    return order == "desc"


def resolve_trade_cursor(query: Query) -> tuple[Query, tuple[int, int] | None]:
    """The query to answer and the key of the last trade already served: from ``cursor`` when there is one."""
    if "cursor" not in query:
        return query, None
    decoded = unpack_cursor(query["cursor"])
    sip_timestamp, _, ordinal = decoded.pop("after", "").partition(".")
    try:
        return decoded, (int(sip_timestamp), int(ordinal))
    except ValueError:
        raise bad_request("invalid cursor") from None


def trade_cursor(query: Query, last: LoggedTrade) -> str:
    return pack_cursor({**query, "after": f"{last.sip_timestamp}.{last.ordinal}"})


# --- Quotes: like trades, in a window that always has two ends -----------------------------


def quote_window(start: int | None, end: int | None, now_ns: int) -> tuple[int, int]:
    """The window with both ends: an open end stops at the edge of the other end's New York day
    (with no end at all: today up to now), so that any query pages over a bounded series."""
    start, end = within_calendar(start), within_calendar(end)
    if end is None:
        end = now_ns if start is None else day_bounds_ns(new_york_date(start // NS_PER_MS))[1]
    if start is None:
        start = day_bounds_ns(new_york_date(end // NS_PER_MS))[0]
    return start, min(end, LAST_NS)


def within_calendar(ns: int | None) -> int | None:
    return None if ns is None else min(max(ns, 0), LAST_NS)


def resolve_quote_cursor(query: Query) -> tuple[Query, int | None]:
    """The query to answer and the time of the last quote already served: from ``cursor`` when there is one."""
    if "cursor" not in query:
        return query, None
    decoded = unpack_cursor(query["cursor"])
    try:
        return decoded, int(decoded.pop("after", ""))
    except ValueError:
        raise bad_request("invalid cursor") from None


def quote_cursor(query: Query, start: int, end: int, last: QuoteTick) -> str:
    """The next page's query: the window as resolved now (an open end must not move), after ``last``."""
    fixed = {key: value for key, value in query.items() if key.partition(".")[0] != "timestamp"}
    window = {"timestamp.gte": str(start), "timestamp.lte": str(end), "after": str(last.sip_timestamp)}
    return pack_cursor({**fixed, **window})


# --- Shapes --------------------------------------------------------------------------------


def contract_json(contract: Contract) -> dict[str, Any]:
    """One result of ``/v3/reference/options/contracts``."""
    result: dict[str, Any] = {}
    if contract.additional_underlyings:
        result["additional_underlyings"] = list(contract.additional_underlyings)
    result.update(
        cfi=contract.cfi,
        contract_type=contract.contract_type,
        exercise_style=contract.exercise_style,
        expiration_date=contract.expiration_date.isoformat(),
        primary_exchange=contract.primary_exchange,
        shares_per_contract=contract.shares_per_contract,
        strike_price=number(contract.strike_price),
        ticker=contract.ticker,
        underlying_ticker=contract.underlying_ticker,
    )
    return result


def trade_json(trade: LoggedTrade) -> dict[str, Any]:
    """One result of ``/v3/trades/{optionsTicker}``: options trades carry no id and no sequence number."""
    # The stream carries no exchange time: the SIP's stands in for participant_timestamp.
    return {**trade.as_json(), "participant_timestamp": trade.sip_timestamp}


CONTRACT_FIELDS: dict[str, Field] = {
    "underlying_ticker": (lambda c: c.underlying_ticker, str),
    "contract_type": (lambda c: c.contract_type, parse_contract_type),
    "expiration_date": (lambda c: c.expiration_date, parse_date),
    "strike_price": (lambda c: c.strike_price, float),
}
CONTRACT_SORTS: dict[str, Callable[[Contract], Any]] = {
    "ticker": lambda c: c.ticker,
    "underlying_ticker": lambda c: c.underlying_ticker,
    "expiration_date": lambda c: c.expiration_date,
    "strike_price": lambda c: c.strike_price,
}
SNAPSHOT_FIELDS = {name: CONTRACT_FIELDS[name] for name in ("contract_type", "expiration_date", "strike_price")}
SNAPSHOT_SORTS = {name: CONTRACT_SORTS[name] for name in ("ticker", "expiration_date", "strike_price")}
CONDITION_FIELDS: dict[str, Field] = {
    "asset_class": (lambda c: c["asset_class"], str),
    "id": (lambda c: c["id"], int),
}
CONDITION_SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id": lambda c: c["id"],
    "name": lambda c: c["name"],
    "type": lambda c: c["type"],
    "asset_class": lambda c: c["asset_class"],
}


# --- The API -------------------------------------------------------------------------------


class RestApi:
    """Answers Polygon REST requests from ``reference``'s universe and the feed's ``trade_log``
    (None: trades are not served, as to a plan without them); ``api_key`` guards every one.

    Snapshots take a contract's last trade and day bar from the log when it has its trades.
    Otherwise they are synthetic, placed before the log's first trade so that "which contracts
    traded since a" (``last_trade.sip_timestamp >= a``) finds only logged ones; or, when the log
    is complete (``log_is_complete``: a tape's), there is no last trade and the day's volume is 0.
    """

    def __init__(
        self,
        reference: Reference,
        api_key: str,
        trade_log: TradeLog | None = None,
        log_is_complete: bool = False,
        quotes: QuoteBook | None = None,
        history: History | None = None,
        not_entitled: frozenset[str] = frozenset(),
        faults: RestFaults | None = None,
    ) -> None:
        self.reference = reference
        self.api_key = api_key
        self.trade_log = trade_log
        self.log_is_complete = log_is_complete
        self.quotes = quotes
        self.history = history
        self.not_entitled = not_entitled  # endpoint names (``list_trades``...) answered 403, as to a smaller plan
        self.faults = faults
        self.routes: list[tuple[re.Pattern[str], Callable[..., dict[str, Any]]]] = [
            (re.compile(r"/v3/reference/options/contracts"), self.list_contracts),
            (re.compile(r"/v3/reference/options/contracts/(?P<ticker>[^/]+)"), self.get_contract),
            (re.compile(r"/v3/snapshot/options/(?P<underlying>[^/]+)"), self.chain_snapshot),
            (re.compile(r"/v3/snapshot/options/(?P<underlying>[^/]+)/(?P<ticker>[^/]+)"), self.contract_snapshot),
            (re.compile(r"/v3/reference/conditions"), self.list_conditions),
            (re.compile(r"/v3/reference/exchanges"), self.list_exchanges),
            (re.compile(r"/v3/trades/(?P<ticker>[^/]+)"), self.list_trades),
            (re.compile(r"/v3/quotes/(?P<ticker>[^/]+)"), self.list_quotes),
            (
                re.compile(
                    r"/v2/aggs/ticker/(?P<ticker>[^/]+)/range/(?P<multiplier>[0-9]+)/(?P<timespan>[a-z]+)"
                    r"/(?P<start>[^/]+)/(?P<end>[^/]+)"
                ),
                self.list_aggs,
            ),
            (re.compile(r"/options/v1/open-interest"), self.list_open_interest),
            (re.compile(r"/v3/reference/dividends"), self.list_dividends),
        ]

    def handle(self, target: str, authorization: str | None, base_url: str) -> RestResponse:
        """Answer ``GET target`` (path and query); ``base_url`` (``http://host:port``) prefixes next_url."""
        request_id = uuid.uuid4().hex
        try:
            path, query = split_target(target)
            self.authenticate(query, authorization)
            fault = self.faults.answer(request_id) if self.faults is not None else None
            if fault is not None:
                return fault
            body = self.route(path, query, base_url)
        except ApiError as exc:
            return RestResponse(exc.http_status, exc.body(request_id))
        except Exception:
            log.exception("REST %s failed", target)
            return RestResponse(500, {"status": "ERROR", "request_id": request_id, "error": "internal error"})
        return RestResponse(200, ok_body(body, request_id))

    def authenticate(self, query: Query, authorization: str | None) -> None:
        key = query.pop("apiKey", None)
        if key is None and authorization is not None and authorization.startswith("Bearer "):
            key = authorization.removeprefix("Bearer ")
        if key is None:
            raise ApiError(401, "ERROR", "API Key was not provided")
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise ApiError(401, "ERROR", "Unknown API Key")

    def route(self, path: str, query: Query, base_url: str) -> dict[str, Any]:
        for pattern, endpoint in self.routes:
            found = pattern.fullmatch(path)
            if found is not None and endpoint.__name__ in self.not_entitled:
                raise ApiError(403, "NOT_AUTHORIZED", "You are not entitled to this data. Please upgrade your plan.")
            if found is not None:
                arguments = {name: unquote(value) for name, value in found.groupdict().items()}
                return endpoint(query=query, url=base_url + path, **arguments)
        raise not_found(f"no such endpoint: {path}")

    # --- Contracts ---

    def list_contracts(self, query: Query, url: str) -> dict[str, Any]:
        query, offset = resolve_cursor(query)
        universe = self.reference.universe()
        as_of = parameter(query, "as_of", parse_date, universe.as_of)
        expired = parameter(query, "expired", parse_bool, False)
        if self.history is not None and as_of is not None and self.history.covers(as_of):
            universe = self.history.universe(as_of)  # a past day: the contracts listed then
        underlying = query.get("underlying_ticker")
        candidates = universe.chain(underlying) if underlying is not None else universe.contracts
        contracts = [contract for contract in candidates if is_expired(contract, as_of) == expired]
        contracts = sort_items(select(contracts, filters(query, CONTRACT_FIELDS)), query, CONTRACT_SORTS, "ticker")
        page = paginate(contracts, query, offset, CONTRACT_LIMITS, url)
        return {"results": [contract_json(contract) for contract in page.items], "next_url": page.next_url}

    def get_contract(self, query: Query, url: str, ticker: str) -> dict[str, Any]:
        contract = self.reference.universe().contract(ticker)
        if contract is None:
            raise not_found(f"no options contract {ticker}")
        return {"results": contract_json(contract)}

    # --- Snapshots ---

    def chain_snapshot(self, query: Query, url: str, underlying: str) -> dict[str, Any]:
        query, offset = resolve_cursor(query)
        universe = self.reference.universe()
        ticker = underlying.removeprefix("I:")
        live = [contract for contract in universe.chain(ticker) if not is_expired(contract, universe.as_of)]
        contracts = sort_items(select(live, filters(query, SNAPSHOT_FIELDS)), query, SNAPSHOT_SORTS, "ticker")
        page = paginate(contracts, query, offset, SNAPSHOT_LIMITS, url)
        return {"results": self.snapshots(universe, page.items), "next_url": page.next_url}

    def contract_snapshot(self, query: Query, url: str, underlying: str, ticker: str) -> dict[str, Any]:
        universe = self.reference.universe()
        contract = universe.contract(ticker)
        if contract is None or contract.underlying_ticker != underlying.removeprefix("I:"):
            raise not_found(f"no options contract {ticker} on {underlying}")
        return {"results": self.snapshots(universe, [contract])[0]}

    def snapshots(self, universe: Universe, contracts: Sequence[Contract]) -> list[dict[str, Any]]:
        as_of = universe.as_of or new_york_date(time.time_ns() // 1_000_000)
        now_ns = time.time_ns()
        started_ns = self.trade_log.started_ns() if self.trade_log is not None else None
        results = []
        for contract in contracts:
            underlying = universe.underlying(contract.underlying_ticker)
            if underlying is not None:
                trading = self.trading(contract.ticker, started_ns)
                quote = self.quotes.day_quote(contract.ticker, as_of) if self.quotes is not None else None
                results.append(contract_snapshot(contract, underlying, as_of, now_ns, trading, quote))
        return results

    def trading(self, ticker: str, started_ns: int | None) -> Trading:
        if self.trade_log is None:
            return SYNTHETIC
        logged = self.trade_log.day_trades(ticker)
        if logged is not None:
            return Trading(logged=logged)
        if self.log_is_complete:
            return Trading(untraded=True)
        return Trading(synthetic_before_ns=started_ns)

    # --- Trades ---

    def list_trades(self, query: Query, url: str, ticker: str) -> dict[str, Any]:
        if self.trade_log is None:
            raise ApiError(403, "NOT_AUTHORIZED", "You are not entitled to this data: this feed keeps no trade log")
        query, after = resolve_trade_cursor(query)
        start, end = timestamp_window(query)
        descending = newest_first(query)
        limit = page_limit(query, TRADE_LIMITS)
        log = self.trade_log
        if self.history is not None and start is not None:
            day = new_york_date(min(max(start, 0), LAST_NS) // NS_PER_MS)
            if self.history.covers(day):
                log = self.history.tape(day).log  # a past day's tape holds that day's trades alone
        trades = log.page(ticker, start, end, descending=descending, after=after, limit=limit + 1)
        next_url = None
        if len(trades) > limit:
            trades = trades[:limit]
            next_url = f"{url}?{urlencode({'cursor': trade_cursor(query, trades[-1])})}"
        return {"results": [trade_json(trade) for trade in trades], "next_url": next_url}

    # --- Quotes ---

    def list_quotes(self, query: Query, url: str, ticker: str) -> dict[str, Any]:
        """The contract's quotes in the window; none without a quote model (a tape: as to a plan
        without quotes)."""
        query, after = resolve_quote_cursor(query)
        descending = newest_first(query)
        limit = page_limit(query, QUOTE_LIMITS)
        start, end = quote_window(*timestamp_window(query), time.time_ns())
        if self.quotes is None:
            return {"results": []}
        if after is not None and descending:
            end = min(end, after - 1)
        elif after is not None:
            start = max(start, after + 1)
        quotes = self.quotes.page(ticker, start, end, descending=descending, limit=limit + 1)
        next_url = None
        if len(quotes) > limit:
            quotes = quotes[:limit]
            next_url = f"{url}?{urlencode({'cursor': quote_cursor(query, start, end, quotes[-1])})}"
        return {"results": [quote.as_json() for quote in quotes], "next_url": next_url}

    # --- History: bars and open interest ---

    def list_aggs(
        self, query: Query, url: str, ticker: str, multiplier: str, timespan: str, start: str, end: str
    ) -> dict[str, Any]:
        """An underlying's day or minute bars over the history's days (``from``/``to`` as dates)."""
        if multiplier != "1" or timespan not in ("day", "minute"):
            raise bad_request(f"this feed serves 1/day and 1/minute bars, not {multiplier}/{timespan}")
        first, last = (parameter({"date": value}, "date", parse_date, date.min) for value in (start, end))
        limit = page_limit(query, AGGS_LIMITS)
        bars: list[dict[str, Any]] = []
        if self.history is not None:
            bars = (self.history.day_bars if timespan == "day" else self.history.minute_bars)(ticker, first, last)
        if query.get("sort", "asc") == "desc":
            bars.reverse()
        bars = bars[:limit]
        return {
            "ticker": ticker,
            "queryCount": len(bars),
            "resultsCount": len(bars),
            "adjusted": True,
            "results": bars,
            "count": len(bars),
        }

    def list_open_interest(self, query: Query, url: str) -> dict[str, Any]:
        """Each contract's open interest for a session (``date``), by ``root`` or ``ticker``."""
        query, offset = resolve_cursor(query)
        if "date" not in query:
            raise bad_request("date is required (YYYY-MM-DD): the session the open interest is for")
        session = parameter(query, "date", parse_date, date.min)
        records = []
        if self.history is not None and self.history.reports_open_interest(session):
            for contract, open_interest in self.history.open_interest(session):
                root = parse_occ(contract.ticker).root
                if query.get("root", root) == root and query.get("ticker", contract.ticker) == contract.ticker:
                    records.append(open_interest_json(contract, root, open_interest, session))
        page = paginate(records, query, offset, OPEN_INTEREST_LIMITS, url)
        return {"results": page.items, "next_url": page.next_url}

    def list_dividends(self, query: Query, url: str) -> dict[str, Any]:
        """The underlyings' cash dividends (trades/feed/dividends.py), by ``ticker`` and between
        ``ex_dividend_date.gte`` and ``.lte`` (a year around today without them)."""
        query, offset = resolve_cursor(query)
        today = date.today()
        first = parameter(query, "ex_dividend_date.gte", parse_date, today - timedelta(days=365))
        last = parameter(query, "ex_dividend_date.lte", parse_date, today + timedelta(days=365))
        universe = self.reference.universe()
        records = [
            dividend_json(ticker, day, underlying.price)
            for ticker, underlying in sorted(universe.underlyings.items())
            if query.get("ticker", ticker) == ticker and not underlying.is_index
            for day in ex_dividend_dates(ticker, first, last)
        ]
        page = paginate(records, query, offset, DIVIDEND_LIMITS, url)
        return {"results": page.items, "next_url": page.next_url}

    # --- Conditions and exchanges ---

    def list_conditions(self, query: Query, url: str) -> dict[str, Any]:
        query, offset = resolve_cursor(query)
        conditions = select(OPTIONS_CONDITIONS, filters(query, CONDITION_FIELDS))
        if "data_type" in query:
            conditions = [c for c in conditions if query["data_type"] in c["data_types"]]
        if "sip" in query:
            conditions = [c for c in conditions if query["sip"] in c["sip_mapping"]]
        page = paginate(sort_items(conditions, query, CONDITION_SORTS, "id"), query, offset, CONDITION_LIMITS, url)
        return {"results": page.items, "next_url": page.next_url, "count": len(page.items)}

    def list_exchanges(self, query: Query, url: str) -> dict[str, Any]:
        exchanges = [
            exchange
            for exchange in OPTIONS_EXCHANGES
            if query.get("asset_class", "options") == "options" and query.get("locale", "us") == "us"
        ]
        return {"results": exchanges, "count": len(exchanges)}


def open_interest_json(contract: Contract, root: str, open_interest: int, session: date) -> dict[str, Any]:
    return {
        "contract_type": contract.contract_type,
        "date": session.isoformat(),
        "expiration_date": contract.expiration_date.isoformat(),
        "open_interest": open_interest,
        "root": root,
        "strike_price": number(contract.strike_price),
        "ticker": contract.ticker,
        "underlying_ticker": contract.underlying_ticker,
    }


def split_target(target: str) -> tuple[str, Query]:
    """``/path?query`` → the path (no trailing slash) and its parameters (the last of repeats)."""
    parts = urlsplit(target)
    return parts.path.rstrip("/") or "/", dict(parse_qsl(parts.query, keep_blank_values=True))


def ok_body(body: dict[str, Any], request_id: str) -> dict[str, Any]:
    """Polygon's order: results, status, request_id, then next_url (only if there is a next page) and count."""
    trailer = {key: body.pop(key) for key in ("next_url", "count") if key in body}
    answer = {**body, "status": "OK", "request_id": request_id}
    answer.update((key, value) for key, value in trailer.items() if value is not None)
    return answer


def is_expired(contract: Contract, as_of: date | None) -> bool:
    """Expired before ``as_of``; with no as_of (a reference file without one), never."""
    return as_of is not None and contract.expiration_date < as_of
