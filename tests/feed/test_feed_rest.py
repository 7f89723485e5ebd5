"""The local feed's REST side against the real polygon-api-client RESTClient (and raw urllib3)."""

from __future__ import annotations

import asyncio
import math
import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command
from polygon import RESTClient, WebSocketClient
from polygon.exceptions import BadResponse

from tests import processes
from tests.feed_helpers import (
    AMC1,
    ATM,
    DEEP_OTM,
    EXPIRED,
    KEY,
    LIVE_SPY,
    SPXW,
    START_MS,
    raw_get,
    reference_document,
)
from trades.feed import FeedServer, SyntheticFlow, Tape
from trades.feed.market import spot_on, underlying_model
from trades.feed.synthetic import pregenerate_frames
from trades.feed.universe import ReferenceFileError, SyntheticReference, load_reference_file, parse_reference


@pytest.fixture
def reference_file(tmp_path: Path) -> Path:
    path = tmp_path / "reference.json"
    path.write_bytes(orjson.dumps(reference_document()))
    return path


@pytest.fixture
def feed(start_feed, reference_file) -> FeedServer:
    return start_feed(reference=load_reference_file(reference_file))


@pytest.fixture
def client(feed: FeedServer) -> RESTClient:
    return RESTClient(api_key=KEY, base=feed.rest_url, retries=0)


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


# --- Contracts ----------------------------------------------------------------------------------


def test_paging_over_next_url_returns_every_contract_exactly_once(feed, client):
    before = feed.stats.rest_requests

    tickers = [c.ticker for c in client.list_options_contracts(underlying_ticker="SPY", limit=4)]

    assert sorted(tickers) == tickers  # by ticker, as Polygon sorts by default
    assert len(tickers) == len(set(tickers)) and set(tickers) == LIVE_SPY
    assert feed.stats.rest_requests - before == math.ceil(len(LIVE_SPY) / 4)


def test_contract_filters(client):
    def tickers(**filters: Any) -> list[str]:
        return [c.ticker for c in client.list_options_contracts(limit=1000, **filters)]

    puts = tickers(underlying_ticker="SPY", contract_type="put")
    assert len(puts) == 10 and all(t[-9] == "P" for t in puts)
    assert len(tickers(underlying_ticker="SPY", expiration_date="2025-12-12")) == 11
    assert len(tickers(expiration_date_gte="2025-12-19", expiration_date_lte="2025-12-31")) == 12  # SPY and SPX
    middle = [c.strike_price for c in client.list_options_contracts(strike_price_gte=600, strike_price_lt=650)]
    assert sorted(middle) == [600] * 4 + [625] * 4
    assert tickers(expired=True) == [EXPIRED]
    assert tickers(expired=True, as_of="2025-12-13") == sorted([EXPIRED, *[t for t in LIVE_SPY if "251212" in t]])
    by_strike = list(client.list_options_contracts(underlying_ticker="SPY", sort="strike_price", order="desc"))
    assert by_strike[0].ticker == DEEP_OTM and by_strike[-1].strike_price == 550
    assert tickers(underlying_ticker="QQQ") == []


def test_single_contract_and_an_unknown_one(client):
    amc = client.get_options_contract(AMC1)

    assert (amc.underlying_ticker, amc.shares_per_contract, amc.strike_price) == ("AMC", 10, 5)
    assert (amc.contract_type, amc.expiration_date, amc.exercise_style) == ("call", "2026-01-16", "american")
    assert amc.additional_underlyings[0].underlying == "AMC"
    assert client.get_options_contract(SPXW).exercise_style == "european"
    with pytest.raises(BadResponse) as raised:
        client.get_options_contract("O:SPY251219C00601000")
    assert orjson.loads(str(raised.value))["status"] == "NOT_FOUND"


# --- Snapshots ----------------------------------------------------------------------------------


