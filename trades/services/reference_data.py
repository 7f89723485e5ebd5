"""Reference data → database: contracts, open interest, spot, conditions and exchanges.

Swap, don't truncate: everything for one underlying is fetched first; only when the whole fetch
succeeded is it written, in one transaction. A timeout, a 5xx that outlasts the retries or a page
that is not JSON leaves the previous contracts, strike range and open interest exactly as they
were. An empty answer for an underlying that had data is a failure too (the client's paginator
can end early without an error), so it never wipes anything.

Each underlying is refreshed on its own: a failure is logged and reported, and the others go on,
unless going on is pointless: when Polygon refuses the key or the plan (401/403) the refresh stops
at once, and while the client's circuit breaker holds the API for unreachable the remaining ones
are not tried (reported as such, worth retrying later).
Every stored value carries when it was read (``*_updated_at``: the moment its fetch began).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import orjson
import urllib3
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, transaction
from django.utils import timezone
from polygon.exceptions import BadResponse

from trades.domain.calendar import NEW_YORK
from trades.domain.formatting import count, money
from trades.domain.occ import InvalidSymbol, parse_occ
from trades.domain.reference_data import ChainSnapshot, ConditionInfo, ContractInfo, ExchangeInfo, strike_range
from trades.domain.rules import WILDCARD, InvalidTrade, parse_trade, passes_trade_rules
from trades.models import Dividend, OptionCondition, OptionContract, OptionExchange, Underlying, WatchedTicker
from trades.polygon_rest import loaders
from trades.polygon_rest.breaker import ApiUnreachable
from trades.polygon_rest.client import (
    AccessRefused,
    GuardedRESTClient,
    PolygonRefused,
    ReferenceDataError,
    describe_failure,
    rest_client,
)
from trades.selectors import flow_rules
from trades.services import day_volume, ingest

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000  # rows per INSERT; 9 columns each stays far under PostgreSQL's 65535 parameters
# On-demand lookups per call: each costs two requests; the rest wait for the next call.
MAX_ON_DEMAND_SYMBOLS = 50
DIVIDEND_PAST_DAYS = 120  # the dividends refreshed: recent ones, for the judging of what is still replayed
DIVIDEND_AHEAD_DAYS = 90  # and the declared ones ahead


class EmptyRefresh(ReferenceDataError):
    """Polygon answered with nothing where something was expected; the old data is kept.

    Worth retrying only when there was data before (the paginator may have ended early): a
    ticker that never had any (a typo, an underlying without options) will not get better.
    """

    def __init__(self, message: str, *, had_data: bool) -> None:
        super().__init__(message)
        self.had_data = had_data


class ReferenceUnavailable(Exception):
    """Some refresh failed for a reason that may pass (network, 429/5xx, a bad page): try again later."""


@dataclass
class RefreshResult:
    name: str  # an underlying's ticker, a contract's symbol, or "conditions" / "exchanges"
    ok: bool
    reason: str = ""
    transient: bool = False  # worth retrying: the network or the server, not the request
    counts: dict[str, Any] = field(default_factory=dict)
    tried: bool = True  # False: skipped, because the refresh stopped before it (see `reason`)


@dataclass
class RefreshReport:
    kind: str  # "contracts", "open-interest", "spot", "conditions", "resolve"
    results: list[RefreshResult] = field(default_factory=list)
    access_refused: str = ""  # Polygon refused the key or the plan (401/403): why, and what to do

    @property
    def failed(self) -> list[RefreshResult]:
        """Those not refreshed: failed, or not tried."""
        return [result for result in self.results if not result.ok]

    @property
    def not_tried(self) -> list[RefreshResult]:
        return [result for result in self.results if not result.tried]

    def skip(self, names: list[str], why: str, *, transient: bool) -> None:
        """Report these as not tried, for this reason."""
        if names:
            logger.warning("%s refresh: %d not tried: %s", self.kind, len(names), why)
        reason = f"not tried: {why}"
        self.results.extend(RefreshResult(n, ok=False, reason=reason, transient=transient, tried=False) for n in names)

    @property
    def stored(self) -> list[str]:
        return [result.name for result in self.results if result.ok]

    def raise_if_transient(self) -> None:
        transient = [result for result in self.failed if result.transient]
        if transient:
            reasons = "; ".join(f"{result.name}: {result.reason}" for result in transient)
            raise ReferenceUnavailable(f"{self.kind} refresh failed for {reasons}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ok": self.stored,
            "failed": {result.name: result.reason for result in self.failed},
        }


Progress = Callable[[RefreshResult], None]


# --- what to refresh -----------------------------------------------------------------------


def watched_underlyings() -> list[str]:
    """The tickers on the watchlists of enabled profiles ("*" watches everything, so it names none)."""
    symbols = WatchedTicker.objects.filter(watchlist__profiles__enabled=True).values_list("symbol", flat=True)
    return sorted({loaders.normalize_ticker(symbol) for symbol in symbols} - {WILDCARD})


# --- the refreshes -------------------------------------------------------------------------


def refresh_contracts(
    underlyings: Iterable[str], progress: Progress | None = None, client: GuardedRESTClient | None = None
) -> RefreshReport:
    """Each underlying's listed contracts and strike range, swapped in whole."""
    return _each("contracts", _tickers(underlyings), _refresh_contracts_of, progress, client)


