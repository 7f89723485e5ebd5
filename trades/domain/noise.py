"""Orders that look like bets but are not: held back with a reason, never silently dropped.

- **spread**: a leg of a spread or a multi-leg package: its prints carry a multi-leg condition, or
  another contract of the same underlying printed the same size within PACKAGE_MS of it.
- **roll**: such a package whose other leg is the same right in another expiry (a position closed
  in one expiry and opened in the next at the same moment).
- **dividend**: a deep in-the-money call (strike at most DEEP_ITM_FRACTION of the spot) crossed or
  printed in a block on one of the DIVIDEND_DAYS trading days before an ex-dividend date: dividend
  capture, not a bet on the stock.
- **stock_tied**: its prints are tied to a stock trade (a stock-option condition): a hedge.

A leg's partners are looked for among the kept prints (the closer's book, a backfill's day), which
hold every print around an order by the time it closes: the answer does not depend on batching.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from trades.domain.calendar import trading_days_before
from trades.domain.occ import parse_occ
from trades.domain.orders import NS_PER_MS, Order, OrderType, Print, PrintClass, Subtype

PACKAGE_MS = 50
DEEP_ITM_FRACTION = 0.9
DIVIDEND_DAYS = 2
DIVIDEND_LOOKAHEAD = timedelta(days=7)  # ex-dividend dates this soon after a trade are read for it


class Noise(StrEnum):
    SPREAD = "spread"
    ROLL = "roll"
    DIVIDEND = "dividend"
    STOCK_TIED = "stock_tied"


REASONS = {
    Noise.SPREAD: "a leg of a spread or multi-leg package",
    Noise.ROLL: "a roll: closed in one expiry, opened in another at the same moment",
    Noise.DIVIDEND: "a likely dividend trade: a deep in-the-money call crossed before an ex-dividend date",
    Noise.STOCK_TIED: "tied to a stock trade (a hedge)",
}


@dataclass(frozen=True)
class Suppression:
    reason: Noise
    detail: str


def is_partner(order: Order, item: Print) -> bool:
    """Another contract of the same root, the order's whole size, within PACKAGE_MS of its first
    print (a package's legs are the same size; the size of one print of a sweep is too common to
    tell anything)."""
    first = order.prints[0]
    return (
        item.symbol != order.symbol
        and parse_occ(item.symbol).root == parse_occ(order.symbol).root  # the parser caches
        and item.size == order.size
        and abs(item.ts_ns - first.ts_ns) <= PACKAGE_MS * NS_PER_MS
        and item.kind not in (PrintClass.CANCEL, PrintClass.COMPRESSION)
    )


def suppression(order: Order, nearby: Iterable[Print]) -> Suppression | None:
    """Why the order is not a bet, if its prints or those around it say so (``nearby``: kept prints
    around its first print): a stock-tied order, a package's leg, a roll."""
    kinds = {item.kind for item in order.prints}
    if PrintClass.STOCK_OPTION in kinds:
        return Suppression(Noise.STOCK_TIED, "stock-option condition on its prints")
    partners = sorted({item.symbol for item in nearby if is_partner(order, item)})
    if partners:
        return _package(order, partners)
    if PrintClass.MULTI_LEG in kinds:
        codes = sorted({code for item in order.prints for code in item.conditions})
        return Suppression(Noise.SPREAD, f"multi-leg condition ({', '.join(map(str, codes))})")
    return None


def _package(order: Order, partners: Sequence[str]) -> Suppression:
    own = parse_occ(order.symbol)
    legs = [parse_occ(symbol) for symbol in partners]
    names = ", ".join(partners)
    if any(leg.right == own.right and leg.expiry != own.expiry for leg in legs):
        return Suppression(Noise.ROLL, f"with {names}, {order.size:,} contracts each")
    return Suppression(Noise.SPREAD, f"with {names}, {order.size:,} contracts each")


def dividend_capture(
    order: Order, spot: float | None, ex_dividends: Iterable[date], trade_date: date
) -> Suppression | None:
    """A deep in-the-money call crossed or printed in a block on one of the DIVIDEND_DAYS trading
    days before one of its underlying's ex-dividend dates (``spot``: the underlying's price then)."""
    if spot is None or parse_occ(order.symbol).right != "C":
        return None
    crossed = order.subtype in (Subtype.CROSS, Subtype.FLOOR) or order.type is OrderType.BLOCK
    deep = float(parse_occ(order.symbol).strike) <= DEEP_ITM_FRACTION * spot
    ex_dividend = next(
        (day for day in sorted(ex_dividends) if trade_date in trading_days_before(day, DIVIDEND_DAYS)), None
    )
    if not (crossed and deep) or ex_dividend is None:
        return None
    return Suppression(Noise.DIVIDEND, f"strike ≤ {DEEP_ITM_FRACTION:.0%} of spot {spot:g}, ex-dividend {ex_dividend}")
