"""The guarded REST client against a local server: timeouts that apply, retries on 429/5xx that
honour Retry-After within a budget, refusals that name their HTTP status, a circuit breaker for an
API that does not answer, and pages that are not JSON refused instead of silently ending a listing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import urllib3
from django.core.exceptions import ImproperlyConfigured
from polygon import RESTClient
from polygon.exceptions import BadResponse

from tests.polygon_rest import (
    API_KEY,
    PolygonServer,
    Reply,
    fixture,
    ok,
    refusing_url,
    serve_polygon,
    status,
    unanswered_connections_url,
)
from trades.polygon_rest import client as client_module
from trades.polygon_rest.breaker import ApiUnreachable
from trades.polygon_rest.client import (
    AccessRefused,
    PolygonRefused,
    ReferenceDataError,
    decode_response,
    describe_failure,
    rest_client,
)

CONTRACTS = "/v3/reference/options/contracts"


@pytest.fixture
def polygon(settings) -> Iterator[PolygonServer]:
    with serve_polygon(settings) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_breakers(monkeypatch) -> None:
    """Breakers are per address and per process: a port used again must not find one open."""
    monkeypatch.setattr(client_module, "_breakers", {})


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
    # A read timeout is not tried again (a server that let it pass will hardly answer sooner): one
    # timeout of 0.5 s. The bound is loose on purpose: it proves the timeout applies (the stock
    # client would wait as long as the server does, here 30 s), not how fast anything is.
    assert len(polygon.requests) == 1
    assert elapsed < 5


def test_a_dropped_connection_is_tried_once_more(polygon):
    polygon.on(CONTRACTS, Reply(drop=True), ok(fixture("contracts_A_page2.json")))

    assert len(listed(rest_client())) == 10
    assert len(polygon.requests) == 2


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


def test_a_refusal_names_its_status_path_and_what_polygon_said(polygon):
    polygon.on(CONTRACTS, Reply(status=404, body=b'{"status": "NOT_FOUND", "message": "no such thing"}'))

    with pytest.raises(PolygonRefused) as refused:
        listed(rest_client())

    assert refused.value.status == 404
    assert str(refused.value) == f"Polygon answered 404 Not Found to GET {CONTRACTS}: no such thing"


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (401, "401 Unauthorized to GET {path} ('Unknown API Key'): check POLYGON_API_KEY (a Massive/Polygon key"),
        (403, "403 Forbidden to GET {path} ('Unknown API Key'): your plan does not include this endpoint"),
    ],
)
def test_401_and_403_are_access_refused_saying_what_to_do(polygon, code, hint):
    polygon.on(CONTRACTS, Reply(status=code, body=b'{"status": "ERROR", "error": "Unknown API Key"}'))

    with pytest.raises(AccessRefused) as refused:
        listed(rest_client())

    assert hint.format(path=CONTRACTS) in str(refused.value)
    assert len(polygon.requests) == 1


def test_a_refused_connection_fails_at_once_even_with_the_default_retries(settings):
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = refusing_url(), API_KEY
    assert settings.POLYGON_REST_RETRIES == 5

    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as raised:
        listed(rest_client())

    assert time.monotonic() - started < 1  # tried once more at once; a longer outage is the breaker's
    assert describe_failure(raised.value) == "connection refused"


def test_the_connect_timeout_applies(settings):
    with unanswered_connections_url() as url:
        settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = url, API_KEY
        settings.POLYGON_REST_CONNECT_TIMEOUT = 0.3

        started = time.monotonic()
        with pytest.raises(urllib3.exceptions.MaxRetryError) as raised:
            listed(rest_client())

    assert time.monotonic() - started < 2  # two tries of 0.3 s; the stock client waits for the kernel (minutes)
    assert describe_failure(raised.value) == "no connection within POLYGON_REST_CONNECT_TIMEOUT (0.3 s)"


def test_retries_end_when_their_time_budget_is_spent(polygon, settings, monkeypatch):
    monkeypatch.setattr(client_module, "RETRY_BUDGET_SECONDS", 1.5)
    settings.POLYGON_REST_RETRIES = 5
    polygon.on(CONTRACTS, status(429, **{"Retry-After": "1"}))

    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError, match="too many 429 error responses"):
        listed(rest_client())

    # A wait of 1 s, one cut to the 0.5 s left, then the budget is spent: not six tries over 5 s.
    assert len(polygon.requests) == 3
    assert time.monotonic() - started < 2.5


def test_after_three_calls_without_an_answer_the_api_is_left_alone(polygon, settings):
    settings.POLYGON_REST_RETRIES = 0
    polygon.on(CONTRACTS, status(503))
    client = rest_client()
    for _ in range(3):
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            listed(client)

    with pytest.raises(ApiUnreachable, match=f"Polygon's REST API at {polygon.url} is unreachable: 3 calls in a row"):
        listed(rest_client())  # another client of the same API: the breaker is the address's

    assert len(polygon.requests) == 3


def test_calls_that_hang_open_the_breaker_once_they_took_long(polygon, settings, monkeypatch):
    monkeypatch.setattr(client_module, "BREAKER_FAILING_SECONDS", 0.5)
    settings.POLYGON_REST_READ_TIMEOUT = 0.3
    polygon.on(CONTRACTS, Reply(hang=True))
    client = rest_client()
    for _ in range(2):
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            listed(client)

    with pytest.raises(ApiUnreachable, match=r"2 calls in a row failed in 0\.\d s, the last: no answer within"):
        listed(client)


def test_an_answer_even_a_refusal_keeps_the_breaker_closed(polygon, settings):
    settings.POLYGON_REST_RETRIES = 0
    polygon.on(CONTRACTS, status(503), status(503), status(404), status(503), status(503))
    client = rest_client()

    for _ in range(5):
        with pytest.raises((urllib3.exceptions.MaxRetryError, PolygonRefused)):
            listed(client)

    assert not client.breaker.is_open


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
