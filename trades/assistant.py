"""flowsite's MCP server: the stored flow for AI assistants (the official MCP SDK's MCPServer).

Each tool parses its arguments with the JSON API's parameter models (trades/api/params.py) and
reads with the selectors the API reads with, so an assistant gets the API's dicts: the same hit
shows the same facts everywhere. `manage.py mcp` serves it over stdio or streamable HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from trades.api import params
from trades.api.auth import authorization_allowed
from trades.api.errors import UNAUTHORIZED
from trades.domain.calendar import NEW_YORK
from trades.selectors import backtest as backtests
from trades.selectors import flow
from trades.selectors.flow import FlowFilter, Rule

MAX_HITS = 100  # hits in one answer (the API allows 1000): an assistant reads every one
UNUSUAL_TODAY_LIMIT = 20

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

INSTRUCTIONS = """\
flowsite is an options-flow engine. It watches the options tape of the tickers its filter profiles
name and stores the orders that pass them (sweeps, blocks, splits; premium, side, opening, days to
expiry) as hits. Each hit carries an insight: how concentrated its strike's premium was against
that strike's usual day (unusual or not), and how earlier similar alerts went the next day.

Every tool answers from flowsite's own stored data, never from the market at large. Figures come
with their dates: days are New York trading days (YYYY-MM-DD), timestamps are UTC ISO 8601, money
is US dollars, moves and shares are fractions (0.012 is +1.2%). A null is unknown, never zero.

Start with unusual_today for "what is unusual in NVDA today, and what happened last time?",
day_summary for the day across tickers, recent_flow for the hits themselves (filters), and
strike_concentration for one ticker's strikes. analogs takes an order_id from those and lists the
earlier similar alerts with their next-day moves; backtest judges a filter profile over the past
days. Quote the figures and dates the tools give; when a tool has no data, say so.
"""

server = MCPServer(name="flowsite", instructions=INSTRUCTIONS)

# The API's parameter names that the tools call otherwise.
_ARGUMENT_NAMES = {"type": "order_type", "rule": "unusual_only"}


@server.tool()
async def recent_flow(
    ticker: str | None = None,
    since: str | None = None,
    order_type: str | None = None,
    side: str | None = None,
    sentiment: str | None = None,
    min_premium: float | None = None,
    unusual_only: bool = False,
    limit: Annotated[int, Field(ge=1, le=MAX_HITS)] = 20,
) -> dict[str, Any]:
    """Order hits newest first (by first print), as GET /api/flow gives them, with their prints,
    outcome and insight. ticker: underlyings, comma-separated (NVDA,AAPL). since: ISO 8601 date or
    time, New York time without a zone (2026-12-02T09:30). order_type: SWEEP, BLOCK, SPLIT, SINGLE,
    LATE or MULTI_LEG. side: CALL or PUT. sentiment: BULLISH, BEARISH or NEUTRAL. min_premium:
    dollars. unusual_only: only hits whose strike's premium was unusual for it. "more" is true when
    older hits pass the same filters too."""
    asked = _parsed(
        params.FlowPage,
        ticker=ticker,
        since=since,
        type=order_type,
        side=side,
        sentiment=sentiment,
        min_premium=min_premium,
        rule=Rule.UNUSUAL if unusual_only else None,
        limit=limit,
    )
    page = await _read(flow.flow_page, asked.to_filter(), asked.limit)
    return {"results": page.results, "more": page.next_cursor is not None}


@server.tool()
async def strike_concentration(ticker: str, day: str | None = None) -> dict[str, Any]:
    """One underlying's strike heatmap for a day (default: the newest day with hits), as GET
    /api/concentration/<ticker> gives it: each contract's premium over the whole tape, its usual
    day, whether that is unusual, and its hits."""
    underlying = _one_ticker(ticker)
    asked = _parsed(params.Day, day=day)
    return await _read(_concentration, underlying, asked.day)


@server.tool()
async def analogs(order_id: str, limit: int = 20) -> dict[str, Any]:
    """An order hit's earlier similar alerts (same underlying, direction, premium and DTE bucket, a
    profile in common), newest first, with their dates and next-day moves, and their cohort: how
    many went its way next day, with a 95% interval; limit (1 to 200) lists that many, the cohort
    counts all. As GET /api/orders/<order_id>/analogs."""
    asked = _parsed(params.Analogs, limit=limit)
    found = await _read(flow.analogs, order_id, asked.limit)
    if found is None:
        raise ToolError(f"no order {order_id!r}: take an order_id from recent_flow or unusual_today")
    return found


@server.tool()
async def day_summary(day: str | None = None) -> dict[str, Any]:
    """The day (default: the newest day with hits) per underlying, as GET /api/summary gives it:
    hits, premium by calls and puts and by direction, net premium, how many were unusual, the
    biggest hit, and the whole tape's premium against its usual day. Biggest net premium first."""
    asked = _parsed(params.Day, day=day)
    return await _read(_summary, asked.day)


