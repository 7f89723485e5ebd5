"""The MCP server for assistants, through the official SDK's own clients: in memory, each tool's
answer equal to the JSON API's for the same question; over stdio, launched as `manage.py mcp`
the way an assistant launches it; over streamable HTTP, behind the API's token."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from asgiref.sync import async_to_sync
from django.test import Client as DjangoClient
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from tests.assistant_client import answer, call, in_memory
from tests.factories import AAPL_195C, ns_at, only_profile, stored_order
from tests.factories import volume_count as count
from tests.processes import ROOT, manage, process_env, start, stop, wait_for
from trades.models import DailyBar, FilterProfile, VolumeCount
from trades.services import insights

DAY = date(2026, 11, 20)
PAST_DAYS = [date(2026, 11, d) for d in (13, 16, 17, 18, 19)]
NOV_17 = "2026-11-17"  # the day of "b"
AAPL_200C = "O:AAPL261204C00200000"
TOKEN = "mcp-test-token"
TOOLS = {"recent_flow", "strike_concentration", "analogs", "day_summary", "backtest", "unusual_today"}

T = TypeVar("T")


def error_text(result: CallToolResult) -> str:
    assert result.is_error and isinstance(result.content[0], TextContent)
    return result.content[0].text


def api(client: DjangoClient, url: str, **query: Any) -> dict[str, Any]:
    response = client.get(url, query)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def sweeps(db) -> FilterProfile:
    return only_profile("sweeps", ["AAPL"], judges="orders", min_premium=Decimal(50_000))


@pytest.fixture
def described(sweeps: FilterProfile) -> None:
    """tests/services/test_insights.py's history, described: "now" (DAY 10:47) is 4.5× its strike's
    usual, its last similar alert "b" (Nov 17) moved -1.0% next day, of a cohort of 2."""
    DailyBar.objects.bulk_create(
        DailyBar(ticker="AAPL", day=day, open=1, high=1, low=1, close=1) for day in [date(2026, 11, 10), *PAST_DAYS]
    )
    rows = [count(AAPL_200C, DAY, 10, 37, 15_000), count(AAPL_195C, DAY, 10, 17, 2_000)]
    rows += [count(AAPL_195C, DAY, 10, 46, 3_000)]
    for day, strike in zip(PAST_DAYS, (10_000, 20_000, 0, 30_000, 40_000), strict=True):
        rows += [count(AAPL_195C, day, 10, 30, strike), count(AAPL_200C, day, 10, 30, 100_000 - strike)]
    VolumeCount.objects.bulk_create(rows)
    stored_order("a", date(2026, 11, 10), sweeps, premium=Decimal(60_000), move_1d=Decimal("0.02"))
    stored_order("b", date(2026, 11, 17), sweeps, premium=Decimal(99_000), move_1d=Decimal("-0.01"))
    stored_order("now", DAY, sweeps, premium=Decimal(85_000), first_ts_ns=ns_at(DAY, 10, 47) + 5)
    assert insights.describe_missing() == 3


def test_the_server_names_itself_and_lists_its_tools():
    async def listed(client: Client) -> tuple[str | None, set[str]]:
        return client.instructions, {tool.name for tool in (await client.list_tools()).tools}

    instructions, names = in_memory(listed)
    assert names == TOOLS
    assert instructions is not None and instructions.startswith("flowsite is an options-flow engine")


@pytest.mark.parametrize(
    ("tool", "arguments", "url", "query"),
    [
        ("strike_concentration", {"ticker": "aapl"}, "/api/concentration/AAPL", {}),
        (
            "strike_concentration",
            {"ticker": "AAPL", "day": NOV_17},
            "/api/concentration/AAPL",
            {"day": NOV_17},
        ),
        ("analogs", {"order_id": "now"}, "/api/orders/now/analogs", {}),
        ("analogs", {"order_id": "now", "limit": 1}, "/api/orders/now/analogs", {"limit": 1}),
        ("day_summary", {}, "/api/summary", {}),
        ("day_summary", {"day": NOV_17}, "/api/summary", {"day": NOV_17}),
        ("backtest", {"profile": "sweeps", "days": 30}, "/api/backtest", {"profile": "sweeps", "days": 30}),
    ],
)
def test_each_tool_answers_what_the_api_answers(client, described, tool, arguments, url, query):
    assert answer(tool, **arguments) == api(client, url, **query)


@pytest.mark.parametrize(
    ("arguments", "query", "expected"),
    [
        ({}, {}, ["now", "b", "a"]),
        ({"ticker": "aapl", "unusual_only": True}, {"ticker": "aapl", "rule": "unusual"}, ["now"]),
        (
            {
                "since": NOV_17,
                "order_type": "sweep",
                "side": "call",
                "sentiment": "bullish",
                "min_premium": 90_000,
            },
            {"since": NOV_17, "type": "sweep", "side": "call", "sentiment": "bullish", "min_premium": 90_000},
            ["b"],
        ),
        ({"limit": 2}, {"limit": 2}, ["now", "b"]),
    ],
)
def test_recent_flow_gives_the_apis_hits(client, described, arguments, query, expected):
    found = answer("recent_flow", **arguments)
    asked = api(client, "/api/flow", **{"limit": 20, **query})
    assert [hit["order_id"] for hit in found["results"]] == expected
    assert found["results"] == asked["results"]
    assert found["more"] == (asked["next_cursor"] is not None)


def test_unusual_today_gives_the_hits_insights_their_last_analog_and_the_days_summary(client, described):
    found = answer("unusual_today", ticker="aapl")

    (hit,) = api(client, "/api/flow", ticker="AAPL", rule="unusual", since="2026-11-20", until="2026-11-21")["results"]
    facts = hit["insight_facts"]
    (summary,) = api(client, "/api/summary")["results"]
    fields = ("order_id", "timestamp", "symbol", "expiry", "strike", "side", "dte", "order_type", "premium")
    assert found == {
        "ticker": "AAPL",
        "day": "2026-11-20",
        "unusual": [
            {field: hit[field] for field in (*fields, "sentiment", "insight")}
            | {"concentration": facts["concentration"], "last": facts["last"], "cohort": facts["cohort"]}
        ],
        "more": False,
        "summary": summary,
    }
    (unusual,) = found["unusual"]
    assert unusual["insight"].startswith("AAPL $195 calls 12/4 (14 DTE, bullish): $90K premium")
    assert (unusual["concentration"]["multiple"], unusual["concentration"]["unusual"]) == (4.5, True)
    assert (unusual["last"]["order_id"], unusual["last"]["day"], unusual["last"]["move"]) == ("b", "2026-11-17", -0.01)
    assert (unusual["cohort"]["n"], unusual["cohort"]["since"]) == (2, "2026-11-10")
    assert (summary["ticker"], summary["day"], summary["unusual_hits"]) == ("AAPL", "2026-11-20", 1)


def test_unusual_today_of_a_quiet_ticker_is_empty(described):
    assert answer("unusual_today", ticker="MSFT") == {
        "ticker": "MSFT",
        "day": "2026-11-20",
        "unusual": [],
        "more": False,
        "summary": None,
    }


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("recent_flow", {"since": "yesterday"}, "since: Input should be a valid datetime or date"),
        ("recent_flow", {"order_type": "whale"}, "order_type: Input should be 'SWEEP', 'SPLIT'"),
        ("recent_flow", {"ticker": "N V"}, "ticker: not a ticker: 'N V'"),
        ("recent_flow", {"side": "both"}, "side: Input should be 'CALL' or 'PUT'"),
        ("recent_flow", {"limit": 0}, "limit\n  Input should be greater than or equal to 1"),
        ("strike_concentration", {"ticker": "$$"}, "ticker: not a ticker: '$$'"),
        ("day_summary", {"day": "2026-13-01"}, "day: Input should be a valid date"),
        ("analogs", {"order_id": "nope"}, "no order 'nope'"),
        ("analogs", {"order_id": "now", "limit": 0}, "limit: Input should be greater than or equal to 1"),
        ("backtest", {"profile": "nope"}, "no filter profile named 'nope'"),
        ("backtest", {"profile": "sweeps", "days": 0}, "days: Input should be greater than or equal to 1"),
        ("unusual_today", {}, "ticker\n  Field required"),
    ],
)
def test_a_bad_argument_is_a_tool_error_naming_it(sweeps, tool, arguments, message):
    assert message in error_text(call(tool, **arguments))


# The transports, with real processes against the test database (committed rows: transaction=True).


def one_stored_hit() -> None:
    stored_order("stored", DAY, only_profile("sweeps", ["AAPL"], judges="orders"))


@pytest.mark.django_db(transaction=True)
def test_an_assistant_launches_the_server_over_stdio(tmp_path: Path):
    one_stored_hit()
    launch = StdioServerParameters(command=sys.executable, args=[str(ROOT / "manage.py"), "mcp"], env=process_env())

    async def asked() -> tuple[set[str], CallToolResult]:
        with (tmp_path / "mcp.log").open("w") as log:
            async with Client(stdio_client(launch, errlog=log)) as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                return names, await client.call_tool("recent_flow", {"ticker": "aapl"})

    names, found = async_to_sync(asked)()
    assert names == TOOLS, (tmp_path / "mcp.log").read_text()
    assert found.structured_content is not None, found.content
    assert [hit["order_id"] for hit in found.structured_content["results"]] == ["stored"]


@pytest.mark.django_db(transaction=True)
def test_over_http_the_server_wants_the_api_token(tmp_path: Path):
    one_stored_hit()
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    log = tmp_path / "mcp.log"
    server = start(manage("mcp", "--http", "--port", str(port)), log, API_TOKEN=TOKEN)
    try:
        refused = wait_for(lambda: post_without_token(url, server, log), 20, "the MCP server over HTTP")
        assert isinstance(refused, tuple)
        status, headers, body = refused
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert body == b'{"error":"a valid \'Authorization: Bearer <token>\' header is required"}'

        async def asked() -> CallToolResult:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                return await client.call_tool("recent_flow", {"ticker": "AAPL", "limit": 1})

        found = async_to_sync(asked)()
        assert found.structured_content is not None, found.content
        assert [hit["order_id"] for hit in found.structured_content["results"]] == ["stored"]
    finally:
        stop(server)


def post_without_token(url: str, server: subprocess.Popen, log: Path) -> tuple[int, Any, bytes] | None:
    """The answer to a POST without a token; None while nothing listens yet."""
    assert server.poll() is None, log.read_text()
    request = urllib.request.Request(url, data=b"{}", headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers, refused.read()
    except OSError:
        return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
