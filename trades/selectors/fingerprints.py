"""What judging gave each stored hit and order, by natural id (not how or when it came): two runs
over the same prints — streamed live, backfilled over REST or from flat files — compare equal."""

from __future__ import annotations

from typing import Any

from trades.models import OptionTrade, Order, OrderState


def hit_fingerprints() -> dict[str, tuple[Any, ...]]:
    rows = OptionTrade.objects.prefetch_related("profiles")
    return {
        row.trade_key: (
            row.symbol,
            row.price,
            row.size,
            row.premium,
            row.dte,
            row.exchange,
            tuple(row.conditions),
            row.open_interest,
            row.spot,
            row.stale_reference,
            tuple(sorted(profile.name for profile in row.profiles.all())),
        )
        for row in rows
    }


def order_fingerprints() -> dict[str, tuple[Any, ...]]:
    rows = Order.objects.filter(state=OrderState.HIT).prefetch_related("profiles")
    return {
        row.order_id: (
            row.type,
            row.subtype,
            row.prints,
            row.size,
            row.premium,
            row.vwap,
            row.price_path,
            row.first_ts_ns,
            row.open_interest,
            row.volume_before,
            row.opening,
            row.opening_strict,
            row.vol_oi,
            row.spot,
            row.aggressor,
            row.sentiment,
            row.golden,
            row.bid,
            row.ask,
            tuple(sorted(profile.name for profile in row.profiles.all())),
        )
        for row in rows
    }
