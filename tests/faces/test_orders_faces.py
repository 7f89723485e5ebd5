"""Where an order hit is seen: the JSON API, the admin's order browser, and the profile form."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import frame, only_profile, profile_data
from trades.domain.calendar import utc_datetime
from trades.domain.orders import NS_PER_MS
from trades.models import FilterProfile, Order, OrderOutcome
from trades.selectors import flow_rules
from trades.selectors.serializers import ORDER_FIELDS
from trades.services import orders
from trades.services.ingest import ingest_frames

NY = ZoneInfo("America/New_York")
T0 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NY).timestamp() * 1000)
URL = "/api/pulse/orders"


@pytest.fixture
def sweep_hit(db, settings) -> Order:
    """A $1M sweep of twenty prints on eight exchanges, stored as a hit of a profile judging orders."""
    settings.POLYGON_API_KEY = ""  # no quotes: side UNKNOWN
    only_profile("big-orders", ["NVDA"], judges="orders", min_premium=Decimal(500_000))
    exchanges = [300, 301, 302, 303, 304, 307, 308, 309]
    prints = [
        {
            "ev": "T",
            "sym": "O:NVDA251219C00150000",
            "x": exchanges[i % 8],
            "p": 5.0,
            "s": 100,
            "c": [219],
            "t": T0 + 15 * i,
            "q": 1000 + i,
        }
        for i in range(20)
    ]
    ingest_frames([frame(*prints)])
    orders.advance_clock((T0 + 3_600_000) * NS_PER_MS)
    orders.close_due()
    orders.judge_candidates(list(Order.objects.values_list("pk", flat=True)))
    flow_rules.forget_flow_rules()
    return Order.objects.get()


def test_an_orders_latency_counts_from_its_last_print(client: Client, sweep_hit: Order):
    last_print = utc_datetime(T0 + 15 * 19)
    sweep_hit.received_at = last_print + timedelta(milliseconds=1_520)  # closed
    sweep_hit.judged_at = last_print + timedelta(milliseconds=1_610)
    sweep_hit.alerted_at = last_print + timedelta(milliseconds=1_650)
    sweep_hit.save()

    (result,) = client.get(URL).json()["results"]
    assert result["latency"] == {"received_ms": 1_520, "stored_ms": 1_610, "alerted_ms": 1_650}


def test_the_api_shows_an_order_with_its_fills(client: Client, sweep_hit: Order):
    (result,) = client.get(URL).json()["results"]

    assert list(result) == list(ORDER_FIELDS)
    assert (result["kind"], result["order_type"], result["prints"], result["premium"]) == ("order", "SWEEP", 20, 1e6)
    assert result["exchanges"] == [300, 301, 302, 303, 304, 307, 308, 309] and result["iso"] is True
    assert (result["vwap"], result["price"], result["side"]) == (5.0, 5.0, "CALL")
    assert (result["aggressor"], result["sentiment"], result["golden"]) == ("UNKNOWN", "NEUTRAL", False)
    assert result["opening"] is None  # no open interest known
    assert len(result["fills"]) == 20 and result["fills"][0]["exchange"] == 300
    assert result["profiles"] == ["big-orders"]


def test_the_api_filters_orders_by_type_and_refuses_an_unknown_type(client: Client, sweep_hit: Order):
    assert len(client.get(URL + "?type=sweep&ticker=nvda").json()["results"]) == 1
    assert client.get(URL + "?type=BLOCK").json()["results"] == []
    refused = client.get(URL + "?type=WHALE")
    assert refused.status_code == 400 and refused.json()["error"].startswith("type: Input should be 'SWEEP'")


def test_the_order_browser_lists_the_order_and_its_prints(admin_client: Client, sweep_hit: Order):
    page = admin_client.get(reverse("admin:trades_order_changelist"))
    assert page.status_code == 200
    assert "SWEEP" in page.text and "NVDA 19 Dec 25 150 Call" in page.text and "$1,000,000" in page.text
    for title in ("By type", "By golden", "By aggressor", "By sentiment", "By opening"):
        assert title in page.text
    detail = admin_client.get(reverse("admin:trades_order_change", args=[sweep_hit.pk]))
    assert detail.status_code == 200 and detail.text.count("@ $5.00") == 20
    assert sweep_hit.insight and sweep_hit.insight in detail.text  # the sentence, on the order's page


def test_the_order_browser_lists_what_was_held_back_with_its_reason(admin_client: Client, sweep_hit: Order):
    Order.objects.filter(pk=sweep_hit.pk).update(
        state="suppressed", noise="roll", noise_detail="with O:NVDA260116C00150000, 2,000 contracts each"
    )
    hits = admin_client.get(reverse("admin:trades_order_changelist")).text
    held = admin_client.get(reverse("admin:trades_order_changelist") + "?state=suppressed").text
    assert "NVDA 19 Dec 25 150 Call" not in hits and "NVDA 19 Dec 25 150 Call" in held
    assert "a roll: closed in one expiry, opened in another at the same moment" in held
    detail = admin_client.get(reverse("admin:trades_order_change", args=[sweep_hit.pk])).text
    assert "with O:NVDA260116C00150000, 2,000 contracts each" in detail and "big-orders" in detail


def test_the_profile_form_takes_order_rules_and_refuses_them_on_a_profile_judging_prints(admin_client: Client):
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    url = reverse("admin:trades_filterprofile_change", args=[profile.pk])

    refused = admin_client.post(url, profile_data(profile, order_types=["SWEEP"]))
    assert refused.status_code == 200 and "need a profile that judges orders" in refused.text

    saved = admin_client.post(
        url, profile_data(profile, judges="orders", order_types=["SWEEP"], sentiments=["BULLISH"], opening="strict")
    )
    assert saved.status_code == 302
    profile.refresh_from_db()
    assert (profile.judges, profile.order_types, profile.sentiments, profile.opening) == (
        "orders",
        ["SWEEP"],
        ["BULLISH"],
        "strict",
    )


def test_the_api_reads_every_orders_prints_in_one_query(client: Client, sweep_hit: Order, django_assert_num_queries):
    for n in range(5):  # more orders (without prints of their own) must not mean more queries
        Order.objects.create(
            **{
                field.name: getattr(sweep_hit, field.name)
                for field in Order._meta.concrete_fields
                if field.name not in ("id", "order_id")
            },
            order_id=f"copy-{n}",
        )
    with django_assert_num_queries(4):  # whether any user has an API token, the orders, their profiles, their prints
        results = client.get(URL + "?limit=10").json()["results"]
    assert len(results) == 6 and sum(len(result["fills"]) for result in results) == 20


def test_the_api_and_the_order_browser_show_what_the_stock_did_next(client: Client, admin_client: Client, sweep_hit):
    Order.objects.filter(pk=sweep_hit.pk).update(sentiment="BEARISH")
    OrderOutcome.objects.create(
        order=sweep_hit,
        spot0=Decimal("150.00"),
        market0=Decimal("600.00"),
        move_0d=Decimal("0.010000"),
        move_1d=Decimal("-0.030000"),
        market_0d=Decimal("0.005000"),
        market_1d=Decimal("-0.010000"),
    )

    (result,) = client.get(URL).json()["results"]

    outcome = result["outcome"]
    assert (outcome["spot"], outcome["market_spot"], outcome["complete"]) == (150.0, 600.0, False)
    assert outcome["horizons"][:2] == [
        {"days": 0, "move": 0.01, "signed": -0.01, "market": 0.005, "versus_market": -0.005},
        {"days": 1, "move": -0.03, "signed": 0.03, "market": -0.01, "versus_market": 0.02},
    ]
    assert outcome["horizons"][2] == {"days": 3, "move": None, "signed": None, "market": None, "versus_market": None}
    page = admin_client.get(reverse("admin:trades_order_changelist"))
    assert "+3.00%" in page.text  # the next day, as the bearish order bet
    detail = admin_client.get(reverse("admin:trades_order_change", args=[sweep_hit.pk])).text
    assert "after 1 days: -3.00%, as the order bet +3.00%, versus SPY +2.00%" in detail
    assert "after 3 days: pending" in detail
