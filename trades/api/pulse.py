"""The first endpoints, kept as they were: ``/api/pulse/smart-money`` (print hits),
``/api/pulse/orders`` and ``/api/pulse/suppressed`` (order hits, and orders held back as noise),
newest first, ``limit`` and ``ticker`` (and ``type``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from trades.api.params import Newest, NewestOrders, known_only
from trades.models import OrderState
from trades.selectors import hits
from trades.selectors.serializers import serialize_order, serialize_trade

router = Router(tags=["pulse"])


@router.get("/smart-money", url_name="smart-money")
def smart_money(request: HttpRequest, asked: Query[Newest]) -> dict[str, Any]:
    """The newest print hits, newest first (by SIP time)."""
    known_only(request, Newest)
    trades = hits.latest_trades(limit=asked.limit, underlying=asked.ticker)
    return {"results": [serialize_trade(trade) for trade in trades]}


@router.get("/orders", url_name="orders")
def orders(request: HttpRequest, asked: Query[NewestOrders]) -> dict[str, Any]:
    """The newest order hits (profiles that judge orders), each with its prints ("fills")."""
    known_only(request, NewestOrders)
    found = hits.latest_orders(limit=asked.limit, underlying=asked.ticker, order_type=asked.type)
    fills = hits.fills_of(found)  # every order's prints in one query
    return {"results": [serialize_order(order, fills[order.order_id]) for order in found]}


@router.get("/suppressed", url_name="suppressed")
def suppressed(request: HttpRequest, asked: Query[Newest]) -> dict[str, Any]:
    """The newest orders held back as noise (a spread's leg, a roll, a dividend trade, a
    stock-tied order), each with its reason and the profiles it would have matched."""
    known_only(request, Newest)
    found = hits.latest_orders(limit=asked.limit, underlying=asked.ticker, state=OrderState.SUPPRESSED)
    fills = hits.fills_of(found)
    return {"results": [serialize_order(order, fills[order.order_id]) for order in found]}