def test_chain_snapshot_pages_with_open_interest_spot_and_greeks_only_where_computable(client):
    snapshots = {s.details.ticker: s for s in client.list_snapshot_options_chain("SPY", params={"limit": 6})}

    assert set(snapshots) == LIVE_SPY
    assert {s.underlying_asset.price for s in snapshots.values()} == {600.0}
    assert snapshots[ATM].open_interest == 600
    assert snapshots["O:SPY251219P00650000"].open_interest is None  # null in the file: left out
    assert snapshots[DEEP_OTM].greeks is None and snapshots[DEEP_OTM].implied_volatility is None
    atm = snapshots[ATM]
    assert 0.4 < atm.greeks.delta < 0.6 and atm.greeks.gamma > 0 and atm.greeks.theta < 0 and atm.greeks.vega > 0
    assert 0 < atm.last_quote.bid < atm.last_quote.midpoint < atm.last_quote.ask
    assert atm.break_even_price == pytest.approx(600 + atm.last_quote.midpoint)
    assert atm.underlying_asset.change_to_break_even == pytest.approx(atm.last_quote.midpoint)


def test_an_index_chain_carries_value_not_price(client):
    for underlying in ("SPX", "I:SPX"):
        snapshots = list(client.list_snapshot_options_chain(underlying))

        assert {s.details.ticker for s in snapshots} == {SPXW, "O:SPXW251219C06000000"}
        assert {(s.underlying_asset.value, s.underlying_asset.price) for s in snapshots} == {(5900.5, None)}
        assert {s.details.exercise_style for s in snapshots} == {"european"}


def test_chain_snapshot_filters(client):
    calls = list(
        client.list_snapshot_options_chain(
            "SPY", params={"contract_type": "call", "expiration_date": "2025-12-19", "strike_price.gte": 600}
        )
    )
    assert sorted(s.details.strike_price for s in calls) == [600, 625, 650]
    assert list(client.list_snapshot_options_chain("QQQ")) == []


def test_single_contract_snapshot(client):
    snapshot = client.get_snapshot_option("SPX", SPXW)

    assert snapshot.details.ticker == SPXW and snapshot.open_interest == 10
    assert snapshot.underlying_asset.value == 5900.5
    assert snapshot.last_trade.conditions == [209] and 300 <= snapshot.last_trade.exchange <= 325
    with pytest.raises(BadResponse):
        client.get_snapshot_option("SPY", SPXW)  # not SPY's


# --- Conditions, exchanges ------------------------------------------------------------------------


def test_conditions_are_polygons_options_list_paged_by_ten(feed, client):
    before = feed.stats.rest_requests

    conditions = {c.id: c for c in client.list_conditions(asset_class="options")}

    assert feed.stats.rest_requests - before == 4  # 33 conditions, 10 a page by default
    assert sorted(conditions) == [*range(201, 211), 219, *range(227, 249)]
    assert conditions[201].name == "Canceled" and conditions[202].name == "Late and Out Of Sequence"
    assert conditions[209].name == "Automatic Execution" and conditions[209].abbreviation == "AUTO"
    assert conditions[232].name == "Multi Leg auto-electronic trade"
    assert conditions[240].name == "Stock Options auto-electronic trade"
    assert conditions[201].update_rules.consolidated.updates_volume is False
    assert conditions[209].update_rules.consolidated.updates_volume is True
    assert {(c.asset_class, c.type, tuple(c.data_types)) for c in conditions.values()} == {
        ("options", "sale_condition", ("trade",))
    }
    assert conditions[209].sip_mapping.OPRA == "I"
    assert [c.id for c in client.list_conditions(asset_class="options", id=233)] == [233]


def test_exchanges_are_the_options_exchanges(client):
    exchanges = {e.id: e for e in client.get_exchanges(asset_class="options", locale="us")}

    assert {300, 301, 302, 303, 304, 307, 308, 309, 312, 313, 315, 316, 319, 322, 323, 325} <= set(exchanges)
    assert all(300 <= code <= 325 for code in exchanges)
    assert (exchanges[302].mic, exchanges[302].participant_id) == ("XCBO", "C")
    assert {(e.asset_class, e.locale) for e in exchanges.values()} == {("options", "us")}
    assert client.get_exchanges(asset_class="stocks") == []


