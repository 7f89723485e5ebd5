"""One hit, four faces: the flow board (in Chromium), the JSON API, a Discord webhook's body and
the MCP server's tools show the same facts, each in its own format: the contract, the order's
type and side, its size, premium and DTE, its time, and its insight sentence word for word."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from tests.assistant_client import answer
from tests.browser import chromium
from tests.factories import only_profile, stored_order
from trades.models import Order
from trades.services import insights
from trades.webhooks.payloads import build_body

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NY = ZoneInfo("America/New_York")
USER, PASSWORD = "trader", "a-long-test-password-7"


def the_hit() -> Order:
    """A $1.25M bullish golden sweep of NVDA $150 calls, described as the closer describes it."""
    now = timezone.now().astimezone(NY).replace(hour=11, minute=42, second=7, microsecond=0)
    day = now.date()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    first_ns = int(now.replace(year=day.year, month=day.month, day=day.day).timestamp()) * 1_000_000_000
    expiry = day + timedelta(days=14)
    sweeps = only_profile("sweeps", ["NVDA"], judges="orders", min_premium=Decimal(100_000))
    stored_order(
        "same-facts",
        day,
        sweeps,
        first_ts_ns=first_ns,
        symbol=f"O:NVDA{expiry:%y%m%d}C00150000",
        underlying="NVDA",
        expiry=expiry,
        strike=Decimal(150),
        golden=True,
        iso=True,
        exchanges=[300, 302, 304],
        size=2_500,
        premium=Decimal(1_250_000),
        vwap=Decimal(5),
        dte=14,
        opening=True,
        judged_at=timezone.now(),
    )
    assert insights.describe_missing() == 1
    return Order.objects.get(order_id="same-facts")


def test_the_board_the_api_a_discord_payload_and_the_mcp_tools_agree(live_server):
    order = the_hit()
    sentence = order.insight
    assert sentence.startswith("NVDA $150 calls") and "premium in the last 30 minutes" in sentence

    # The API: the figures as numbers.
    (api,) = Client().get("/api/flow", {"ticker": "NVDA"}).json()["results"]
    assert (api["ticker"], api["strike"], api["side"], api["expiry"]) == (
        "NVDA",
        150.0,
        "CALL",
        order.expiry.isoformat(),
    )
    assert (api["order_type"], api["golden"], api["sentiment"], api["aggressor"]) == ("SWEEP", True, "BULLISH", "BUY")
    assert (api["size"], api["premium"], api["dte"], api["insight"]) == (2_500, 1_250_000.0, 14, sentence)
    traded = datetime.fromisoformat(api["timestamp"]).astimezone(NY)
    assert traded == order.traded_at.astimezone(NY)

    # The MCP tools: the API's dict itself, and the unusual-today answer's short form.
    (mcp,) = answer("recent_flow", ticker="NVDA")["results"]
    assert mcp == api
    analogs = answer("analogs", order_id="same-facts")
    assert analogs == Client().get("/api/orders/same-facts/analogs").json()

    # Discord: the same hit as the webhook sender builds it from the API's dict.
    discord = orjson.loads(build_body("discord", api, event_type="order.flagged", timestamp=datetime.now(UTC)))
    embed = discord["embeds"][0]
    assert embed["title"] == f"💰 GOLDEN SWEEP NVDA $150 CALL {order.expiry.isoformat()}"
    assert "2,500 contracts" in embed["description"] and "$1,250,000 premium, 14 DTE" in embed["description"]
    assert "BUY BULLISH" in embed["description"] and embed["description"].endswith(sentence)
    assert embed["timestamp"] == api["timestamp"]

    # The board: the row a trader reads.
    get_user_model().objects.create_user(USER, "trader@example.com", PASSWORD)
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        page.set_default_timeout(15_000)
        page.goto(live_server.url + "/accounts/login/?next=/board/")
        page.fill("#id_username", USER)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        row = page.locator('#flow tbody[data-order-id="same-facts"]')
        row.wait_for()
        figures = row.locator("tr.figures").inner_text()
        board_sentence = row.locator("tr.insight").inner_text()
    expiry = f"{order.expiry:%b} {order.expiry.day}"  # "Dec 17", as the board writes a date
    for fact in (traded.strftime("%H:%M:%S"), "NVDA", f"$150 C {expiry}", "★ SWEEP", "Bullish", "2,500", "$1.3M"):
        assert fact in figures, (fact, figures)
    assert board_sentence == sentence
    print(f"one hit, four faces: {figures!r}")
