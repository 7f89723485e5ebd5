"""Helpers the feed's tests share: a reference universe, a client for the WebSocket side, a test
tape, and the synthetic tape with its orders, grouped and judged as FLOW.md says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import urllib3
from polygon import WebSocketClient

from trades.domain.calendar import NEW_YORK
from trades.domain.conditions import (
    CANCELLED,
    COMPRESSION,
    FLOOR,
    LATE,
    MULTI_LEG,
    SINGLE_LEG_CROSS,
    STOCK_OPTION,
)
from trades.feed import FeedServer, SyntheticFlow
from trades.feed.orders import Order, OrderPrint

KEY = "rest-key"


SPY_STRIKES = (550, 575, 600, 625, 650)


SPY_EXPIRIES = ("2025-12-12", "2025-12-19")


DEEP_OTM = "O:SPY251212C00900000"


EXPIRED = "O:SPY251201C00600000"


ATM = "O:SPY251219C00600000"


SPXW = "O:SPXW251219P05900000"


AMC1 = "O:AMC1260116C00005000"


def contract(ticker: str, underlying: str, expiry: str, kind: str, strike: float, **extra: Any) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "underlying_ticker": underlying,
        "expiration_date": expiry,
        "contract_type": kind,
        "strike_price": strike,
        **extra,
    }


def spy(expiry: str, kind: str, strike: int, **extra: Any) -> dict[str, Any]:
    ticker = f"O:SPY{expiry[2:4]}{expiry[5:7]}{expiry[8:]}{kind[0].upper()}{strike * 1000:08d}"
    return contract(ticker, "SPY", expiry, kind, strike, **extra)


def reference_document() -> dict[str, Any]:
    spy_chain = [
        spy(expiry, kind, strike, shares_per_contract=100, open_interest=strike + (kind == "put"))
        for expiry in SPY_EXPIRIES
        for kind in ("call", "put")
        for strike in SPY_STRIKES
    ]
    spy_chain[-1]["open_interest"] = None  # 2025-12-19 put 650: open interest unknown
    return {
        "as_of": "2025-12-05",
        "underlyings": {"SPY": {"price": 600.0}, "SPX": {"value": 5900.5}, "AMC": {"price": 5.0}},
        "contracts": [
            *spy_chain,
            spy("2025-12-12", "call", 900, open_interest=3),
            spy("2025-12-01", "call", 600, open_interest=7),  # expired before as_of
            contract(SPXW, "SPX", "2025-12-19", "put", 5900, open_interest=10),
            contract("O:SPXW251219C06000000", "SPX", "2025-12-19", "call", 6000, open_interest=0),
            contract(
                AMC1,
                "AMC",
                "2026-01-16",
                "call",
                5,
                shares_per_contract=10,
                open_interest=None,
                additional_underlyings=[{"type": "equity", "underlying": "AMC", "amount": 10}],
            ),
        ],
    }


LIVE_SPY = {c["ticker"] for c in reference_document()["contracts"] if c["underlying_ticker"] == "SPY"} - {EXPIRED}


def raw_get(feed: FeedServer, target: str, **headers: str) -> tuple[int, dict[str, Any], urllib3.BaseHTTPResponse]:
    response = urllib3.request("GET", feed.rest_url + target, headers=headers, retries=False)
    return response.status, orjson.loads(response.data), response


# A Wednesday afternoon in New York, so the tests do not depend on today's date.
START_MS = int(datetime(2025, 6, 4, 14, 0, tzinfo=NEW_YORK).timestamp() * 1000)


def polygon_client(
    feed: str,
    *,
    api_key: str = "test-key",
    raw: bool = True,
    channels: tuple[str, ...] = ("T.*",),
    max_reconnects: int = 0,
) -> WebSocketClient:
    client = WebSocketClient(
        api_key=api_key, feed=feed, market="options", secure=False, raw=raw, max_reconnects=max_reconnects
    )
    client.subscribe(*channels)
    return client


def collect(
    client: WebSocketClient, until: Callable[[list[Any]], bool] | None = None, timeout: float = 2.0
) -> list[Any]:
    """Everything the client hands its processor, until connect() returns or ``until`` holds."""
    received: list[Any] = []

    async def processor(message: Any) -> None:
        received.append(message)
        if until is not None and until(received):
            await client.close()

    asyncio.run(asyncio.wait_for(client.connect(processor), timeout))
    return received


def data_frames(received: list[str]) -> list[str]:
    return [frame for frame in received if '"ev":"status"' not in frame]


def trade_events(received: list[str]) -> list[dict[str, Any]]:
    return [event for frame in data_frames(received) for event in orjson.loads(frame)]


T0 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NEW_YORK).timestamp() * 1000)  # the reference's as_of day


PUT = "O:SPY251219P00600000"


SYMBOLS = (ATM, PUT, DEEP_OTM)


def trade(n: int, **changes: Any) -> dict[str, Any]:
    """Trade ``n`` of the test tape: one millisecond apart, on SYMBOLS in turn."""
    event = {
        "ev": "T",
        "sym": SYMBOLS[n % 3],
        "x": 300 + n % 20,
        "p": round(1 + n / 100, 2),
        "s": n + 1,
        "t": T0 + n,
        "q": n,
    }
    event.update(changes)
    if n % 4 == 3:
        event.pop("c", None)  # some prints carry no conditions
    else:
        event.setdefault("c", [209])
    return event


def ns(n: int) -> int:
    """Trade ``n``'s SIP time in nanoseconds."""
    return (T0 + n) * 1_000_000


