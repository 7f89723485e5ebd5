"""Property-based tests of the parsers of outside data and of trade identity (no database).

Whatever the stream sends, the parsers answer with a value or their own typed error: never an
IndexError, an OverflowError or anything else that would cost a batch.
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from trades.domain.identity import IncomingPrint, StoredPrint, place_prints, print_key
from trades.domain.occ import InvalidSymbol, OptionSymbol, parse_occ
from trades.domain.rules import InvalidTrade, RootInfo, Trade, parse_trade
from trades.stream.frames import count_trades, status_events

NY = ZoneInfo("America/New_York")
T0 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NY).timestamp() * 1000)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and ±Infinity included
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children),
    max_leaves=20,
)
occ_like = st.from_regex(r"O:[A-Z0-9]{0,8}[0-9]{6}[CPX][0-9]{7,9}", fullmatch=True)
symbols = st.one_of(st.just("O:AAPL251220C00190000"), st.just("O:AAPL"), occ_like, st.text(max_size=30), json_values)
numbers = st.one_of(
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(),
    st.sampled_from([0, 1, 100, 2**31, 2**63, T0, T0 * 1000, T0 * 1_000_000, 6.0, 1e8]),
)
# Events shaped like trades, each field valid, absent, or anything at all.
trade_like_events = st.fixed_dictionaries(
    {"ev": st.just("T")},
    optional={
        "sym": symbols,
        "p": st.one_of(numbers, json_values),
        "s": st.one_of(numbers, json_values),
        "t": st.one_of(numbers, st.just(T0), json_values),
        "x": st.one_of(numbers, json_values),
        "q": st.one_of(numbers, json_values),
        "c": st.one_of(st.lists(st.one_of(st.integers(min_value=-5, max_value=2**40), json_values)), json_values),
    },
)
ROOTS = {"AMC1": RootInfo("AMC", 10)}


def parses_or_is_rejected(event: object) -> None:
    try:
        trade = parse_trade(event, ROOTS)  # type: ignore[arg-type]
    except InvalidTrade as exc:
        assert exc.reason.startswith(("bad_", "expired_", "implausible_"))
        return
    assert isinstance(trade, Trade)
    assert math.isfinite(trade.premium) and trade.premium < 1e12
    assert len(trade.print_key) <= 64


@given(st.dictionaries(st.text(max_size=5), json_values))
def test_any_json_object_as_an_event_parses_or_is_rejected(event):
    parses_or_is_rejected(event)


@settings(max_examples=400)
@given(trade_like_events)
def test_any_trade_shaped_event_parses_or_is_rejected(event):
    parses_or_is_rejected(event)


@given(st.one_of(st.text(max_size=40), occ_like, json_values))
def test_any_symbol_parses_or_is_rejected(symbol):
    try:
        option = parse_occ(symbol)
    except InvalidSymbol:
        return
    assert isinstance(option, OptionSymbol)
    assert option.right in ("C", "P") and 1 <= len(option.root) <= 6


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50).map(lambda b: b.decode("latin-1"))))
def test_the_listeners_frame_checks_never_raise(frame):
    assert count_trades(frame) >= 0
    assert isinstance(status_events(frame), list)


# --- Identity: the same rows however the prints were batched --------------------------------

KEYS = [print_key("O:AAPL251220C00190000", T0, 302, 6.0, size, (209,)) for size in (100, 200)]
# In stream order: a contract's sequence numbers only grow (identical prints arriving out of order
# would swap places, which is all that tells them apart).
live_prints = st.lists(
    st.tuples(st.sampled_from(KEYS), st.integers(min_value=1, max_value=30)), max_size=25, unique_by=lambda p: p[1]
).map(lambda prints: sorted(prints, key=lambda p: p[1]))


def store(batches: list[list[IncomingPrint]]) -> list[StoredPrint]:
    """What the store would hold after placing each batch in turn."""
    rows: list[StoredPrint] = []
    for batch in batches:
        placement = place_prints(batch, rows)
        rows += [StoredPrint(batch[i].print_key, place, batch[i].sequence) for i, place in placement.new.items()]
        for i, row in placement.claims.items():
            rows[rows.index(row)] = StoredPrint(row.print_key, row.occurrence, batch[i].sequence)
    return rows


def cut(items: list, cuts: list[int]) -> list[list]:
    points = sorted({0, len(items), *(c % (len(items) + 1) for c in cuts)})
    return [items[a:b] for a, b in itertools.pairwise(points)]


@given(live_prints, st.lists(st.integers(min_value=0), max_size=6), st.integers(min_value=1, max_value=3))
def test_live_prints_are_stored_once_however_batched_and_redelivered(prints, cuts, deliveries):
    incoming = [IncomingPrint(key, sequence) for key, sequence in prints]
    at_once = store([incoming])
    batched = store(cut(incoming, cuts) * deliveries)  # every batch delivered `deliveries` times
    assert sorted(batched, key=repr) == sorted(at_once, key=repr)
    assert sorted((row.print_key, row.sequence) for row in at_once) == sorted(prints)
    for key in KEYS:  # identical prints take the places 0, 1, 2 … of their key
        places = sorted(row.occurrence for row in at_once if row.print_key == key)
        assert places == list(range(len(places)))


@given(live_prints, st.lists(st.integers(min_value=0), max_size=6), st.booleans())
def test_a_gap_filled_over_rest_adds_only_what_the_socket_missed(prints, cuts, rest_first):
    """REST lists the same prints without sequence numbers; live saw some of them."""
    live = [IncomingPrint(key, sequence) for key, sequence in prints]
    rest = [IncomingPrint(key, None) for key, _ in prints]
    seen_live = live[: len(live) // 2]
    batches = [rest, *cut(seen_live, cuts)] if rest_first else [*cut(seen_live, cuts), rest]
    rows = store(batches)
    assert len(rows) == len(prints)  # every print once, none twice
    for key in KEYS:
        assert sum(row.print_key == key for row in rows) == sum(p[0] == key for p in prints)