# --- Keys, errors, shapes ---------------------------------------------------------------------------


def test_a_wrong_or_missing_key_is_refused(feed):
    with pytest.raises(BadResponse, match="Unknown API Key"):
        RESTClient(api_key="wrong", base=feed.rest_url, retries=0).get_options_contract(ATM)

    status, body, _ = raw_get(feed, "/v3/reference/options/contracts")
    assert (status, body["status"], body["error"]) == (401, "ERROR", "API Key was not provided")
    assert set(body) == {"status", "request_id", "error"}
    status, body, _ = raw_get(feed, f"/v3/reference/options/contracts/{ATM}?apiKey={KEY}")
    assert (status, body["results"]["ticker"]) == (200, ATM)


def test_unknown_paths_and_bad_parameters_answer_json(feed):
    status, body, response = raw_get(feed, "/v2/aggs/ticker/AAPL", **bearer())
    assert (status, body["status"]) == (404, "NOT_FOUND")
    assert response.headers["Content-Type"] == "application/json"
    status, body, _ = raw_get(feed, "/v3/reference/options/contracts?limit=ten", **bearer())
    assert (status, body["status"]) == (400, "ERROR") and "limit" in body["error"]
    status, body, _ = raw_get(feed, "/v3/reference/options/contracts?cursor=%%%", **bearer())
    assert status == 400


def test_contract_shape(feed):
    status, body, response = raw_get(feed, "/v3/reference/options/contracts?underlying_ticker=SPY&limit=2", **bearer())

    assert status == 200 and response.headers["Content-Type"] == "application/json"
    assert "gzip" not in response.headers.get("Content-Encoding", "")
    assert set(body) == {"results", "status", "request_id", "next_url"} and body["status"] == "OK"
    assert re.fullmatch(rf"{feed.rest_url}/v3/reference/options/contracts\?cursor=\S+", body["next_url"])
    assert types(body["results"][0]) == {
        "cfi": str,
        "contract_type": str,
        "exercise_style": str,
        "expiration_date": str,
        "primary_exchange": str,
        "shares_per_contract": int,
        "strike_price": int,
        "ticker": str,
        "underlying_ticker": str,
    }
    assert body["results"][0]["cfi"] == "OCASPS"
    last = f"/v3/reference/options/contracts/{AMC1}"
    amc = raw_get(feed, last, **bearer())[1]["results"]
    assert amc["additional_underlyings"] == [{"type": "equity", "underlying": "AMC", "amount": 10}]
    status, body, _ = raw_get(feed, "/v3/reference/options/contracts?underlying_ticker=AMC", **bearer())
    assert set(body) == {"results", "status", "request_id"}  # one page: no next_url


def test_snapshot_shape(feed):
    status, body, _ = raw_get(feed, f"/v3/snapshot/options/SPY/{ATM}", **bearer())

    assert status == 200 and set(body) == {"results", "status", "request_id"}
    snapshot = body["results"]
    assert types(snapshot) == {
        "break_even_price": float,
        "day": dict,
        "details": dict,
        "greeks": dict,
        "implied_volatility": float,
        "last_quote": dict,
        "last_trade": dict,
        "open_interest": int,
        "underlying_asset": dict,
    }
    assert types(snapshot["day"]) == {
        **dict.fromkeys(["change", "change_percent", "close", "high", "low", "open", "previous_close", "vwap"], float),
        "last_updated": int,
        "volume": int,
    }
    assert types(snapshot["details"]) == {
        "contract_type": str,
        "exercise_style": str,
        "expiration_date": str,
        "shares_per_contract": int,
        "strike_price": int,
        "ticker": str,
    }
    assert types(snapshot["greeks"]) == dict.fromkeys(["delta", "gamma", "theta", "vega"], float)
    assert types(snapshot["last_quote"]) == {
        **dict.fromkeys(["ask", "bid", "midpoint"], float),
        **dict.fromkeys(["ask_size", "bid_size", "last_updated"], int),
        "timeframe": str,
    }
    assert types(snapshot["last_trade"]) == {
        "conditions": list,
        "exchange": int,
        "price": float,
        "sip_timestamp": int,
        "size": int,
        "timeframe": str,
    }
    assert types(snapshot["underlying_asset"]) == {
        "change_to_break_even": float,
        "last_updated": int,
        "price": float,
        "ticker": str,
        "timeframe": str,
    }
    assert snapshot["day"]["last_updated"] % 1_000_000_000 == 0 and snapshot["last_quote"]["last_updated"] > 10**18
    index = raw_get(feed, f"/v3/snapshot/options/I:SPX/{SPXW}", **bearer())[1]["results"]["underlying_asset"]
    assert (index["ticker"], index["value"], "price" in index) == ("I:SPX", 5900.5, False)