def refresh_open_interest(
    underlyings: Iterable[str], progress: Progress | None = None, client: GuardedRESTClient | None = None
) -> RefreshReport:
    """Each underlying's chain snapshot: open interest per contract (and the spot it carries)."""
    return _each("open-interest", _tickers(underlyings), _refresh_open_interest_of, progress, client)


def refresh_spot(
    underlyings: Iterable[str], progress: Progress | None = None, client: GuardedRESTClient | None = None
) -> RefreshReport:
    """Each underlying's price, from the first contract of its chain snapshot."""
    return _each("spot", _tickers(underlyings), _refresh_spot_of, progress, client)


def refresh_dividends(
    underlyings: Iterable[str], progress: Progress | None = None, client: GuardedRESTClient | None = None
) -> RefreshReport:
    """Each underlying's cash dividends of the last DIVIDEND_PAST_DAYS and the next DIVIDEND_AHEAD_DAYS."""
    return _each("dividends", _tickers(underlyings), _refresh_dividends_of, progress, client)


def refresh_conditions(progress: Progress | None = None, client: GuardedRESTClient | None = None) -> RefreshReport:
    """Polygon's options trade conditions (grouped by name) and options exchanges, each swapped in whole."""
    return _each("conditions", ["conditions", "exchanges"], _refresh_list, progress, client)


def resolve_contracts(symbols: Iterable[str], client: GuardedRESTClient | None = None) -> RefreshReport:
    """Look up contracts not known yet (on demand): reference, open interest, spot. Returns what it
    stored (``report.stored``) and why the others were not."""
    wanted = _unknown_symbols(symbols)
    if not wanted:
        return RefreshReport("resolve")
    report = _each("resolve", wanted, _resolve_contract, None, client)
    if report.stored:
        flow_rules.forget_flow_rules()  # this process's snapshot of roots (SPXW → SPX, AMC1 × 10)
    return report


@dataclass
class FramesResolved:
    resolved: RefreshReport
    ingest: ingest.IngestReport | None  # None when nothing new was stored, so nothing was judged again


def resolve_frames(frames: list[str], source: str) -> FramesResolved:
    """Resolve the unknown contracts of the frames' candidate trades, then judge the frames again.

    ingest_frames is idempotent (a hit already stored is not stored twice), so judging again only
    adds the hits that needed the missing reference data: the first large print on a new contract.
    """
    resolved = resolve_contracts(unknown_contracts_in(frames))
    # resolve_unknown=False: a contract still unknown now (Polygon does not know it, or the lookup
    # failed and this task will retry) must not send the frames here again, round and round.
    judged = ingest.ingest_frames(frames, source=source, resolve_unknown=False) if resolved.stored else None
    return FramesResolved(resolved, judged)


