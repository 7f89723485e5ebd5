"""``GET /api/pulse/smart-money``: the newest stored hits as JSON."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tests.factories import T0, stored_trade
from trades.api.params import MAX_LIMIT
from trades.domain.calendar import utc_datetime
from trades.selectors.serializers import TRADE_FIELDS, serialize_trade

URL = "/api/pulse/smart-money"


def results(client: Client, query: str = "") -> list[dict[str, Any]]:
    response = client.get(URL + query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()["results"]


@pytest.mark.django_db
def test_exact_json_of_a_trade(client: Client):
    printed = utc_datetime(T0)
    stored_trade(
        651921857,
        profiles=("mag7-smart-money", "classic-unusual-activity"),
        received_at=printed + timedelta(milliseconds=40),
        stored_at=printed + timedelta(milliseconds=95),
        alerted_at=printed + timedelta(milliseconds=180),
    )
    stored_trade(
        7,
        source="replay",  # old prints by design: no latency
        symbol="O:SPXW250602P05900500",
        underlying="SPX",
        root="SPXW",
        expiry=date(2025, 6, 2),
        right="P",
        strike=Decimal("5900.500"),
        price=Decimal("12.0500"),
        size=3,
        premium=Decimal("3615.00"),
        dte=0,
        exchange=65,
        conditions=[],
        sequence=None,
        sip_timestamp=T0 - 123,
    )

    assert client.get(URL).json() == {
        "results": [
            {
                "symbol": "O:AAPL250620C00190000",
                "ticker": "AAPL",
                "strike": 190.0,
                "expiry": "2025-06-20",
                "side": "CALL",
                "price": 1.54,
                "size": 100,
                "premium": 15400.0,
                "dte": 18,
                "exchange": 302,
                "conditions": [209],
                "sequence": 651921857,
                "timestamp": "2025-06-02T14:30:05.123Z",
                "profiles": ["classic-unusual-activity", "mag7-smart-money"],
                "latency": {"received_ms": 40, "stored_ms": 95, "alerted_ms": 180},
            },
            {
                "symbol": "O:SPXW250602P05900500",
                "ticker": "SPX",
                "strike": 5900.5,
                "expiry": "2025-06-02",
                "side": "PUT",
                "price": 12.05,
                "size": 3,
                "premium": 3615.0,
                "dte": 0,
                "exchange": 65,
                "conditions": [],
                "sequence": None,
                "timestamp": "2025-06-02T14:30:05.000Z",
                "profiles": [],
                "latency": None,
            },
        ]
    }


@pytest.mark.django_db
def test_serialize_trade_is_json_ready_without_a_custom_encoder():
    trade = stored_trade(1, profiles=("mag7-smart-money",))
    assert json.loads(json.dumps(serialize_trade(trade))) == serialize_trade(trade)


@pytest.mark.django_db
def test_newest_first_by_sip_timestamp_then_id(client: Client):
    oldest = stored_trade(1, sip_timestamp=T0 - 1000)
    tie_first = stored_trade(2, sip_timestamp=T0)
    tie_second = stored_trade(3, sip_timestamp=T0)
    newest = stored_trade(4, sip_timestamp=T0 + 1)
    middle = stored_trade(5, sip_timestamp=T0 - 1)  # inserted last, but not newest

    sequences = [row["sequence"] for row in results(client)]

    assert sequences == [t.sequence for t in (newest, tie_second, tie_first, middle, oldest)]


@pytest.mark.django_db
def test_limit_defaults_to_ten(client: Client):
    for sequence in range(12):
        stored_trade(sequence, sip_timestamp=T0 + sequence)
    assert [row["sequence"] for row in results(client)] == list(range(11, 1, -1))


@pytest.mark.django_db
def test_limit(client: Client):
    for sequence in range(5):
        stored_trade(sequence, sip_timestamp=T0 + sequence)
    assert [row["sequence"] for row in results(client, "?limit=2")] == [4, 3]
    assert len(results(client, "?limit=1")) == 1
    assert len(results(client, f"?limit={MAX_LIMIT}")) == 5


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_LIMIT + 1), "abc", "", "1.5", " 5", "+5", "1_0", "١٠"])
def test_a_bad_or_out_of_range_limit_is_a_400(client: Client, limit: str):
    response = client.get(URL, {"limit": limit})
    assert response.status_code == 400
    assert response.json()["error"].startswith("limit: ")
    assert [problem["parameter"] for problem in response.json()["errors"]] == ["limit"]


@pytest.mark.django_db
def test_ticker_filter_is_case_insensitive(client: Client):
    stored_trade(1)
    stored_trade(2, symbol="O:MSFT250620P00400000", underlying="MSFT", root="MSFT")
    stored_trade(3, symbol="O:SPXW250620P05900000", underlying="SPX", root="SPXW")

    assert [row["symbol"] for row in results(client, "?ticker=msft")] == ["O:MSFT250620P00400000"]
    assert [row["symbol"] for row in results(client, "?ticker=%20Spx%20")] == ["O:SPXW250620P05900000"]
    assert results(client, "?ticker=NVDA") == []
    assert len(results(client, "?ticker=")) == 3  # blank: no filter


@pytest.mark.django_db
def test_query_count_does_not_grow_with_rows(client: Client, django_assert_max_num_queries):
    for sequence in range(30):
        stored_trade(sequence, sip_timestamp=T0 + sequence, profiles=("mag7-smart-money", "classic-unusual-activity"))

    with django_assert_max_num_queries(3):  # whether any user has a token, the trades, their profiles
        rows = results(client, "?limit=25")

    assert len(rows) == 25
    assert all(row["profiles"] == ["classic-unusual-activity", "mag7-smart-money"] for row in rows)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_get_is_allowed(method: str):
    client = Client(enforce_csrf_checks=True)  # as a real client: no CSRF token
    response = getattr(client, method)(URL)
    assert response.status_code == 405
    assert response["Allow"] == "GET"


# --- API_TOKEN -----------------------------------------------------------------------------
TOKEN = "s3cret-token-for-tests"


@pytest.mark.django_db
def test_without_api_token_the_endpoint_is_open(client: Client, settings):
    settings.API_TOKEN = ""
    assert client.get(URL).status_code == 200


@pytest.mark.django_db
def test_with_api_token_a_bearer_header_is_required(client: Client, settings):
    settings.API_TOKEN = TOKEN
    stored_trade(1)
    response = client.get(URL, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
    # The scheme is case-insensitive (RFC 7235).
    assert client.get(URL, headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer wrong",
    ],
)
def test_with_api_token_anything_else_is_a_401_json(client: Client, settings, header: str | None):
    settings.API_TOKEN = TOKEN
    stored_trade(1)
    response = client.get(URL, headers={} if header is None else {"Authorization": header})
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.json()
    assert TOKEN not in response.content.decode()


@pytest.mark.django_db
def test_the_401_comes_before_the_limit_check(client: Client, settings):
    settings.API_TOKEN = TOKEN
    assert client.get(URL, {"limit": "abc"}).status_code == 401


@pytest.mark.django_db  # a key that is not API_TOKEN may be a user's token
def test_the_token_is_compared_in_constant_time(client: Client, settings, monkeypatch):
    import hmac

    from trades.api import auth

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", compare_digest)
    settings.API_TOKEN = TOKEN
    assert client.get(URL, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert calls == [(b"nope", TOKEN.encode())]


@pytest.mark.django_db
def test_trade_fields_name_every_serialized_key_in_order():
    assert tuple(serialize_trade(stored_trade(1))) == TRADE_FIELDS
