"""The one representation of a stored trade: the JSON API shows it, webhooks send it."""

from __future__ import annotations

from typing import Any

from trades.domain.formatting import iso_utc
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
        "timestamp": iso_utc(trade.traded_at),
        "profiles": sorted(profile.name for profile in trade.profiles.all()),
    }
