"""The whole pipeline for real: local feed → `manage.py stream` → Redis → Celery worker → PostgreSQL.

The tape (tests/tapes/e2e.tape) mixes status frames, unwatched tickers, cancelled and late
prints, an expired contract, zero and negative sizes, missing fields and malformed items
among real hits; the expected set below was worked out by hand, line by line.
"""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests import processes
from trades.domain.conditions import DEFAULT_EXCLUDED
from trades.feed.server import FeedServer
from trades.feed.tape import read_tape
from trades.models import FilterProfile, OptionContract, OptionTrade, Underlying, WatchedTicker, Watchlist
from trades.presets import MAG7

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TAPE = Path(__file__).resolve().parents[1] / "tapes" / "e2e.tape"
KEY = "e2e-key"

# (symbol#sequence, underlying, premium, DTE, matched profiles), by hand:
EXPECTED = {
    ("O:AAPL251220C00190000#1", "AAPL", Decimal("60000.00"), 15, ("mag7",)),  # $6 × 100 × 100; 15 DTE
    ("O:MSFT260102P00400000#5", "MSFT", Decimal("60000.00"), 28, ("mag7",)),  # no conditions at all
    ("O:SPY251219C00650000#10", "SPY", Decimal("60000.00"), 14, ("classic",)),  # 200 > OI 150; 650 in [520, 680]
    ("O:TSLA251205C00400000#13", "TSLA", Decimal("55000.00"), 0, ("mag7",)),  # 0 DTE: the window's low edge
    ("O:GOOGL251219C00150000#15", "GOOGL", Decimal("50000.00"), 14, ("mag7",)),  # exactly $50K: inclusive
    ("O:AAPL251220C00190000#16", "AAPL", Decimal("60000.00"), 15, ("mag7",)),  # multi-leg 233 allowed
    ("O:AMZN251212C00230000#17", "AMZN", Decimal("60000.00"), 7, ("mag7",)),  # beside a status event
}
# Not stored: #2 unwatched XYZ, #3 cancelled, #4 late, #6 expired, #7 size 0, #8 size -5, #9 fields
# missing, #11 strike 700 outside the band, #12 $20K under both thresholds, #14 31 DTE; the last
# tape line replays line 2, so #1 must not be stored twice.


def configure_e2e_profiles() -> None:
    FilterProfile.objects.all().delete()
    mag7 = Watchlist.objects.create(name="mag7-e2e")
    WatchedTicker.objects.bulk_create(WatchedTicker(watchlist=mag7, symbol=s) for s in MAG7)
    classic = Watchlist.objects.create(name="classic-e2e")
    WatchedTicker.objects.bulk_create(WatchedTicker(watchlist=classic, symbol=s) for s in ["AAPL", "SPY"])
    excluded = sorted(DEFAULT_EXCLUDED)
    FilterProfile.objects.create(
        name="mag7", watchlist=mag7, min_premium=50_000, min_dte=0, max_dte=30, exclude_conditions=excluded
    )
    FilterProfile.objects.create(
        name="classic",
        watchlist=classic,
        min_premium=25_000,
        min_size=100,
        size_gt_open_interest=True,
        strike_band=Decimal("0.400"),
        exclude_conditions=excluded,
    )
    Underlying.objects.create(ticker="SPY", spot=600, strike_min=400, strike_max=800)  # band [520, 680]
    for strike, open_interest in [(650, 150), (700, 10)]:
        OptionContract.objects.create(
            symbol=f"O:SPY251219C{strike * 1000:08d}",
            root="SPY",
            underlying="SPY",
            expiry="2025-12-19",
            right="C",
            strike=strike,
            open_interest=open_interest,
        )


def stored() -> set[tuple]:
    return {
        (f"{t.symbol}#{t.sequence}", t.underlying, t.premium, t.dte, tuple(p.name for p in t.profiles.all()))
        for t in OptionTrade.objects.prefetch_related("profiles")
    }


def test_the_tape_stores_exactly_the_hand_computed_hits(tmp_path):
    configure_e2e_profiles()
    feed = FeedServer(api_key=KEY, source=read_tape(TAPE), close_when_done=True)
    host, port = feed.start_in_thread(host="127.0.0.1", port=0)
    worker = processes.start_worker(tmp_path / "worker.log")
    try:
        stream = subprocess.run(
            processes.manage("stream", "--once", "--source", "replay"),
            cwd=processes.ROOT,
            env=processes.process_env(POLYGON_WS_URL=f"ws://{host}:{port}", POLYGON_API_KEY=KEY),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert stream.returncode == 0, stream.stdout + stream.stderr
        assert "✅ Authenticated successfully!" in stream.stderr + stream.stdout
        processes.eventually(lambda: stored() == EXPECTED, timeout=30)
        processes.wait_for(processes.ingest_queue_idle, 30, "the ingest queue to drain")
    finally:
        processes.stop(worker)
        feed.stop()
    assert stored() == EXPECTED
    assert OptionTrade.objects.filter(source="replay").count() == len(EXPECTED)
    worker_log = (tmp_path / "worker.log").read_text()
    assert "💰 Smart Money: O:TSLA251205C00400000 $55,000 premium, 0 DTE [mag7]" in worker_log
    assert "must be a positive integer up to 10000000, got -5" in worker_log  # rejections are logged with the item
