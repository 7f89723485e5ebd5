"""FLOW.md's fixtures F1-F11, as written there (F12, batch independence, is test_order_book.py)."""

from decimal import Decimal

from trades.domain.orders import (
    OrderType,
    PricePath,
    Print,
    PrintClass,
    Subtype,
    cancelled_prints,
    classify,
    group,
    opening,
    repeated_hits,
    volume_change,
)
from trades.domain.side import Aggressor, Position, Quote, Sentiment, print_side

T0_NS = 1_764_858_600_000 * 1_000_000  # 2025-12-04 14:30:00 UTC, 09:30 in New York
QQQ_611C = "O:QQQ251219C00611000"
MSFT_450C = "O:MSFT251219C00450000"
NVDA_150P = "O:NVDA251219P00150000"


def at(ms: float) -> int:
    return T0_NS + int(ms * 1_000_000)


def a_print(
    ms: float, exchange: int, price: str, size: int, conditions: tuple[int, ...] = (209,), symbol: str = MSFT_450C
) -> Print:
    return Print(symbol, at(ms), None, exchange, Decimal(price), size, conditions)


def quote(bid: str, ask: str, ms: float = -10) -> Quote:
    return Quote(Decimal(bid), Decimal(ask), at(ms))


def test_f1_repeated_hits_on_qqq_bought_at_the_ask():
    sizes = [64, 64, 64, 64, 64, 64, 64, 66]
    prints = [
        a_print(i * 6.5, (302, 308, 313, 316)[i % 4], "2.80", size, symbol=QQQ_611C) for i, size in enumerate(sizes)
    ]
    assert prints[-1].ts_ns - prints[0].ts_ns <= 46 * 1_000_000 and sum(sizes) == 514

    (burst,) = repeated_hits(prints, market_cap=385.7e9)
    (order,) = group(prints, quote("2.75", "2.80"))

    assert len(burst.prints) == 8 and burst.premium == Decimal("143920.00") and burst.price_path is PricePath.FLAT
    assert order.aggressor is Aggressor.BUY and order.premium == Decimal("143920.00")
    assert order.sentiment is Sentiment.BULLISH


def test_f1_tiers_repeated_hits_by_market_cap():
    prints = [a_print(i * 10, 302, "1.00", 100, symbol=QQQ_611C) for i in range(6)]  # $60,000
    assert repeated_hits(prints, market_cap=40e9) and repeated_hits(prints, market_cap=385.7e9)
    assert not repeated_hits(prints, market_cap=600e9)  # above $500B: more than $100,000
    assert not repeated_hits(prints[:5], market_cap=None)  # five prints are not more than five


def test_f2_a_flat_sweep_on_four_exchanges():
    sizes, exchanges = [30, 31, 31, 31, 31], [302, 308, 313, 316, 302]
    prints = [a_print(i * 19, exchanges[i], "16.00", sizes[i]) for i in range(5)]

    (order,) = group(prints)

    assert order.type is OrderType.SWEEP and order.exchanges == (302, 308, 313, 316)
    assert order.premium == Decimal("246400.00") and order.size == 154 and order.price_path is PricePath.FLAT
    assert order.span_ms == 76 and order.vwap == Decimal("16.0000")


def test_f3_a_sweep_walking_up_the_book():
    prices = ["81.80", "81.90", "82.10", "82.30", "82.50", "82.80"]
    sizes = [40, 40, 40, 40, 40, 44]
    prints = [a_print(i * 140, (302, 308, 313)[i % 3], prices[i], sizes[i]) for i in range(6)]

    (order,) = group(prints)

    assert order.type is OrderType.SWEEP and order.price_path is PricePath.ASC and order.size == 244
    assert order.span_ms == 700


def test_f4_a_pause_longer_than_the_gap_makes_two_orders():
    orders = group([a_print(0, 302, "1.00", 10), a_print(600, 308, "1.00", 10)])
    assert [order.type for order in orders] == [OrderType.SINGLE, OrderType.SINGLE]


