"""The orders in the synthetic tape: sweeps, splits, blocks, crosses, floor prints, repeated hits,
spreads and cancels, found in the tape the way FLOW.md groups prints, and as the generator made them."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterable

import orjson
import pytest

from tests.feed_helpers import (
    START_MS,
    SyntheticTape,
    conditions,
    hit_bursts,
    order_print_key,
    order_runs,
    premium,
    print_key,
    run_type,
    synthetic_tape,
)
from trades.domain.conditions import CANCELLED, FLOOR, INTERMARKET_SWEEP, MULTI_LEG, REGULAR_AUTO, SINGLE_LEG_CROSS
from trades.feed.orders import (
    BLOCK,
    BUY,
    CANCEL,
    CROSS,
    FLOOR_PRINT,
    MAX_ORDER_SIZE,
    REPEATED_HITS,
    SELL,
    SPLIT,
    SPREAD,
    SWEEP,
    Order,
)
from trades.feed.synthetic import SyntheticFlow

TRADES = 100_000


@pytest.fixture(scope="module")
def tape() -> SyntheticTape:
    return synthetic_tape(TRADES)


def orders_of(tape: SyntheticTape, *kinds: str) -> list[Order]:
    return [order for _, order in tape.orders if order.kind in kinds]


def span(prints: Iterable[dict]) -> int:
    times = [event["t"] for event in prints]
    return max(times) - min(times)


# --- The tape as a whole --------------------------------------------------------------------------


def test_every_order_print_is_in_the_tape_at_its_own_time(tape):
    end = tape.events[-1]["t"]  # prints due later (cancels, mostly) are still to come
    in_tape = Counter(print_key(event) for event in tape.events)
    scheduled = Counter(
        order_print_key(start, p) for start, order in tape.orders for p in order.prints if start + p.offset_ms < end
    )

    assert scheduled and scheduled <= in_tape


@pytest.mark.parametrize("frame_size", [1, 7, 100])
def test_time_never_goes_backwards_and_frames_hold_exactly_the_prints_asked(frame_size):
    flow = SyntheticFlow(seed=3, start_ms=START_MS, clock_rate=2_000)  # 2 ms a frame of 4: orders span frames
    frames = flow.frames(frame_size)
    times = []
    for _ in range(20_000 // frame_size):
        frame = next(frames)
        events = orjson.loads(frame.payload)
        assert frame.trades == len(events) == frame_size
        times += [event["t"] for event in events]

    assert all(earlier <= later for earlier, later in itertools.pairwise(times))


def test_the_order_mix_per_100000_prints(tape):
    kinds = Counter(order.kind for _, order in tape.orders)
    in_orders = sum(len(order.prints) for _, order in tape.orders if order.kind != CANCEL)

    print(f"orders per {TRADES:,} prints: {dict(kinds)}; {in_orders} prints in orders other than cancels")
    assert 15 <= kinds[SWEEP] <= 50 and 10 <= kinds[SPLIT] <= 35 and 10 <= kinds[BLOCK] <= 35
    assert 5 <= kinds[CROSS] <= 25 and 5 <= kinds[FLOOR_PRINT] <= 25 and 5 <= kinds[REPEATED_HITS] <= 25
    assert 3 <= kinds[SPREAD] <= 20 and 600 <= kinds[CANCEL] <= 900
    assert in_orders / TRADES < 0.02  # a few orders in a tape of single prints


def test_a_seed_and_a_clock_repeat_the_orders():
    first, again = synthetic_tape(20_000, seed=4), synthetic_tape(20_000, seed=4)

    def without_q(events: list[dict]) -> list[dict]:
        return [{key: value for key, value in event.items() if key != "q"} for event in events]

    assert without_q(first.events) == without_q(again.events)
    assert first.orders == again.orders and first.orders


# --- Sweeps, splits, blocks -----------------------------------------------------------------------


def test_the_tape_holds_sweeps_as_flow_groups_them(tape):
    sweeps = [run for run in order_runs(tape.events) if run_type(run) == "SWEEP" and premium(run) >= 100_000]

    assert len(sweeps) >= 15
    for run in sweeps:
        assert len({event["x"] for event in run}) >= 2
        assert all(later["t"] - earlier["t"] <= 500 for earlier, later in itertools.pairwise(run))
    iso = [run for run in sweeps if any(conditions(event) & INTERMARKET_SWEEP for event in run)]
    assert iso and len(iso) < len(sweeps)  # a few without any ISO print


def test_generated_sweeps_walk_the_book_across_exchanges(tape):
    sweeps = orders_of(tape, SWEEP)

    for sweep in sweeps:
        prints = sweep.prints
        quote = sweep.contract.quote
        assert 3 <= len(prints) <= 20 and len({p.exchange for p in prints}) >= 2
        assert sweep.span_ms <= 300 and {p.symbol for p in prints} == {sweep.contract.symbol}
        prices = [p.price for p in prints]
        if sweep.side == BUY:
            assert prices[0] == quote.ask and prices == sorted(prices)
        else:
            assert prices[0] == quote.bid and prices == sorted(prices, reverse=True)
        assert 100_000 <= sweep.premium < 4_000_000
        assert sum(p.size for p in prints) <= MAX_ORDER_SIZE * 1.5
    codes = Counter(p.condition for sweep in sweeps for p in sweep.prints)
    assert set(codes) == {min(INTERMARKET_SWEEP), REGULAR_AUTO}
    assert any(len(set(p.price for p in sweep.prints)) > 1 for sweep in sweeps)  # some walk up or down
    assert {sweep.side for sweep in sweeps} == {BUY, SELL}
    assert {sweep.contract.right for sweep in sweeps} == {"C", "P"}
    golden = [sweep for sweep in sweeps if sweep.side == BUY and sweep.premium >= 1_000_000]
    assert 1 <= len(golden) < len(sweeps) / 2


def test_splits_are_a_few_prints_on_one_exchange_within_100_ms(tape):
    splits = orders_of(tape, SPLIT)

    assert splits
    for split in splits:
        assert 2 <= len(split.prints) <= 6 and len({p.exchange for p in split.prints}) == 1
        assert split.span_ms <= 100 and split.premium >= 50_000
    tape_splits = [run for run in order_runs(tape.events) if run_type(run) == "SPLIT" and premium(run) >= 50_000]
    assert len(tape_splits) >= 10 and all(span(run) <= 2_000 for run in tape_splits)


def test_blocks_crosses_and_floor_prints_are_big_single_prints(tape):
    def big(event: dict) -> bool:
        return event["s"] >= 1_000 or premium([event]) >= 100_000

    blocks = [run[0] for run in order_runs(tape.events) if run_type(run) == "BLOCK"]
    crosses = [event for event in tape.events if conditions(event) & SINGLE_LEG_CROSS]
    floor = [event for event in tape.events if conditions(event) & FLOOR]

    assert len(blocks) >= 10
    assert len(crosses) >= 5 and all(big(event) and event["c"] == [229] for event in crosses)
    assert len(floor) >= 5 and all(big(event) and event["c"] == [231] for event in floor)
    for order in orders_of(tape, BLOCK, CROSS, FLOOR_PRINT):
        assert len(order.prints) == 1 and order.premium >= 100_000


# --- Repeated hits, multi-leg prints, cancels -----------------------------------------------------


def test_the_tape_holds_repeated_hit_bursts_at_one_price(tape):
    bursts = hit_bursts(tape.events)
    flat = [burst for burst in bursts if len({event["p"] for event in burst}) == 1 and premium(burst) > 10_000]

    assert len(flat) >= 5
    for order in orders_of(tape, REPEATED_HITS):
        assert len(order.prints) > 5 and len({p.price for p in order.prints}) == 1
        offsets = [p.offset_ms for p in order.prints]
        assert all(0 < later - earlier <= 100 for earlier, later in itertools.pairwise(offsets))
    exchanges = {len({p.exchange for p in order.prints}) > 1 for order in orders_of(tape, REPEATED_HITS)}
    assert exchanges == {True, False}  # on one exchange and on several


def test_spreads_are_two_legs_at_one_moment_with_a_multi_leg_condition(tape):
    spreads = orders_of(tape, SPREAD)

    assert spreads
    for spread in spreads:
        first, second = spread.prints
        assert first.symbol != second.symbol and first.symbol[:-9] == second.symbol[:-9]  # a vertical
        assert (first.offset_ms, first.size, first.exchange) == (second.offset_ms, second.size, second.exchange)
        assert first.condition == second.condition and first.condition in MULTI_LEG
    assert 0.02 < sum(bool(conditions(event) & MULTI_LEG) for event in tape.events) / TRADES < 0.04


def test_most_cancels_cancel_an_earlier_print(tape):
    seen: set[tuple] = set()
    matched = unmatched = 0
    for event in tape.events:
        key = (event["sym"], event["p"], event["s"])
        if conditions(event) & CANCELLED:
            matched += key in seen
            unmatched += key not in seen
        else:
            seen.add(key)

    assert 0.005 < (matched + unmatched) / TRADES < 0.015
    assert matched > 3 * unmatched and unmatched > 0  # a few random ones still match nothing
    busted_blocks = [order for order in orders_of(tape, CANCEL) if order.premium >= 100_000]
    assert busted_blocks


def test_generation_stays_fast():
    started = time.perf_counter()
    synthetic_tape(100_000)
    # About 0.06 s per 100,000 prints here; this only catches a blunder (orders made per print).
    assert time.perf_counter() - started < 2.0
