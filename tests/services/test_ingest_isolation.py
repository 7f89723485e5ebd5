"""One bad item never costs its batch: against real PostgreSQL, with faults injected into one item.

And the same prints give the same rows whichever way they arrive: live, redelivered, in other
batches, or again over REST without sequence numbers.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.db import OperationalError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import only_profile
from trades.domain.rules import InvalidTrade, matching_profiles, parse_trade
from trades.models import OptionTrade, Rejection
from trades.selectors import flow_rules
from trades.services import ingest
from trades.services.ingest import ingest_frames

NY = ZoneInfo("America/New_York")
T0 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NY).timestamp() * 1000)
pytestmark = pytest.mark.django_db


def frame(*events) -> str:
    # json, not orjson: it writes integers beyond 64 bits and NaN, as a broken feed might.
    return json.dumps(list(events))


def hit(q: int, **fields) -> dict:
    """$60K on AAPL, 15 DTE: a hit of the profile below."""
    return {
        "ev": "T",
        "sym": "O:AAPL251220C00190000",
        "x": 302,
        "p": 6.0,
        "s": 100,
        "c": [209],
        "t": T0 + q,
        "q": q,
    } | fields


@pytest.fixture(autouse=True)
def big_aapl_prints():
    only_profile("big", ["AAPL"], min_premium=50_000, min_dte=0, max_dte=30)
    yield
    flow_rules.forget_flow_rules()


def stored() -> set[tuple[str, int | None]]:
    return set(OptionTrade.objects.values_list("symbol", "sequence"))


def test_the_short_symbol_and_the_microsecond_timestamp_cost_only_themselves():
    """The two items that once made a fuzz run store 0 of 923 hits."""
    hits = [hit(q) for q in range(1, 39)]
    poison = [hit(100, sym="O:AAPL"), hit(101, t=T0 * 1000), hit(102, t=T0 * 1_000_000)]
    report = ingest_frames([frame(*hits[:20], *poison), frame(*hits[20:])])
    assert stored() == {("O:AAPL251220C00190000", q) for q in range(1, 39)}
    assert (report.stored, report.rejected) == (38, 3)
    assert report.rejections == {"bad_symbol": 1, "bad_timestamp": 2}


@pytest.mark.parametrize(
    "poison",
    [
        hit(100, s=2**31),  # beyond the size column
        hit(101, x=2**31),  # beyond the exchange column
        hit(102) | {"q": 2**63},  # beyond the sequence column
        hit(103, p=1e8),  # beyond the price column
        hit(104, p=9_999_999.0, s=9_999_999),  # a premium no column holds
    ],
)
def test_values_that_fit_no_column_are_rejected_before_the_database(poison):
    report = ingest_frames([frame(hit(1), hit(2), poison)])
    assert stored() == {("O:AAPL251220C00190000", 1), ("O:AAPL251220C00190000", 2)}
    assert report.rejected == 1


def test_an_exception_nobody_foresaw_while_parsing_rejects_that_item_alone(monkeypatch, caplog):
    def parse_with_a_bug(event, roots):
        if event.get("q") == 2:
            raise ZeroDivisionError("a bug about one item")
        return parse_trade(event, roots)

    monkeypatch.setattr(ingest, "parse_trade", parse_with_a_bug)
    report = ingest_frames([frame(hit(1), hit(2), hit(3))])
    assert stored() == {("O:AAPL251220C00190000", 1), ("O:AAPL251220C00190000", 3)}
    assert report.rejections == {"unexpected_error": 1}
    assert "ZeroDivisionError: a bug about one item" in caplog.text
    assert "Traceback" in caplog.text  # the unforeseen is logged with where it happened


def test_an_exception_while_judging_with_reference_data_rejects_that_trade_alone(monkeypatch):
    def match_with_a_bug(trade, profiles, reference):
        if trade.sequence == 2:
            raise KeyError("a bug about one trade")
        return matching_profiles(trade, profiles, reference)

    monkeypatch.setattr(ingest, "matching_profiles", match_with_a_bug)
    report = ingest_frames([frame(hit(1), hit(2), hit(3))])
    assert stored() == {("O:AAPL251220C00190000", 1), ("O:AAPL251220C00190000", 3)}
    assert report.rejections == {"unexpected_error": 1}


def test_a_row_the_database_refuses_costs_only_itself(monkeypatch):
    real_trade_row = ingest.trade_row

    def row_that_overflows_for_q2(hit, *args):
        row = real_trade_row(hit, *args)
        if hit.trade.sequence == 2:
            row.premium = Decimal("1e20")  # numeric(16, 2) holds less: PostgreSQL refuses the insert
        return row

    monkeypatch.setattr(ingest, "trade_row", row_that_overflows_for_q2)
    report = ingest_frames([frame(hit(1), hit(2), hit(3))])
    assert stored() == {("O:AAPL251220C00190000", 1), ("O:AAPL251220C00190000", 3)}
    assert (report.stored, report.rejections) == (2, {"not_storable": 1})


def test_the_database_being_away_fails_the_batch_so_that_it_is_retried(monkeypatch):
    def database_away(*args):
        raise OperationalError("connection refused")

    monkeypatch.setattr(ingest, "_store", database_away)
    with pytest.raises(OperationalError):
        ingest_frames([frame(hit(1))])


def test_rejections_are_counted_by_reason_across_batches_with_the_last_example():
    ingest_frames([frame(hit(1, s=-5), hit(2, s=0)), "{not json"])
    ingest_frames([frame(hit(3, s=-7))])
    counts = {row.reason: row.count for row in Rejection.objects.all()}
    assert counts == {"bad_size": 3, "bad_json": 1}
    bad_size = Rejection.objects.get(reason="bad_size")
    assert "-7" in bad_size.message and "'q': 3" in bad_size.example
    assert bad_size.first_seen_at <= bad_size.last_seen_at


def test_a_deeply_nested_item_is_rejected_and_logged_without_recursion_errors(caplog):
    nested = "[" * 900 + "]" * 900
    report = ingest_frames([f'[{{"ev":"T","sym":"O:AAPL251220C00190000","c":{nested}}}, {frame(hit(1))[1:-1]}]'])
    assert stored() == {("O:AAPL251220C00190000", 1)}
    assert report.rejections == {"bad_price": 1}
    assert "Logging error" not in caplog.text


# --- The same prints, the same rows, whichever way they came ---------------------------------


def rest_event(event: dict) -> dict:
    """The print as REST lists it: no sequence number."""
    return {key: value for key, value in event.items() if key != "q"}


def rows() -> list[tuple]:
    return sorted(OptionTrade.objects.values_list("trade_key", "symbol", "size", "sequence", "source"))


def test_identical_prints_are_separate_trades_and_rest_adds_none_of_them_again():
    twins = [hit(1, t=T0), hit(2, t=T0), hit(3, t=T0)]  # byte-identical but for the sequence number
    ingest_frames([frame(twins[0])])
    ingest_frames([frame(*twins[1:])])  # the third twin in another batch
    live = rows()
    assert [key.rsplit("#", 1)[1] for key, *_ in live] == ["0", "1", "2"]
    assert [sequence for *_, sequence, _source in live] == [1, 2, 3]
    report = ingest_frames([frame(*map(rest_event, twins))], source="gap")
    assert report.stored == 0 and rows() == live


def test_a_print_rest_stored_first_is_the_one_the_socket_brings_later():
    ingest_frames([frame(rest_event(hit(1)), rest_event(hit(2)))], source="gap")
    assert [sequence for *_, sequence, _source in rows()] == [None, None]
    report = ingest_frames([frame(hit(1), hit(7))])  # live: one print REST stored, one new
    assert report.stored == 1
    by_time = OptionTrade.objects.order_by("sip_timestamp").values_list("sip_timestamp", "sequence", "source")
    assert list(by_time) == [(T0 + 1, 1, "gap"), (T0 + 2, None, "gap"), (T0 + 7, 7, "live")]


# --- Any frames: exactly the valid hits, however batched -------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=10,
)
hits = st.builds(
    lambda q, price, size, dt, twin: hit(q, p=price, s=size, t=T0 if twin else T0 + dt),
    q=st.integers(min_value=1, max_value=10**6),
    price=st.sampled_from([6.0, 10.5, 0.5, 600.0]),
    size=st.sampled_from([100, 1000, 1]),
    dt=st.integers(min_value=0, max_value=10**6),
    twin=st.booleans(),
)
mutations = st.sampled_from(["sym", "p", "s", "t", "x", "q", "c", "ev"])
broken = st.tuples(hits, mutations, json_values).map(lambda m: m[0] | {m[1]: m[2]})
items = st.one_of(hits, broken, json_values)
garbage_frames = st.one_of(st.text(max_size=20), json_values.map(json.dumps))
frame_lists = st.lists(st.one_of(st.lists(items, max_size=8).map(lambda i: frame(*i)), garbage_frames), max_size=6)


def expected_hits(frames: list[str]) -> set[tuple[str, int | None]]:
    """The oracle: each item judged alone by the domain rules (DTE and premium: the profile above)."""
    rules = flow_rules.current_flow_rules()
    expected = set()
    for text in frames:
        try:
            events = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        for event in events if isinstance(events, list) else []:
            if not (isinstance(event, dict) and event.get("ev") == "T"):
                continue
            try:
                trade = parse_trade(event, rules.roots)
            except InvalidTrade:
                continue
            if matching_profiles(trade, rules.profiles, ingest.Reference()):
                expected.add((trade.symbol, trade.sequence))
    return expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame_lists, st.integers(min_value=1, max_value=4))
def test_any_frames_store_exactly_their_valid_hits_however_batched(frames, batches):
    OptionTrade.objects.all().delete()
    expected = expected_hits(frames)
    ingest_frames(frames)
    at_once = rows()
    assert stored() == expected
    OptionTrade.objects.all().delete()
    for start in range(batches):
        ingest_frames(frames[start::batches])  # other batches, in another order
    assert stored() == expected
    # The same rows and keys; only identical prints arriving in another order may swap sequence numbers.
    assert [row[:3] for row in rows()] == [row[:3] for row in at_once]