def test_f4_no_order_spans_more_than_two_seconds():
    prints = [a_print(i * 400, 302 + i % 2, "1.00", 10) for i in range(7)]  # 0 … 2,400 ms, gaps of 400
    assert [len(order.prints) for order in group(prints)] == [6, 1]


def test_f5_prints_on_one_exchange_are_a_split():
    (order,) = group([a_print(ms, 308, "3.10", 25) for ms in (0, 40, 100)])
    assert order.type is OrderType.SPLIT


def test_f6_a_large_print_is_a_block_and_a_cross_has_no_aggressor():
    (block,) = group([a_print(0, 302, "1.00", 1_200)], quote("0.95", "1.00"))
    (cross,) = group([a_print(0, 302, "5.00", 300, (229,))], quote("4.90", "5.00"))

    assert (block.type, block.subtype, block.premium) == (OrderType.BLOCK, None, Decimal("120000.00"))
    assert (cross.type, cross.subtype, cross.aggressor) == (OrderType.BLOCK, Subtype.CROSS, Aggressor.NONE)
    (small_floor,) = group([a_print(0, 302, "1.00", 10, (231,))])
    assert (small_floor.type, small_floor.subtype) == (OrderType.SINGLE, None)


def test_f7_a_cancel_takes_its_print_and_order_away_and_the_volume_back():
    traded = a_print(0, 302, "2.00", 500)
    cancel = a_print(300, 302, "2.00", 500, (201,))

    assert cancelled_prints([traded, cancel]) == {traded}
    assert group([traded, cancel]) == []
    assert volume_change(traded) + volume_change(cancel) == 0


def test_f7_a_cancel_takes_the_latest_earlier_matching_print():
    first, second = a_print(0, 302, "2.00", 500), a_print(5_000, 308, "2.00", 500)
    other_size = a_print(6_000, 308, "2.00", 400)
    cancel = a_print(9_000, 302, "2.00", 500, (203,))
    assert cancelled_prints([first, second, other_size, cancel]) == {second}


def test_f8_side_against_the_nbbo():
    nbbo = quote("1.00", "1.10")
    expected = [
        ("1.11", Position.ABOVE_ASK, Aggressor.BUY),
        ("1.10", Position.AT_ASK, Aggressor.BUY),
        ("1.06", Position.MID, Aggressor.BUY),
        ("1.05", Position.MID, Aggressor.NEUTRAL),
        ("1.04", Position.MID, Aggressor.SELL),
        ("1.00", Position.AT_BID, Aggressor.SELL),
        ("0.99", Position.BELOW_BID, Aggressor.SELL),
    ]
    for price, position, aggressor in expected:
        side = print_side(Decimal(price), at(0), nbbo)
        assert (side.position, side.aggressor) == (position, aggressor), price

    crossed = quote("1.10", "1.00")
    assert print_side(Decimal("1.05"), at(0), crossed).aggressor is Aggressor.UNKNOWN
    (late,) = group([a_print(0, 302, "1.11", 10, (204,))], nbbo)
    assert (late.type, late.aggressor) == (OrderType.LATE, Aggressor.NONE)


def test_f8_no_usable_quote_is_unknown_never_a_guess():
    price = Decimal("1.10")
    assert print_side(price, at(0), None).aggressor is Aggressor.UNKNOWN
    assert print_side(price, at(0), quote("1.00", "1.10", ms=-1_001)).aggressor is Aggressor.UNKNOWN  # too old
    assert print_side(price, at(0), quote("1.00", "1.10", ms=+1)).aggressor is Aggressor.UNKNOWN  # after the print
    assert print_side(price, at(0), quote("0", "1.10")).aggressor is Aggressor.UNKNOWN  # a zero side
    locked = print_side(Decimal("1.05"), at(0), quote("1.05", "1.05"))
    assert (locked.position, locked.aggressor) == (Position.MID, Aggressor.NEUTRAL)
    (order,) = group([a_print(0, 302, "1.10", 10)])
    assert (order.aggressor, order.sentiment) == (Aggressor.UNKNOWN, Sentiment.NEUTRAL)


