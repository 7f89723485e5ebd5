"""Noise held back with its reason, through the worker and the closer against real PostgreSQL: a roll
and a two-leg spread in a tape are suppressed and listed, a lone block beside them is a hit."""

from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import frame, only_profile
from tests.order_helpers import settle, trade
from trades.models import Order
from trades.selectors import flow_rules
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