def unknown_contracts_in(frames: list[str]) -> list[str]:
    """Symbols of the frames' trades that pass some enabled profile's trade-only rules and whose
    contract is not stored (the most liquid first: by how often they print in the frames)."""
    rules = flow_rules.current_flow_rules()
    seen: dict[str, int] = {}
    for event in _trade_events(frames):
        try:
            trade = parse_trade(event, rules.roots)
        except InvalidTrade:
            continue  # the ingest counts and logs malformed trades
        if any(passes_trade_rules(trade, profile) for profile in rules.profiles):
            seen[trade.symbol] = seen.get(trade.symbol, 0) + 1
    known = set(OptionContract.objects.filter(symbol__in=seen).values_list("symbol", flat=True))
    return sorted(set(seen) - known, key=lambda symbol: (-seen[symbol], symbol))


def delete_expired_contracts(today: date | None = None) -> int:
    """Drop contracts that expired before today in New York (they can no longer trade).

    The contracts refresh already drops them for watched underlyings (Polygon no longer lists
    them); this catches the ones looked up on demand. Live hygiene only: a replay of an old tape
    needs its contracts, so manage.py refresh_reference does not call it.
    """
    today = today or timezone.now().astimezone(NEW_YORK).date()
    deleted, _ = OptionContract.objects.filter(expiry__lt=today).delete()
    return deleted


# --- one underlying each --------------------------------------------------------------------


def _refresh_contracts_of(client: GuardedRESTClient, ticker: str) -> dict[str, Any]:
    read_at = timezone.now()
    issues = loaders.LoadIssues()
    listed = loaders.load_contracts(client, ticker, issues)
    contracts = [contract for contract in listed if contract.underlying == ticker]
    for contract in listed:
        if contract.underlying != ticker:
            issues.skip(
                f"contract of {ticker}",
                f"its underlying is {contract.underlying}",
                contract.symbol,
                key="other_underlying",
            )
    if not contracts:
        known = OptionContract.objects.filter(underlying=ticker).count()
        kept = f"; kept the {known} known" if known else ""
        raise EmptyRefresh(f"Polygon listed no contracts for {ticker}{kept}", had_data=known > 0)
    return store_contracts(ticker, contracts, read_at) | issues.counts()


def _refresh_open_interest_of(client: GuardedRESTClient, ticker: str) -> dict[str, Any]:
    read_at = timezone.now()
    issues = loaders.LoadIssues()
    chain = loaders.load_chain(client, ticker, issues)
    if not chain.contracts:
        known = OptionContract.objects.filter(underlying=ticker, open_interest__isnull=False).count()
        kept = f"; kept the open interest of {known} contracts" if known else ""
        raise EmptyRefresh(f"Polygon's chain snapshot of {ticker} is empty{kept}", had_data=known > 0)
    return store_chain(chain, read_at, whole_chain=True) | issues.counts()


def _refresh_dividends_of(client: GuardedRESTClient, ticker: str) -> dict[str, Any]:
    today = timezone.localdate()
    return store_dividends(
        ticker, today - timedelta(days=DIVIDEND_PAST_DAYS), today + timedelta(days=DIVIDEND_AHEAD_DAYS), client
    )


def store_dividends(ticker: str, first: date, last: date, client: GuardedRESTClient) -> dict[str, Any]:
    """The ticker's dividends with an ex-dividend date from ``first`` to ``last``, stored (a backfill
    reads those of its days too)."""
    issues = loaders.LoadIssues()
    listed = loaders.load_dividends(client, ticker, first, last, issues)
    Dividend.objects.bulk_create(
        [
            Dividend(ticker=ticker, ex_dividend_date=item.ex_dividend_date, cash_amount=item.cash_amount)
            for item in listed
        ],
        update_conflicts=True,
        unique_fields=["ticker", "ex_dividend_date"],
        update_fields=["cash_amount", "updated_at"],
    )
    return {"dividends": len(listed)} | issues.counts()


def _refresh_spot_of(client: GuardedRESTClient, ticker: str) -> dict[str, Any]:
    read_at = timezone.now()
    price = loaders.load_spot(client, ticker)
    if price is None:
        raise EmptyRefresh(f"Polygon's chain snapshot of {ticker} carries no underlying price", had_data=True)
    _update_underlying(ticker, spot=price, spot_updated_at=read_at)
    return {"spot": price}