def types(item: dict[str, Any]) -> dict[str, type]:
    return {key: type(value) for key, value in item.items()}


# --- The same port still speaks WebSocket -------------------------------------------------------


def test_the_websocket_side_still_streams_on_the_same_port(start_feed, reference_file, tmp_path):
    tape = tmp_path / "tape.jsonl"
    tape.write_text(f'[{{"ev":"T","sym":"{ATM}","x":302,"p":2.07,"s":700,"c":[209],"t":1764948600001,"q":1}}]\n')
    feed = start_feed(source=Tape(tape), reference=load_reference_file(reference_file), close_when_done=True)
    host_port = feed.rest_url.removeprefix("http://")
    ws_client = WebSocketClient(api_key=KEY, feed=host_port, market="options", secure=False, raw=True)
    ws_client.subscribe("T.*")
    received: list[str] = []

    async def processor(message: str) -> None:
        received.append(message)

    asyncio.run(asyncio.wait_for(ws_client.connect(processor), 5))

    assert [event["sym"] for event in orjson.loads(received[-1])] == [ATM]
    assert feed.stats.trades_sent == 1 and feed.stats.connections == 1
    assert RESTClient(api_key=KEY, base=feed.rest_url, retries=0).get_options_contract(ATM).ticker == ATM
    assert feed.stats.rest_requests == 1  # the REST request opened no WebSocket connection
    assert feed.stats.connections == 1


# --- The synthetic universe -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> tuple[SyntheticReference, list[dict[str, Any]]]:
    flow = SyntheticFlow(seed=11, start_ms=START_MS)
    frames = pregenerate_frames(100_000, 100, seed=11, start_ms=START_MS)
    return SyntheticReference(flow), [event for frame in frames for event in orjson.loads(frame.payload)]


def test_every_synthetic_print_is_a_listed_contract(synthetic):
    reference, events = synthetic
    universe = reference.universe()

    printed = {event["sym"] for event in events}
    assert all(universe.contract(symbol) is not None for symbol in printed)
    assert len(universe.contracts) > 5 * len(printed)  # every contract it can print, not only today's pool
    assert universe.as_of == datetime(2025, 6, 4).date()
    # The table's 230 walked to that day's price: the options were priced from it.
    assert {u.ticker: u.price for u in universe.underlyings.values()}["AAPL"] == spot_on(
        underlying_model("AAPL", 0), datetime(2025, 6, 4).date()
    )


def test_synthetic_open_interest_is_heavy_tailed_and_sometimes_below_a_big_print(synthetic):
    reference, events = synthetic
    universe = reference.universe()
    interest = [contract.open_interest for contract in universe.contracts]

    assert all(isinstance(value, int) and value >= 0 for value in interest)
    assert 0.05 < sum(value == 0 for value in interest) / len(interest) < 0.3
    assert sum(value <= 2_000 for value in interest) / len(interest) > 0.6
    assert max(interest) > 20_000
    large = [event for event in events if event["s"] >= 100]
    above = [event for event in large if event["s"] > universe.contract(event["sym"]).open_interest]
    assert 0.03 < len(above) / len(large) < 0.3


