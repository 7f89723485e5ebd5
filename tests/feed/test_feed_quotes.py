"""/v3/quotes/{optionsTicker}: the synthetic flow's NBBO, as Polygon serves quotes, and consistent
with the flow's prints: a regular print at the bid, the mid or the ask of the quote in force, a
buy sweep at the ask and above, a sell sweep at the bid and below."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polygon import RESTClient

from tests.feed_helpers import (
    ATM,
    KEY,
    START_MS,
    SyntheticTape,
    order_print_key,
    position,
    print_key,
    raw_get,
    stream_all,
    synthetic_tape,
    write_tape,
)
from trades.domain.calendar import NEW_YORK
from trades.domain.orders import OrderType, PricePath, Print, Subtype, build_order, group, repeated_hits
from trades.domain.side import Aggressor, Quote
from trades.feed import FeedServer, PrebuiltSource, SyntheticFlow, SyntheticReference, Tape
from trades.feed.orders import BLOCK, BUY, CROSS, FLOOR_PRINT, MID, REPEATED_HITS, ROLL, SELL, SPLIT, SWEEP, Order
from trades.feed.quotes import QUOTE_INTERVAL_MS, QuoteBook
from trades.feed.rest import RestApi
from trades.feed.synthetic import pregenerate_frames

NS = 1_000_000
SEED = 6
QUOTE_FIELDS = {
    "ask_exchange": int,
    "ask_price": float,
    "ask_size": int,
    "bid_exchange": int,
    "bid_price": float,
    "bid_size": int,
    "sequence_number": int,
    "sip_timestamp": int,
}


@pytest.fixture(scope="module")
def tape() -> SyntheticTape:
    return synthetic_tape(30_000, seed=SEED)


@pytest.fixture(scope="module")
def api(tape: SyntheticTape) -> RestApi:
    return RestApi(SyntheticReference(tape.flow), KEY, quotes=QuoteBook(tape.flow.underlyings))


@pytest.fixture
def feed(start_feed) -> FeedServer:
    flow = SyntheticFlow(seed=SEED, start_ms=START_MS)
    return start_feed(source=flow, reference=SyntheticReference(flow), trades=20_000, close_when_done=True)


def client_of(feed: FeedServer) -> RESTClient:
    return RESTClient(api_key=KEY, base=feed.rest_url, retries=0)


def quote_in_force(api: RestApi, symbol: str, t_ms: int) -> dict[str, Any]:
    """What the engine asks: the newest quote at or before the print."""
    query = urlencode({"timestamp.lte": t_ms * NS, "order": "desc", "limit": 1, "sort": "timestamp"})
    answer = api.handle(f"/v3/quotes/{symbol}?{query}", f"Bearer {KEY}", "http://feed")
    assert answer.status == 200, answer.body
    return answer.body["results"][0]


def expected_positions(order: Order | None) -> set[str]:
    """Where a print may sit against its quote: any print at the bid, mid or ask; a buy sweep at the
    ask or above, a sell sweep at the bid or below; other orders where their side says."""
    if order is None:
        return {"B", "M", "A"}
    if order.kind == SWEEP:
        return {"A", "AA"} if order.side == BUY else {"B", "BB"}
    if order.kind == ROLL:  # sold at the bid in one expiry, bought at the ask in the next
        return {"B", "A"}
    return {BUY: {"A"}, SELL: {"B"}, MID: {"M"}}[order.side]


def orders_by_print(tape: SyntheticTape) -> dict[tuple, Order]:
    return {order_print_key(start, p): order for start, order in tape.orders for p in order.prints}


# --- Consistent with the tape ---------------------------------------------------------------------


def test_every_print_lands_where_its_order_says_against_the_quote_rest_serves(tape, api):
    order_of = orders_by_print(tape)
    seen: dict[str, int] = {}
    for event in tape.events:
        quote = quote_in_force(api, event["sym"], event["t"])
        order = order_of.get(print_key(event))
        where = position(event["p"], quote["bid_price"], quote["ask_price"])

        assert 0 <= event["t"] * NS - quote["sip_timestamp"] < 1_000 * NS
        assert 0 < quote["bid_price"] < quote["ask_price"]
        assert where in expected_positions(order), (event, quote, order)
        if where == "M":
            assert event["p"] == pytest.approx((quote["bid_price"] + quote["ask_price"]) / 2)
        kind = "regular" if order is None else f"{order.kind} {order.side}"
        seen[f"{kind} {where}"] = seen.get(f"{kind} {where}", 0) + 1

    assert {"regular B", "regular M", "regular A", "SWEEP BUY AA", "SWEEP SELL BB"} <= set(seen)


def test_the_polygon_client_gets_the_quote_in_force_from_a_running_feed(feed, tape):
    client = client_of(feed)
    events = stream_all(feed)
    order_of = orders_by_print(tape)
    sweep_prints = [event for event in events if (order := order_of.get(print_key(event))) and order.kind == SWEEP]
    sample = sweep_prints + events[::200]
    assert len(sweep_prints) >= 10

    for event in sample:
        quotes = client.list_quotes(
            event["sym"], timestamp_lte=event["t"] * NS, order="desc", limit=1, sort="timestamp"
        )
        quote = next(iter(quotes))  # the first page's only quote: iterating on would page back through the day

        assert 0 <= event["t"] * NS - quote.sip_timestamp < QUOTE_INTERVAL_MS * NS
        where = position(event["p"], quote.bid_price, quote.ask_price)
        assert where in expected_positions(order_of.get(print_key(event))), (event, quote)
        assert quote.bid_size >= 1 and quote.ask_size >= 1 and 300 <= quote.bid_exchange <= 325
        assert quote.sequence_number == quote.sip_timestamp // (QUOTE_INTERVAL_MS * NS)


def test_the_snapshot_quotes_what_the_prints_trade_against(feed, tape):
    symbol = tape.events[0]["sym"]
    underlying = next(u.ticker for u in tape.flow.underlyings if symbol.startswith(f"O:{u.root}2"))

    snapshot = client_of(feed).get_snapshot_option(underlying, symbol)
    quote = next(iter(client_of(feed).list_quotes(symbol, timestamp_lte=tape.events[0]["t"] * NS, limit=1)))

    assert (snapshot.last_quote.bid, snapshot.last_quote.ask) == (quote.bid_price, quote.ask_price)


GROUPED_AS = {SWEEP: OrderType.SWEEP, SPLIT: OrderType.SPLIT, BLOCK: OrderType.BLOCK, CROSS: OrderType.BLOCK}
GROUPED_AS |= {FLOOR_PRINT: OrderType.BLOCK}
SUBTYPES = {CROSS: Subtype.CROSS, FLOOR_PRINT: Subtype.FLOOR}
# An order all at the mid leans neither way: MIXED (FLOW.md's order aggressor).
AGGRESSORS = {BUY: Aggressor.BUY, SELL: Aggressor.SELL, MID: Aggressor.NEUTRAL}  # mid prints alone: nobody leaned


def test_flows_grouping_finds_each_generated_order_alone_with_its_side(tape, api):
    """trades.domain.orders, fed the whole tape and the quote REST serves at each order's first
    print, finds every order the generator made, as it made it (its contract prints nothing else)."""
    by_symbol: dict[str, list[Print]] = defaultdict(list)
    by_key: dict[tuple, Print] = {}
    for event in tape.events:
        by_symbol[event["sym"]].append(domain_print(event))
        by_key[print_key(event)] = by_symbol[event["sym"]][-1]
    checked: Counter[str] = Counter()
    for start, order in tape.orders:
        if order.kind not in (*GROUPED_AS, REPEATED_HITS) or start + order.span_ms >= tape.events[-1]["t"]:
            continue
        prints = [by_key[order_print_key(start, p)] for p in order.prints]
        found = next(found for found in group(by_symbol[prints[0].symbol]) if prints[0] in found.prints)
        quote = quote_in_force(api, prints[0].symbol, start)
        judged = build_order(
            found.prints, Quote(dec(quote["bid_price"]), dec(quote["ask_price"]), quote["sip_timestamp"])
        )

        assert sorted(judged.prints, key=lambda p: p.key) == sorted(prints, key=lambda p: p.key)
        assert judged.aggressor is (Aggressor.NONE if order.kind == CROSS else AGGRESSORS[order.side])
        if order.kind == REPEATED_HITS:
            bursts = [b for b in repeated_hits(by_symbol[prints[0].symbol], market_cap=None) if prints[0] in b.prints]
            assert [(len(burst.prints), burst.price_path) for burst in bursts] == [(len(prints), PricePath.FLAT)]
        else:
            assert (judged.type, judged.subtype) == (GROUPED_AS[order.kind], SUBTYPES.get(order.kind))
        assert judged.golden == (order.kind == SWEEP and order.side == BUY and judged.premium >= 1_000_000)
        checked[f"{order.kind}{' golden' if judged.golden else ''}"] += 1

    assert {*GROUPED_AS, REPEATED_HITS, "SWEEP golden"} <= set(checked), checked


def domain_print(event: dict[str, Any]) -> Print:
    return Print(
        event["sym"],
        event["t"] * NS,
        event.get("q"),
        event["x"],
        dec(event["p"]),
        event["s"],
        tuple(event.get("c", ())),
    )


def dec(price: float) -> Decimal:
    return Decimal(str(price))


# --- Polygon's shape, parameters and paging ----------------------------------------------------


def test_quote_shape(feed, tape):
    symbol, t = tape.events[0]["sym"], tape.events[0]["t"]
    status, body, response = raw_get(feed, f"/v3/quotes/{symbol}?timestamp.lte={t * NS}&limit=2&apiKey={KEY}")

    assert status == 200 and response.headers["Content-Type"] == "application/json"
    assert list(body) == ["results", "status", "request_id", "next_url"] and body["status"] == "OK"
    assert [{key: type(value) for key, value in quote.items()} for quote in body["results"]] == [QUOTE_FIELDS] * 2
    newest, older = body["results"]
    assert newest["sip_timestamp"] - older["sip_timestamp"] == QUOTE_INTERVAL_MS * NS  # newest first by default
    assert body["next_url"].startswith(f"{feed.rest_url}/v3/quotes/{symbol}?cursor=")


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_quotes_page_over_next_url_in_either_order(feed, tape, order):
    symbol, t = tape.events[0]["sym"], tape.events[0]["t"]
    start = (t - t % 1000) * NS  # a whole second: four quotes, from start to start + 750 ms
    before = feed.stats.rest_requests

    quotes = list(
        client_of(feed).list_quotes(symbol, timestamp_gte=start, timestamp_lt=start + 10**9, limit=3, order=order)
    )

    times = [quote.sip_timestamp for quote in quotes]
    expected = [start + step * QUOTE_INTERVAL_MS * NS for step in range(4)]
    assert times == (expected if order == "asc" else expected[::-1])
    assert feed.stats.rest_requests - before == 2


def test_a_day_a_moment_and_open_ends(feed, tape):
    client = client_of(feed)
    symbol = tape.events[0]["sym"]
    day = datetime.fromtimestamp(START_MS / 1000, tz=NEW_YORK).date()
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).timestamp()) * 10**9

    first = next(iter(client.list_quotes(symbol, timestamp=day.isoformat(), order="asc", limit=1)))
    assert first.sip_timestamp == midnight
    last = next(iter(client.list_quotes(symbol, timestamp_lt=midnight + 86_400 * 10**9, limit=1)))
    assert last.sip_timestamp == midnight + 86_400 * 10**9 - QUOTE_INTERVAL_MS * NS  # the day's last
    assert [q.sip_timestamp for q in client.list_quotes(symbol, timestamp=midnight + QUOTE_INTERVAL_MS * NS)] == [
        midnight + QUOTE_INTERVAL_MS * NS
    ]
    assert list(client.list_quotes(symbol, timestamp=midnight + 1)) == []  # between two quotes
    since = next(iter(client.list_quotes(symbol, timestamp_gt=midnight + 1, order="asc", limit=1)))
    assert since.sip_timestamp == midnight + QUOTE_INTERVAL_MS * NS


def test_without_a_timestamp_the_newest_quotes_come_first():
    flow = SyntheticFlow(seed=SEED)  # today's flow
    symbol = orjson.loads(next(flow.frames(1)).payload)[0]["sym"]
    api = RestApi(SyntheticReference(flow), KEY, quotes=QuoteBook(flow.underlyings))
    before = time.time_ns()

    body = api.handle(f"/v3/quotes/{symbol}?limit=2", f"Bearer {KEY}", "http://feed").body

    newest, older = (quote["sip_timestamp"] for quote in body["results"])
    assert before - QUOTE_INTERVAL_MS * NS <= newest <= time.time_ns() and older == newest - QUOTE_INTERVAL_MS * NS


def test_no_quotes_for_unlisted_contracts_nor_on_a_tape(feed, start_feed, tmp_path, tape):
    client = client_of(feed)
    symbol, t = tape.events[0]["sym"], tape.events[0]["t"]
    expiry = date(2000 + int(symbol[-15:-13]), int(symbol[-13:-11]), int(symbol[-11:-9]))
    after_expiry = int(datetime.combine(expiry + timedelta(days=1), datetime.min.time(), NEW_YORK).timestamp())

    assert list(client.list_quotes(symbol, timestamp_gte=after_expiry * 10**9, limit=5)) == []
    assert list(client.list_quotes("O:AAPL250606C00231000", timestamp_lte=t * NS, limit=5)) == []  # off the grid
    assert list(client.list_quotes("O:XYZ250606C00010000", timestamp_lte=t * NS, limit=5)) == []
    assert list(client.list_quotes("AAPL", timestamp_lte=t * NS, limit=5)) == []
    taped = start_feed(source=Tape(write_tape(tmp_path / "tape.jsonl", 6)), close_when_done=True)
    status, body, _ = raw_get(taped, f"/v3/quotes/{ATM}?apiKey={KEY}")
    assert (status, body["results"]) == (200, [])  # a plan without quotes: the engine says UNKNOWN


def test_prebuilt_frames_of_a_synthetic_flow_get_its_quotes(start_feed):
    flow = SyntheticFlow(seed=SEED, start_ms=START_MS)
    frames = pregenerate_frames(100, seed=SEED, start_ms=START_MS)
    feed = start_feed(source=PrebuiltSource(frames), reference=SyntheticReference(flow))
    event = orjson.loads(frames[0].payload)[0]

    quote = next(iter(client_of(feed).list_quotes(event["sym"], timestamp_lte=event["t"] * NS, limit=1)))

    assert position(event["p"], quote.bid_price, quote.ask_price) in {"B", "M", "A"}


def test_bad_quote_parameters_answer_400(feed):
    for query, word in [
        ("timestamp.gte=yesterday", "timestamp.gte"),
        ("timestamp.any_of=1", "timestamp.any_of"),
        ("order=up", "order"),
        ("sort=price", "sort"),
        ("limit=0", "limit"),
        ("cursor=e30", "cursor"),
    ]:
        status, body, _ = raw_get(feed, f"/v3/quotes/{ATM}?{query}&apiKey={KEY}")
        assert (status, body["status"]) == (400, "ERROR") and word in body["error"], query


PARAMETER_NAMES = st.sampled_from(
    [
        *("timestamp", "timestamp.gt", "timestamp.gte", "timestamp.lt", "timestamp.lte", "timestamp.in"),
        *("order", "sort", "limit", "cursor", "apiKey", "x"),
    ]
)
PARAMETER_VALUES = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.integers(min_value=(START_MS - 10**8) * NS, max_value=(START_MS + 10**8) * NS).map(str),
    st.dates().map(date.isoformat),
    st.sampled_from(["asc", "desc", "timestamp", "0", "50001", "9999-12-30", "0001-01-01", "2025-06-04", ""]),
)


@settings(max_examples=300, deadline=None)
@given(query=st.lists(st.tuples(PARAMETER_NAMES, PARAMETER_VALUES), max_size=5))
# Found by a CI run: the window's end, clamped to the calendar's last ns (21 digits), went into a
# next_url whose timestamp.lte the next page refused.
@example(query=[("timestamp.gt", "0"), ("timestamp.lt", "2300-01-01")])
@example(query=[("timestamp.gte", "9999999999999999999")])
def test_any_quotes_query_gets_a_200_or_a_4xx_json_error(api, tape, query):
    symbol = tape.events[0]["sym"]
    answer = api.handle(f"/v3/quotes/{symbol}?{urlencode(query)}", f"Bearer {KEY}", "http://feed")

    assert answer.status == 200 or 400 <= answer.status < 500, (query, answer.body)
    assert orjson.dumps(answer.body)
    if answer.status == 200 and "next_url" in answer.body:
        following = api.handle(answer.body["next_url"].removeprefix("http://feed"), f"Bearer {KEY}", "http://feed")
        assert following.status == 200
        times = [quote["sip_timestamp"] for quote in answer.body["results"] + following.body["results"]]
        assert len(set(times)) == len(times)  # no quote twice
