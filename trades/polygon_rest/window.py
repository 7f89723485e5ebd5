"""What traded in a window of time, over Polygon REST: for filling the listener's gaps.

Two steps: the chain snapshot says which contracts traded since the window opened (each
contract's `last_trade.sip_timestamp`), then `/v3/trades/{contract}` lists their trades in the
window. The trades come back as WebSocket trade events without a sequence number (REST options
trades have none), so the ingest judges them exactly as it judges live ones and stores a print
seen both ways once (trades/domain/identity.py).
"""

from __future__ import annotations

from typing import Any

from polygon import RESTClient

from trades.polygon_rest.loaders import LoadIssues, chain_items

TRADES_PAGE_SIZE = 50_000  # the endpoint's maximum
NS_PER_MS = 1_000_000


def contracts_traded_since(client: RESTClient, underlying: str, since_ns: int, issues: LoadIssues) -> list[str]:
    """The contracts of the underlying whose last trade is at or after `since_ns`."""
    symbols = []
    for item in chain_items(client, underlying):
        symbol = getattr(getattr(item, "details", None), "ticker", None)
        last_ns = getattr(getattr(item, "last_trade", None), "sip_timestamp", None)
        if not isinstance(symbol, str) or (last_ns is not None and type(last_ns) is not int):
            issues.skip(f"chain item of {underlying}", "no ticker, or a last trade without a time", item)
            continue
        if last_ns is not None and last_ns >= since_ns:
            symbols.append(symbol)
    return symbols


def trades_between(client: RESTClient, symbol: str, start_ns: int, end_ns: int, issues: LoadIssues) -> list[dict]:
    """The contract's trades with start_ns <= SIP time <= end_ns, oldest first, as WebSocket events."""
    pages = client.list_trades(
        symbol, timestamp_gte=start_ns, timestamp_lte=end_ns, order="asc", sort="timestamp", limit=TRADES_PAGE_SIZE
    )
    events = []
    for item in pages:
        event = trade_event(symbol, item)
        if event is None:
            issues.skip(f"trade of {symbol}", "no SIP timestamp in nanoseconds", item)
            continue
        events.append(event)
    return events


def trade_event(symbol: str, item: Any) -> dict | None:
    """A REST trade as the WebSocket would have sent it (the ingest checks every other field)."""
    sip_ns = getattr(item, "sip_timestamp", None)
    if type(sip_ns) is not int:
        return None
    event = {
        "ev": "T",
        "sym": symbol,
        "x": getattr(item, "exchange", None),
        "p": getattr(item, "price", None),
        "s": getattr(item, "size", None),
        "t": sip_ns // NS_PER_MS,
    }
    conditions = getattr(item, "conditions", None)
    if conditions is not None:
        event["c"] = conditions
    return event
