"""The loaders parse Polygon's documented responses (tests/fixtures/polygon/README.md), served over
HTTP to the real RESTClient, into trades.domain.reference_data records; odd items are skipped and counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from tests.polygon_rest import PolygonServer, chain_item, contract_item, contracts_page, fixture, ok, serve_polygon
from trades.domain.conditions import (
    CATEGORY_CANCELLED,
    CATEGORY_LATE,
    CATEGORY_MULTI_LEG,
    CATEGORY_REGULAR,
    CATEGORY_STOCK_OPTION,
)
from trades.domain.reference_data import ConditionInfo, ContractInfo, ExchangeInfo
from trades.polygon_rest import loaders
from trades.polygon_rest.client import rest_client

CONTRACTS = "/v3/reference/options/contracts"


@pytest.fixture
def polygon(settings) -> Iterator[PolygonServer]:
    with serve_polygon(settings) as server:
        yield server


def test_contracts_all_pages_of_the_documented_example(polygon):
    polygon.on(CONTRACTS, ok(fixture("contracts_A_page1.json")))
    polygon.on(CONTRACTS, ok(fixture("contracts_A_page2.json")), when=lambda query: "cursor" in query)

    contracts = loaders.load_contracts(rest_client(), "A")

    assert len(contracts) == 20
    assert contracts[0] == ContractInfo(
        symbol="O:A220520C00065000",
        underlying="A",
        root="A",
        expiry=date(2022, 5, 20),
        right="C",
        strike=Decimal("65"),
        shares_per_contract=100,
    )
    assert [c.strike for c in contracts] == [Decimal(strike) for strike in range(65, 165, 5)]
    assert polygon.requests[0].query == {"underlying_ticker": "A", "expired": "false", "limit": "1000"}


def test_contracts_take_underlying_and_multiplier_from_the_reference_not_the_root(polygon):
    polygon.on(
        CONTRACTS,
        ok(
            contracts_page(
                [
                    contract_item("O:AMC1260116C00005000", "AMC", shares=10),
                    contract_item("O:SPXW251219P05900000", "SPX"),
                    contract_item("O:SPX251219P05900000", "I:SPX"),
                ]
            )
        ),
    )

    contracts = {c.symbol: c for c in loaders.load_contracts(rest_client(), "X")}

    amc1 = contracts["O:AMC1260116C00005000"]
    assert (amc1.root, amc1.underlying, amc1.shares_per_contract) == ("AMC1", "AMC", 10)
    spxw = contracts["O:SPXW251219P05900000"]
    assert (spxw.root, spxw.underlying, spxw.shares_per_contract, spxw.strike) == ("SPXW", "SPX", 100, 5900)
    assert contracts["O:SPX251219P05900000"].underlying == "SPX"  # the index form "I:SPX" is SPX


def test_malformed_contracts_are_skipped_counted_and_the_rest_kept(polygon):
    good = contract_item("O:AAPL251219C00200000", "AAPL")
    polygon.on(
        CONTRACTS,
        ok(
            contracts_page(
                [
                    good,
                    {**good, "ticker": "AAPL251219C00200000"},  # no "O:"
                    {**good, "ticker": "O:AAPL251219C00210000", "underlying_ticker": None},
                    {**good, "ticker": "O:AAPL251219C00220000", "shares_per_contract": 0},
                    {**good, "ticker": "O:AAPL251219C00230000", "shares_per_contract": 10.5},
                    {**good, "ticker": "O:AAPL251219C00240000", "contract_type": "put"},  # disagrees with "C"
                    {**good, "ticker": "O:AAPL251219C00250000", "expiration_date": "2025-12-20"},
                    "not an object",  # type: ignore[list-item]
                ]
            )
        ),
    )
    issues = loaders.LoadIssues()

    contracts = loaders.load_contracts(rest_client(), "AAPL", issues)

    assert [c.symbol for c in contracts] == ["O:AAPL251219C00200000"]
    assert issues.skipped == 7
    assert "does not start with 'O:'" in issues.reasons[0]


def test_one_contract_from_the_documented_example(polygon):
    polygon.on(
        "/v3/reference/options/contracts/O:EVRI240119C00002500", ok(fixture("contract_O_EVRI240119C00002500.json"))
    )

    contract = loaders.load_contract(rest_client(), "O:EVRI240119C00002500")

    assert contract == ContractInfo(
        symbol="O:EVRI240119C00002500",
        underlying="EVRI",
        root="EVRI",
        expiry=date(2024, 1, 19),
        right="C",
        strike=Decimal("2.5"),
        shares_per_contract=100,
    )


def test_an_answer_without_a_contract_is_none(polygon):
    polygon.on("/v3/reference/options/contracts/O:EVRI240119C00002500", ok({"status": "OK", "request_id": "x"}))

    assert loaders.load_contract(rest_client(), "O:EVRI240119C00002500") is None


def test_the_documented_chain_snapshot(polygon):
    polygon.on("/v3/snapshot/options/AAPL", ok(fixture("chain_AAPL.json")))

    chain = loaders.load_chain(rest_client(), "AAPL")

    assert chain.underlying == "AAPL"
    assert chain.underlying_price == Decimal("159.9606")
    assert chain.open_interest == {"O:AAPL230616C00150000": 8133}
    assert chain.contracts == [
        ContractInfo("O:AAPL230616C00150000", "AAPL", "AAPL", date(2023, 6, 16), "C", Decimal("150"), 100)
    ]
    assert polygon.requests[0].query == {"limit": "250"}


def test_chain_items_with_missing_greeks_and_null_fields_do_not_break_it(polygon):
    polygon.on("/v3/snapshot/options/AAPL", ok(fixture("derived/chain_AAPL_edge_cases.json")))
    issues = loaders.LoadIssues()

    chain = loaders.load_chain(rest_client(), "AAPL", issues)

    # the put: no greeks, null quote, null open interest (unknown, not zero), null underlying_asset;
    # the 160 call: null greeks, open interest 0; the rest are malformed.
    assert [c.symbol for c in chain.contracts] == ["O:AAPL230616P00150000", "O:AAPL230616C00160000"]
    assert chain.open_interest == {"O:AAPL230616C00160000": 0}
    assert chain.underlying_price == Decimal("159.9606")  # from the first item that carries one
    assert issues.skipped == 3  # no details, not an object, negative open interest


def test_an_index_chain_gives_the_value_as_spot(polygon):
    polygon.on("/v3/snapshot/options/SPX", ok(fixture("derived/chain_SPX_index.json")))

    chain = loaders.load_chain(rest_client(), "SPX")

    assert chain.underlying_price == Decimal("5900.5")
    assert chain.open_interest == {"O:SPXW251219P05900000": 10}
    assert chain.contracts[0].underlying == "SPX"


def test_an_index_chain_falls_back_to_the_index_ticker(polygon):
    polygon.on("/v3/snapshot/options/SPX", ok({"status": "OK", "request_id": "x", "results": []}))
    polygon.on("/v3/snapshot/options/I:SPX", ok(fixture("derived/chain_SPX_index.json")))

    chain = loaders.load_chain(rest_client(), "SPX")

    assert chain.open_interest == {"O:SPXW251219P05900000": 10}
    assert [r.path for r in polygon.requests] == ["/v3/snapshot/options/SPX", "/v3/snapshot/options/I:SPX"]


def test_spot_reads_one_contract_of_the_first_page_only(polygon):
    page = {
        "status": "OK",
        "request_id": "x",
        "results": [chain_item("O:AAPL251219C00200000", 5, price=201.25)],
        "next_url": "https://api.polygon.io/v3/snapshot/options/AAPL?cursor=more",
    }
    polygon.on("/v3/snapshot/options/AAPL", ok(page))

    assert loaders.load_spot(rest_client(), "AAPL") == Decimal("201.25")
    assert [r.query for r in polygon.requests] == [{"limit": "1"}]


def test_spot_is_none_when_the_snapshot_has_no_price(polygon):
    polygon.on("/v3/snapshot/options/AAPL", ok({"status": "OK", "results": [chain_item("O:AAPL251219C00200000", 5)]}))

    assert loaders.load_spot(rest_client(), "AAPL") is None


def test_one_contracts_snapshot_from_the_documented_example(polygon):
    polygon.on(
        "/v3/snapshot/options/AAPL/O:AAPL230616C00150000", ok(fixture("snapshot_AAPL_O_AAPL230616C00150000.json"))
    )
    contract = ContractInfo("O:AAPL230616C00150000", "AAPL", "AAPL", date(2023, 6, 16), "C", Decimal("150"), 100)

    snapshot = loaders.load_contract_snapshot(rest_client(), contract)

    assert snapshot.open_interest == {"O:AAPL230616C00150000": 8133}
    assert snapshot.underlying_price == Decimal("159.9606")
    assert snapshot.contracts == [contract]


def test_the_documented_conditions_example_and_its_next_page(polygon):
    polygon.on("/v3/reference/conditions", ok(fixture("conditions_example.json")))
    polygon.on("/v3/reference/conditions", ok(fixture("conditions_example_page2.json")), when=lambda q: "cursor" in q)

    conditions = loaders.load_conditions(rest_client())

    assert conditions == [ConditionInfo(code=1, name="Acquisition", abbreviation="", category=CATEGORY_REGULAR)]
    assert polygon.requests[0].query == {"asset_class": "options", "limit": "1000"}
    assert len(polygon.requests) == 2


def test_options_conditions_are_grouped_by_name(polygon):
    polygon.on("/v3/reference/conditions", ok(fixture("derived/conditions_options.json")))
    issues = loaders.LoadIssues()

    conditions = {c.code: c for c in loaders.load_conditions(rest_client(), issues)}

    assert {code: c.category for code, c in conditions.items()} == {
        201: CATEGORY_CANCELLED,
        202: CATEGORY_LATE,
        209: CATEGORY_REGULAR,
        232: CATEGORY_MULTI_LEG,  # its sip_mapping is null
        237: CATEGORY_STOCK_OPTION,  # its update_rules are null
        241: CATEGORY_STOCK_OPTION,  # "Floor Trade" says nothing: grouped by its code
        233: CATEGORY_MULTI_LEG,
    }  # 300 is a quote condition; 299 has no name
    assert conditions[209].abbreviation == "AUTO"
    assert issues.skipped == 1


def test_the_documented_exchanges_example(polygon):
    polygon.on("/v3/reference/exchanges", ok(fixture("exchanges_example.json")))

    assert loaders.load_exchanges(rest_client()) == [
        ExchangeInfo(id=1, name="NYSE American, LLC", acronym="AMEX", mic="XASE")
    ]
    assert polygon.requests[0].query == {"asset_class": "options"}


def test_options_exchanges_with_missing_fields(polygon):
    polygon.on("/v3/reference/exchanges", ok(fixture("derived/exchanges_options.json")))
    issues = loaders.LoadIssues()

    exchanges = loaders.load_exchanges(rest_client(), issues)

    assert [(e.id, e.acronym, e.mic) for e in exchanges] == [(300, "AMEX", "AMXO"), (301, "", "XBOX"), (302, "", "")]
    assert issues.skipped == 1
