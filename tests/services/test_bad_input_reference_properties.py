"""Property-based tests of the parsers of Polygon's REST answers.

Whatever an item holds, each loader's item parser answers with a record its table can store or
with MalformedItem; whatever a page holds, a loader answers with records or with a typed error
(ReferenceDataError, BadResponse, MaxRetryError); whatever the items, a refresh stores what fits
and reports the rest, and the database never refuses a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
import urllib3
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from polygon.exceptions import BadResponse
from polygon.rest.models import Condition, Dividend, Exchange, OptionContractSnapshot, OptionsContract

from tests.polygon_rest import PolygonServer, Reply, serve_polygon
from trades.domain.occ import parse_occ
from trades.domain.reference_data import ContractInfo
from trades.models import Dividend as DividendRow
from trades.models import OptionCondition, OptionContract, OptionExchange, Underlying
from trades.polygon_rest import client as client_module
from trades.polygon_rest import loaders
from trades.polygon_rest.client import ReferenceDataError, decode_response, rest_client
from trades.services import reference_data

pytestmark = pytest.mark.django_db

TYPED_ERRORS = (ReferenceDataError, BadResponse, urllib3.exceptions.MaxRetryError)

# --- JSON values, plain and tricky --------------------------------------------------------------

tricky_text = st.sampled_from(
    ["", " ", "\x00", "A\x00", "\ud800", "AAPL", "I:SPX", "*", "call", "2025-12-19", "é" * 20]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 100, 2**31 - 1, 2**31, 2**63, -1, 10**30]),
    st.floats(),  # NaN and ±Infinity included: written as bare words, as Python's json writes them
    st.text(max_size=20),
    tricky_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children),
    max_leaves=12,
)
counts = st.one_of(st.integers(min_value=-5, max_value=2**32), st.floats(), scalars)
tickers = st.one_of(st.sampled_from(["AAPL", "SPY", "I:SPX", "BRK.B", "spy "]), st.text(max_size=20), scalars)
occ_symbols = st.from_regex(r"O:[A-Z]{1,6}2[0-9](0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[CP][0-9]{8}", fullmatch=True)


@st.composite
def maybe_spoiled(draw: st.DrawFn, item: dict[str, Any]) -> dict[str, Any]:
    """The item with each field kept, left out or replaced by any JSON value."""
    spoiled = {}
    for key, value in item.items():
        fate = draw(st.sampled_from(["keep", "keep", "keep", "drop", "replace"]))
        if fate == "keep":
            spoiled[key] = value
        elif fate == "replace":
            spoiled[key] = draw(json_values)
    return spoiled


@st.composite
def contract_items(draw: st.DrawFn) -> dict[str, Any]:
    symbol = draw(occ_symbols)
    option = parse_occ(symbol)
    item = {
        "ticker": symbol,
        "underlying_ticker": draw(tickers),
        "shares_per_contract": draw(counts),
        "expiration_date": option.expiry.isoformat(),
        "contract_type": "call" if option.right == "C" else "put",
        "strike_price": float(option.strike),
    }
    return draw(maybe_spoiled(item))


@st.composite
def chain_items(draw: st.DrawFn) -> dict[str, Any]:
    details = draw(contract_items())
    details.pop("underlying_ticker", None)  # the chain's details carry none
    item = {
        "details": details,
        "open_interest": draw(counts),
        "underlying_asset": {"price": draw(st.one_of(st.floats(), counts)), "value": draw(counts)},
        "day": draw(json_values),
        "greeks": draw(json_values),
    }
    return draw(maybe_spoiled(item))


@st.composite
def condition_items(draw: st.DrawFn) -> dict[str, Any]:
    item = {
        "id": draw(counts),
        "name": draw(st.one_of(st.text(max_size=30), tricky_text, scalars)),
        "abbreviation": draw(st.one_of(tricky_text, scalars)),
        "data_types": draw(st.one_of(st.just(["trade"]), json_values)),
        "sip_mapping": draw(json_values),
        "update_rules": draw(st.one_of(st.fixed_dictionaries({"consolidated": json_values}), json_values)),
    }
    return draw(maybe_spoiled(item))


@st.composite
def exchange_items(draw: st.DrawFn) -> dict[str, Any]:
    item = {
        "id": draw(counts),
        "name": draw(st.one_of(st.text(max_size=30), tricky_text, scalars)),
        "acronym": draw(st.one_of(tricky_text, scalars)),
        "mic": draw(st.one_of(tricky_text, scalars)),
    }
    return draw(maybe_spoiled(item))


def as_client_item(value: object, from_dict: Callable[[Any], Any]) -> Any:
    """The value as the client hands a page's item to a loader: written as JSON, read and defused
    by the guarded decoder, built into polygon's model."""
    body = json.dumps({"status": "OK", "results": [value]}).encode()
    [item] = decode_response(body)["results"]
    return from_dict(item)


