"""Reference data into PostgreSQL: swap-don't-truncate, the multiplier and underlying from the
contracts reference, timestamps on everything read, per-underlying failures, on-demand lookups."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.utils import timezone

from tests.polygon_rest import (
    PolygonServer,
    Reply,
    chain_item,
    contract_item,
    contracts_page,
    fixture,
    ok,
    serve_polygon,
    status,
)
from trades.domain.calendar import is_market_open
from trades.models import (
    FilterProfile,
    OptionCondition,
    OptionContract,
    OptionExchange,
    OptionTrade,
    Underlying,
    WatchedTicker,
    Watchlist,
)
from trades.polygon_rest import client as client_module
from trades.selectors import flow_rules
from trades.services import reference_data
from trades.services.ingest import ingest_frames

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
CONTRACTS = "/v3/reference/options/contracts"


@pytest.fixture
def polygon(settings, monkeypatch) -> Iterator[PolygonServer]:
    monkeypatch.setattr(client_module, "BACKOFF_FACTOR", 0.01)  # retries without the real waits
    with serve_polygon(settings) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_rules():
    flow_rules.forget_flow_rules()
    yield
    flow_rules.forget_flow_rules()


def serve_contracts(polygon: PolygonServer, underlying: str, *pages: Reply) -> None:
    """Page 1 at the listing URL, page n at ?cursor=<underlying>-<n>."""
    polygon.on(CONTRACTS, pages[0], when=lambda q: q.get("underlying_ticker") == underlying)
    for number, page in enumerate(pages[1:], start=2):
        cursor = f"{underlying}-{number}"
        polygon.on(CONTRACTS, page, when=partial(has_cursor, cursor))


def has_cursor(cursor: str, query: dict[str, str]) -> bool:
    return query.get("cursor") == cursor


def spy(strike: int, right: str = "C") -> str:
    return f"O:SPY251219{right}{strike * 1000:08d}"


def stored_contracts(underlying: str) -> dict[str, tuple]:
    rows = OptionContract.objects.filter(underlying=underlying).values_list(
        "symbol", "root", "shares_per_contract", "open_interest"
    )
    return {symbol: (root, shares, interest) for symbol, root, shares, interest in rows}


@pytest.fixture
def spy_known() -> Underlying:
    """SPY as yesterday's refresh left it: three contracts, strikes 500–700, open interest read."""
    yesterday = timezone.now() - timedelta(days=1)
    for strike, interest in ((500, 10), (600, 20), (700, 30)):
        OptionContract.objects.create(
            symbol=spy(strike),
            root="SPY",
            underlying="SPY",
            expiry=date(2025, 12, 19),
            right="C",
            strike=strike,
            open_interest=interest,
            open_interest_updated_at=yesterday,
        )
    return Underlying.objects.create(
        ticker="SPY",
        spot=Decimal("600"),
        spot_updated_at=yesterday,
        strike_min=500,
        strike_max=700,
        strikes_updated_at=yesterday,
        open_interest_updated_at=yesterday,
    )


def read_since(moment: datetime | None, before: datetime) -> bool:
    """The value was read during the call under test."""
    return moment is not None and before <= moment <= timezone.now()


def snapshot_of_db() -> tuple:
    contracts = sorted(OptionContract.objects.values_list("symbol", "underlying", "open_interest", "updated_at"))
    underlyings = sorted(Underlying.objects.values_list())
    return contracts, underlyings


# --- contracts -------------------------------------------------------------------------------


def test_contracts_are_swapped_new_listed_old_removed_strike_range_set(polygon, spy_known):
    serve_contracts(
        polygon,
        "SPY",
        ok(contracts_page([contract_item(spy(600), "SPY"), contract_item(spy(650), "SPY")], next_cursor="SPY-2")),
        ok(contracts_page([contract_item(spy(450, "P"), "SPY"), contract_item(spy(800), "SPY")])),
    )
    before = timezone.now()

    report = reference_data.refresh_contracts(["SPY"])

    assert not report.failed
    assert report.results[0].counts == {"listed": 4, "new": 3, "removed": 2, "skipped": 0}
    assert stored_contracts("SPY") == {
        spy(600): ("SPY", 100, 20),  # kept, and its open interest with it
        spy(650): ("SPY", 100, None),
        spy(450, "P"): ("SPY", 100, None),
        spy(800): ("SPY", 100, None),
    }
    underlying = Underlying.objects.get(ticker="SPY")
    assert (underlying.strike_min, underlying.strike_max) == (450, 800)
    assert read_since(underlying.strikes_updated_at, before)
    assert underlying.spot == 600  # not this refresh's business


