"""The flow API: order hits filtered and paged, exported, streamed live; and what they are read
with: an order's analogs, a strike heatmap, a ticker's premium over the day, the day's summary
and a backtest. Each endpoint parses with trades/api/params.py and reads with a selector."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from ninja import Path, Query, Router
from ninja.errors import HttpError

from trades.api import exports, params
from trades.selectors import backtest, flow

router = Router(tags=["flow"])

STREAM_POLL_SECONDS = 1.0
STREAM_OVERLAP = timedelta(seconds=10)  # a hit committed late is still seen; the ids dedupe it
STREAM_LIFETIME_SECONDS = 300  # then the browser reconnects (EventSource does), freeing the worker


@router.get("/flow", url_name="flow")
def flow_list(request: HttpRequest, asked: Query[params.FlowPage]) -> dict[str, Any]:
    """Order hits newest first (by first print), ``limit`` a page; ``next_cursor`` reads the next
    page (null: the last). Hits stored while you walk never repeat or shift a page."""
    params.known_only(request, params.FlowPage)
    page = flow.flow_page(asked.to_filter(), asked.limit, asked.after())
    return {"results": page.results, "next_cursor": None if page.next_cursor is None else page.next_cursor.encode()}


@router.get("/flow.csv", url_name="flow-csv")
def flow_csv(request: HttpRequest, asked: Query[params.Export]) -> HttpResponseBase:
    """The filtered hits as CSV, oldest first, one flat row per order (streamed)."""
    params.known_only(request, params.Export)
    return exports.csv_response(asked.to_filter(), asked.limit, "flowsite-flow")


@router.get("/flow.parquet", url_name="flow-parquet")
def flow_parquet(request: HttpRequest, asked: Query[params.Export]) -> HttpResponseBase:
    """The filtered hits as Parquet (typed columns), oldest first."""
    params.known_only(request, params.Export)
    return exports.parquet_response(asked.to_filter(), asked.limit, "flowsite-flow")


@router.get("/flow/stream", url_name="flow-stream")
def flow_stream(request: HttpRequest, asked: Query[params.Flow]) -> HttpResponseBase:
    """Server-sent events: each new hit that passes the filters as one ``hit`` event (the JSON of
    /flow's results), within about a second of being judged. Reconnecting with Last-Event-ID
    resumes where the stream stopped."""
    params.known_only(request, params.Flow)
    resume = request.headers.get("Last-Event-ID", "")
    since = _resume_time(resume)
    response = StreamingHttpResponse(_events(asked.to_filter(), since), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
    return response


def _resume_time(event_id: str) -> datetime:
    try:
        resumed = datetime.fromisoformat(event_id)
    except ValueError:
        return timezone.now()
    return resumed if resumed.tzinfo is not None else timezone.now()


def _events(wanted: flow.FlowFilter, since: datetime) -> Iterator[str]:
    sent: set[str] = set()
    yield "retry: 2000\n\n"
    started = time.monotonic()
    while time.monotonic() - started < STREAM_LIFETIME_SECONDS:
        for judged_at, hit in flow.judged_since(wanted, since - STREAM_OVERLAP):
            if hit["order_id"] in sent:
                continue
            sent.add(hit["order_id"])
            since = max(since, judged_at)
            yield f"id: {judged_at.isoformat()}\nevent: hit\ndata: {orjson.dumps(hit).decode()}\n\n"
        yield ": still here\n\n"  # a comment: keeps proxies from closing an idle stream
        time.sleep(STREAM_POLL_SECONDS)


@router.get("/orders/{order_id}", url_name="order")
def order_detail(request: HttpRequest, order_id: Path[str]) -> dict[str, Any]:
    """One stored order, with its prints, outcome and insight."""
    params.known_only(request, params.Strict)
    found = flow.order_by_id(order_id)
    if found is None:
        raise HttpError(404, f"no order {order_id}")
    return found


@router.get("/orders/{order_id}/analogs", url_name="analogs")
def order_analogs(request: HttpRequest, order_id: Path[str], asked: Query[params.Analogs]) -> dict[str, Any]:
    """The order's earlier similar alerts (same underlying, direction, premium and DTE bucket, a
    profile in common; next day closed before its day), newest first, and their cohort: how many
    went its way next day, with a 95% interval."""
    params.known_only(request, params.Analogs)
    found = flow.analogs(order_id, asked.limit)
    if found is None:
        raise HttpError(404, f"no order {order_id}")
    return found


@router.get("/concentration/{ticker}", url_name="concentration")
def concentration(request: HttpRequest, ticker: Path[str], asked: Query[params.Day]) -> dict[str, Any]:
    """The strike heatmap of an underlying's day: each contract's premium (the whole tape), its
    usual day, whether it is unusual, and its order hits."""
    params.known_only(request, params.Day)
    return flow.strike_concentration(ticker.upper(), flow.day_or_newest(asked.day, ticker.upper()))


@router.get("/premium/{ticker}", url_name="premium")
def premium(request: HttpRequest, ticker: Path[str], asked: Query[params.Day]) -> dict[str, Any]:
    """An underlying's option premium over the day, running, minute by minute: calls, puts, their
    difference, and its order hits' signed premium."""
    params.known_only(request, params.Day)
    return flow.premium_over_day(ticker.upper(), flow.day_or_newest(asked.day, ticker.upper()))


@router.get("/summary", url_name="summary")
def summary(request: HttpRequest, asked: Query[params.Day]) -> dict[str, Any]:
    """The day per underlying: hits, premium by calls and puts and by direction, net premium, the
    unusual ones, the biggest, and the whole tape's premium against its usual day."""
    params.known_only(request, params.Day)
    day = flow.day_or_newest(asked.day)
    return {"day": day.isoformat(), "results": flow.day_summary(day)}


@router.get("/backtest", url_name="backtest")
def run_backtest(request: HttpRequest, asked: Query[params.Backtest]) -> dict[str, Any]:
    """A saved filter profile judged again over the stored history of the last ``days`` trading
    days: alerts a day, per name, and how they went next day against a baseline."""
    params.known_only(request, params.Backtest)
    profile = backtest.saved_profile(asked.profile)
    if profile is None:
        raise HttpError(404, f"no filter profile named {asked.profile!r}")
    first, last = backtest.last_days(asked.days)
    return backtest.as_json(backtest.backtest(profile, first, last))