def assert_storable(row: Any) -> None:
    """The row's values fit their columns (lengths, digits, integer ranges) and hold no NUL."""
    row.clean_fields()
    for field in row._meta.concrete_fields:
        value = getattr(row, field.attname)
        if isinstance(value, str):
            assert "\x00" not in value
            value.encode("utf-8")  # no lone surrogate


def contract_row(contract: ContractInfo, open_interest: int | None = None) -> OptionContract:
    return reference_data._contract_row(contract, open_interest)


# --- each item parser: a record its table can store, or MalformedItem ---------------------------


@given(st.one_of(contract_items(), json_values))
def test_any_contract_item_is_a_storable_contract_or_malformed(value):
    item = as_client_item(value, OptionsContract.from_dict)
    try:
        contract = loaders.contract_from_reference(item)
    except loaders.MalformedItem:
        return
    assert_storable(contract_row(contract))


@given(st.one_of(chain_items(), json_values))
def test_any_chain_item_is_a_storable_contract_and_open_interest_or_malformed(value):
    item = as_client_item(value, OptionContractSnapshot.from_dict)
    price = loaders._asset_price(item)
    if price is not None:
        assert_storable(Underlying(ticker="SPY", spot=price))
    try:
        contract, interest = loaders._chain_item("SPY", item)
    except loaders.MalformedItem:
        return
    assert_storable(contract_row(contract, interest))


@given(st.one_of(condition_items(), json_values))
def test_any_condition_item_is_a_storable_condition_or_malformed(value):
    item = as_client_item(value, Condition.from_dict)
    try:
        condition = loaders._condition(item)
    except loaders.MalformedItem:
        return
    if condition is not None:  # None: a quote condition, left out
        assert_storable(OptionCondition(**vars(condition)))


@given(st.one_of(exchange_items(), json_values))
def test_any_exchange_item_is_a_storable_exchange_or_malformed(value):
    item = as_client_item(value, Exchange.from_dict)
    try:
        exchange = loaders._exchange(item)
    except loaders.MalformedItem:
        return
    assert_storable(OptionExchange(**vars(exchange)))


@st.composite
def dividend_items(draw: st.DrawFn) -> dict[str, Any]:
    item = {
        "ticker": draw(st.one_of(st.just("AAPL"), tickers)),
        "ex_dividend_date": draw(st.one_of(st.just("2025-12-08"), st.just("2025-02-30"), tricky_text, scalars)),
        "cash_amount": draw(st.one_of(st.just(0.26), st.just(2**32), st.just(1e-9), counts)),
    }
    return draw(maybe_spoiled(item))


@given(st.one_of(dividend_items(), json_values))
def test_any_dividend_item_is_a_storable_dividend_or_malformed(value):
    item = as_client_item(value, Dividend.from_dict)
    try:
        dividend = loaders._dividend("AAPL", item)
    except loaders.MalformedItem:
        return
    assert_storable(DividendRow(**vars(dividend)))


# --- whole pages: records or a typed error --------------------------------------------------------

