"""The JSON API. Views parse the request and call selectors; ``serialize_trade`` is the one
representation of a stored trade (the webhooks' ``trade.flagged`` payload reuses it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from trades import selectors
from trades.models import OptionTrade

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
_SIDES = {"C": "CALL", "P": "PUT"}


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


# csrf_exempt: a read-only GET endpoint; without it a POST gets 403 from the CSRF middleware
# before require_GET can answer 405.
@csrf_exempt
@require_GET
def smart_money(request: HttpRequest) -> JsonResponse:
    """``GET /api/pulse/smart-money?limit=N&ticker=T``: the newest hits, newest first.

    A limit that is not an integer from 1 to MAX_LIMIT is a 400, not clamped: a client asking
    for more than it can get should know. ``ticker`` filters by underlying, case-insensitively.
    """
    limit = _parse_limit(request.GET.get("limit"))
    if limit is None:
        return JsonResponse({"error": f"limit must be an integer from 1 to {MAX_LIMIT}"}, status=400)
    ticker = request.GET.get("ticker", "").strip().upper() or None
    trades = selectors.latest_trades(limit=limit, underlying=ticker)
    return JsonResponse({"results": [serialize_trade(trade) for trade in trades]})


def _parse_limit(raw: str | None) -> int | None:
    if raw is None:
        return DEFAULT_LIMIT
    # isascii + isdigit: int() would also take " 5", "+5", "1_000" and non-ASCII digits.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        return None
    return int(raw)
