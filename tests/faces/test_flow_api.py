"""The flow API on real PostgreSQL: filters, the cursor walk, exports, the live stream, the
heatmap, the day's summary, analogs, backtests; every bad parameter a 400 naming it, every
endpoint behind the token, every endpoint on the docs page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tests.factories import AAPL_195C, ns_at, only_profile, stored_order, volume_count
from trades.api import api
from trades.models import DailyBar, FilterProfile, Order, VolumeCount
from trades.selectors.serializers import serialize_order

DAY = date(2026, 11, 20)
MSFT_400P = "O:MSFT261204P00400000"
TOKEN = "flow-api-test-token"


@pytest.fixture
def sweeps(db) -> FilterProfile:
    return only_profile("sweeps", ["AAPL", "MSFT"], judges="orders", min_premium=Decimal(50_000))


def streamed(response: Any) -> Iterator[bytes]:
    """A streaming response's chunks (the test client's response type does not declare them)."""
    return iter(response.streaming_content)


def get(client: Client, url: str, **query: Any) -> dict[str, Any]:
    response = client.get(url, query)
    assert response.status_code == 200, response.content
    return response.json()


def ids(client: Client, **query: Any) -> list[str]:
    return [hit["order_id"] for hit in get(client, "/api/flow", **query)["results"]]


def msft_put(order_id: str, sweeps: FilterProfile, minute: int, **fields: Any) -> Order:
    values = {"symbol": MSFT_400P, "underlying": "MSFT", "right": "P", "strike": Decimal(400), "sentiment": "BEARISH"}
    return stored_order(order_id, DAY, sweeps, first_ts_ns=ns_at(DAY, 11, minute), **(values | fields))


@pytest.fixture
def five(sweeps) -> None:
    """Five hits on DAY, 11:00 to 11:04, each different in one way."""
    stored_order("aapl-sweep", DAY, sweeps, first_ts_ns=ns_at(DAY, 11, 0), opening=True, dte=3)
    stored_order("aapl-block", DAY, sweeps, first_ts_ns=ns_at(DAY, 11, 1), type="BLOCK", premium=Decimal(2_000_000))
    msft_put("msft-put", sweeps, 2, golden=True, dte=40)
    msft_put("msft-neutral", sweeps, 3, sentiment="NEUTRAL", vol_oi=Decimal("2.5"))
    other = FilterProfile.objects.create(name="blocks", watchlist=sweeps.watchlist, judges="orders")
    stored_order("aapl-other-profile", DAY, other, first_ts_ns=ns_at(DAY, 11, 4), premium=Decimal(60_000))


ALL_FIVE = ["aapl-other-profile", "msft-neutral", "msft-put", "aapl-block", "aapl-sweep"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ALL_FIVE),
        ({"ticker": "msft"}, ["msft-neutral", "msft-put"]),
        ({"ticker": "NVDA, msft"}, ["msft-neutral", "msft-put"]),
        ({"type": "block"}, ["aapl-block"]),
        ({"side": "put"}, ["msft-neutral", "msft-put"]),
        ({"sentiment": "bearish"}, ["msft-put"]),
        ({"opening": "true"}, ["aapl-sweep"]),
        ({"min_premium": "1000000"}, ["aapl-block"]),
        ({"dte_min": "20"}, ["msft-put"]),
        ({"dte_max": "5"}, ["aapl-sweep"]),
        ({"profile": "blocks"}, ["aapl-other-profile"]),
        ({"rule": "golden"}, ["msft-put"]),
        ({"rule": "above_oi"}, ["msft-neutral"]),
        ({"since": "2026-11-20T11:02", "until": "2026-11-20T11:04"}, ["msft-neutral", "msft-put"]),
        ({"since": "2026-11-20T16:03:00Z"}, ["aapl-other-profile", "msft-neutral"]),  # 11:03 New York
    ],
)
def test_each_filter_narrows_the_flow(client: Client, five, query: dict[str, str], expected: list[str]):
    assert ids(client, **query) == expected


def test_the_cursor_walk_returns_each_hit_once_while_hits_arrive(client: Client, sweeps):
    for minute in range(25):
        stored_order(f"o{minute:02}", DAY, sweeps, first_ts_ns=ns_at(DAY, 11, minute))
    # Two at the same nanosecond: the id breaks the tie.
    stored_order("tie", DAY, sweeps, first_ts_ns=ns_at(DAY, 11, 12))
    before = set(Order.objects.values_list("order_id", flat=True))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = get(client, "/api/flow", limit=7, **({"cursor": cursor} if cursor else {}))
        seen += [hit["order_id"] for hit in page["results"]]
        pages += 1
        # Hits arrive between pages: newer than the walk's start, and older than any it has met.
        stored_order(f"new-{pages}", DAY, sweeps, first_ts_ns=ns_at(DAY, 12, pages))
        stored_order(f"late-{pages}", DAY, sweeps, first_ts_ns=ns_at(DAY, 10, 50 - pages))
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)), "no hit twice"
    assert before <= set(seen), "every hit there at the start"
    assert not any(order_id.startswith("new-") for order_id in seen), "newer than the first page: not in this walk"
    late = {order_id for order_id in seen if order_id.startswith("late-")}
    assert late == {f"late-{n}" for n in range(1, pages)}, "older ones stored during the walk are met once"
    times = [Order.objects.get(order_id=order_id).first_ts_ns for order_id in seen]
    assert times == sorted(times, reverse=True)


def test_a_page_is_exactly_what_serialize_order_says(client: Client, five):
    page = get(client, "/api/flow", limit=2)
    newest = Order.objects.get(order_id="aapl-other-profile")
    assert page["results"][0] == serialize_order(newest)
    assert len(page["results"]) == 2 and page["next_cursor"]
    assert get(client, "/api/flow", limit=5)["next_cursor"] is None  # all five on one page: no next


def test_exports_csv_and_parquet_hold_the_filtered_range_oldest_first(client: Client, five):
    response = client.get("/api/flow.csv", {"ticker": "MSFT"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="flowsite-flow.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(streamed(response)).decode())))
    assert [row["order_id"] for row in rows] == ["msft-put", "msft-neutral"]
    assert (rows[0]["premium"], rows[0]["side"], rows[0]["golden"], rows[0]["profiles"]) == (
        "300000.0",
        "PUT",
        "True",
        "sweeps",
    )

    response = client.get("/api/flow.parquet", {"min_premium": "100000"})
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(b"".join(streamed(response))))
    assert table.column("order_id").to_pylist() == ["aapl-sweep", "aapl-block", "msft-put", "msft-neutral"]
    assert str(table.schema.field("timestamp").type) == "timestamp[ms, tz=UTC]"
    assert table.column("expiry").to_pylist()[0] == date(2026, 12, 4)
    assert table.column("premium").to_pylist()[1] == 2_000_000.0
    assert table.column("opening").to_pylist()[0] is True
    assert get(client, "/api/flow", limit=1, ticker="AAPL")["results"][0]["order_id"] == "aapl-other-profile"


def test_the_stream_sends_hits_judged_since_it_opened(client: Client, sweeps):
    response = client.get("/api/flow/stream", {"ticker": "AAPL"})
    assert response["Content-Type"] == "text/event-stream"
    events = streamed(response)
    assert next(events) == b"retry: 2000\n\n"
    order = stored_order("live", DAY, sweeps, judged_at=timezone.now())
    msft_put("other-name", sweeps, 5, judged_at=timezone.now())
    event = next(events).decode()
    head, data = event.split("\ndata: ")
    assert head.startswith("id: ") and "\nevent: hit" in head
    assert json.loads(data) == serialize_order(order)
    assert next(events) == b": still here\n\n"  # the MSFT hit was filtered out


def count(symbol: str, day: date, dollars: int, minute: int = 30) -> VolumeCount:
    return volume_count(symbol, day, 10, minute, dollars, volume=10)


PAST = [date(2026, 11, d) for d in (13, 16, 17, 18, 19)]
AAPL_200C = "O:AAPL261204C00200000"
AAPL_190P = "O:AAPL261127P00190000"


def test_the_heatmap_marks_a_contract_at_three_times_its_usual_day(client: Client, sweeps):
    rows = [count(AAPL_195C, day, 10_000) for day in PAST] + [count(AAPL_200C, day, 50_000) for day in PAST]
    rows += [count(AAPL_195C, DAY, 25_000), count(AAPL_195C, DAY, 5_000, minute=31)]  # $30K: 3× its $10K
    rows += [count(AAPL_200C, DAY, 60_000), count(AAPL_190P, DAY, 1_000)]  # 1.2×; and none before
    VolumeCount.objects.bulk_create(rows)
    stored_order("hit", DAY, sweeps)

    found = get(client, "/api/concentration/aapl", day="2026-11-20")

    assert (found["underlying"], found["day"], found["baseline_days"], found["baseline_since"]) == (
        "AAPL",
        "2026-11-20",
        5,
        "2026-11-13",
    )
    cells = {cell["symbol"]: cell for cell in found["cells"]}
    assert cells[AAPL_195C] == {
        "symbol": AAPL_195C,
        "expiry": "2026-12-04",
        "strike": 195.0,
        "side": "CALL",
        "premium": 30_000.0,
        "volume": 20,
        "usual": 10_000.0,
        "multiple": 3.0,
        "unusual": True,
        "hits": 1,
    }
    assert (cells[AAPL_200C]["multiple"], cells[AAPL_200C]["unusual"]) == (1.2, False)
    assert (cells[AAPL_190P]["usual"], cells[AAPL_190P]["multiple"], cells[AAPL_190P]["unusual"]) == (0.0, None, True)
    assert [cell["symbol"] for cell in found["cells"]] == [AAPL_190P, AAPL_195C, AAPL_200C]  # by expiry, strike
    assert found["premium"] == 91_000.0


def test_too_little_history_gives_no_verdict(client: Client, sweeps):
    VolumeCount.objects.bulk_create([count(AAPL_195C, PAST[-1], 1_000), count(AAPL_195C, DAY, 90_000)])
    (cell,) = get(client, "/api/concentration/AAPL", day="2026-11-20")["cells"]
    assert (cell["usual"], cell["multiple"], cell["unusual"]) == (None, None, False)


def test_the_day_summary_and_the_premium_over_the_day(client: Client, five):
    VolumeCount.objects.bulk_create([count(AAPL_195C, DAY, 40_000), count(AAPL_190P, DAY, 10_000, minute=45)])
    Order.objects.filter(order_id="aapl-block").update(signed_premium=Decimal(2_000_000), premium=Decimal(2_000_000))
    Order.objects.filter(order_id="msft-put").update(signed_premium=Decimal(-300_000))

    summary = get(client, "/api/summary", day="2026-11-20")
    assert summary["day"] == "2026-11-20"
    aapl, msft = summary["results"]
    assert aapl | {"biggest": None} == {
        "ticker": "AAPL",
        "day": "2026-11-20",
        "hits": 3,
        "unusual_hits": 0,
        "call_premium": 2_360_000.0,
        "put_premium": 0.0,
        "bullish_premium": 2_360_000.0,
        "bearish_premium": 0.0,
        "net_premium": 2_000_000.0,
        "tape_premium": 50_000.0,
        "tape_usual_premium": None,
        "biggest": None,
    }
    assert aapl["biggest"]["order_id"] == "aapl-block"
    assert (msft["ticker"], msft["hits"], msft["put_premium"]) == ("MSFT", 2, 600_000.0)
    assert msft["net_premium"] == -300_000.0

    series = get(client, "/api/premium/AAPL", day="2026-11-20")
    ten_thirty = ns_at(DAY, 10, 30) // 1_000_000_000
    assert series["time"][:2] == [ten_thirty, ten_thirty + 15 * 60]
    assert (series["calls"][:2], series["puts"][:2], series["net"][:2]) == (
        [40_000.0, 40_000.0],
        [0.0, 10_000.0],
        [40_000.0, 30_000.0],
    )
    assert series["hits_net"][-1] == 2_000_000.0


def test_an_orders_analogs_and_the_backtest(client: Client, sweeps):
    DailyBar.objects.bulk_create(
        DailyBar(ticker="AAPL", day=day, open=1, high=1, low=1, close=1) for day in [date(2026, 11, 10), *PAST]
    )
    stored_order("a", date(2026, 11, 10), sweeps, premium=Decimal(260_000), move_1d=Decimal("0.02"))
    stored_order("b", date(2026, 11, 17), sweeps, premium=Decimal(260_000), move_1d=Decimal("-0.01"))
    stored_order("now", DAY, sweeps, premium=Decimal(260_000))

    found = get(client, "/api/orders/now/analogs")
    assert [(each["order_id"], each["day"], each["move"]) for each in found["analogs"]] == [
        ("b", "2026-11-17", -0.01),
        ("a", "2026-11-10", 0.02),
    ]
    assert (found["direction"], found["cohort"]["n"], found["cohort"]["went_its_way"]) == ("BULLISH", 2, 1)
    assert found["similar"]["premium"] == "$250K–$500K"
    assert client.get("/api/orders/nope/analogs").status_code == 404
    assert get(client, "/api/orders/now")["order_id"] == "now"

    result = get(client, "/api/backtest", profile="sweeps", days=250)
    # The factory's orders have no stored prints to judge again (tests/services/test_backtest.py judges some).
    assert (result["profile"], result["judged"], result["without_prints"], result["alerts"]) == ("sweeps", 0, 3, 0)
    assert result["next_day"]["n"] == 0 and result["first"] < "2026-11-10" < result["last"]
    assert client.get("/api/backtest", {"profile": "nope"}).status_code == 404


# --- bad parameters, the token, the docs ----------------------------------------------------------

BAD = [
    ("/api/flow", {"limit": "0"}, "limit"),
    ("/api/flow", {"limit": "1001"}, "limit"),
    ("/api/flow", {"limit": "+5"}, "limit"),
    ("/api/flow", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
    ("/api/flow", {"type": "SWOOP"}, "type"),
    ("/api/flow", {"side": "LONG"}, "side"),
    ("/api/flow", {"sentiment": "happy"}, "sentiment"),
    ("/api/flow", {"opening": "perhaps"}, "opening"),
    ("/api/flow", {"min_premium": "-1"}, "min_premium"),
    ("/api/flow", {"min_premium": "lots"}, "min_premium"),
    ("/api/flow", {"dte_min": "-2"}, "dte_min"),
    ("/api/flow", {"dte_min": "9", "dte_max": "3"}, "dte_max"),
    ("/api/flow", {"since": "yesterday"}, "since"),
    ("/api/flow", {"since": "2026-11-20", "until": "2026-11-19"}, "until"),
    ("/api/flow", {"ticker": "AA PL"}, "ticker"),
    ("/api/flow", {"rule": "magic"}, "rule"),
    ("/api/flow", {"tickr": "AAPL"}, "tickr"),
    ("/api/flow.csv", {"limit": "2000000"}, "limit"),
    ("/api/flow.parquet", {"until": "soon"}, "until"),
    ("/api/flow/stream", {"dte_max": "x"}, "dte_max"),
    ("/api/summary", {"day": "2026-13-01"}, "day"),
    ("/api/concentration/AAPL", {"day": "today"}, "day"),
    ("/api/premium/AAPL", {"days": "3"}, "days"),
    ("/api/orders/x/analogs", {"limit": "0"}, "limit"),
    ("/api/backtest", {}, "profile"),
    ("/api/backtest", {"profile": "sweeps", "days": "0"}, "days"),
    ("/api/pulse/orders", {"type": "nope"}, "type"),
    ("/api/pulse/smart-money", {"limit": "x"}, "limit"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "query", "parameter"), BAD)
def test_a_bad_parameter_is_a_400_naming_it(client: Client, url: str, query: dict[str, str], parameter: str):
    response = client.get(url, query)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"].startswith(f"{parameter}: ")
    assert [problem["parameter"] for problem in body["errors"]] == [parameter]


def api_paths() -> list[str]:
    """Every path the API serves, from Django's URL resolver (not from the schema)."""
    (resolver,) = [
        pattern
        for pattern in get_resolver().url_patterns
        if isinstance(pattern, URLResolver) and pattern.namespace == "api"
    ]
    return ["/api/" + str(pattern.pattern) for pattern in resolver.url_patterns if isinstance(pattern, URLPattern)]