any_items = st.one_of(contract_items(), chain_items(), condition_items(), exchange_items(), json_values)
next_urls = st.one_of(
    st.just("https://api.polygon.io/v3/reference/options/contracts?cursor=next"), st.text(max_size=10), scalars
)
json_pages = st.fixed_dictionaries(
    {},
    optional={
        "status": st.one_of(st.sampled_from(["OK", "DELAYED", "ERROR"]), scalars),
        "results": st.one_of(st.lists(any_items, max_size=4), any_items),
        "next_url": next_urls,
        "error": json_values,
    },
)
page_bodies = st.one_of(
    json_pages.map(lambda page: json.dumps(page).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=60),
    st.sampled_from([b"<html>502 Bad Gateway</html>", b'{"status":"OK","results":[{"ti', b"[" * 5000]),
)
PATHS = [
    "/v3/reference/options/contracts",
    "/v3/reference/options/contracts/O:SPY251219C00600000",
    "/v3/snapshot/options/SPY",
    "/v3/reference/conditions",
    "/v3/reference/exchanges",
]
LOADS: list[Callable[[Any], object]] = [
    lambda client: loaders.load_contracts(client, "SPY"),
    lambda client: loaders.load_contract(client, "O:SPY251219C00600000"),
    lambda client: loaders.load_chain(client, "SPY"),
    lambda client: loaders.load_spot(client, "SPY"),
    loaders.load_conditions,
    loaders.load_exchanges,
]


def examples(count: int) -> Any:
    """For tests that call a server or the database: no deadline (each example does I/O)."""
    return hypothesis_settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def polygon_answering(django_settings: Any) -> Iterator[Callable[[Reply], None]]:
    """One local server for all examples; each example sets the one reply every path gets."""
    with serve_polygon(django_settings) as polygon:
        django_settings.POLYGON_REST_RETRIES = 0

        def answer(reply: Reply) -> None:
            polygon.routes.clear()
            for path in PATHS:
                polygon.on(path, reply)

        yield answer


def test_any_page_gives_records_or_a_typed_error(settings, monkeypatch):
    # Examples answered 429 or 500 would open the circuit breaker, and every later one would then
    # be refused without a request: this test is about pages, not about outages.
    monkeypatch.setattr(client_module, "BREAKER_FAILURES", 10**9)
    with polygon_answering(settings) as answer:
        client = rest_client()

        @examples(150)
        @given(page_bodies, st.sampled_from([200, 200, 200, 403, 404, 429, 500]))
        def check(body: bytes, code: int) -> None:
            answer(Reply(status=code, body=body))
            for load in LOADS:
                with suppress(*TYPED_ERRORS):
                    load(client)

        check()


# --- refreshes: what fits is stored, the rest reported; the database never refuses a value --------

pages_of_items = st.lists(st.one_of(contract_items(), chain_items(), condition_items(), exchange_items()), max_size=5)


@pytest.fixture
def polygon(settings, monkeypatch) -> Iterator[PolygonServer]:
    monkeypatch.setattr(client_module, "BACKOFF_FACTOR", 0.01)
    with serve_polygon(settings) as server:
        yield server


def test_any_items_refresh_without_the_database_refusing_a_value(polygon):
    client = rest_client()
    page = {"status": "OK"}

    @examples(40)
    @given(pages_of_items)
    def check(items: list[dict[str, Any]]) -> None:
        polygon.routes.clear()
        for path in ["/v3/reference/options/contracts", "/v3/snapshot/options/SPY", *PATHS[3:]]:
            polygon.on(path, Reply(body=json.dumps(page | {"results": items}).encode()))
        with transaction.atomic():
            reports = [
                reference_data.refresh_contracts(["SPY"], client=client),
                reference_data.refresh_open_interest(["SPY"], client=client),
                reference_data.refresh_spot(["SPY"], client=client),
                reference_data.refresh_conditions(client=client),
            ]
            transaction.set_rollback(True)
        for report in reports:
            for result in report.failed:
                assert not result.reason.startswith(("database", "unexpected")), result.reason

    check()