def test_f9_opening_inference():
    assert (opening(500, 1_000, 600).opening, opening(500, 1_000, 600).opening_strict) == (True, False)
    assert (opening(300, 1_000, 600).opening, opening(300, 1_000, 600).opening_strict) == (False, False)
    assert (opening(1_700, 1_000, 600).opening, opening(1_700, 1_000, 600).opening_strict) == (True, True)
    assert opening(1_700, 1_000, 600).vol_oi == Decimal("2.30")
    unknown = opening(500, None, 600)
    assert (unknown.opening, unknown.opening_strict, unknown.vol_oi) == (None, None, None)
    assert opening(500, 1_000, None).opening is None  # the day's volume is incomplete


def test_f10_a_million_dollar_sweep_bought_at_the_ask_is_golden():
    prints = [a_print(i * 20, 302 + i, "2.50", 1_250, symbol=NVDA_150P) for i in range(4)]

    (order,) = group(prints, quote("2.40", "2.50"))

    assert order.type is OrderType.SWEEP and order.premium == Decimal("1250000.00") and order.golden
    assert (order.aggressor, order.sentiment) == (Aggressor.BUY, Sentiment.BEARISH)  # a bought put
    assert order.signed_premium == Decimal("-1250000.00")
    (sold,) = group(prints, quote("2.50", "2.60"))
    assert sold.aggressor is Aggressor.SELL and not sold.golden


def test_f11_a_multi_leg_print_inside_a_sweep_stays_out_of_it():
    sweep = [a_print(i * 50, 302 + i, "2.00", 100) for i in range(3)]
    leg = a_print(60, 309, "2.00", 500, (232,))

    orders = group([*sweep, leg], quote("1.90", "2.00"))

    by_type = {order.type: order for order in orders}
    assert set(by_type) == {OrderType.SWEEP, OrderType.MULTI_LEG}
    assert leg not in by_type[OrderType.SWEEP].prints and by_type[OrderType.SWEEP].size == 300
    assert by_type[OrderType.MULTI_LEG].sentiment is Sentiment.NEUTRAL
    assert volume_change(leg) == 500


def test_condition_classes():
    assert classify([209]).kind is PrintClass.REGULAR and not classify([209]).iso
    assert classify([219]).iso and classify([219]).kind is PrintClass.REGULAR
    assert classify([230]).kind is PrintClass.CROSS and classify([230]).iso
    assert classify([201, 202]).kind is PrintClass.CANCEL
    assert classify([247]).kind is PrintClass.COMPRESSION and volume_change(a_print(0, 1, "1", 5, (247,))) == 0
    assert classify([248]).extended_hours and classify([248]).kind is PrintClass.REGULAR
    assert classify([209, 999]).unknown_codes == (999,)


def test_order_ids_are_stable_and_name_the_first_print():
    prints = [a_print(i * 50, 302 + i, "2.00", 100) for i in range(3)]
    (order,) = group(prints)
    (again,) = group(reversed(prints))
    (without_first,) = group(prints[1:])
    assert order.id == again.id != without_first.id


def test_an_order_of_mid_prints_alone_is_neutral_not_mixed():
    (order,) = group([a_print(0, 302, "1.05", 10)], quote("1.00", "1.10"))
    assert (order.aggressor, order.sentiment) == (Aggressor.NEUTRAL, Sentiment.NEUTRAL)
    (both,) = group([a_print(0, 302, "1.10", 10), a_print(10, 308, "1.00", 10)], quote("1.00", "1.10"))
    assert both.aggressor is Aggressor.MIXED
