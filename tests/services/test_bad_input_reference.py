"""Bad input from Polygon's REST API: a bad item costs that item alone (counted by reason, logged),
a value no column holds never reaches the database, and a page the client cannot use ends in a
clear, typed error (ReferenceDataError, BadResponse or urllib3's MaxRetryError) that keeps the old
data, never in an AttributeError from deep inside polygon-api-client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone
from polygon.exceptions import BadResponse

from tests.polygon_rest import (
    PolygonServer,
    Reply,
    chain_item,
    contract_item,
    contracts_page,
    ok,
    serve_polygon,
    status,
)
from trades.domain.occ import parse_occ
from trades.models import OptionCondition, OptionContract, OptionExchange, Underlying
from trades.polygon_rest import client as client_module
from trades.polygon_rest import loaders
from trades.polygon_rest.client import ReferenceDataError, rest_client
from trades.services import reference_data

CONTRACTS = "/v3/reference/options/contracts"
CHAIN = "/v3/snapshot/options/SPY"
MAX_INT = 2_147_483_647  # PositiveIntegerField in PostgreSQL

pytestmark = pytest.mark.django_db


@pytest.fixture
def polygon(settings, monkeypatch) -> Iterator[PolygonServer]:
    monkeypatch.setattr(client_module, "BACKOFF_FACTOR", 0.01)  # retries without the real waits
    with serve_polygon(settings) as server:
        yield server


def spy(strike: int, right: str = "C") -> str:
    return f"O:SPY251219{right}{strike * 1000:08d}"


GOOD = contract_item(spy(600), "SPY")


def page_bytes(results: Any, **extra: Any) -> bytes:
    """A page as a server that is not Go might write it: NaN and Infinity as bare words."""
    return json.dumps({"status": "OK", "request_id": "x", "results": results, **extra}).encode()


@pytest.fixture
def spy_known() -> None:
    """SPY as yesterday's refresh left it."""
    yesterday = timezone.now() - timedelta(days=1)
    for strike, interest in ((500, 10), (600, 20)):
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
    Underlying.objects.create(ticker="SPY", spot=Decimal("600"), strike_min=500, strike_max=600)


def db_state() -> tuple:
    contracts = sorted(OptionContract.objects.values_list("symbol", "underlying", "open_interest", "updated_at"))
    return contracts, sorted(Underlying.objects.values_list())


# --- pages the client cannot use: a typed error, the old data kept ------------------------------

UNUSABLE_PAGES = [
    pytest.param(b'{"status": "OK", "results": "abc"}', id="results is text"),
    pytest.param(b'{"status": "OK", "results": 5}', id="results is a number"),
    pytest.param(b'{"status": "OK", "results": null}', id="results is null"),
    pytest.param(b'{"status": "OK", "results": {"ticker": "O:SPY251219C00600000"}}', id="results is an object"),
    pytest.param(page_bytes([GOOD], next_url=5), id="next_url is a number"),
    pytest.param(page_bytes([GOOD], next_url=None), id="next_url is null"),
    pytest.param(page_bytes([GOOD], next_url="0"), id="next_url has no path (once a LocationParseError)"),
    pytest.param(b"[" * 100_000, id="deeper than any parser goes"),
]


@pytest.mark.parametrize("body", UNUSABLE_PAGES)
def test_a_listing_page_the_client_cannot_use_raises_reference_data_error(polygon, body):
    polygon.on(CONTRACTS, Reply(body=body))

    with pytest.raises(ReferenceDataError):
        loaders.load_contracts(rest_client(), "SPY")


@pytest.mark.parametrize("body", UNUSABLE_PAGES)
def test_a_refresh_meeting_such_a_page_keeps_the_old_data_and_retries(polygon, spy_known, body):
    polygon.on(CONTRACTS, Reply(body=body))
    before = db_state()

    report = reference_data.refresh_contracts(["SPY"])

    assert db_state() == before
    [failed] = report.failed
    assert failed.transient  # the task retries per its policy
    assert not failed.reason.startswith("unexpected")


def test_a_pagination_loop_is_refused(polygon):
    polygon.on(CONTRACTS, ok(contracts_page([GOOD], next_cursor="again")))

    with pytest.raises(ReferenceDataError, match="loop"):
        loaders.load_contracts(rest_client(), "SPY")

    assert len(polygon.requests) == 2  # the first page, and the same page once more


