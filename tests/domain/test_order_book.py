"""F12: any tape fed in random batch splits, batches shuffled within the lateness, gives the same
orders and ids as the whole tape at once; later than the lateness, reopening still gets there."""

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trades.domain.order_book import END_OF_TIME_NS, MemoryPrints, close_orders, watermark
from trades.domain.orders import LATENESS_MS, NS_PER_MS, Order, Print, group

T0_NS = 1_764_858_600_000 * 1_000_000
SYMBOLS = [f"O:NVDA251219{right}00{strike}000" for right in "CP" for strike in (140, 145, 150, 155, 160)]
CONDITIONS = [(209,)] * 12 + [(219,)] * 3 + [()] * 3 + [(232,), (229,), (231,), (204,)]


def a_tape(prints: int, seed: int = 7) -> list[Print]:
    """Bursts of prints on a few contracts (sweeps, splits, singles), with cancels of earlier prints."""
    rng = random.Random(seed)
    tape: list[Print] = []
    ts = T0_NS
    while len(tape) < prints:
        ts += rng.choice((1, 5, 40, 300, 450, 700, 1_500)) * NS_PER_MS
        symbol = rng.choice(SYMBOLS)
        for _ in range(rng.choice((1, 1, 2, 3, 6))):
            ts += rng.randrange(0, 120) * NS_PER_MS
            conditions = rng.choice(CONDITIONS)
            price = Decimal(rng.randrange(100, 400)) / 100
            tape.append(
                Print(symbol, ts, len(tape), rng.choice((302, 308, 313)), price, rng.randrange(1, 300), conditions)
            )
        if rng.random() < 0.03:
            target = rng.choice(tape[-50:])
            tape.append(Print(target.symbol, ts, len(tape), target.exchange, target.price, target.size, (201,)))
    return tape[:prints]


TAPE = a_tape(10_000)


def streamed(batches: list[list[Print]], tick_every: int = 5) -> list[Order]:
    """Feed the batches as the workers do: store, advance the watermark, close the batch's
    contracts; every few batches a tick closes everything due; at the end of the day, flush."""
    store = MemoryPrints()
    latest = 0
    for number, batch in enumerate(batches):
        new = store.add(batch)
        latest = max([latest, *(item.ts_ns for item in batch)])
        close_orders(store, (), watermark(latest), new)
        if number % tick_every == 0:
            close_orders(store, SYMBOLS, watermark(latest))
    close_orders(store, SYMBOLS, END_OF_TIME_NS)
    return store.all_orders()


def at_once(tape: list[Print]) -> list[Order]:
    by_symbol: dict[str, list[Print]] = {}
    for item in tape:
        by_symbol.setdefault(item.symbol, []).append(item)
    orders = [order for prints in by_symbol.values() for order in group(prints)]
    return sorted(orders, key=lambda order: (order.symbol, order.prints[0].key))


EXPECTED = at_once(TAPE)


def split(tape: list[Print], rng: random.Random) -> list[list[Print]]:
    batches, start = [], 0
    while start < len(tape):
        size = rng.choice((1, 3, 20, 100, 400, 1_000))
        batches.append(tape[start : start + size])
        start += size
    return batches


def shuffle_within_lateness(batches: list[list[Print]], rng: random.Random) -> list[list[Print]]:
    """Swap neighbouring batches now and then, but never so far that a batch comes after the
    watermark has passed its first print."""
    order = list(batches)
    for _ in range(len(order)):
        i = rng.randrange(len(order) - 1) if len(order) > 1 else 0
        if len(order) > 1 and order[i + 1][-1].ts_ns - order[i][0].ts_ns < LATENESS_MS * NS_PER_MS:
            order[i], order[i + 1] = order[i + 1], order[i]
    return order


def test_the_tape_has_every_kind_of_order():
    kinds = {order.type for order in EXPECTED}
    assert {"SWEEP", "SPLIT", "SINGLE", "BLOCK", "LATE", "MULTI_LEG"} <= kinds
    assert len(EXPECTED) < len(TAPE) - 500  # prints were grouped, and cancels took some away


