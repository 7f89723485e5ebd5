"""The seed-style single script, for the benchmark's comparison: the way such feeds start out.

One process does everything: polygon-api-client's WebSocketClient reads the feed and hands over
its parsed messages; each trade is judged against the profiles that judge prints (flowsite's own
rules, with the reference data read once at the start) and each hit is inserted as it is found.
No queue, no workers, no batching, no order grouping. Not for production: `manage.py bench` runs
it on the same tape as the pipeline and prints both rates.

    python -m trades.ops.seed_style ws://127.0.0.1:8765 API_KEY
"""

from __future__ import annotations

import os
import sys
import time

from trades.domain.rules import InvalidTrade, Reference, matching_profiles, parse_trade


def main(url: str, api_key: str) -> None:
    import django

    # The client calls back on its event loop, and a simple script inserts right there, blocking it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    django.setup()
    from django.utils import timezone
    from polygon import WebSocketClient
    from polygon.websocket.models import Market

    from trades.models import OptionContract, Underlying
    from trades.selectors.flow_rules import load_flow_rules
    from trades.services.ingest import Hit, trade_row
    from trades.stream.config import parse_ws_url

    rules = load_flow_rules()
    profiles = rules.print_profiles
    open_interest = dict(OptionContract.objects.values_list("symbol", "open_interest"))
    underlyings = {row.ticker: row for row in Underlying.objects.all()}
    trades = hits = 0

    def reference(underlying: str, symbol: str) -> Reference:
        row = underlyings.get(underlying)
        if row is None:
            return Reference(open_interest=open_interest.get(symbol))
        return Reference(
            open_interest=open_interest.get(symbol),
            spot=None if row.spot is None else float(row.spot),
            strike_min=None if row.strike_min is None else float(row.strike_min),
            strike_max=None if row.strike_max is None else float(row.strike_max),
        )

    def handle(messages: list) -> None:  # type: ignore[type-arg]
        nonlocal trades, hits
        for message in messages:
            if getattr(message, "event_type", None) != "T":
                continue
            trades += 1
            event = {
                "ev": "T",
                "sym": message.symbol,
                "x": message.exchange,
                "p": message.price,
                "s": message.size,
                "c": message.conditions,
                "t": message.timestamp,
                "q": message.sequence_number,
            }
            try:
                trade = parse_trade(event, rules.roots)
            except InvalidTrade:
                continue
            found = reference(trade.underlying, trade.symbol)
            matched = matching_profiles(trade, profiles, found)
            if matched:
                hits += 1
                # Its own keys: the benchmark's pipeline stored the same trades in the same table.
                row = trade_row(Hit(trade, found, matched), f"seed-{trade.print_key}", 0, "replay", timezone.now())
                row.save()

    host, secure = parse_ws_url(url)
    client = WebSocketClient(
        api_key=api_key, feed=host, market=Market.Options, secure=secure, subscriptions=["T.*"], max_reconnects=0
    )
    started = time.time()
    client.run(handle)
    print(f"seed-style: {trades} trades, {hits} hits in {time.time() - started:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
