"""The one representation of a stored trade: the JSON API shows it, webhooks send it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trades.models import OptionTrade

_SIDES = {"C": "CALL", "P": "PUT"}


# The fields of a serialized trade, in order (the API, webhooks and the admin's CSV export).
TRADE_FIELDS = (
    "symbol",
    "ticker",
    "strike",
    "expiry",
    "side",
    "price",
    "size",
    "premium",
    "dte",
    "exchange",
    "conditions",
    "sequence",
    "timestamp",
    "profiles",
)


def serialize_trade(trade: OptionTrade) -> dict[str, Any]:
    """The trade as the API shows it. Prefetch ``profiles`` when serializing many."""
    return {
        "symbol": trade.symbol,
        "ticker": trade.underlying,
        "strike": float(trade.strike),
        "expiry": trade.expiry.isoformat(),
        "side": _SIDES[trade.right],
        "price": float(trade.price),
        "size": trade.size,
        "premium": float(trade.premium),
        "dte": trade.dte,
        "exchange": trade.exchange,
        "conditions": list(trade.conditions),
        "sequence": trade.sequence,
        "timestamp": iso_utc_ms(trade.traded_at),
        "profiles": sorted(profile.name for profile in trade.profiles.all()),
    }


def iso_utc_ms(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a Z: ``2025-06-02T14:30:05.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