def _resolve_contract(client: GuardedRESTClient, symbol: str) -> dict[str, Any]:
    read_at = timezone.now()
    contract = loaders.load_contract(client, symbol)
    if contract is None:
        raise EmptyRefresh(f"Polygon's contracts reference has no usable contract {symbol}", had_data=False)
    try:
        snapshot = loaders.load_contract_snapshot(client, contract)
    except (BadResponse, ReferenceDataError) as exc:  # refused, not unreachable: the contract alone helps
        logger.warning("no snapshot for %s (%s); storing the contract without open interest", symbol, exc)
        snapshot = ChainSnapshot(contract.underlying, None, {}, [contract])
    store_resolved(snapshot, read_at)
    return {"underlying": contract.underlying, "open_interest": snapshot.open_interest.get(symbol)}


def _refresh_list(client: GuardedRESTClient, name: str) -> dict[str, Any]:
    return _refresh_condition_list(client) if name == "conditions" else _refresh_exchange_list(client)


def _refresh_condition_list(client: GuardedRESTClient) -> dict[str, Any]:
    issues = loaders.LoadIssues()
    listed = loaders.load_conditions(client, issues)
    if not listed:
        known = OptionCondition.objects.count()
        raise EmptyRefresh(f"Polygon listed no options conditions; kept the {known} known", had_data=known > 0)
    return store_conditions(listed) | issues.counts()


def _refresh_exchange_list(client: GuardedRESTClient) -> dict[str, Any]:
    issues = loaders.LoadIssues()
    listed = loaders.load_exchanges(client, issues)
    if not listed:
        known = OptionExchange.objects.count()
        raise EmptyRefresh(f"Polygon listed no options exchanges; kept the {known} known", had_data=known > 0)
    return store_exchanges(listed) | issues.counts()


# --- writes (each one transaction) ------------------------------------------------------------


def store_contracts(ticker: str, contracts: list[ContractInfo], read_at: datetime) -> dict[str, Any]:
    """The underlying's contracts become exactly these; its strike range follows them."""
    listed = {contract.symbol for contract in contracts}
    strikes = strike_range(contracts)
    if strikes is None:
        raise ValueError("store_contracts needs at least one contract (an empty list would wipe the underlying)")
    with transaction.atomic():
        existing = set(OptionContract.objects.filter(underlying=ticker).values_list("symbol", flat=True))
        OptionContract.objects.bulk_create(
            [_contract_row(contract) for contract in contracts],
            update_conflicts=True,
            unique_fields=["symbol"],
            update_fields=["root", "underlying", "expiry", "right", "strike", "shares_per_contract", "updated_at"],
            batch_size=BATCH_SIZE,
        )
        stale = sorted(existing - listed)
        for chunk in _chunks(stale, BATCH_SIZE):
            OptionContract.objects.filter(symbol__in=chunk).delete()
        _update_underlying(ticker, strike_min=strikes[0], strike_max=strikes[1], strikes_updated_at=read_at)
    return {"listed": len(listed), "new": len(listed - existing), "removed": len(stale)}


def store_chain(chain: ChainSnapshot, read_at: datetime, *, whole_chain: bool) -> dict[str, Any]:
    """Open interest for the contracts that reported one (the others keep theirs, and its age);
    contracts not stored yet are added; the spot if the snapshot carried one."""
    reported = [contract for contract in chain.contracts if contract.symbol in chain.open_interest]
    silent = [contract for contract in chain.contracts if contract.symbol not in chain.open_interest]
    with transaction.atomic():
        OptionContract.objects.bulk_create(
            [_contract_row(c, chain.open_interest[c.symbol], read_at) for c in reported],
            update_conflicts=True,
            unique_fields=["symbol"],
            update_fields=["open_interest", "open_interest_updated_at", "updated_at"],
            batch_size=BATCH_SIZE,
        )
        OptionContract.objects.bulk_create(
            [_contract_row(contract) for contract in silent], ignore_conflicts=True, batch_size=BATCH_SIZE
        )
        # The underlying's open interest is "read" only if the snapshot reported some.
        fields: dict[str, Any] = {"open_interest_updated_at": read_at} if whole_chain and reported else {}
        if chain.underlying_price is not None:
            fields |= {"spot": chain.underlying_price, "spot_updated_at": read_at}
        if fields:
            _update_underlying(chain.underlying, **fields)
        day_volume.record_seeds(chain.day_volume, read_at)
    return {"contracts": len(chain.contracts), "open_interest": len(reported), "spot": chain.underlying_price}