def test_multiplier_and_underlying_come_from_the_contracts_reference(polygon):
    serve_contracts(polygon, "AMC", ok(contracts_page([contract_item("O:AMC1260116C00005000", "AMC", shares=10)])))
    serve_contracts(
        polygon,
        "SPX",
        ok(
            contracts_page(
                [contract_item("O:SPXW251219P05900000", "SPX"), contract_item("O:SPX251219C06900000", "SPX")]
            )
        ),
    )

    report = reference_data.refresh_contracts(["AMC", "spx"])

    assert not report.failed
    assert stored_contracts("AMC") == {"O:AMC1260116C00005000": ("AMC1", 10, None)}
    assert stored_contracts("SPX") == {
        "O:SPXW251219P05900000": ("SPXW", 100, None),
        "O:SPX251219C06900000": ("SPX", 100, None),
    }
    assert flow_rules.load_flow_rules().roots["AMC1"].shares_per_contract == 10  # what the workers will see
    spx = Underlying.objects.get(ticker="SPX")
    assert (spx.strike_min, spx.strike_max) == (5900, 6900)


def test_a_500_that_persists_in_the_middle_of_paging_keeps_everything(polygon, spy_known):
    serve_contracts(
        polygon, "SPY", ok(contracts_page([contract_item(spy(650), "SPY")], next_cursor="SPY-2")), status(500)
    )
    before = snapshot_of_db()

    report = reference_data.refresh_contracts(["SPY"])

    assert snapshot_of_db() == before  # contracts, strike range and open interest untouched
    [result] = report.failed
    assert result.name == "SPY"
    assert "too many 500 error responses" in result.reason
    assert result.transient
    assert len(polygon.requests_to(CONTRACTS)) == 1 + 3  # page 1, then page 2 three times


@pytest.mark.parametrize("page", [b"<html><body>502 Bad Gateway</body></html>", b'{"status":"OK","results":[{"ti'])
def test_a_page_that_is_not_json_keeps_everything(polygon, spy_known, page):
    serve_contracts(
        polygon, "SPY", ok(contracts_page([contract_item(spy(650), "SPY")], next_cursor="SPY-2")), Reply(body=page)
    )
    before = snapshot_of_db()

    report = reference_data.refresh_contracts(["SPY"])

    assert snapshot_of_db() == before
    assert "not JSON" in report.failed[0].reason


def test_an_empty_listing_for_an_underlying_with_contracts_keeps_them(polygon, spy_known):
    serve_contracts(polygon, "SPY", ok({"status": "OK", "request_id": "x"}))  # no "results": the paginator's []
    before = snapshot_of_db()

    report = reference_data.refresh_contracts(["SPY"])

    assert snapshot_of_db() == before
    assert report.failed[0].reason == "Polygon listed no contracts for SPY; kept the 3 known"
    assert report.failed[0].transient


def test_one_failed_underlying_does_not_stop_the_others(polygon):
    serve_contracts(polygon, "QQQ", status(404))  # a 401/403 would: tests/faces/test_reference_outages.py
    serve_contracts(polygon, "SPY", ok(contracts_page([contract_item(spy(600), "SPY")])))
    seen: list[reference_data.RefreshResult] = []

    report = reference_data.refresh_contracts(["QQQ", "SPY"], progress=seen.append)

    assert [(r.name, r.ok) for r in seen] == [("QQQ", False), ("SPY", True)]
    assert not report.failed[0].transient  # a refusal will not pass by itself
    assert stored_contracts("SPY") == {spy(600): ("SPY", 100, None)}


# --- open interest and spot --------------------------------------------------------------------


