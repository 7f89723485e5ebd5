"""Orders that look like bets but are not (trades/domain/noise.py)."""

from datetime import date
from decimal import Decimal

from trades.domain.calendar import trading_days_before
from trades.domain.noise import Noise, Suppression, dividend_capture, suppression
from trades.domain.orders import NS_PER_MS, Print, build_order

T = 1_764_948_600_000 * NS_PER_MS  # 2025-12-05 10:30 New York
JAN_195C = "O:AAPL260116C00195000"
FEB_195C = "O:AAPL260220C00195000"
JAN_200C = "O:AAPL260116C00200000"
JAN_195P = "O:AAPL260116P00195000"
MSFT_JAN = "O:MSFT260116C00195000"


def printed(symbol: str, ms: int = 0, size: int = 500, conditions: tuple[int, ...] = (209,), price: str = "5") -> Print:
    return Print(symbol, T + ms * NS_PER_MS, ms, 302, Decimal(price), size, conditions)


def order_of(*prints: Print):  # type: ignore[no-untyped-def]
    return build_order(list(prints), None)


def test_a_lone_order_is_no_noise() -> None:
    order = order_of(printed(JAN_195C))
    assert suppression(order, [printed(JAN_195C), printed(JAN_200C, size=499), printed(MSFT_JAN)]) is None


def test_the_same_size_on_another_strike_at_the_same_moment_is_a_spread() -> None:
    order = order_of(printed(JAN_195C))
    found = suppression(order, [printed(JAN_200C, ms=20)])
    assert found == Suppression(Noise.SPREAD, "with O:AAPL260116C00200000, 500 contracts each")
    assert suppression(order, [printed(JAN_195P, ms=-50)]) is not None  # a straddle's other leg, 50 ms before
    assert suppression(order, [printed(JAN_200C, ms=51)]) is None  # too far apart to be one package


def test_the_same_right_in_another_expiry_at_the_same_moment_is_a_roll() -> None:
    order = order_of(printed(FEB_195C))
    found = suppression(order, [printed(JAN_195C, price="3")])
    assert found == Suppression(Noise.ROLL, "with O:AAPL260116C00195000, 500 contracts each")


def test_a_multi_leg_condition_is_a_spread_and_a_stock_tied_one_a_hedge() -> None:
    assert suppression(order_of(printed(JAN_195C, conditions=(232,))), []) == Suppression(
        Noise.SPREAD, "multi-leg condition (232)"
    )
    stock_tied = suppression(order_of(printed(JAN_195C, conditions=(237,))), [])
    assert stock_tied is not None and stock_tied.reason is Noise.STOCK_TIED


def test_a_deep_in_the_money_call_crossed_just_before_the_ex_dividend_date_is_a_dividend_trade() -> None:
    cross = order_of(printed(JAN_195C, size=2_000, conditions=(229,)))
    friday = date(2025, 12, 5)
    found = dividend_capture(cross, 220.0, [date(2025, 9, 8), date(2025, 12, 8)], friday)
    assert found == Suppression(Noise.DIVIDEND, "strike ≤ 90% of spot 220, ex-dividend 2025-12-08")
    assert dividend_capture(cross, 210.0, [date(2025, 12, 8)], friday) is None  # 195 > 90% of 210
    assert dividend_capture(cross, 220.0, [date(2025, 12, 12)], friday) is None  # three trading days before
    put = order_of(printed(JAN_195P, size=2_000, conditions=(229,)))
    assert dividend_capture(put, 220.0, [date(2025, 12, 8)], friday) is None
    assert trading_days_before(date(2025, 12, 8), 2) == [date(2025, 12, 4), date(2025, 12, 5)]