@settings(max_examples=30, deadline=None)  # 30 random batchings a run (each run new ones): 6 s
@given(st.integers(0, 2**32))
def test_f12_batching_and_arrival_within_the_lateness_do_not_change_the_orders(seed):
    rng = random.Random(seed)
    batches = shuffle_within_lateness(split(TAPE, rng), rng)
    assert streamed(batches, tick_every=rng.choice((1, 3, 50))) == EXPECTED


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_prints_later_than_the_lateness_reopen_their_orders_and_end_the_same(seed):
    rng = random.Random(seed)
    batches = split(TAPE[:3_000], rng)
    rng.shuffle(batches)
    assert streamed(batches) == at_once(TAPE[:3_000])


def test_one_print_at_a_time_is_the_same_as_one_batch():
    assert streamed([[item] for item in TAPE[:2_000]]) == at_once(TAPE[:2_000])


def test_a_pruned_book_forgets_the_orders_ended_before_and_groups_what_comes_after_the_same():
    """The closer's book forgets orders that ended long before the watermark: the orders left, and
    those of the prints that come after, are the ones the whole tape gives."""
    store = MemoryPrints()
    half, quarter = len(TAPE) // 2, len(TAPE) // 4
    close_orders(store, SYMBOLS, watermark(TAPE[half - 1].ts_ns), store.add(TAPE[:half]))
    before = TAPE[quarter].ts_ns

    forgotten = store.prune(before)

    left = store.all_orders()
    assert forgotten and left and all(order.last_ts_ns >= before for order in left)
    assert not set(forgotten) & {item for order in left for item in order.prints}
    assert store.add([TAPE[half - 1]]) == []  # a print still held is still known
    for batch in split(TAPE[half:], random.Random(1)):
        close_orders(store, (), watermark(batch[-1].ts_ns), store.add(batch))
    close_orders(store, SYMBOLS, END_OF_TIME_NS)
    settled = before + 60_000 * NS_PER_MS  # past the orders a forgotten print or cancel could touch
    assert [order for order in store.all_orders() if order.first_ts_ns >= settled] == [
        order for order in EXPECTED if order.first_ts_ns >= settled
    ]


def a_closed_half() -> MemoryPrints:
    store = MemoryPrints()
    half = len(TAPE) // 2
    close_orders(store, SYMBOLS, watermark(TAPE[half - 1].ts_ns), store.add(TAPE[:half]))
    return store


@pytest.mark.parametrize("place", [0.1, 0.25, 0.4])
def test_pruning_forgets_exactly_the_prints_of_orders_ended_before_and_the_unordered_ones_before(place):
    store = a_closed_half()
    before = TAPE[int(len(TAPE) * place)].ts_ns + 1  # inside a moment: prints on both sides of it
    ended = {item for run in store.closed_in.values() if run.last_ts_ns < before for item in run.prints}
    loose = {
        item
        for prints in store.prints.values()
        for item in prints
        if item not in store.closed_in and item.ts_ns < before and item not in store.unclosed[item.symbol]
    }

    assert set(store.prune(before)) == ended | loose
    assert ended


def test_pruning_step_by_step_leaves_what_one_prune_leaves():
    """The closer prunes a little at every close: the book it keeps is the one a single prune keeps."""
    once, stepwise = a_closed_half(), a_closed_half()
    before = TAPE[len(TAPE) // 3].ts_ns
    once.prune(before)
    for step in range(TAPE[0].ts_ns, before + 1, (before - TAPE[0].ts_ns) // 40):
        stepwise.prune(step)
    stepwise.prune(before)

    assert stepwise.prints == once.prints and stepwise.all_orders() == once.all_orders()
    assert stepwise.moments == once.moments and stepwise.closed_in == once.closed_in


def test_a_cancel_that_takes_back_no_print_the_book_holds_is_named():
    store = MemoryPrints()
    traded = Print(SYMBOLS[0], T0_NS, 1, 302, Decimal("2.50"), 40, (209,))
    cancel = Print(SYMBOLS[0], T0_NS + NS_PER_MS, 2, 302, Decimal("2.50"), 40, (201,))
    orphan = Print(SYMBOLS[0], T0_NS + NS_PER_MS, 3, 302, Decimal("2.50"), 41, (201,))  # no print of 41
    store.add([traded, cancel, orphan])
    assert store.cancels_without_print([cancel, orphan]) == [orphan]
