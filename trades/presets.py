"""The filter profiles flowsite ships with: two that judge prints (migration 0002) and one that judges
orders (migration 0015)."""

MAG7 = ["AAPL", "MSFT", "GOOGL", "GOOG", "AMZN", "NVDA", "META", "TSLA"]
CLASSIC_TICKERS = ["SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "AMD"]

WATCHLISTS = {
    "mag7": {"description": "The Magnificent Seven (Alphabet as GOOGL and GOOG).", "tickers": MAG7},
    "classic": {"description": "Index ETFs and the most-traded single names.", "tickers": CLASSIC_TICKERS},
}

# Every ticker a shipped profile watches: the demo and the benchmark generate flow for all of them.
PRESET_TICKERS = sorted({ticker for watchlist in WATCHLISTS.values() for ticker in watchlist["tickers"]})

PROFILES = [
    {
        "name": "classic-unusual-activity",
        "description": "Watchlist, premium ≥ $25K, ≥ 100 contracts, size above open interest, strike within 40% band.",
        "watchlist": "classic",
        "min_premium": 25_000,
        "min_size": 100,
        "size_gt_open_interest": True,
        "strike_band": "0.400",
    },
    {
        "name": "mag7-smart-money",
        "description": "MAG7, premium ≥ $50K, 0–30 days to expiry.",
        "watchlist": "mag7",
        "min_premium": 50_000,
        "min_dte": 0,
        "max_dte": 30,
    },
]

ORDER_PROFILES = [
    {
        "name": "sweeps",
        "description": "Watchlist, sweeps and blocks of $250K or more, 0–45 days to expiry, opening new positions.",
        "watchlist": "classic",
        "judges": "orders",
        "order_types": ["SWEEP", "BLOCK"],
        "min_premium": 250_000,
        "min_dte": 0,
        "max_dte": 45,
        "opening": "opening",
    },
]