def write_tape(path: Path, trades: int, per_frame: int = 3) -> Path:
    lines = [
        orjson.dumps([trade(n) for n in range(first, min(first + per_frame, trades))]).decode()
        for first in range(0, trades, per_frame)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def stream_all(feed: FeedServer) -> list[dict[str, Any]]:
    """Everything a polygon client gets until the feed closes (it reconnects after a drop)."""
    return trade_events(collect(polygon_client(feed.rest_url.removeprefix("http://"), api_key=KEY, max_reconnects=3)))


# --- The synthetic tape, its orders and its quotes ------------------------------------------------

# What FLOW.md never groups into sweeps, splits and blocks.
NOT_GROUPED = CANCELLED | LATE | MULTI_LEG | STOCK_OPTION | SINGLE_LEG_CROSS | FLOOR | COMPRESSION
# What FLOW.md leaves out of repeated hits.
NOT_HITS = MULTI_LEG | FLOOR | CANCELLED | LATE
GAP_MS, MAX_SPAN_MS, HIT_GAP_MS = 500, 2_000, 100


@dataclass
class SyntheticTape:
    flow: SyntheticFlow
    events: list[dict[str, Any]]
    orders: list[tuple[int, Order]]  # (start t, order), as the generator made them


def synthetic_tape(trades: int, *, seed: int = 11, frame_size: int = 100, start_ms: int = START_MS) -> SyntheticTape:
    """``trades`` synthetic prints (the default tickers, 500 a second from ``start_ms``) and the orders among them."""
    flow = SyntheticFlow(seed=seed, start_ms=start_ms)
    printer = flow.printer(record_orders=True)
    events = [
        event
        for first in range(0, trades, frame_size)
        for event in orjson.loads(printer.frame(min(frame_size, trades - first), flow.clock(first)).payload)
    ]
    assert printer.orders is not None
    return SyntheticTape(flow, events, printer.orders)


def conditions(event: dict[str, Any]) -> set[int]:
    return set(event.get("c", ()))


def premium(prints: Iterable[dict[str, Any]]) -> float:
    return sum(event["p"] * event["s"] for event in prints) * 100


def order_runs(events: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """FLOW.md's runs: per contract, its groupable prints in time order, cut where the gap to the
    previous print exceeds GAP_MS or the run's span would exceed MAX_SPAN_MS."""
    runs: list[list[dict[str, Any]]] = []
    current: dict[str, list[dict[str, Any]]] = {}
    for event in sorted(events, key=lambda event: (event["t"], event["q"])):
        if conditions(event) & NOT_GROUPED:
            continue
        run = current.get(event["sym"])
        if run is None or event["t"] - run[-1]["t"] > GAP_MS or event["t"] - run[0]["t"] > MAX_SPAN_MS:
            run = current[event["sym"]] = []
            runs.append(run)
        run.append(event)
    return runs


def run_type(run: list[dict[str, Any]]) -> str:
    """SWEEP, SPLIT, BLOCK or SINGLE, as FLOW.md types a run."""
    if len(run) >= 2:
        return "SWEEP" if len({event["x"] for event in run}) >= 2 else "SPLIT"
    return "BLOCK" if premium(run) >= 100_000 or run[0]["s"] >= 1_000 else "SINGLE"


def hit_bursts(events: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """FLOW.md's repeated hits: more than five prints of one contract, each at most HIT_GAP_MS
    after the one before (multi-leg, floor, cancelled and late prints left out)."""
    bursts: list[list[dict[str, Any]]] = []
    current: dict[str, list[dict[str, Any]]] = {}
    for event in sorted(events, key=lambda event: (event["t"], event["q"])):
        if conditions(event) & NOT_HITS:
            continue
        burst = current.get(event["sym"])
        if burst is None or event["t"] - burst[-1]["t"] > HIT_GAP_MS:
            burst = current[event["sym"]] = []
            bursts.append(burst)
        burst.append(event)
    return [burst for burst in bursts if len(burst) > 5]


def position(price: float, bid: float, ask: float) -> str:
    """Where a price sits against a quote: AA above the ask, A at it, M between, B at the bid, BB below."""
    exact, low, high = Decimal(str(price)), Decimal(str(bid)), Decimal(str(ask))
    if exact > high:
        return "AA"
    if exact == high:
        return "A"
    if exact > low:
        return "M"
    return "B" if exact == low else "BB"


def print_key(event: dict[str, Any]) -> tuple[Any, ...]:
    return event["sym"], event["t"], event["x"], event["p"], event["s"], tuple(event.get("c", ()))


def order_print_key(start_ms: int, order_print: OrderPrint) -> tuple[Any, ...]:
    p = order_print
    return p.symbol, start_ms + p.offset_ms, p.exchange, p.price, p.size, (p.condition,)