def test_open_interest_and_spot_from_the_chain_with_timestamps(polygon, spy_known):
    polygon.on(
        "/v3/snapshot/options/SPY",
        ok(
            {
                "status": "OK",
                "results": [
                    chain_item(spy(600), 25, price=612.5),
                    chain_item(spy(700), None),  # not reported: keeps yesterday's 30, and its age
                    chain_item(spy(750), 7),  # listed since the morning refresh: added
                ],
            }
        ),
    )
    old = OptionContract.objects.get(symbol=spy(700)).open_interest_updated_at
    before = timezone.now()

    report = reference_data.refresh_open_interest(["SPY"])

    assert not report.failed
    assert stored_contracts("SPY") == {
        spy(500): ("SPY", 100, 10),
        spy(600): ("SPY", 100, 25),
        spy(700): ("SPY", 100, 30),
        spy(750): ("SPY", 100, 7),
    }
    assert read_since(OptionContract.objects.get(symbol=spy(600)).open_interest_updated_at, before)
    assert OptionContract.objects.get(symbol=spy(700)).open_interest_updated_at == old
    underlying = Underlying.objects.get(ticker="SPY")
    assert underlying.spot == Decimal("612.5")
    assert read_since(underlying.spot_updated_at, before)
    assert read_since(underlying.open_interest_updated_at, before)
    assert (underlying.strike_min, underlying.strike_max) == (500, 700)  # only the contracts refresh sets these


def test_a_chain_reporting_no_open_interest_does_not_claim_a_fresh_read(polygon, spy_known):
    polygon.on("/v3/snapshot/options/SPY", ok({"status": "OK", "results": [chain_item(spy(600), None)]}))

    reference_data.refresh_open_interest(["SPY"])

    assert Underlying.objects.get(ticker="SPY").open_interest_updated_at == spy_known.open_interest_updated_at
    assert OptionContract.objects.get(symbol=spy(600)).open_interest == 20


def test_a_chain_failing_on_its_second_page_keeps_the_open_interest(polygon, spy_known):
    first = {
        "status": "OK",
        "results": [chain_item(spy(600), 99, price=650.0)],
        "next_url": "/v3/snapshot/options/SPY?cursor=2",
    }
    polygon.on("/v3/snapshot/options/SPY", ok(first))
    polygon.on("/v3/snapshot/options/SPY", status(502), when=lambda q: "cursor" in q)
    before = snapshot_of_db()

    report = reference_data.refresh_open_interest(["SPY"])

    assert snapshot_of_db() == before
    assert "too many 502 error responses" in report.failed[0].reason


def test_a_run_logs_one_summary_line_and_a_one_name_run_stays_quiet(polygon, caplog):
    """Beat fans the spot refresh out one task per underlying: twelve INFO lines a minute otherwise."""
    for ticker in ("AAPL", "MSFT"):
        polygon.on(f"/v3/snapshot/options/{ticker}", ok(fixture("chain_AAPL.json")))
    with caplog.at_level(logging.INFO, logger="trades.services.reference_data"):
        reference_data.refresh_spot(["AAPL"])
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []
        reference_data.refresh_spot(["AAPL", "MSFT"])
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 1 and lines[0].startswith("spot refreshed: 2 of 2 ok in "), lines


def test_spot_alone(polygon):
    polygon.on("/v3/snapshot/options/AAPL", ok(fixture("chain_AAPL.json")))
    before = timezone.now()

    report = reference_data.refresh_spot(["AAPL"])

    assert report.results[0].counts == {"spot": Decimal("159.9606")}
    aapl = Underlying.objects.get(ticker="AAPL")
    assert aapl.spot == Decimal("159.9606")
    assert read_since(aapl.spot_updated_at, before)
    assert aapl.strikes_updated_at is None and aapl.open_interest_updated_at is None


# --- conditions and exchanges ----------------------------------------------------------------


def test_conditions_grouped_by_name_and_exchanges_swapped(polygon):
    OptionCondition.objects.create(code=999, name="Gone from Polygon's list")
    polygon.on("/v3/reference/conditions", ok(fixture("derived/conditions_options.json")))
    polygon.on("/v3/reference/exchanges", ok(fixture("derived/exchanges_options.json")))

    report = reference_data.refresh_conditions()

    assert not report.failed
    assert dict(OptionCondition.objects.values_list("code", "category")) == {
        201: "cancelled",
        202: "late",
        209: "regular",
        232: "multi_leg",
        233: "multi_leg",
        237: "stock_option",
        241: "stock_option",
    }
    assert OptionCondition.objects.get(code=202).name == "Late and Out Of Sequence"
    assert list(OptionExchange.objects.values_list("id", "acronym", "mic")) == [
        (300, "AMEX", "AMXO"),
        (301, "", "XBOX"),
        (302, "", ""),
    ]


