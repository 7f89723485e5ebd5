"""The guarded REST client against a local server: timeouts that apply, retries on 429/5xx that
honour Retry-After, and pages that are not JSON refused instead of silently ending a listing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import urllib3
from django.core.exceptions import ImproperlyConfigured
from polygon import RESTClient
from polygon.exceptions import BadResponse

from tests.polygon_rest import API_KEY, PolygonServer, Reply, fixture, ok, serve_polygon, status
from trades.reference import client as client_module
from trades.reference.client import ReferenceDataError, decode_response, rest_client

CONTRACTS = "/v3/reference/options/contracts"


@pytest.fixture
def polygon(settings) -> Iterator[PolygonServer]:
    with serve_polygon(settings) as server:
        yield server


def serve_contract_pages(polygon: PolygonServer, second: Reply) -> None:
    polygon.on(CONTRACTS, ok(fixture("contracts_A_page1.json")))
    polygon.on(CONTRACTS, second, when=lambda query: "cursor" in query)


def listed(client: RESTClient) -> list[str]:
    return [c.ticker for c in client.list_options_contracts(underlying_ticker="A", expired=False, limit=1000)]


def test_the_api_key_is_sent_from_settings(polygon):
    polygon.on(CONTRACTS, ok(fixture("contracts_A_page2.json")))

    listed(rest_client())

    assert polygon.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert polygon.requests[0].query == {"underlying_ticker": "A", "expired": "false", "limit": "1000"}


def test_a_missing_api_key_is_a_configuration_error(settings):
    settings.POLYGON_API_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="POLYGON_API_KEY"):
        rest_client()


def test_pagination_follows_next_url_against_the_configured_base(polygon):
    serve_contract_pages(polygon, ok(fixture("contracts_A_page2.json")))

    tickers = listed(rest_client())

    assert len(tickers) == 20  # 10 per documented page
    assert polygon.requests[1].query == {"cursor": "YXA9JTdCJTIySUQlMjIlM0ElMjIy"}


def test_a_server_that_hangs_is_abandoned_after_the_read_timeout(polygon, settings):
    settings.POLYGON_REST_READ_TIMEOUT = 0.5
    polygon.on(CONTRACTS, Reply(hang=True))
    client = rest_client()

    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as raised:
        listed(client)
    elapsed = time.monotonic() - started

    assert isinstance(raised.value.reason, urllib3.exceptions.ReadTimeoutError)
    # One read retry (a dropped keep-alive connection is the usual read error), then give up: two
    # timeouts of 0.5 s. The bound is loose on purpose: it proves the timeout applies (the stock
    # client would wait as long as the server does, here 30 s), not how fast anything is.
    assert len(polygon.requests) == 2
    assert elapsed < 5


def test_429_with_retry_after_then_200_succeeds(polygon):
    polygon.on(CONTRACTS, status(429, **{"Retry-After": "1"}), ok(fixture("contracts_A_page2.json")))

    started = time.monotonic()
    tickers = listed(rest_client())

    assert len(tickers) == 10
    assert len(polygon.requests) == 2
    # The first retry has no backoff of its own, so waiting a second means Retry-After was honoured.
    assert time.monotonic() - started >= 1


def test_a_5xx_that_persists_raises_max_retry_error_after_the_configured_retries(polygon, monkeypatch):
    monkeypatch.setattr(client_module, "BACKOFF_FACTOR", 0.01)
    polygon.on(CONTRACTS, status(503))

    with pytest.raises(urllib3.exceptions.MaxRetryError, match="too many 503 error responses"):
        listed(rest_client())

    assert len(polygon.requests) == 3  # the first try and POLYGON_REST_RETRIES = 2 more


def test_a_4xx_raises_bad_response_without_retrying(polygon):
    polygon.on(CONTRACTS, status(403))

    with pytest.raises(BadResponse):
        listed(rest_client())

    assert len(polygon.requests) == 1


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"\xff\xfe not utf-8", b'["not", "an object"]'])
def test_a_page_that_is_not_a_json_object_raises_instead_of_ending_the_listing(polygon, body):
    serve_contract_pages(polygon, Reply(body=body))

    with pytest.raises(ReferenceDataError):
        listed(rest_client())


def test_the_stock_client_would_have_ended_the_listing_silently(polygon):
    """Why the guard exists: polygon-api-client 1.16.3 returns page 1 alone, no error."""
    serve_contract_pages(polygon, Reply(body=b"<html>502 Bad Gateway</html>"))
    stock = RESTClient(api_key=API_KEY, base=polygon.url, retries=0)

    assert len(listed(stock)) == 10


def test_null_and_non_object_items_are_defused_for_the_models():
    body = b"""{"status": "OK", "results": [
        {"details": null, "greeks": null, "day": "n/a", "underlying_asset": {"price": 1.5},
         "additional_underlyings": [{"amount": 10}, "junk"]},
        "not an object"
    ]}"""

    results = decode_response(body)["results"]

    assert results == [{"underlying_asset": {"price": 1.5}, "additional_underlyings": [{"amount": 10}]}, {}]


def test_an_error_status_in_a_200_body_raises():
    with pytest.raises(ReferenceDataError, match="NOT_AUTHORIZED"):
        decode_response(b'{"status": "ERROR", "error": "NOT_AUTHORIZED"}')
