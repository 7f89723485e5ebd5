"""Helpers the feed's tests share: a reference universe, a client for the WebSocket side, a test tape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import urllib3
from polygon import WebSocketClient

from trades.domain.calendar import NEW_YORK
from trades.feed import FeedServer

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
