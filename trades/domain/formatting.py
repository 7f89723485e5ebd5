"""How flowsite writes numbers, money, times and contracts for people: one style everywhere
(admin, log lines, chat messages, the status page).

- money: ``$8,646,120`` (whole dollars), ``$0.93`` (a price, two decimals);
- counts: ``12,400``;
- strikes: ``122.5``, ``5,000`` (no trailing zeros);
- times: New York, with the zone: ``2026-12-02 09:31:05 EST``; durations: ``8.3 s``, ``2 min 10 s``, ``3 h``;
- contracts: ``NVDA 27 Nov 26 122.5 Put`` beside the OCC symbol.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from trades.domain.occ import InvalidSymbol, parse_occ

NEW_YORK = ZoneInfo("America/New_York")
Number = int | float | Decimal


def optional_float(value: Number | None) -> float | None:
    """A stored number as JSON and the rules take it: a float, or None for none."""
    return None if value is None else float(value)


def money(amount: Number, decimals: int = 0) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(float(amount)):,.{decimals}f}"


def count(value: int) -> str:
    return f"{value:,}"


def strike(value: Number) -> str:
    text = f"{Decimal(str(value)):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def duration(seconds: float) -> str:
    """``0.4 s``, ``42 s``, ``2 min 10 s``, ``30 min``, ``3 h 5 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 90:
        return f"{whole} s"
    if whole < 90 * 60:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def plural(number: int, noun: str) -> str:
    """``1 failure``, ``12 failures`` (nouns that add an s)."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def short_new_york_time(moment: datetime, now: datetime) -> str:
    """``14:02`` on ``now``'s New York day, ``2026-12-01 14:02`` on another."""
    local = moment.astimezone(NEW_YORK)
    return f"{local:%H:%M}" if local.date() == now.astimezone(NEW_YORK).date() else f"{local:%Y-%m-%d %H:%M}"


def new_york_time(moment: datetime, precision: str = "seconds") -> str:
    """``2026-12-02 09:31:05 EST``; precision "milliseconds" adds ``.123``."""
    local = moment.astimezone(NEW_YORK)
    text = local.isoformat(sep=" ", timespec=precision)[:-6]  # without the "-05:00" offset
    return f"{text} {local.tzname()}"


def contract_name(symbol: str) -> str:
    """``O:NVDA261127P00122500`` → ``NVDA 27 Nov 26 122.5 Put``; the symbol itself if it is not OCC."""
    try:
        occ = parse_occ(symbol)
    except InvalidSymbol:
        return symbol
    right = "Call" if occ.right == "C" else "Put"
    return f"{occ.root} {occ.expiry:%d %b %y} {strike(occ.strike)} {right}"


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the API and webhooks write times:
    ``2025-06-02T14:30:05.123Z``."""
    if moment.tzinfo is None:
        raise ValueError("a timestamp must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hit_line_head(symbol: str, premium: Number, dte: int) -> str:
    return f"💰 Smart Money: {symbol} {money(premium)} premium, {dte} DTE ["


def hit_line(symbol: str, premium: Number, dte: int, profiles: list[str]) -> str:
    """The line a hit is logged and chatted as: ``💰 Smart Money: O:… $85,000 premium, 14 DTE [a, b]``."""
    return hit_line_head(symbol, premium, dte) + ", ".join(profiles) + "]"


def order_line_head(
    order_type: str, symbol: str, premium: Number, dte: int, aggressor: str, sentiment: str, opening: bool | None
) -> str:
    """``💰 Smart Money: SWEEP O:… $1,000,000 premium, 14 DTE, BUY BULLISH, opening [`` (the type
    reads GOLDEN SWEEP for a golden one; side facts only where known)."""
    return (
        f"💰 Smart Money: {order_type} {symbol} {money(premium)} premium, {dte} DTE"
        + "".join(f", {fact}" for fact in order_facts(aggressor, sentiment, opening))
        + " ["
    )


def order_facts(aggressor: str, sentiment: str, opening: bool | None) -> list[str]:
    """``["BUY BULLISH", "opening"]``; ``["side unknown"]`` without a quote."""
    if aggressor == "UNKNOWN":
        side = "side unknown"
    elif aggressor == "NONE":  # a cross: nobody crossed the spread
        side = ""
    elif sentiment == "NEUTRAL":  # at the mid, mixed, or a leg of a spread
        side = aggressor
    else:
        side = f"{aggressor} {sentiment}"
    return [fact for fact in (side, {True: "opening", False: "not opening", None: ""}[opening]) if fact]


def order_kind(order_type: str, golden: bool, subtype: str = "") -> str:
    """``SWEEP``, ``GOLDEN SWEEP``, ``BLOCK CROSS``."""
    kind = f"GOLDEN {order_type}" if golden else order_type
    return f"{kind} {subtype}" if subtype else kind
