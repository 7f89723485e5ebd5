"""The JSON API. Views parse the request, call selectors and serialize with trades.serializers."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from trades import selectors
from trades.serializers import serialize_trade

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


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
