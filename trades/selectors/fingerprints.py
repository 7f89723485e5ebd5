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
    """The order hits and the orders held back as noise, with their insights and reasons."""
    rows = Order.objects.filter(state__in=[OrderState.HIT, OrderState.SUPPRESSED]).prefetch_related("profiles")
    return {
        row.order_id: (
            row.state,
            row.noise,
            row.noise_detail,
            row.insight,
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
