"""What a backfill stored, for comparing runs: hits and orders by their natural ids, with every
figure that judging gave them (not how or when they came)."""

from __future__ import annotations

from trades.models import KeptPrint, OptionTrade, Order, OrderState


def stored_hits() -> dict[str, tuple]:
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


def stored_orders() -> dict[str, tuple]:
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


def forget_stored() -> None:
    OptionTrade.objects.all().delete()
    Order.objects.all().delete()
    KeptPrint.objects.all().delete()