def test_a_listing_without_end_is_refused(polygon, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    for page in range(1, 5):
        polygon.on(
            CONTRACTS,
            ok(contracts_page([contract_item(spy(600 + page), "SPY")], next_cursor=str(page + 1))),
            when=lambda query, page=page: query.get("cursor", "1") == str(page),
        )

    with pytest.raises(ReferenceDataError, match="beyond 3 pages"):
        loaders.load_contracts(rest_client(), "SPY")

    assert len(polygon.requests) == 3


@pytest.mark.parametrize("body", [b"\xff\xfe<html>403</html>", b"<html>\xe9chec</html>"], ids=["utf-16", "latin-1"])
def test_a_refusal_whose_body_is_not_utf8_is_a_bad_response(polygon, body):
    polygon.on(CONTRACTS, Reply(status=403, body=body))

    with pytest.raises(BadResponse):
        loaders.load_contracts(rest_client(), "SPY")


@pytest.mark.parametrize("results", ["x", 5, None, True])
def test_a_single_contract_answer_that_is_not_an_object_raises_reference_data_error(polygon, results):
    polygon.on(f"{CONTRACTS}/{spy(600)}", ok({"status": "OK", "results": results}))

    with pytest.raises(ReferenceDataError):
        loaders.load_contract(rest_client(), spy(600))


@pytest.mark.parametrize("results", ["x", 5, None])
def test_an_exchanges_answer_that_is_not_a_list_raises_reference_data_error(polygon, results):
    polygon.on("/v3/reference/exchanges", ok({"status": "OK", "results": results}))

    with pytest.raises(ReferenceDataError):
        loaders.load_exchanges(rest_client())


def test_a_429_storm_ends_within_the_retry_after_cap(polygon, spy_known, settings, monkeypatch):
    monkeypatch.setattr(client_module, "RETRY_AFTER_MAX_SECONDS", 1)
    settings.POLYGON_REST_RETRIES = 2
    polygon.on(CONTRACTS, status(429, **{"Retry-After": "3600"}))
    before = db_state()

    started = time.monotonic()
    report = reference_data.refresh_contracts(["SPY"])

    assert time.monotonic() - started < 10  # two waits of at most 1 s, not two hours
    assert len(polygon.requests) == 3
    assert db_state() == before
    assert "too many 429 error responses" in report.failed[0].reason
    assert report.failed[0].transient


# --- items: one bad item costs one item, counted by reason ---------------------------------------

BAD_CONTRACTS = [
    pytest.param({**GOOD, "shares_per_contract": MAX_INT + 1}, "bad_shares", id="shares beyond the column"),
    pytest.param({**GOOD, "shares_per_contract": 1e300}, "bad_shares", id="shares 1e300"),
    pytest.param({**GOOD, "shares_per_contract": "100"}, "bad_shares", id="shares as text"),
    pytest.param({**GOOD, "shares_per_contract": None}, "bad_shares", id="shares null"),
    pytest.param({**GOOD, "underlying_ticker": "S" * 17}, "bad_underlying", id="underlying too long"),
    pytest.param({**GOOD, "underlying_ticker": "SP\x00Y"}, "bad_underlying", id="underlying with NUL"),
    pytest.param({**GOOD, "underlying_ticker": "<b>SPY</b>"}, "bad_underlying", id="underlying garbage"),
    pytest.param({**GOOD, "underlying_ticker": 7}, "bad_underlying", id="underlying a number"),
    pytest.param({**GOOD, "ticker": "O:SPY25121"}, "bad_ticker", id="ticker garbage"),
    pytest.param({**GOOD, "ticker": ["O:SPY251219C00600000"]}, "bad_ticker", id="ticker a list"),
    pytest.param({**GOOD, "expiration_date": "someday"}, "bad_expiration_date", id="expiration not a date"),
    pytest.param({**GOOD, "expiration_date": 20251219}, "bad_expiration_date", id="expiration a number"),
    pytest.param({**GOOD, "contract_type": {"call": True}}, "bad_contract_type", id="contract_type an object"),
    pytest.param([GOOD], "bad_underlying", id="not an object"),
]


@pytest.mark.parametrize(("item", "reason"), BAD_CONTRACTS)
def test_a_bad_contract_costs_that_contract_alone(polygon, item, reason):
    polygon.on(CONTRACTS, ok(contracts_page([item, contract_item(spy(700), "SPY")])))
    issues = loaders.LoadIssues()

    contracts = loaders.load_contracts(rest_client(), "SPY", issues)

    assert [c.symbol for c in contracts] == [spy(700)]
    assert issues.by_reason == {reason: 1}


def test_a_deeply_nested_item_costs_that_item_alone(polygon):
    deep = b'{"day": ' * 990 + b"1" + b"}" * 990  # orjson reads 1024 levels; nothing must recurse that far
    polygon.on(
        CONTRACTS, Reply(body=b'{"status": "OK", "results": [' + deep + b", " + json.dumps(GOOD).encode() + b"]}")
    )
    issues = loaders.LoadIssues()

    contracts = loaders.load_contracts(rest_client(), "SPY", issues)

    assert [c.symbol for c in contracts] == [spy(600)]
    assert issues.by_reason == {"bad_underlying": 1}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", "2147483648", "-1", "1.5", '"12"'])
def test_a_bad_open_interest_costs_that_item_alone(polygon, value):
    good = json.dumps(chain_item(spy(700), 7, price=601.5)).encode()
    bad = (
        json.dumps(chain_item(spy(600), 123))
        .encode()
        .replace(b'"open_interest": 123', b'"open_interest": ' + value.encode())
    )
    polygon.on(CHAIN, Reply(body=b'{"status": "OK", "results": [' + bad + b", " + good + b"]}"))
    issues = loaders.LoadIssues()

    chain = loaders.load_chain(rest_client(), "SPY", issues)

    assert chain.open_interest == {spy(700): 7}
    assert chain.underlying_price == Decimal("601.5")
    assert issues.by_reason == {"bad_open_interest": 1}


@pytest.mark.parametrize("price", [1e10, 1e15, 1e-9, 10**30])
def test_an_underlying_price_no_column_holds_is_no_price(polygon, price):
    polygon.on(CHAIN, ok({"status": "OK", "results": [chain_item(spy(600), 5, price=price)]}))

    assert loaders.load_spot(rest_client(), "SPY") is None
    assert loaders.load_chain(rest_client(), "SPY").underlying_price is None


BAD_CONDITIONS = [
    pytest.param({"id": MAX_INT + 1, "name": "Big"}, "bad_id", id="id beyond the column"),
    pytest.param({"id": 1e3, "name": "Float"}, "bad_id", id="id a float"),
    pytest.param({"id": "209", "name": "Text"}, "bad_id", id="id as text"),
    pytest.param({"id": 5, "name": "Auto\x00matic"}, "bad_name", id="name with NUL"),
    pytest.param({"id": 5, "name": ["Automatic"]}, "bad_name", id="name a list"),
    pytest.param("not an object", "bad_id", id="not an object"),
]


@pytest.mark.parametrize(("item", "reason"), BAD_CONDITIONS)
def test_a_bad_condition_costs_that_condition_alone(polygon, item, reason):
    polygon.on("/v3/reference/conditions", ok({"status": "OK", "results": [item, {"id": 209, "name": "Auto"}]}))
    issues = loaders.LoadIssues()

    conditions = loaders.load_conditions(rest_client(), issues)

    assert [c.code for c in conditions] == [209]
    assert issues.by_reason == {reason: 1}


@pytest.mark.parametrize(("item", "reason"), BAD_CONDITIONS)
def test_a_bad_exchange_costs_that_exchange_alone(polygon, item, reason):
    polygon.on("/v3/reference/exchanges", ok({"status": "OK", "results": [item, {"id": 300, "name": "AMEX"}]}))
    issues = loaders.LoadIssues()

    exchanges = loaders.load_exchanges(rest_client(), issues)

    assert [e.id for e in exchanges] == [300]
    assert issues.by_reason == {reason: 1}


def test_optional_text_that_no_column_holds_is_left_out(polygon):
    polygon.on(
        "/v3/reference/conditions", ok({"status": "OK", "results": [{"id": 5, "name": "A", "abbreviation": "\x00"}]})
    )
    polygon.on("/v3/reference/exchanges", ok({"status": "OK", "results": [{"id": 3, "name": "X", "mic": "X\x00"}]}))

    assert loaders.load_conditions(rest_client())[0].abbreviation == ""
    assert loaders.load_exchanges(rest_client())[0].mic == ""


def failing_on(symbol: str, error: BaseException):
    def parse(ticker: object) -> Any:
        if ticker == symbol:
            raise error
        return parse_occ(ticker)

    return parse


def test_an_exception_nobody_foresaw_costs_that_item_alone(polygon, monkeypatch):
    monkeypatch.setattr(loaders, "parse_occ", failing_on(spy(600), RuntimeError("a bug")))
    polygon.on(CONTRACTS, ok(contracts_page([GOOD, contract_item(spy(700), "SPY")])))
    issues = loaders.LoadIssues()

    contracts = loaders.load_contracts(rest_client(), "SPY", issues)

    assert [c.symbol for c in contracts] == [spy(700)]
    assert issues.by_reason == {"unexpected_error": 1}
    assert issues.reasons == ["contract of SPY: RuntimeError: a bug"]


def test_the_time_limit_is_not_taken_for_a_bad_item(polygon, monkeypatch):
    monkeypatch.setattr(loaders, "parse_occ", failing_on(spy(600), SoftTimeLimitExceeded()))
    polygon.on(CONTRACTS, ok(contracts_page([GOOD, contract_item(spy(700), "SPY")])))

    with pytest.raises(SoftTimeLimitExceeded):
        loaders.load_contracts(rest_client(), "SPY")


def test_only_the_first_skipped_items_are_logged(polygon, caplog):
    polygon.on(CONTRACTS, ok(contracts_page([{**GOOD, "shares_per_contract": -n} for n in range(50)] + [GOOD])))
    issues = loaders.LoadIssues()

    loaders.load_contracts(rest_client(), "SPY", issues)

    assert issues.skipped == 50
    assert issues.by_reason == {"bad_shares": 50}
    lines = [r.getMessage() for r in caplog.records if r.name == "trades.polygon_rest.loaders"]
    assert len(lines) == loaders.MAX_ISSUES_LOGGED + 1  # and one line saying the rest are not logged
    assert "shares_per_contract=-3" in lines[3]  # each with its item


# --- refreshes: such values never reach the database ---------------------------------------------


def test_a_contract_no_column_holds_is_skipped_and_the_rest_stored(polygon, spy_known):
    bad = {**contract_item(spy(650), "SPY"), "shares_per_contract": 3_000_000_000}
    polygon.on(CONTRACTS, ok(contracts_page([bad, contract_item(spy(700), "SPY")])))

    report = reference_data.refresh_contracts(["SPY"])

    assert not report.failed
    assert report.results[0].counts["skipped"] == 1
    assert report.results[0].counts["skipped_by_reason"] == {"bad_shares": 1}
    assert sorted(OptionContract.objects.values_list("symbol", flat=True)) == [spy(700)]


def test_an_open_interest_no_column_holds_is_skipped_and_the_rest_stored(polygon, spy_known):
    items = [chain_item(spy(500), 3_000_000_000), chain_item(spy(600), 25, price=601.5)]
    polygon.on(CHAIN, ok({"status": "OK", "results": items}))

    report = reference_data.refresh_open_interest(["SPY"])

    assert not report.failed
    assert report.results[0].counts["skipped_by_reason"] == {"bad_open_interest": 1}
    assert dict(OptionContract.objects.values_list("symbol", "open_interest")) == {spy(500): 10, spy(600): 25}
    assert Underlying.objects.get(ticker="SPY").spot == Decimal("601.5")


def test_a_spot_no_column_holds_is_not_stored(polygon, spy_known):
    polygon.on(CHAIN, ok({"status": "OK", "results": [chain_item(spy(600), 25, price=1e15)]}))

    oi = reference_data.refresh_open_interest(["SPY"])
    spot = reference_data.refresh_spot(["SPY"])

    assert not oi.failed
    assert OptionContract.objects.get(symbol=spy(600)).open_interest == 25
    assert "carries no underlying price" in spot.failed[0].reason
    assert Underlying.objects.get(ticker="SPY").spot == Decimal("600")


@pytest.mark.parametrize("underlying", ["S" * 40, "SP\x00Y", "<b>"])
def test_an_on_demand_contract_with_a_garbage_underlying_is_not_stored(polygon, underlying):
    polygon.on(f"{CONTRACTS}/{spy(600)}", ok({"status": "OK", "results": {**GOOD, "underlying_ticker": underlying}}))

    report = reference_data.resolve_contracts([spy(600)])

    [failed] = report.failed
    assert "no usable contract" in failed.reason
    assert not failed.transient  # the same answer will come again: no retry
    assert not OptionContract.objects.exists()


def test_conditions_and_exchanges_no_column_holds_are_skipped_and_the_rest_stored(polygon):
    polygon.on(
        "/v3/reference/conditions",
        ok(
            {
                "status": "OK",
                "results": [
                    {"id": 3_000_000_000, "name": "Big"},
                    {"id": 7, "name": "N\x00"},
                    {"id": 209, "name": "Auto"},
                ],
            }
        ),
    )
    polygon.on(
        "/v3/reference/exchanges",
        ok(
            {
                "status": "OK",
                "results": [{"id": 3_000_000_000, "name": "Big"}, {"id": 300, "name": "AMEX", "acronym": "\x00"}],
            }
        ),
    )

    report = reference_data.refresh_conditions()

    assert not report.failed
    assert list(OptionCondition.objects.values_list("code", flat=True)) == [209]
    assert list(OptionExchange.objects.values_list("id", "acronym")) == [(300, "")]
    assert report.results[0].counts["skipped_by_reason"] == {"bad_id": 1, "bad_name": 1}
