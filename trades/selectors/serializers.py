"""The one representation of a stored hit (a trade, or an order): the JSON API shows it, webhooks send it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trades.domain.calendar import utc_datetime
from trades.domain.formatting import iso_utc, optional_float
from trades.domain.noise import REASONS, Noise
from trades.domain.orders import NS_PER_MS
from trades.domain.outcomes import HORIZONS, signed, versus_market
from trades.domain.webhooks import is_the_hits_alert
from trades.models import KeptPrint, OptionTrade, Order, TradeSource, WebhookDelivery

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
    "latency",
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
        "profiles": profile_names(trade),
        "latency": latency_of(trade),
    }


# An order carries the trade's fields (price is its VWAP, exchange its first print's, sequence its
# first print's) and these; "side" stays CALL or PUT as for a trade, "aggressor" says who crossed.
ORDER_FIELDS = (
    *TRADE_FIELDS,
    "kind",
    "order_id",
    "order_type",
    "subtype",
    "prints",
    "exchanges",
    "vwap",
    "span_ms",
    "price_path",
    "iso",
    "golden",
    "repeated_hits",
    "bid",
    "ask",
    "aggressor",
    "sentiment",
    "signed_premium",
    "opening",
    "opening_strict",
    "vol_oi",
    "open_interest",
    "open_interest_next",
    "oi_confirmed",
    "volume_before",
    "source",
    "outcome",
    "insight",
    "insight_facts",
    "suppressed",
    "fills",
)


def serialize_order(order: Order, fills: list[KeptPrint] | None = None) -> dict[str, Any]:
    """The order as the API shows it. Serializing many: prefetch ``profiles`` and pass each order's
    prints (selectors.hits.fills_of); else they are one query."""
    fills = list(order.contract_prints) if fills is None else fills
    first = fills[0] if fills else None
    return {
        "symbol": order.symbol,
        "ticker": order.underlying,
        "strike": float(order.strike),
        "expiry": order.expiry.isoformat(),
        "side": _SIDES[order.right],
        "price": float(order.vwap),
        "size": order.size,
        "premium": float(order.premium),
        "dte": order.dte,
        "exchange": first.exchange if first else None,
        "conditions": list(order.conditions),
        "sequence": first.sequence if first else None,
        "timestamp": iso_utc(order.traded_at),
        "profiles": profile_names(order),
        "latency": latency_of(order),
        "kind": "order",
        "order_id": order.order_id,
        "order_type": order.type,
        "subtype": order.subtype or None,
        "prints": order.prints,
        "exchanges": list(order.exchanges),
        "vwap": float(order.vwap),
        "span_ms": (order.last_ts_ns - order.first_ts_ns) // 1_000_000,
        "price_path": order.price_path,
        "iso": order.iso,
        "golden": order.golden,
        "repeated_hits": order.repeated_hits,
        "bid": optional_float(order.bid),
        "ask": optional_float(order.ask),
        "aggressor": order.aggressor,
        "sentiment": order.sentiment,
        "signed_premium": float(order.signed_premium),
        "opening": order.opening,
        "opening_strict": order.opening_strict,
        "vol_oi": optional_float(order.vol_oi),
        "open_interest": order.open_interest,
        "open_interest_next": order.open_interest_next,
        "oi_confirmed": order.oi_confirmed,
        "volume_before": order.volume_before,
        "source": order.source,
        "outcome": serialize_outcome(order),
        "insight": order.insight or None,
        "insight_facts": order.insight_facts,
        "suppressed": _suppressed(order),
        "fills": [_fill(fill) for fill in fills],
    }


def profile_names(hit: OptionTrade | Order) -> list[str]:
    """The names of the profiles the hit matched, sorted."""
    if hit.profile_names is not None:  # at hand where it was stored
        return sorted(hit.profile_names)
    return sorted(profile.name for profile in hit.profiles.all())


def latency_of(hit: OptionTrade | Order) -> dict[str, int | None] | None:
    """How late the hit was, in milliseconds after its print (an order's: its last print): when
    flowsite had it (an order: when it closed), when it was stored as a hit, when its first webhook
    was delivered (null until then, or without webhooks). Only for hits of the stream: a replay's
    or a backfill's prints are old by design."""
    if not _streamed(hit):
        return None
    stored = hit.judged_at if isinstance(hit, Order) else hit.stored_at
    return {
        "received_ms": ms_after_print(hit, hit.received_at),
        "stored_ms": ms_after_print(hit, stored),
        "alerted_ms": ms_after_print(hit, hit.alerted_at),
    }


def delivered_ms(delivery: WebhookDelivery) -> int | None:
    """Milliseconds from the hit's print to this delivery's webhook delivered: for a stream hit's
    own alert (not a digest or a follow-up), once delivered."""
    hit = delivery.trade or delivery.order
    if hit is None or not is_the_hits_alert(delivery.event) or not _streamed(hit):
        return None
    return ms_after_print(hit, delivery.delivered_at)


def _streamed(hit: OptionTrade | Order) -> bool:
    """A hit of the stream: a replay's or a backfill's prints are old by design."""
    return hit.source in (TradeSource.LIVE, TradeSource.GAP)


def ms_after_print(hit: OptionTrade | Order, moment: datetime | None) -> int | None:
    """Milliseconds from the hit's print (an order's: its last print) to ``moment``."""
    if moment is None:
        return None
    printed = utc_datetime(hit.last_ts_ns // NS_PER_MS) if isinstance(hit, Order) else hit.traded_at
    return round((moment - printed).total_seconds() * 1000)


def _suppressed(order: Order) -> dict[str, Any] | None:
    """Why an order held back as noise was, and the profiles that would have alerted it."""
    if not order.noise:
        return None
    return {
        "reason": order.noise,
        "why": REASONS[Noise(order.noise)],
        "detail": order.noise_detail,
        "profiles": order.candidate_profile_names(),
    }


def serialize_outcome(order: Order) -> dict[str, Any] | None:
    """What the underlying did after the order (None: no direction, or not measured yet); each
    horizon's move is a fraction (0.012 is +1.2%), null while its session has not closed."""
    found = getattr(order, "outcome", None)
    if found is None:
        return None
    horizons = []
    for days in HORIZONS:
        stock, market = getattr(found, f"move_{days}d"), getattr(found, f"market_{days}d")
        horizons.append(
            {
                "days": days,
                "move": optional_float(stock),
                "signed": optional_float(signed(stock, order.sentiment)),
                "market": optional_float(market),
                "versus_market": optional_float(versus_market(stock, market, order.sentiment)),
            }
        )
    return {
        "spot": float(found.spot0),
        "market_spot": optional_float(found.market0),
        "complete": found.complete,
        "horizons": horizons,
    }


def _fill(fill: KeptPrint) -> dict[str, Any]:
    return {
        "price": float(fill.price),
        "size": fill.size,
        "exchange": fill.exchange,
        "conditions": list(fill.conditions),
        "sequence": fill.sequence,
        "sip_timestamp_ns": fill.ts_ns,
    }