def store_resolved(snapshot: ChainSnapshot, read_at: datetime) -> None:
    """A contract looked up on demand: all its fields as the reference gave them, and its open interest."""
    with transaction.atomic():
        for contract in snapshot.contracts:
            interest = snapshot.open_interest.get(contract.symbol)
            defaults = _contract_fields(contract) | {
                "open_interest": interest,
                "open_interest_updated_at": read_at if interest is not None else None,
            }
            OptionContract.objects.update_or_create(symbol=contract.symbol, defaults=defaults)
        if snapshot.underlying_price is not None:
            _update_underlying(snapshot.underlying, spot=snapshot.underlying_price, spot_updated_at=read_at)


def store_conditions(listed: list[ConditionInfo]) -> dict[str, Any]:
    codes = {condition.code for condition in listed}
    with transaction.atomic():
        OptionCondition.objects.bulk_create(
            [
                OptionCondition(code=c.code, name=c.name, abbreviation=c.abbreviation, category=c.category)
                for c in listed
            ],
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=["name", "abbreviation", "category", "updated_at"],
        )
        removed, _ = OptionCondition.objects.exclude(code__in=codes).delete()
    return {"listed": len(codes), "removed": removed}


def store_exchanges(listed: list[ExchangeInfo]) -> dict[str, Any]:
    ids = {exchange.id for exchange in listed}
    with transaction.atomic():
        OptionExchange.objects.bulk_create(
            [OptionExchange(id=e.id, name=e.name, acronym=e.acronym, mic=e.mic) for e in listed],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["name", "acronym", "mic", "updated_at"],
        )
        removed, _ = OptionExchange.objects.exclude(id__in=ids).delete()
    return {"listed": len(ids), "removed": removed}


def _contract_fields(contract: ContractInfo) -> dict[str, Any]:
    return {
        "root": contract.root,
        "underlying": contract.underlying,
        "expiry": contract.expiry,
        "right": contract.right,
        "strike": contract.strike,
        "shares_per_contract": contract.shares_per_contract,
    }


def _contract_row(
    contract: ContractInfo, open_interest: int | None = None, read_at: datetime | None = None
) -> OptionContract:
    return OptionContract(
        symbol=contract.symbol,
        open_interest=open_interest,
        open_interest_updated_at=read_at if open_interest is not None else None,
        **_contract_fields(contract),
    )


def _update_underlying(ticker: str, **fields: Any) -> None:
    Underlying.objects.update_or_create(ticker=ticker, defaults=fields)


# --- plumbing ---------------------------------------------------------------------------------


def _each(
    kind: str,
    names: Iterable[str],
    work: Callable[[GuardedRESTClient, str], dict[str, Any]],
    progress: Progress | None,
    client: GuardedRESTClient | None,
) -> RefreshReport:
    """Refresh each name (once, in the order given) until the API is held for unreachable or
    refuses our access; the ones left are reported as not tried."""
    report = RefreshReport(kind)
    started = time.monotonic()
    todo = list(dict.fromkeys(names))
    if not todo:
        return report
    client = client or rest_client()
    for index, name in enumerate(todo):
        if client.breaker.is_open:
            report.skip(todo[index:], client.breaker.why_open(), transient=True)
            break
        try:
            result = _attempt(kind, name, partial(work, client, name))
        except AccessRefused as exc:
            logger.error("%s refresh stopped at %s: %s", kind, name, exc)
            report.access_refused = str(exc)
            report.results.append(RefreshResult(name, ok=False, reason=str(exc)))
            report.skip(todo[index + 1 :], str(exc), transient=False)
            break
        report.results.append(result)
        if progress:
            progress(result)
    _log_summary(report, time.monotonic() - started)
    return report