def test_an_empty_conditions_list_keeps_the_known_ones(polygon):
    OptionCondition.objects.create(code=201, name="Canceled", category="cancelled")
    polygon.on("/v3/reference/conditions", ok({"status": "OK", "results": []}))
    polygon.on("/v3/reference/exchanges", ok(fixture("exchanges_example.json")))

    report = reference_data.refresh_conditions()

    assert [r.name for r in report.failed] == ["conditions"]
    assert OptionCondition.objects.filter(code=201).exists()
    assert OptionExchange.objects.filter(id=1).exists()


# --- watched underlyings, market hours -------------------------------------------------------


def test_watched_underlyings_are_those_of_enabled_profiles_without_the_wildcard():
    FilterProfile.objects.update(enabled=False)
    watchlist = Watchlist.objects.create(name="w")
    WatchedTicker.objects.bulk_create(WatchedTicker(watchlist=watchlist, symbol=s) for s in ["spy", "*", "SPX"])
    FilterProfile.objects.create(name="on", watchlist=watchlist)
    off = Watchlist.objects.create(name="off")
    WatchedTicker.objects.create(watchlist=off, symbol="TSLA")
    FilterProfile.objects.create(name="off", watchlist=off, enabled=False)

    assert reference_data.watched_underlyings() == ["SPX", "SPY"]


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (datetime(2025, 6, 2, 9, 29, 59, tzinfo=NY), False),  # Monday, a second before the bell
        (datetime(2025, 6, 2, 9, 30, tzinfo=NY), True),
        (datetime(2025, 6, 2, 15, 59, 59, tzinfo=NY), True),
        (datetime(2025, 6, 2, 16, 0, tzinfo=NY), False),  # the close is not open
        (datetime(2025, 6, 7, 12, 0, tzinfo=NY), False),  # Saturday
        (datetime(2025, 6, 8, 12, 0, tzinfo=NY), False),  # Sunday
        (datetime(2025, 1, 6, 14, 30, tzinfo=ZoneInfo("UTC")), True),  # 9:30 in New York in winter (UTC-5)
        (datetime(2025, 7, 7, 13, 30, tzinfo=ZoneInfo("UTC")), True),  # 9:30 in New York in summer (UTC-4)
        (datetime(2025, 1, 6, 14, 29, tzinfo=ZoneInfo("UTC")), False),
        (datetime(2025, 12, 25, 12, 0, tzinfo=NY), True),  # Christmas: no holiday calendar, as documented
    ],
)
def test_is_market_open(moment, is_open):
    assert is_market_open(moment) is is_open


def test_is_market_open_refuses_a_naive_time():
    with pytest.raises(ValueError, match="aware"):
        is_market_open(datetime(2025, 6, 2, 12, 0))


# --- on demand ----------------------------------------------------------------------------------

T0 = int(datetime(2023, 6, 1, 10, 0, tzinfo=NY).timestamp() * 1000)  # 15 days before the 2023-06-16 expiry
AAPL_CALL = "O:AAPL230616C00150000"  # open interest 8133 in the documented snapshot


@pytest.fixture
def oi_profile() -> FilterProfile:
    FilterProfile.objects.update(enabled=False)
    watchlist = Watchlist.objects.create(name="aapl")
    WatchedTicker.objects.create(watchlist=watchlist, symbol="AAPL")
    return FilterProfile.objects.create(
        name="aapl-oi", watchlist=watchlist, min_premium=500_000, size_gt_open_interest=True
    )


def serve_aapl_call(polygon: PolygonServer) -> None:
    contract = {"results": contract_item(AAPL_CALL, "AAPL"), "status": "OK", "request_id": "local"}
    polygon.on(f"{CONTRACTS}/{AAPL_CALL}", ok(contract))
    polygon.on(f"/v3/snapshot/options/AAPL/{AAPL_CALL}", ok(fixture("snapshot_AAPL_O_AAPL230616C00150000.json")))


