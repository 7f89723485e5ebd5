"""The benchmark's measuring parts, on small inputs (the benchmark itself is too long for the suite)."""

from __future__ import annotations

import os
from typing import cast

import orjson
import pytest

from trades.feed.server import FeedServer
from trades.feed.source import frame_from_events
from trades.feed.synthetic import pregenerate_frames
from trades.ops.benchmark import judging_profile
from trades.ops.latency_bench import Arrivals, frame_index, percentiles
from trades.ops.soak_bench import Samples, tree_rss_mb


def test_percentiles_are_read_off_the_sorted_values_in_milliseconds():
    line = percentiles("print → stored", [value / 1000 for value in range(100, 0, -1)])
    assert "p50    51.0  p95    96.0  p99   100.0  max   100.0 ms  (100)" in line
    assert percentiles("nothing", []).endswith("none")


def test_each_trade_is_found_in_its_frame_by_its_sequence_number():
    frames = [frame_from_events([{"ev": "T", "q": 7}, {"ev": "T", "q": 9}]), frame_from_events([{"ev": "T", "q": 3}])]
    assert frame_index(frames) == {7: 0, 9: 0, 3: 1}


def test_an_alert_is_noted_once_by_its_trade_or_order():
    arrivals = Arrivals()
    arrivals.note(orjson.dumps({"type": "trade.flagged", "data": {"sequence": 5}}), 1.0)
    arrivals.note(orjson.dumps({"type": "trade.flagged", "data": {"sequence": 5}}), 2.0)  # a retry
    arrivals.note(orjson.dumps({"type": "order.flagged", "data": {"order_id": "abc", "sequence": 5}}), 3.0)
    assert (arrivals.trades, arrivals.orders) == ({5: 1.0}, {"abc": 3.0})


@pytest.mark.django_db
def test_the_profile_names_the_functions_that_took_the_time():
    frames = pregenerate_frames(12_000, 100, ["AAPL", "NVDA"], seed=1)
    lines = judging_profile(frames, batches=2, top=5)
    assert lines[0].startswith("profile     judging 2 batches of 5,000 trades again")
    assert len(lines) == 6 and all("%" in line for line in lines[1:])


def test_the_soak_reports_growth_after_the_warm_up():
    samples = Samples({"listener": os.getpid()}, feed=cast(FeedServer, None))
    samples.rows = [
        (0, {"listener": 50.0}),
        (100, {"listener": 100.0}),
        (500, {"listener": 112.0}),
        (1_000, {"listener": 104.0}),
        (1_000, {"listener": 0.0}),  # exited: its last sample alive counts
    ]
    assert samples.lines(1_000) == [
        "  listener     100.0 MB after 100 trades →   104.0 MB at the end (+4.0%), at most 112.0 MB",
        "  resident MB by millions of trades sent:",
        " " * 12 + "    0.00M" * 10,
        "  listener        100      112      112      112      112      104      104      104      104      104",
    ]
    assert tree_rss_mb(os.getpid()) > 10  # this process, read from /proc
