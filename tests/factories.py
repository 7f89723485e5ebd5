"""Builders the tests share."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.utils import timezone

from trades.domain.calendar import NEW_YORK, utc_datetime
from trades.domain.occ import parse_occ, underlying_for_root
from trades.models import (
    FilterProfile,
    OptionTrade,
    Order,
    OrderMatch,
    OrderOutcome,
    OrderState,
    TradeMatch,
    VolumeCount,
    WatchedTicker,
    Watchlist,
)
from trades.selectors import flow_rules

T0 = 1_748_874_605_123  # 2025-06-02T14:30:05.123Z


def only_profile(name: str, tickers: list[str], **fields: Any) -> FilterProfile:
    """Make this the one filter profile (watching `tickers`), and have the next batch see it."""
    FilterProfile.objects.all().delete()
    watchlist = Watchlist.objects.create(name=name)
    WatchedTicker.objects.bulk_create(WatchedTicker(watchlist=watchlist, symbol=ticker) for ticker in tickers)
    flow_rules.forget_flow_rules()
    return FilterProfile.objects.create(name=name, watchlist=watchlist, **fields)


def frame(*events: Any) -> str:
    """One WebSocket frame (a JSON array of events), as the feed sends it."""
    return orjson.dumps(list(events)).decode()


def stored_trade(n: int, *, sip_timestamp: int = T0, profiles: tuple[str, ...] = (), **fields: Any) -> OptionTrade:
    symbol = fields.pop("symbol", "O:AAPL250620C00190000")
    values: dict[str, Any] = {
        "trade_key": f"{symbol}#{n}",
        "symbol": symbol,
        "underlying": "AAPL",
        "root": "AAPL",
        "expiry": date(2025, 6, 20),
        "right": "C",
        "strike": Decimal("190.000"),
        "price": Decimal("1.5400"),
        "size": 100,
        "shares_per_contract": 100,
        "premium": Decimal("15400.00"),
        "dte": 18,
        "exchange": 302,
        "conditions": [209],
        "sequence": n,
        "sip_timestamp": sip_timestamp,
        "traded_at": utc_datetime(sip_timestamp),
        "open_interest": 50,
        "spot": Decimal("195.1200"),
        "received_at": timezone.now(),
    }
    trade = OptionTrade.objects.create(**(values | fields))
    for name in profiles:
        TradeMatch.objects.create(trade=trade, profile=FilterProfile.objects.get(name=name))
    return trade


def profile_data(profile: FilterProfile, **changes: object) -> dict[str, object]:
    """The admin form's POST data for this profile, with some fields changed (None: left out)."""
    data: dict[str, object] = {
        "name": profile.name,
        "description": profile.description,
        "enabled": "on",
        "watchlist": profile.watchlist_id,
        "min_premium": "" if profile.min_premium is None else str(profile.min_premium),
        "min_size": "" if profile.min_size is None else profile.min_size,
        "min_dte": "" if profile.min_dte is None else profile.min_dte,
        "max_dte": "" if profile.max_dte is None else profile.max_dte,
        "strike_band": "" if profile.strike_band is None else str(profile.strike_band),
        "exclude_categories": list(profile.exclude_categories),
        "exclude_conditions": "[]",
        "judges": profile.judges,
        "order_types": list(profile.order_types),
        "aggressors": list(profile.aggressors),
        "sentiments": list(profile.sentiments),
        "opening": profile.opening,
        "min_vol_oi": "" if profile.min_vol_oi is None else str(profile.min_vol_oi),
        "_save": "Save",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def nvda_hit(n: int) -> OptionTrade:
    """An NVDA call hit of every profile that judges prints, traded now."""
    return stored_trade(
        n,
        symbol="O:NVDA250620C00150000",
        sip_timestamp=T0 + n,
        profiles=tuple(FilterProfile.objects.filter(judges="prints").values_list("name", flat=True)),
        underlying="NVDA",
        root="NVDA",
        strike=Decimal("150.000"),
        price=Decimal("2.1000"),
        size=500,
        premium=Decimal("105000.00"),
        traded_at=timezone.now(),
        open_interest=120,
        spot=Decimal("148.5000"),
    )


def ns_at(day: date, hour: int, minute: int) -> int:
    """New York's ``hour:minute`` on ``day``, in nanoseconds since the epoch."""
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).timestamp()) * 1_000_000_000


AAPL_195C = "O:AAPL261204C00195000"


def stored_order(order_id: str, day: date, profile: FilterProfile, **fields: Any) -> Order:
    """A stored order hit of AAPL 195 calls (11:00 New York on ``day``, $300K, bullish) matched by
    ``profile``; ``move_1d`` gives it an outcome."""
    first_ns = ns_at(day, 11, 0) if "first_ts_ns" not in fields else fields.pop("first_ts_ns")
    move = fields.pop("move_1d", None)
    values: dict[str, Any] = {
        "state": OrderState.HIT,
        "symbol": AAPL_195C,
        "underlying": "AAPL",
        "expiry": date(2026, 12, 4),
        "right": "C",
        "strike": Decimal(195),
        "type": "SWEEP",
        "prints": 5,
        "size": 300,
        "premium": Decimal(300_000),
        "vwap": Decimal(10),
        "dte": 14,
        "first_ts_ns": first_ns,
        "last_ts_ns": first_ns,
        "traded_at": datetime.fromtimestamp(first_ns / 1e9, tz=NEW_YORK),
        "price_path": "FLAT",
        "aggressor": "BUY",
        "sentiment": "BULLISH",
        "spot": Decimal(190),
        "received_at": datetime.fromtimestamp(first_ns / 1e9, tz=NEW_YORK),
    }
    order = Order.objects.create(order_id=order_id, **(values | fields))
    OrderMatch.objects.create(order=order, profile=profile)
    if move is not None:
        OrderOutcome.objects.create(order=order, spot0=Decimal(190), move_1d=move, market_1d=Decimal("0.001"))
    return order


def volume_count(symbol: str, day: date, hour: int, minute: int, dollars: int, volume: int = 1) -> VolumeCount:
    """A worker's count of ``symbol`` at New York's ``hour:minute`` on ``day``: premium in dollars."""
    at = ns_at(day, hour, minute) // 60_000_000_000
    underlying = underlying_for_root(parse_occ(symbol).root)
    return VolumeCount(
        symbol=symbol, underlying=underlying, trade_date=day, minute=at, volume=volume, premium=dollars * 100
    )
