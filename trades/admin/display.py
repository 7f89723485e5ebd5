"""How admin pages show values: the house style of trades/domain/formatting.py, "—" for nothing,
and verdicts whose colour means good or bad (the admin's own icons, never a bare boolean whose
green tick could mean "stale: yes")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from trades.domain import formatting
from trades.domain.formatting import contract_name
from trades.selectors.serializers import latency_of

NOTHING = "—"

# A verdict's look: the admin's icon and the text colour (its CSS variables follow the dark theme).
GOOD, BAD, NEUTRAL = "good", "bad", "neutral"
_LOOK = {
    GOOD: ("icon-yes.svg", "inherit"),
    BAD: ("icon-no.svg", "var(--error-fg)"),
    NEUTRAL: ("icon-unknown.svg", "var(--body-quiet-color)"),
}


def verdict(kind: str, text: str) -> SafeString:
    icon, colour = _LOOK[kind]
    return format_html(
        '<span class="verdict verdict-{}" style="color: {}"><img src="{}" alt="{}"> {}</span>',
        kind,
        colour,
        static(f"admin/img/{icon}"),
        kind,
        text,
    )


def money(amount: int | float | Decimal | None, decimals: int = 0) -> str:
    return NOTHING if amount is None else formatting.money(amount, decimals)


def percent(fraction: Decimal | None) -> str:
    """0.0123 → +1.23%."""
    return NOTHING if fraction is None else f"{fraction * 100:+.2f}%"


def count(value: int | None) -> str:
    return NOTHING if value is None else formatting.count(value)


def new_york_time(moment: datetime | None) -> str:
    return NOTHING if moment is None else formatting.new_york_time(moment)


def contract(symbol: str) -> SafeString:
    """The contract by name over its OCC symbol: ``NVDA 16 Dec 26 150 Call`` / ``O:NVDA261216C00150000``."""
    return format_html('{}<br><span class="quiet">{}</span>', contract_name(symbol), symbol)


class HitColumns:
    """The columns a trade hit and an order hit share (both have traded_at, symbol, dte, size, premium)."""

    @admin.display(description="time (New York)", ordering="traded_at")
    def time(self, hit: Any) -> str:
        return new_york_time(hit.traded_at)

    @admin.display(description="contract", ordering="symbol")
    def contract(self, hit: Any) -> SafeString:
        return contract(hit.symbol)

    @admin.display(description="DTE", ordering="dte")
    def days_to_expiry(self, hit: Any) -> int:
        return int(hit.dte)

    @admin.display(description="size", ordering="size")
    def size_count(self, hit: Any) -> str:
        return count(hit.size)

    @admin.display(description="premium", ordering="premium")
    def premium_dollars(self, hit: Any) -> str:
        return money(hit.premium)

    @admin.display(description="late by")
    def latency(self, hit: Any) -> str:
        """After its print: stored as a hit, and its first webhook delivered (stream hits only)."""
        figures = latency_of(hit)
        if figures is None or figures["stored_ms"] is None:
            return "—"
        alerted = figures["alerted_ms"]
        return f"{figures['stored_ms']:,} ms" + ("" if alerted is None else f", alert {alerted:,} ms")
