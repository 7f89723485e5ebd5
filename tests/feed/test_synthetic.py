"""The synthetic flow: valid, plausible, heavy-tailed, repeatable, and as hit-dense as promised."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime

import orjson
import pytest

from trades.domain.calendar import NEW_YORK
from trades.domain.conditions import CANCELLED, LATE, MULTI_LEG
from trades.domain.rules import Profile, Trade, parse_trade, passes_trade_rules
from trades.feed.market import DEFAULT_TICKERS, fridays, option_price, strike_step, underlying_model
from trades.feed.orders import MAX_ORDER_SIZE
from trades.feed.synthetic import SyntheticFlow, pregenerate_frames
from trades.presets import MAG7

# A Wednesday afternoon in New York, so the tests do not depend on today's date.
START_MS = int(datetime(2025, 6, 4, 14, 0, tzinfo=NEW_YORK).timestamp() * 1000)
TRADES = 100_000


@pytest.fixture(scope="module")
def events() -> list[dict]:
    frames = pregenerate_frames(TRADES, 100, seed=11, start_ms=START_MS)
    return [event for frame in frames for event in orjson.loads(frame.payload)]


@pytest.fixture(scope="module")
def trades(events: list[dict]) -> list[Trade]:
    return [parse_trade(event, {}) for event in events]  # raises InvalidTrade on any bad print


def test_frames_hold_the_requested_trades():
    frames = pregenerate_frames(250, 100, seed=1, start_ms=START_MS)
    assert [frame.trades for frame in frames] == [100, 100, 50]
    assert [len(orjson.loads(frame.payload)) for frame in frames] == [100, 100, 50]


def test_every_print_is_a_valid_polygon_trade(events, trades):
    assert len(trades) == TRADES
    assert {event["ev"] for event in events} == {"T"}
    assert {trade.underlying for trade in trades} == set(DEFAULT_TICKERS)
    assert all(300 <= trade.exchange <= 325 for trade in trades)


def test_sequence_numbers_increase_per_contract(trades):
    last: dict[str, int] = {}
    for trade in trades:
        assert trade.sequence is not None and trade.sequence > last.get(trade.symbol, -1)
        last[trade.symbol] = trade.sequence


def test_sizes_are_heavy_tailed(trades):
    sizes = [trade.size for trade in trades]
    small = sum(size <= 10 for size in sizes) / len(sizes)
    large = sum(size >= 500 for size in sizes) / len(sizes)
    assert small > 0.8
    assert 0.002 < large < 0.02
    assert max(sizes) <= MAX_ORDER_SIZE  # regular prints stop at 5,000; blocks go further


def test_conditions_are_mostly_regular_with_a_few_cancels_late_and_multi_leg(trades):
    kinds = Counter(condition_kind(trade) for trade in trades)
    share = {kind: count / len(trades) for kind, count in kinds.items()}
    assert set(share) == {"none", "209", "cancelled", "late", "multi-leg", "219", "229", "231"}
    assert share["209"] + share["none"] > 0.9
    assert 0.005 < share["cancelled"] < 0.015
    assert 0.002 < share["late"] < 0.01
    assert 0.02 < share["multi-leg"] < 0.04
    assert share["219"] + share["229"] + share["231"] < 0.005  # ISO sweep prints, crosses and floor prints


def condition_kind(trade: Trade) -> str:
    if not trade.conditions:
        return "none"
    code = trade.conditions[0]
    for kind, codes in (("cancelled", CANCELLED), ("late", LATE), ("multi-leg", MULTI_LEG)):
        if code in codes:
            return kind
    return str(code)


def test_contracts_look_listed(trades):
    for trade in trades[:5000]:
        assert trade.option.expiry.weekday() == 4  # a Friday
        assert 0 <= trade.dte <= 63
        step = strike_step(underlying_model(trade.underlying, seed=11).spot)
        assert trade.option.strike_thousandths % round(step * 1000) == 0
    near_term = sum(trade.dte <= 30 for trade in trades) / len(trades)
    assert near_term > 0.6


def test_premiums_are_plausible(trades):
    prices = sorted(trade.price for trade in trades)
    median = prices[len(prices) // 2]
    assert 0.2 < median < 10
    assert prices[-1] < 1000


def test_mag7_smart_money_hits_are_a_fraction_of_a_percent(trades):
    profile = Profile(id=1, name="mag7", tickers=frozenset(MAG7), min_premium=50_000, min_dte=0, max_dte=30)
    hits = sum(passes_trade_rules(trade, profile) for trade in trades) / len(trades)
    assert 0.002 <= hits <= 0.01


def test_a_seed_repeats_the_flow_except_sequence_numbers():
    first = [orjson.loads(frame.payload) for frame in pregenerate_frames(500, 100, seed=5, start_ms=START_MS)]
    time.sleep(0.002)
    second = [orjson.loads(frame.payload) for frame in pregenerate_frames(500, 100, seed=5, start_ms=START_MS)]
    other = [orjson.loads(frame.payload) for frame in pregenerate_frames(500, 100, seed=6, start_ms=START_MS)]

    def without_q(frames: list[list[dict]]) -> list[dict]:
        return [{k: v for k, v in event.items() if k != "q"} for frame in frames for event in frame]

    assert without_q(first) == without_q(second)
    assert without_q(first) != without_q(other)
    assert first[0][0]["q"] != second[0][0]["q"]


def test_live_flow_stamps_the_wall_clock_and_restarts_per_iteration():
    flow = SyntheticFlow(["AAPL"], seed=9)
    before = time.time_ns() // 1_000_000
    one, two = flow.frames(10), flow.frames(10)
    first, again = orjson.loads(next(one).payload), orjson.loads(next(two).payload)
    assert all(before <= event["t"] <= time.time_ns() // 1_000_000 for event in first)
    assert [event["sym"] for event in first] == [event["sym"] for event in again]


def test_unknown_tickers_get_a_seeded_spot_and_bad_ones_are_refused():
    assert underlying_model("ZZZZ", seed=1) == underlying_model("ZZZZ", seed=1)
    assert underlying_model("ZZZZ", seed=1).spot != underlying_model("ZZZZ", seed=2).spot
    assert underlying_model("SPX", seed=1).root == "SPXW"
    with pytest.raises(ValueError):
        underlying_model("not a ticker", seed=1)


def test_fridays_start_on_the_trade_date_when_it_is_one():
    assert fridays(date(2025, 6, 6), horizon_days=14) == [date(2025, 6, 6), date(2025, 6, 13), date(2025, 6, 20)]
    assert fridays(date(2025, 6, 7), horizon_days=7) == [date(2025, 6, 13)]


def test_option_prices_respect_intrinsic_and_time_value():
    call = option_price(100, 90, "C", 30, 0.3)
    put = option_price(100, 90, "P", 30, 0.3)
    assert call > 10 and 0 < put < 2
    assert option_price(100, 90, "C", 60, 0.3) > call  # more time, more value
