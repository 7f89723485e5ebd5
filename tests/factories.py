"""Builders the tests share."""

from __future__ import annotations

from typing import Any

from trades.models import FilterProfile, WatchedTicker, Watchlist
from trades.selectors import flow_rules


def only_profile(name: str, tickers: list[str], **fields: Any) -> FilterProfile:
    """Make this the one filter profile (watching `tickers`), and have the next batch see it."""
    FilterProfile.objects.all().delete()
    watchlist = Watchlist.objects.create(name=name)
    WatchedTicker.objects.bulk_create(WatchedTicker(watchlist=watchlist, symbol=ticker) for ticker in tickers)
    flow_rules.forget_flow_rules()
    return FilterProfile.objects.create(name=name, watchlist=watchlist, **fields)