def test_resolve_then_judge_again_stores_the_print_that_needed_open_interest(polygon, oi_profile, monkeypatch):
    serve_aapl_call(polygon)
    asked: list[list] = []

    def request_contracts(trades: list, source: str) -> int:
        asked.append(trades)
        return len(trades)

    monkeypatch.setattr("trades.services.ingest.request_contracts", request_contracts)
    # $1.00 × 9,000 × 100 = $900,000 ≥ $500,000, and 9,000 > 8,133: a hit once the open interest is known.
    # $1.00 × 8,133 × 100 = $813,300, but 8,133 is not > 8,133: never a hit.
    events = [
        {"ev": "T", "sym": AAPL_CALL, "x": 302, "p": 1.0, "s": 9000, "c": [209], "t": T0, "q": 1},
        {"ev": "T", "sym": AAPL_CALL, "x": 302, "p": 1.0, "s": 8133, "c": [209], "t": T0 + 1, "q": 2},
        {"ev": "T", "sym": "O:MSFT230616C00300000", "x": 302, "p": 9.0, "s": 9000, "t": T0 + 2, "q": 3},  # unwatched
    ]
    frames = [orjson.dumps(events).decode()]
    assert ingest_frames(frames).stored == 0  # unknown contract: unknown open interest fails the rule
    assert [[trade.symbol for trade in trades] for trades in asked] == [[AAPL_CALL, AAPL_CALL]]  # sent here

    outcome = reference_data.resolve_frames(frames, "live")

    assert outcome.resolved.stored == [AAPL_CALL]
    assert outcome.ingest is not None and outcome.ingest.stored == 1
    assert len(asked) == 1  # judging again never asks for a lookup again
    trade = OptionTrade.objects.get()
    assert (trade.symbol, trade.sequence, trade.premium, trade.open_interest, trade.spot) == (
        AAPL_CALL,
        1,
        Decimal("900000.00"),
        8133,
        Decimal("159.9606"),
    )
    assert list(trade.profiles.values_list("name", flat=True)) == ["aapl-oi"]
    contract = OptionContract.objects.get(symbol=AAPL_CALL)
    assert (contract.underlying, contract.shares_per_contract, contract.open_interest) == ("AAPL", 100, 8133)
    assert contract.open_interest_updated_at is not None
    assert [r.path for r in polygon.requests] == [f"{CONTRACTS}/{AAPL_CALL}", f"/v3/snapshot/options/AAPL/{AAPL_CALL}"]

    again = reference_data.resolve_frames(frames, "live")  # a redelivered task: nothing to look up, nothing judged

    assert again.resolved.results == [] and again.ingest is None
    assert OptionTrade.objects.count() == 1
    assert len(polygon.requests) == 2


def test_resolve_reports_a_contract_polygon_does_not_know(polygon, oi_profile):
    polygon.on(f"{CONTRACTS}/{AAPL_CALL}", status(404))

    report = reference_data.resolve_contracts([AAPL_CALL, "not a symbol"])

    assert report.stored == []
    [failed] = report.failed
    assert failed.name == AAPL_CALL and not failed.transient
    assert not OptionContract.objects.exists()


def test_resolve_keeps_the_contract_when_only_its_snapshot_is_refused(polygon, oi_profile):
    contract = {"results": contract_item(AAPL_CALL, "AAPL"), "status": "OK", "request_id": "local"}
    polygon.on(f"{CONTRACTS}/{AAPL_CALL}", ok(contract))
    polygon.on(f"/v3/snapshot/options/AAPL/{AAPL_CALL}", status(403))

    report = reference_data.resolve_contracts([AAPL_CALL])

    assert report.stored == [AAPL_CALL]
    assert OptionContract.objects.get(symbol=AAPL_CALL).open_interest is None


def test_expired_contracts_are_dropped(spy_known):
    OptionContract.objects.create(
        symbol="O:SPY250606C00600000", root="SPY", underlying="SPY", expiry=date(2025, 6, 6), right="C", strike=600
    )

    assert reference_data.delete_expired_contracts(today=date(2025, 6, 9)) == 1
    assert OptionContract.objects.filter(underlying="SPY").count() == 3