def concrete(path: str) -> str:
    return path.replace("<order_id>", "x").replace("<ticker>", "AAPL")


DOCS = {"/api/", "/api/openapi.json", "/api/docs"}  # the root, the schema and its page


@pytest.mark.django_db
def test_with_a_token_every_endpoint_wants_it(client: Client, settings, sweeps):
    settings.API_TOKEN = TOKEN
    data_paths = [path for path in api_paths() if path not in DOCS]
    assert len(data_paths) >= 13
    for path in data_paths:
        response = client.get(concrete(path), {"profile": "sweeps"} if "backtest" in path else {})
        assert response.status_code == 401, path
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json() == {"error": "a valid 'Authorization: Bearer <token>' header is required"}
    stored_order("x", DAY, sweeps)
    for path in data_paths:
        query = {"profile": "sweeps"} if "backtest" in path else {}
        response = client.get(concrete(path), query, headers={"Authorization": f"Bearer {TOKEN}"})
        # (Not closing the stream's response: its close would close the test's database connection.)
        assert response.status_code == 200, (path, b"" if response.streaming else response.content[:200])


@pytest.mark.django_db
def test_the_docs_page_lists_every_endpoint(client: Client, settings):
    settings.API_TOKEN = TOKEN  # the schema and the docs hold no data: open, so a person can read them
    schema = client.get("/api/openapi.json").json()
    served = {path.replace("<", "{").replace(">", "}") for path in api_paths() if path not in DOCS}
    assert set(schema["paths"]) == served
    assert all(operation.get("description") for item in schema["paths"].values() for operation in item.values())
    assert schema["components"]["securitySchemes"]["TokenOrSignedIn"]["scheme"] == "bearer"
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "https://" not in html  # nothing from a CDN
    assert api.get_openapi_schema()["info"]["title"] == "flowsite"
