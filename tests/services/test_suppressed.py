"""Noise held back with its reason, through the worker and the closer against real PostgreSQL: a roll
and a two-leg spread in a tape are suppressed and listed, a lone block beside them is a hit."""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import frame, only_profile
from tests.feed_helpers import KEY
from tests.order_helpers import settle, trade
from trades.feed.dividends import ex_dividend_dates
from trades.feed.synthetic import SyntheticFlow
from trades.feed.universe import SyntheticReference
from trades.models import Dividend, Order, Underlying
from trades.selectors import flow_rules
from trades.services import reference_data
from trades.services.ingest import ingest_frames

DEC_150C = "O:NVDA251219C00150000"
JAN_150C = "O:NVDA260116C00150000"
DEC_155C = "O:NVDA251219C00155000"
DEC_160C = "O:NVDA251219C00160000"
DEC_140P = "O:NVDA251219P00140000"


@pytest.fixture
def blocks(db, settings):
    settings.POLYGON_API_KEY = ""  # no quotes here: side UNKNOWN
    profile = only_profile("blocks", ["NVDA"], judges="orders", min_premium=Decimal(100_000), max_dte=60)
    yield profile
    flow_rules.forget_flow_rules()


def test_a_roll_and_a_spread_are_suppressed_with_their_reasons_and_listed(blocks, settings):
    tape = [
        # A roll: 1,000 Dec 150 calls sold at $2.00 and 1,000 Jan 150 calls bought at $3.50, the same millisecond.
        trade(0, sym=DEC_150C, p=2.0, s=1_000, x=302, q=1),
        trade(0, sym=JAN_150C, p=3.5, s=1_000, x=304, q=2),
        # A vertical: 800 Dec 155 calls and 800 Dec 160 calls, multi-leg (232), 10 s later.
        trade(10_000, sym=DEC_155C, p=2.5, s=800, c=(232,), q=3),
        trade(10_000, sym=DEC_160C, p=1.5, s=800, c=(232,), q=4),
        # A lone block of puts a minute later: a bet.
        trade(60_000, sym=DEC_140P, p=3.0, s=600, q=5),
    ]
    ingest_frames([frame(*tape[:3])])
    ingest_frames([frame(*tape[3:])])  # the spread's legs in two batches
    settle()

    states = {order.symbol: (order.state, order.noise, order.noise_detail) for order in Order.objects.all()}
    assert states == {
        DEC_150C: ("suppressed", "roll", f"with {JAN_150C}, 1,000 contracts each"),
        JAN_150C: ("suppressed", "roll", f"with {DEC_150C}, 1,000 contracts each"),
        DEC_155C: ("suppressed", "spread", f"with {DEC_160C}, 800 contracts each"),
        DEC_160C: ("suppressed", "spread", f"with {DEC_155C}, 800 contracts each"),
        DEC_140P: ("hit", "", ""),
    }
    listed = Client().get("/api/pulse/suppressed", {"limit": 10}).json()["results"]
    # Newest first: the spread's legs, then the roll's.
    assert {order["symbol"] for order in listed[:2]} == {DEC_155C, DEC_160C}
    assert {order["symbol"] for order in listed[2:]} == {DEC_150C, JAN_150C}
    for order in listed:
        assert order["suppressed"]["profiles"] == ["blocks"]  # what it would have matched
        assert order["profiles"] == []  # it matched nothing: no alert, no webhook
    assert [order["symbol"] for order in Client().get("/api/pulse/orders").json()["results"]] == [DEC_140P]


def test_a_deep_in_the_money_call_crossed_just_before_an_ex_dividend_date_is_held_back(blocks):
    Dividend.objects.create(ticker="NVDA", ex_dividend_date=date(2025, 12, 8))  # the Monday after the tape
    Underlying.objects.create(ticker="NVDA", spot=Decimal(180))
    ingest_frames([frame(trade(0, sym=DEC_150C, p=30.0, s=600, c=(229,), q=1))])  # a cross: $1.8M
    settle()

    order = Order.objects.get()
    assert (order.state, order.noise) == ("suppressed", "dividend")
    assert order.noise_detail == "strike ≤ 90% of spot 180, ex-dividend 2025-12-08"


def test_the_feed_lists_dividends_as_polygon_does_and_a_refresh_stores_them(db, start_feed, settings):
    feed = start_feed(reference=SyntheticReference(SyntheticFlow(seed=1)))
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, KEY
    report = reference_data.refresh_dividends(["AAPL", "TSLA"])

    assert [result.ok for result in report.results] == [True, True]
    days = sorted(Dividend.objects.filter(ticker="AAPL").values_list("ex_dividend_date", flat=True))
    assert days == ex_dividend_dates("AAPL", days[0], days[-1]) and 2 <= len(days) <= 3  # quarterly, over 210 days
    assert all(day.weekday() < 5 for day in days)
    assert not Dividend.objects.filter(ticker="TSLA").exists()  # pays none
