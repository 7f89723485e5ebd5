"""What the stock did next: an order's outcome after 0, 1, 3 and 5 trading days (FLOW.md, "Daily
aggregates and outcomes").

``spot0`` is the underlying's price at the order (the close of the last whole minute before it);
the move after k trading days is close(day + k) / spot0 − 1, k = 0 being the order's own session;
the market's move over the same time is SPY's, from its price at the order. Signed by the order's
sentiment (a bearish order is right when the stock falls), and versus the market: the move less
SPY's. A horizon whose session has no close yet is pending (None), never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

HORIZONS = (0, 1, 3, 5)
_PLACES = Decimal("0.000001")
SIGNS = {"BULLISH": 1, "BEARISH": -1}


@dataclass(frozen=True)
class Move:
    days: int
    session: date | None  # the k-th trading day's date; None while pending
    stock: Decimal | None  # close / spot0 − 1
    market: Decimal | None  # SPY's move over the same time


def moves(
    day: date,
    spot0: Decimal,
    closes: Mapping[date, Decimal],
    market0: Decimal | None,
    market_closes: Mapping[date, Decimal],
) -> list[Move]:
    """The order's moves at each horizon: ``closes`` are the underlying's by trading day (only
    trading days have one), ``market_closes`` SPY's, ``market0`` SPY's price at the order."""
    sessions = sorted(session for session in closes if session >= day)
    if not sessions or sessions[0] != day:
        sessions = []  # the order's own session has no close yet: every horizon waits for it
    found = []
    for k in HORIZONS:
        session = sessions[k] if k < len(sessions) else None
        stock = None if session is None else _change(closes[session], spot0)
        market = None
        if session is not None and market0 is not None and session in market_closes:
            market = _change(market_closes[session], market0)
        found.append(Move(k, session, stock, market))
    return found


def _change(price: Decimal, base: Decimal) -> Decimal:
    return (price / base - 1).quantize(_PLACES)


def signed(move: Decimal | None, sentiment: str) -> Decimal | None:
    """The move as the order bet it: up for a bullish order, down for a bearish one."""
    sign = SIGNS.get(sentiment)
    return None if move is None or sign is None else move * sign


def versus_market(stock: Decimal | None, market: Decimal | None, sentiment: str) -> Decimal | None:
    """The signed move less the market's (signed alike): what the order's call added over SPY."""
    if stock is None or market is None:
        return None
    return signed(stock - market, sentiment)


def is_complete(found: Sequence[Move]) -> bool:
    return all(move.stock is not None and move.market is not None for move in found)