@server.tool()
async def backtest(profile: str, days: int = 20) -> dict[str, Any]:
    """A saved filter profile (its name) judged again over the stored hits of the last `days`
    trading days (1 to 250), as GET /api/backtest gives it: alerts a day and per name, and how they
    went the next day against a baseline."""
    asked = _parsed(params.Backtest, profile=profile, days=days)
    return await _read(_backtest, asked.profile, asked.days)


@server.tool()
async def unusual_today(ticker: str) -> dict[str, Any]:
    """What is unusual in a ticker on the newest day with hits, and what happened last time: its
    hits whose strike's premium was unusual, each with its insight sentence, its concentration, the
    last similar alert's outcome and the cohort of similar alerts; and the ticker's row of the
    day's summary (null: no hits that day)."""
    return await _read(_unusual_today, _one_ticker(ticker))


# The reads, run in Django's thread for sync code.


def _concentration(underlying: str, day: date | None) -> dict[str, Any]:
    return flow.strike_concentration(underlying, flow.day_or_newest(day, underlying))


def _summary(day: date | None) -> dict[str, Any]:
    day = flow.day_or_newest(day)
    return {"day": day.isoformat(), "results": flow.day_summary(day)}


def _backtest(name: str, days: int) -> dict[str, Any]:
    profile = backtests.saved_profile(name)
    if profile is None:
        raise ToolError(f"no filter profile named {name!r}")
    first, last = backtests.last_days(days)
    return backtests.as_json(backtests.backtest(profile, first, last))


def _unusual_today(ticker: str) -> dict[str, Any]:
    day = flow.day_or_newest(None)
    wanted = FlowFilter(
        tickers=(ticker,), since=_midnight(day), until=_midnight(day + timedelta(days=1)), rule=Rule.UNUSUAL
    )
    page = flow.flow_page(wanted, UNUSUAL_TODAY_LIMIT)
    summary = next((row for row in flow.day_summary(day) if row["ticker"] == ticker), None)
    return {
        "ticker": ticker,
        "day": day.isoformat(),
        "unusual": [_unusual(hit) for hit in page.results],
        "more": page.next_cursor is not None,
        "summary": summary,
    }


_UNUSUAL_FIELDS = (
    "order_id",
    "timestamp",
    "symbol",
    "expiry",
    "strike",
    "side",
    "dte",
    "order_type",
    "premium",
    "sentiment",
    "insight",
)


def _unusual(hit: dict[str, Any]) -> dict[str, Any]:
    """A hit in short: the API's fields an answer quotes, and the facts behind its insight."""
    facts = hit["insight_facts"] or {}
    return {field: hit[field] for field in _UNUSUAL_FIELDS} | {
        "concentration": facts.get("concentration"),
        "last": facts.get("last"),
        "cohort": facts.get("cohort"),
    }


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=NEW_YORK)


async def _read(read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``read`` through asgiref's sync_to_async: Django's ORM refuses the event loop's thread."""
    return await sync_to_async(_with_a_usable_connection)(read, *args, **kwargs)


def _with_a_usable_connection(read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    # A long-lived server: drop a broken or expired connection first, as Django does at each
    # request; never inside a transaction (a test's), which closing would end.
    if not connection.in_atomic_block:
        close_old_connections()
    return read(*args, **kwargs)


# Arguments.


def _parsed(model: type[M], **values: Any) -> M:
    """The arguments parsed by the API's parameter model; a bad one is a tool error naming it."""
    try:
        return model(**values)
    except ValidationError as error:
        raise ToolError("; ".join(_problem(each) for each in error.errors())) from error


def _problem(error: ErrorDetails) -> str:
    name = str(error["loc"][-1]) if error["loc"] else "arguments"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{_ARGUMENT_NAMES.get(name, name)}: {message}"


def _one_ticker(value: str) -> str:
    ticker = value.strip().upper()
    if not re.fullmatch(params.TICKER_PATTERN, ticker):
        raise ToolError(f"ticker: not a ticker: {value!r}")
    return ticker


# Streamable HTTP, behind the API's token.


def http_app(host: str) -> ASGIApp:
    """The SDK's streamable HTTP app (at /mcp), behind the JSON API's bearer token."""
    return TokenRequired(server.streamable_http_app(host=host))


class TokenRequired:
    """ASGI middleware: once a key is set (API_TOKEN or a user's token), an HTTP request without
    ``Authorization: Bearer <key>`` is answered 401, as the JSON API answers it; lifespan events
    pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not await _allowed(Headers(scope=scope).get("authorization", "")):
            refused = JSONResponse(
                {"error": UNAUTHORIZED}, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="flowsite"'}
            )
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


@sync_to_async
def _allowed(header: str) -> bool:
    return authorization_allowed(header)