def test_a_synthetic_feed_serves_its_flows_contracts(start_feed):
    flow = SyntheticFlow(["AAPL", "SPX"], seed=5, start_ms=START_MS)
    feed = start_feed(source=flow, reference=SyntheticReference(flow))
    client = RESTClient(api_key=KEY, base=feed.rest_url, retries=0)
    symbol = orjson.loads(next(flow.frames(1)).payload)[0]["sym"]

    assert client.get_options_contract(symbol).ticker == symbol
    chain = list(client.list_snapshot_options_chain("AAPL", params={"limit": 250, "expiration_date": "2025-06-06"}))
    day = datetime(2025, 6, 4).date()  # START_MS's
    assert chain and {s.underlying_asset.price for s in chain} == {spot_on(underlying_model("AAPL", 5), day)}
    assert any(s.greeks is None for s in chain) and any(s.greeks is not None for s in chain)
    spx = next(iter(client.list_snapshot_options_chain("SPX")))
    assert spx.underlying_asset.value == spot_on(underlying_model("SPX", 5), day)
    assert spx.details.ticker.startswith("O:SPXW")


# --- The reference file and the command -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("underlyings"), "'underlyings' must be a non-empty object"),
        (lambda d: d["underlyings"].update(SPY={"price": -1}), r"underlyings.SPY.price: expected a number above 0"),
        (lambda d: d["underlyings"].update(SPY={"price": 1, "value": 2}), "exactly one of 'price'"),
        (lambda d: d["contracts"][0].update(strike_price=551), r"contracts\[0\]: .* must agree with"),
        (lambda d: d["contracts"][0].update(contract_type="put"), r"contracts\[0\]: .* must agree with"),
        (lambda d: d["contracts"][0].update(ticker="SPY251212C00550000"), r"contracts\[0\].ticker: .*'O:'"),
        (lambda d: d["contracts"][1].update(open_interest=-1), r"contracts\[1\].open_interest"),
        (lambda d: d["contracts"][1].update(expiration_date="12/12/2025"), r"contracts\[1\].expiration_date"),
        (lambda d: d["contracts"][2].update(underlying_ticker="QQQ"), "'QQQ' is not in 'underlyings'"),
        (lambda d: d["contracts"].append(d["contracts"][0]), "listed twice"),
        (lambda d: d["contracts"][0].update(size=1), r"unknown \['size'\]"),
        (lambda d: d.update(as_of="today"), "as_of: expected a date"),
    ],
)
def test_reference_file_errors_say_what_and_where(change, message):
    document = reference_document()
    change(document)

    with pytest.raises(ReferenceFileError, match=message):
        parse_reference(document)


def test_command_refuses_a_bad_reference_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read it"):
        call_command("feed", reference=tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"underlyings": ')
    with pytest.raises(CommandError, match=f"reference file {broken}: not JSON"):
        call_command("feed", reference=broken)


def test_command_serves_rest_from_the_reference_file_and_logs_the_rest_url(reference_file, tmp_path):
    tape = tmp_path / "tape.jsonl"
    tape.write_text("# empty\n")
    command = [
        *[sys.executable, "manage.py", "feed", "--port", "0", "--api-key", KEY],
        *["--tape", str(tape), "--reference", str(reference_file)],
    ]
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[2], stderr=subprocess.PIPE, text=True)
    try:
        line = processes.feed_startup_line(process)
        rest_url = re.search(r"POLYGON_REST_URL=(http://\S+) POLYGON_WS_URL=ws://\S+ POLYGON_API_KEY=" + KEY, line)
        assert rest_url is not None, line

        assert RESTClient(api_key=KEY, base=rest_url.group(1), retries=0).get_options_contract(SPXW).ticker == SPXW
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.wait()


def test_reference_file_round_trip(reference_file):
    universe = load_reference_file(reference_file)

    assert len(universe.contracts) == len(reference_document()["contracts"])
    spx, spy_underlying, amc = universe.underlying("SPX"), universe.underlying("SPY"), universe.contract(AMC1)
    assert spx is not None and spx.is_index and spy_underlying is not None and not spy_underlying.is_index
    assert amc is not None and (amc.shares_per_contract, amc.cfi) == (10, "OCASPN")
