"""The JSON API. Views parse the request, call selectors and serialize with trades.selectors.serializers."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from trades.domain.orders import OrderType
from trades.models import OrderState
from trades.selectors import hits
from trades.selectors.serializers import serialize_order, serialize_trade

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

    With ``API_TOKEN`` set, the request needs ``Authorization: Bearer <API_TOKEN>`` (a 401
    otherwise); with it unset the endpoint is open.
    """
    asked = _newest_query(request)
    if isinstance(asked, JsonResponse):
        return asked
    limit, ticker = asked
    trades = hits.latest_trades(limit=limit, underlying=ticker)
    return JsonResponse({"results": [serialize_trade(trade) for trade in trades]})


@csrf_exempt
@require_GET
def orders(request: HttpRequest) -> JsonResponse:
    """``GET /api/pulse/orders?limit=N&ticker=T&type=SWEEP``: the newest order hits (profiles that
    judge orders), newest first, each with its prints ("fills"). ``type`` is an order type, any case."""
    asked = _newest_query(request)
    if isinstance(asked, JsonResponse):
        return asked
    limit, ticker = asked
    order_type = request.GET.get("type", "").strip().upper() or None
    if order_type is not None and order_type not in OrderType.__members__:
        return JsonResponse({"error": f"type must be one of {', '.join(OrderType.__members__)}"}, status=400)
    found = hits.latest_orders(limit=limit, underlying=ticker, order_type=order_type)
    fills = hits.fills_of(found)  # every order's prints in one query
    return JsonResponse({"results": [serialize_order(order, fills[order.order_id]) for order in found]})


@csrf_exempt
@require_GET
def suppressed(request: HttpRequest) -> JsonResponse:
    """``GET /api/pulse/suppressed?limit=N&ticker=T``: the newest orders held back as noise (a
    spread's leg, a roll, a dividend trade, a stock-tied order), each with its reason and the
    profiles it would have matched, newest first."""
    asked = _newest_query(request)
    if isinstance(asked, JsonResponse):
        return asked
    limit, ticker = asked
    found = hits.latest_orders(limit=limit, underlying=ticker, state=OrderState.SUPPRESSED)
    fills = hits.fills_of(found)
    return JsonResponse({"results": [serialize_order(order, fills[order.order_id]) for order in found]})


def _newest_query(request: HttpRequest) -> tuple[int, str | None] | JsonResponse:
    """What both "newest hits" endpoints ask first: the token (401), the limit (400), the ticker."""
    if not _authorized(request):
        response = JsonResponse({"error": "a valid 'Authorization: Bearer <token>' header is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="flowsite"'
        return response
    limit = _parse_limit(request.GET.get("limit"))
    if limit is None:
        return JsonResponse({"error": f"limit must be an integer from 1 to {MAX_LIMIT}"}, status=400)
    return limit, request.GET.get("ticker", "").strip().upper() or None


def _authorized(request: HttpRequest) -> bool:
    token: str = settings.API_TOKEN
    if not token:
        return True
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # compare_digest: the time taken does not tell how much of a guess was right.
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


def _parse_limit(raw: str | None) -> int | None:
    if raw is None:
        return DEFAULT_LIMIT
    # isascii + isdigit: int() would also take " 5", "+5", "1_000" and non-ASCII digits.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        return None
    return int(raw)
