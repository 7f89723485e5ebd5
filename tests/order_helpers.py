"""Trades that make orders, for the tests of grouping through the worker and end to end."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from trades.domain.orders import NS_PER_MS
from trades.models import Order, OrderState
from trades.services import orders

NY = ZoneInfo("America/New_York")
T0 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NY).timestamp() * 1000)
SWEEP_CONTRACT = "O:NVDA251219C00150000"


def trade(
    ms: int,
    *,
    sym: str = SWEEP_CONTRACT,
    p: float = 5.0,
    s: int = 100,
    x: int = 302,
    c: tuple[int, ...] = (209,),
    q: int | None = None,
) -> dict[str, Any]:
    """A trade event ``ms`` after 10:30 New York on 2025-12-05."""
    return {"ev": "T", "sym": sym, "x": x, "p": p, "s": s, "c": list(c), "t": T0 + ms, "q": q if q is not None else ms}


def a_million_dollar_sweep() -> list[dict[str, Any]]:
    """Twenty $50,000 prints (100 @ 5.00) on eight exchanges within 300 ms."""
    exchanges = [300, 301, 302, 303, 304, 307, 308, 309]
    return [trade(i * 15, x=exchanges[i % 8], c=(219,) if i % 3 == 0 else (209,), q=1000 + i) for i in range(20)]


def settle() -> orders.OrderReport:
    """The feed has gone quiet long enough for every order to close (two minutes: well within the
    book's horizon, so a later cancel still finds its print); then the candidates are judged (a
    worker of the reference queue does it; no worker runs here)."""
    later = orders.current_watermark(idle=False) + 120 * 1_000 * NS_PER_MS
    orders.advance_clock(later)
    closed = orders.close_due()
    judging = Order.objects.filter(state=OrderState.JUDGING).values_list("pk", flat=True)
    closed.hits = orders.judge_candidates(list(judging)).hits
    return closed