def _log_summary(report: RefreshReport, seconds: float) -> None:
    """One line per refresh run (each name's own line is DEBUG; failures are warned one by one).
    A run of one name that went well is DEBUG too: beat fans the spot refresh out one task per
    underlying, and on-demand look-ups come one contract at a time, all day long."""
    done = [result for result in report.results if result.tried]
    ok = sum(result.ok for result in done)
    skipped = f", {len(report.not_tried)} not tried" if report.not_tried else ""
    went_well = ok == len(done) and not report.not_tried
    level = (logging.INFO if len(done) > 1 else logging.DEBUG) if went_well else logging.WARNING
    logger.log(level, "%s refreshed: %d of %d ok%s in %.1f s", report.kind, ok, len(done), skipped, seconds)


def _attempt(kind: str, name: str, work: Callable[[], dict[str, Any]]) -> RefreshResult:
    """Run one refresh; a failure becomes a result (logged), so the next one still runs. A refused
    key or plan is raised: the next one would be refused alike."""
    try:
        counts = work()
    except SoftTimeLimitExceeded:
        raise  # the task's time is up: stop here, nothing half-written (each write is one transaction)
    except AccessRefused:
        raise  # the caller stops: every other refresh would be refused alike
    except Exception as exc:
        transient, reason = _judge(exc)
        if isinstance(exc, _EXPECTED):
            logger.warning("%s refresh failed for %s: %s", kind, name, reason)
        else:
            logger.exception("%s refresh failed for %s", kind, name)
        return RefreshResult(name, ok=False, reason=reason, transient=transient)
    logger.debug("%s refreshed for %s: %s", kind, name, describe_counts(counts))
    return RefreshResult(name, ok=True, counts=counts)


def describe_counts(counts: dict[str, Any]) -> str:
    """``listed 1,170, new 1,170, spot $230.00`` (a log line or a table cell)."""
    return ", ".join(f"{key.replace('_', ' ')} {_shown(value)}" for key, value in counts.items() if value is not None)


def _shown(value: Any) -> str:
    if isinstance(value, Decimal):  # a price
        return money(value, 2)
    return count(value) if isinstance(value, int) else str(value)


_EXPECTED = (urllib3.exceptions.HTTPError, BadResponse, ReferenceDataError, ApiUnreachable, DatabaseError)


def _judge(exc: Exception) -> tuple[bool, str]:
    """(worth retrying later, a one-line reason)."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        return True, f"gave up after retries: {describe_failure(exc)}"
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return True, f"network: {describe_failure(exc)}"
    if isinstance(exc, ApiUnreachable):
        return True, f"not tried: {exc}"
    if isinstance(exc, PolygonRefused):
        return False, str(exc)
    if isinstance(exc, BadResponse):
        return False, f"Polygon refused the request: {str(exc)[:300]}"
    if isinstance(exc, EmptyRefresh):
        return exc.had_data, str(exc)
    if isinstance(exc, ReferenceDataError):
        return True, str(exc)
    if isinstance(exc, DatabaseError):
        return True, f"database: {exc}"
    return False, f"unexpected {type(exc).__name__}: {exc}"


def _tickers(underlyings: Iterable[str]) -> list[str]:
    return [loaders.normalize_ticker(ticker) for ticker in underlyings]


def _unknown_symbols(symbols: Iterable[str]) -> list[str]:
    valid: list[str] = []
    for symbol in dict.fromkeys(symbols):
        try:
            valid.append(parse_occ(symbol).symbol)
        except InvalidSymbol as exc:
            logger.warning("not looking up %r: %s", symbol, exc)
    known = set(OptionContract.objects.filter(symbol__in=valid).values_list("symbol", flat=True))
    unknown = [symbol for symbol in valid if symbol not in known]
    if len(unknown) > MAX_ON_DEMAND_SYMBOLS:
        logger.warning(
            "%d unknown contracts; looking up the first %d now, the rest when they print again",
            len(unknown),
            MAX_ON_DEMAND_SYMBOLS,
        )
    return unknown[:MAX_ON_DEMAND_SYMBOLS]


def _trade_events(frames: list[str]) -> Iterator[dict]:
    for frame in frames if isinstance(frames, list) else ():
        try:
            events = orjson.loads(frame)
        except (orjson.JSONDecodeError, TypeError):
            continue
        for event in events if isinstance(events, list) else ():
            if isinstance(event, dict) and event.get("ev") == "T":
                yield event


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
