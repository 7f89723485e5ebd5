"""The local feed's trade log: /v3/trades/{optionsTicker} against the real polygon-api-client
RESTClient, the snapshots' last trade and day bar, and trades lost in a disconnect's gap
recovered over REST."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polygon import RESTClient

from tests.feed_helpers import (
    ATM,
    DEEP_OTM,
    KEY,
    LIVE_SPY,
    PUT,
    START_MS,
    SYMBOLS,
    T0,
    ns,
    raw_get,
    reference_document,
    stream_all,
    trade,
    write_tape,
)
from trades.domain.calendar import NEW_YORK
from trades.feed import FeedServer, SyntheticFlow, SyntheticReference, Tape
from trades.feed.rest import RestApi
from trades.feed.source import Frame, frame_from_events
from trades.feed.trade_log import LoggedTrade, TradeLog
from trades.feed.universe import parse_reference


def numbers_of(trades: Iterable[Any]) -> list[int]:
    """The tape numbers of REST trades (their size is n + 1)."""
    return [int(t.size) - 1 for t in trades]


def rest_client(feed: FeedServer) -> RESTClient:
    return RESTClient(api_key=KEY, base=feed.rest_url, retries=0)


@pytest.fixture
def streamed(start_feed, tmp_path) -> FeedServer:
    """A feed that has streamed a 60-trade tape (20 trades on each SYMBOL) to one client."""
    feed = start_feed(source=Tape(write_tape(tmp_path / "tape.jsonl", 60)), close_when_done=True)
    assert len(stream_all(feed)) == 60
    return feed


# --- /v3/trades/{optionsTicker} ---------------------------------------------------------------


def test_list_trades_serves_a_window_in_either_order(streamed):
    client = rest_client(streamed)

    ascending = list(client.list_trades(ATM, timestamp_gte=ns(9), timestamp_lte=ns(30), order="asc", limit=1000))
    newest_first = list(client.list_trades(ATM, timestamp_gte=ns(9), timestamp_lte=ns(30)))

    assert numbers_of(ascending) == [9, 12, 15, 18, 21, 24, 27, 30]
    assert numbers_of(newest_first) == [30, 27, 24, 21, 18, 15, 12, 9]  # Polygon's default: desc
    first = ascending[0]
    assert (first.sip_timestamp, first.participant_timestamp, first.price, first.size) == (ns(9), ns(9), 1.09, 10)
    assert (first.exchange, first.conditions, first.sequence_number, first.id) == (309, [209], None, None)
    assert [t.conditions for t in ascending] == [None if n % 4 == 3 else [209] for n in numbers_of(ascending)]
    assert numbers_of(client.list_trades(ATM, timestamp_gt=ns(9), timestamp_lt=ns(30), order="asc")) == [
        12,
        15,
        18,
        21,
        24,
        27,
    ]
    assert numbers_of(client.list_trades(PUT, timestamp=ns(13))) == [13]
    assert numbers_of(client.list_trades(PUT, timestamp=ns(12))) == []  # trade 12 is ATM's
    assert numbers_of(client.list_trades("O:SPY251219C00625000")) == []  # never printed


def test_list_trades_takes_dates_and_datetimes(streamed):
    client = rest_client(streamed)

    whole_day = numbers_of(client.list_trades(DEEP_OTM, timestamp=date(2025, 12, 5), order="asc"))
    since = datetime.fromtimestamp((T0 + 49.5) / 1000, tz=NEW_YORK)  # the client turns it into ns

    assert whole_day == list(range(2, 60, 3))
    assert numbers_of(client.list_trades(DEEP_OTM, timestamp=date(2025, 12, 4))) == []
    assert numbers_of(client.list_trades(DEEP_OTM, timestamp_gte=since, order="asc")) == [50, 53, 56, 59]
    assert numbers_of(client.list_trades(DEEP_OTM, timestamp_lt="2025-12-05")) == []
    assert len(list(client.list_trades(DEEP_OTM, timestamp_lte="2025-12-05"))) == 20


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_trades_pages_over_next_url(streamed, order):
    before = streamed.stats.rest_requests

    trades = list(rest_client(streamed).list_trades(PUT, timestamp_gte=ns(10), order=order, limit=3))

    expected = list(range(10, 60, 3))
    assert numbers_of(trades) == (expected if order == "asc" else expected[::-1])
    assert streamed.stats.rest_requests - before == math.ceil(len(expected) / 3)


def test_list_trades_shape_and_bad_parameters(streamed):
    target = f"/v3/trades/{ATM}?order=asc&limit=2&apiKey={KEY}"
    status, body, _ = raw_get(streamed, target)

    assert status == 200 and set(body) == {"results", "status", "request_id", "next_url"}
    assert body["results"][0] == {
        "conditions": [209],
        "exchange": 300,
        "participant_timestamp": ns(0),
        "price": 1.0,
        "sip_timestamp": ns(0),
        "size": 1,
    }
    assert set(body["results"][1]) == {"exchange", "participant_timestamp", "price", "sip_timestamp", "size"}
    for query, word in [
        ("timestamp.gte=yesterday", "timestamp.gte"),
        ("timestamp.any_of=1", "timestamp.any_of"),
        ("order=up", "order"),
        ("sort=price", "sort"),
        ("limit=0", "limit"),
        ("cursor=e30", "cursor"),
    ]:
        status, body, _ = raw_get(streamed, f"/v3/trades/{ATM}?{query}&apiKey={KEY}")
        assert (status, body["status"]) == (400, "ERROR") and word in body["error"], query
    status, body, _ = raw_get(streamed, f"/v3/trades/{ATM}?limit=999999&apiKey={KEY}")
    assert status == 200 and len(body["results"]) == 20  # above the maximum is the maximum


def test_without_a_trade_log_trades_are_not_served_and_snapshots_stay_synthetic(start_feed, tmp_path):
    feed = start_feed(source=Tape(write_tape(tmp_path / "tape.jsonl", 6)), close_when_done=True, record_trades=False)
    stream_all(feed)

    status, body, _ = raw_get(feed, f"/v3/trades/{ATM}?apiKey={KEY}")
    snapshot = rest_client(feed).get_snapshot_option("SPY", ATM)

    assert (status, body["status"]) == (403, "NOT_AUTHORIZED") and "not entitled" in body["message"]
    assert snapshot.last_trade.sip_timestamp > ns(60) and snapshot.day.volume >= 1  # today's synthetic values


# --- Snapshots agree with the log ---------------------------------------------------------------


def test_snapshots_take_last_trade_and_day_bar_from_the_log(streamed):
    client = rest_client(streamed)
    chain = {s.details.ticker: s for s in client.list_snapshot_options_chain("SPY", params={"limit": 250})}

    atm = chain[ATM]
    assert (atm.last_trade.sip_timestamp, atm.last_trade.price, atm.last_trade.size) == (ns(57), 1.57, 58)
    assert (atm.last_trade.exchange, atm.last_trade.conditions, atm.last_trade.timeframe) == (317, [209], "REAL-TIME")
    assert atm.day.volume == sum(n + 1 for n in range(0, 60, 3))
    assert (atm.day.open, atm.day.close, atm.day.low, atm.day.high) == (1.0, 1.57, 1.0, 1.57)
    turnover = sum(round(1 + n / 100, 2) * (n + 1) for n in range(0, 60, 3))
    assert atm.day.vwap == pytest.approx(turnover / atm.day.volume, abs=1e-4)
    assert chain[DEEP_OTM].last_trade.conditions is None  # trade 59 carried none
    single = client.get_snapshot_option("SPY", DEEP_OTM)
    assert (single.last_trade.sip_timestamp, single.day.volume) == (ns(59), sum(n + 1 for n in range(2, 60, 3)))


def test_on_a_tape_contracts_that_never_printed_show_no_trade(streamed):
    status, body, _ = raw_get(streamed, f"/v3/snapshot/options/SPY/O:SPY251219C00625000?apiKey={KEY}")

    snapshot = body["results"]
    assert status == 200 and "last_trade" not in snapshot
    assert snapshot["day"]["volume"] == 0 and set(snapshot["day"]) == {"last_updated", "previous_close", "volume"}


def test_which_contracts_traded_in_a_window_comes_from_the_chains_last_trades(streamed):
    chain = list(rest_client(streamed).list_snapshot_options_chain("SPY", params={"limit": 250}))

    def traded_since(n: int) -> set[str]:
        return {s.details.ticker for s in chain if s.last_trade is not None and s.last_trade.sip_timestamp >= ns(n)}

    assert {s.details.ticker for s in chain} == LIVE_SPY
    assert traded_since(0) == set(SYMBOLS)
    assert traded_since(58) == {PUT, DEEP_OTM}
    assert traded_since(60) == set()


def test_on_synthetic_flow_unprinted_contracts_keep_a_synthetic_trade_from_before_the_stream(start_feed):
    flow = SyntheticFlow(["AAPL"], seed=5, start_ms=START_MS)
    feed = start_feed(source=flow, reference=SyntheticReference(flow), trades=300, close_when_done=True)
    events = stream_all(feed)
    first_ns = min(event["t"] for event in events) * 1_000_000

    chain = list(rest_client(feed).list_snapshot_options_chain("AAPL", params={"limit": 250}))

    printed = {event["sym"] for event in events}
    since_first = {s.details.ticker for s in chain if s.last_trade.sip_timestamp >= first_ns}
    listed = {s.details.ticker for s in chain}
    assert since_first == printed & listed and since_first  # only the contracts the stream printed
    for snapshot in chain:
        if snapshot.details.ticker in printed:
            mine = [event for event in events if event["sym"] == snapshot.details.ticker]
            assert snapshot.day.volume == sum(event["s"] for event in mine)
        else:
            assert snapshot.day.volume >= 1  # synthetic history before the stream


# --- A disconnect's gap, recovered over REST ------------------------------------------------------


def test_trades_skipped_in_a_gap_are_exactly_what_rest_serves_for_the_gap_window(start_feed, tmp_path):
    feed = start_feed(
        source=Tape(write_tape(tmp_path / "tape.jsonl", 60)),
        disconnect_after=18,
        gap_trades=12,
        close_when_done=True,
    )

    received = sorted(event["q"] for event in stream_all(feed))

    gap = set(range(18, 30))
    assert received == [n for n in range(60) if n not in gap]
    assert (feed.stats.disconnects, feed.stats.trades_skipped) == (1, 12)
    client = rest_client(feed)
    recovered = [
        (symbol, n)
        for symbol in SYMBOLS
        for n in numbers_of(client.list_trades(symbol, timestamp_gte=ns(18), timestamp_lte=ns(29), order="asc"))
    ]
    assert sorted(n for _, n in recovered) == sorted(gap)
    assert all(symbol == SYMBOLS[n % 3] for symbol, n in recovered)
    assert sum(len(list(client.list_trades(symbol, limit=50000))) for symbol in SYMBOLS) == 60


def test_a_listener_finds_the_gaps_contracts_in_the_chain_and_their_trades(start_feed, tmp_path):
    feed = start_feed(
        source=Tape(write_tape(tmp_path / "tape.jsonl", 30)),
        disconnect_after=12,
        gap_trades=1,  # whole frames: trades 12 to 14, one on each SYMBOL
        disconnect_code=1006,
        close_when_done=True,
    )
    received = [event["q"] for event in stream_all(feed)]
    assert received == [*range(12), *range(15, 30)]
    client = rest_client(feed)
    before, after = ns(11), ns(15)  # the last trade the listener got before the drop, the first after it

    chain = client.list_snapshot_options_chain("SPY", params={"limit": 250})
    candidates = {s.details.ticker for s in chain if s.last_trade is not None and s.last_trade.sip_timestamp > before}
    lost = {
        (symbol, n)
        for symbol in candidates
        for n in numbers_of(client.list_trades(symbol, timestamp_gt=before, timestamp_lt=after, order="asc"))
    }

    assert candidates == set(SYMBOLS)  # the chain's other contracts never printed: no last trade
    assert lost == {(SYMBOLS[n % 3], n) for n in range(12, 15)}


# --- The log itself ------------------------------------------------------------------------------


def frames_of(numbers: range) -> list[Frame]:
    """Frames of three trades each."""
    return [frame_from_events([trade(n) for n in numbers[at : at + 3]]) for at in range(0, len(numbers), 3)]


def record(trade_log: TradeLog, frames: list[Frame]) -> None:
    for frame in frames:
        trade_log.record(frame, trade_log.recorded_through)


def test_the_log_keeps_at_most_its_capacity_oldest_out_first():
    trade_log = TradeLog(capacity=10)

    record(trade_log, frames_of(range(0, 30)))  # nothing parsed yet: whole frames go
    assert len(trade_log) <= 10
    record(trade_log, frames_of(range(30, 36)))  # now parsed trades go one by one

    kept = sorted(n for symbol in SYMBOLS for n in numbers_of(trade_log.trades(symbol)))
    assert kept == list(range(26, 36)) and trade_log.evicted == 26
    assert trade_log.started_ns() == ns(0)  # the stream's start, though never parsed into the log


def test_the_log_records_each_position_of_the_history_once():
    trade_log = TradeLog()
    frames = frames_of(range(0, 9))

    trade_log.record(frames[0], 0)
    trade_log.record(frame_from_events([trade(3)]), 3)  # a connection cut after trade 3
    for position, frame in zip((0, 3, 6), frames, strict=True):  # the next replays from the start
        trade_log.record(frame, position)

    assert sorted(n for symbol in SYMBOLS for n in numbers_of(trade_log.trades(symbol))) == list(range(9))


def test_the_log_skips_malformed_trades_and_sorts_a_tape_out_of_time_order():
    trade_log = TradeLog()
    events = [
        trade(5),
        trade(6, sym=ATM),
        trade(2, sym=ATM),
        {"ev": "T", "sym": ATM, "p": -1},
        trade(7, sym=ATM, s=0),
        trade(8, sym=ATM, t="soon"),
        trade(9, sym=ATM, c="209"),
        {"ev": "status", "status": "info"},
        trade(4, sym=ATM, p=float("inf")),
        trade(3, sym=ATM, t=T0 + 2),  # the same ms as trade 2: after it, in the order recorded
    ]
    trade_log.record(Frame(orjson.dumps(events), 9), 0)

    assert numbers_of(trade_log.trades(ATM)) == [2, 3, 6]
    assert numbers_of(trade_log.trades(DEEP_OTM)) == [5]
    assert trade_log.ignored == 5


def key(trade: LoggedTrade) -> tuple[int, int]:
    return trade.sip_timestamp, trade.ordinal


def test_paging_is_stable_while_trades_keep_arriving():
    trade_log = TradeLog()
    record(trade_log, frames_of(range(0, 30)))
    first = trade_log.page(ATM, None, None, descending=True, after=None, limit=4)
    oldest = trade_log.page(ATM, None, None, descending=False, after=None, limit=4)

    record(trade_log, frames_of(range(30, 45)))  # newer trades arrive between pages
    rest = trade_log.page(ATM, None, None, descending=True, after=key(first[-1]), limit=100)
    after = trade_log.page(ATM, None, None, descending=False, after=key(oldest[-1]), limit=100)

    assert numbers_of(first) + numbers_of(rest) == list(range(27, -1, -3))
    assert numbers_of(oldest) + numbers_of(after) == list(range(0, 45, 3))


# --- Any query string: a 200 or a 4xx JSON answer, never a 500 -----------------------------------

PARAMETER_NAMES = st.sampled_from(
    [
        *("timestamp", "timestamp.gt", "timestamp.gte", "timestamp.lt", "timestamp.lte", "timestamp.in"),
        *("order", "sort", "limit", "cursor", "apiKey", "timestamp.", ".gte", "x"),
    ]
)
PARAMETER_VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(date.isoformat),
    st.sampled_from(["asc", "desc", "timestamp", "0", "50001", "9999-12-31", "0001-01-01", "2025-02-30", ""]),
    st.binary(max_size=30).map(lambda raw: raw.decode("latin-1")),
)


@pytest.fixture(scope="module")
def trades_api() -> RestApi:
    trade_log = TradeLog()
    record(trade_log, frames_of(range(0, 30)))
    return RestApi(parse_reference(reference_document()), KEY, trade_log)


@settings(max_examples=400, deadline=None)
@given(query=st.lists(st.tuples(PARAMETER_NAMES, PARAMETER_VALUES), max_size=6), raw=st.text(max_size=40))
def test_any_trades_query_gets_a_200_or_a_4xx_json_error(trades_api, query, raw):
    for target in (f"/v3/trades/{ATM}?{urlencode(query)}", f"/v3/trades/{ATM}?{raw}", f"/v3/trades/{raw}"):
        answer = trades_api.handle(target, f"Bearer {KEY}", "http://feed")

        assert answer.status == 200 or 400 <= answer.status < 500, (target, answer.body)
        assert answer.body["status"] in ("OK", "ERROR", "NOT_FOUND") and orjson.dumps(answer.body)
        if answer.status == 200 and "next_url" in answer.body:
            cursor = answer.body["next_url"].removeprefix("http://feed")
            assert trades_api.handle(cursor, f"Bearer {KEY}", "http://feed").status == 200


def test_a_real_socket_answers_hostile_trade_queries_with_json(streamed):
    for target in (
        f"/v3/trades/{ATM}?timestamp.gte=9999-12-31&apiKey={KEY}",
        f"/v3/trades/{ATM}?timestamp=%FF%FE&apiKey={KEY}",
        f"/v3/trades/{ATM}?cursor={'A' * 500}&apiKey={KEY}",
        f"/v3/trades/%2F%2E%2E?apiKey={KEY}",
    ):
        status, body, response = raw_get(streamed, target)
        assert 200 <= status < 500 and response.headers["Content-Type"] == "application/json", (target, body)
