"""Adding tickers to a watchlist in bulk: ``AAPL, MSFT NVDA`` pasted into the admin."""

from __future__ import annotations

import re
from collections.abc import Iterable

from trades.models import WatchedTicker, Watchlist

# The rule config as code applies to a profile's tickers (trades/services/flowconfig.py): 1-16
# characters, no spaces, upper-cased; * stands for every underlying. 16 is WatchedTicker.symbol's length.
MAX_TICKER_LENGTH = 16
_SEPARATORS = re.compile(r"[,\s]+")


class TickerError(ValueError):
    """An entry that is not a ticker; the message names it."""


def parse_tickers(text: str) -> list[str]:
    """The tickers in ``text``, separated by commas, spaces or newlines: upper-cased, each once,
    in the order given. Raise TickerError naming the first entry that is not a ticker."""
    tickers: list[str] = []
    for entry in _SEPARATORS.split(text.strip()):
        if not entry:
            continue
        if len(entry) > MAX_TICKER_LENGTH:
            raise TickerError(
                f"{entry!r} is not a ticker: a ticker has 1-{MAX_TICKER_LENGTH} characters "
                "(separate tickers with commas, spaces or new lines)"
            )
        ticker = entry.upper()
        if ticker not in tickers:
            tickers.append(ticker)
    return tickers


def add_tickers(watchlist: Watchlist, tickers: Iterable[str]) -> list[str]:
    """Add the tickers the watchlist does not have yet; return those added, in the order given."""
    present = set(watchlist.tickers.values_list("symbol", flat=True))
    added = [ticker for ticker in dict.fromkeys(tickers) if ticker not in present]
    # ignore_conflicts: a ticker added meanwhile by someone else is simply there already.
    WatchedTicker.objects.bulk_create(
        [WatchedTicker(watchlist=watchlist, symbol=ticker) for ticker in added], ignore_conflicts=True
    )
    if added:
        watchlist.save(update_fields=["updated_at"])
    return added
