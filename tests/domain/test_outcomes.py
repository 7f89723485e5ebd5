"""Outcomes, checked against a fixture computed by hand: an order on Thursday 2026-11-12 at a spot
of 200.00 (SPY 600.00), the stock's and SPY's closes over the next week, a weekend included."""

from datetime import date
from decimal import Decimal

from trades.domain.outcomes import is_complete, moves, signed, versus_market

D = date(2026, 11, 12)  # a Thursday
# The underlying at the order: 200.00; SPY at the order: 600.00.
CLOSES = {
    date(2026, 11, 11): Decimal("198.00"),  # the day before: not a horizon
    D: Decimal("202.00"),  # k = 0: +1.0%
    date(2026, 11, 13): Decimal("206.00"),  # k = 1 (Friday): +3.0%
    date(2026, 11, 16): Decimal("190.00"),  # Monday
    date(2026, 11, 17): Decimal("210.00"),  # k = 3: +5.0%
    date(2026, 11, 18): Decimal("204.00"),
    date(2026, 11, 19): Decimal("196.00"),  # k = 5: −2.0%
}
SPY = {
    D: Decimal("603.00"),  # +0.5%
    date(2026, 11, 13): Decimal("594.00"),  # −1.0%
    date(2026, 11, 16): Decimal("600.00"),
    date(2026, 11, 17): Decimal("612.00"),  # +2.0%
    date(2026, 11, 18): Decimal("600.00"),
    date(2026, 11, 19): Decimal("606.00"),  # +1.0%
}


def test_the_moves_after_0_1_3_and_5_trading_days_are_exact():
    found = moves(D, Decimal("200.00"), CLOSES, Decimal("600.00"), SPY)

    assert [(move.days, move.session) for move in found] == [
        (0, D),
        (1, date(2026, 11, 13)),
        (3, date(2026, 11, 17)),
        (5, date(2026, 11, 19)),
    ]
    assert [move.stock for move in found] == [Decimal("0.01"), Decimal("0.03"), Decimal("0.05"), Decimal("-0.02")]
    assert [move.market for move in found] == [Decimal("0.005"), Decimal("-0.01"), Decimal("0.02"), Decimal("0.01")]
    assert is_complete(found)


def test_signed_by_the_sentiment_and_versus_the_market():
    found = moves(D, Decimal("200.00"), CLOSES, Decimal("600.00"), SPY)
    three_days = found[2]
    assert signed(three_days.stock, "BULLISH") == Decimal("0.05")
    assert signed(three_days.stock, "BEARISH") == Decimal("-0.05")
    assert versus_market(three_days.stock, three_days.market, "BULLISH") == Decimal("0.03")
    assert versus_market(found[1].stock, found[1].market, "BEARISH") == Decimal("-0.04")  # −(3% − −1%)
    assert signed(three_days.stock, "NEUTRAL") is None


def test_horizons_wait_for_their_sessions_closes():
    through_monday = {day: close for day, close in CLOSES.items() if day <= date(2026, 11, 16)}
    found = moves(D, Decimal("200.00"), through_monday, Decimal("600.00"), SPY)
    assert [move.stock is not None for move in found] == [True, True, False, False]
    assert not is_complete(found)

    nothing_yet = moves(D, Decimal("200.00"), {date(2026, 11, 11): Decimal("198.00")}, None, {})
    assert [move.stock for move in nothing_yet] == [None] * 4  # the order's own session has not closed


def test_without_the_market_at_the_order_the_stock_is_measured_alone():
    found = moves(D, Decimal("200.00"), CLOSES, None, SPY)
    assert found[0].stock == Decimal("0.01") and found[0].market is None
    assert not is_complete(found)
