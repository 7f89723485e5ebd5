"""Every figure of an insight sentence against a hand-computed fixture (trades/domain/insights.py)."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from trades.domain.calendar import NEW_YORK
from trades.domain.insights import (
    Alert,
    Concentration,
    Contract,
    analogs,
    cohort,
    concentration,
    dte_bucket_label,
    multiple_text,
    percent,
    premium_bucket_label,
    same_time_on,
    sentence,
    short_money,
    wilson,
    window_sum,
)


def minute_at(day: date, hour: int, minute: int) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).timestamp()) // 60


TODAY = date(2026, 11, 20)  # a Friday
ORDER_MINUTE = minute_at(TODAY, 10, 47)


def test_window_sum_takes_the_minutes_from_start_up_to_not_including_end() -> None:
    assert window_sum({100: 5, 101: 7, 129: 1, 130: 11, 99: 3}, 100, 130) == 5 + 7 + 1


def test_the_same_time_of_day_on_another_day_follows_new_york_across_daylight_saving() -> None:
    # 10:47 New York on Nov 20 (EST) and on Oct 30 (EDT) are different UTC hours, the same wall clock.
    start, end = same_time_on(date(2026, 10, 30), ORDER_MINUTE)
    assert end == minute_at(date(2026, 10, 30), 10, 47)
    assert start == minute_at(date(2026, 10, 30), 10, 17)


def _past(day: date, strike_cents: int, underlying_cents: int) -> tuple[dict[int, int], dict[int, int]]:
    """A past day whose 10:17–10:47 window holds these premiums, plus a minute outside it."""
    inside, outside = minute_at(day, 10, 30), minute_at(day, 10, 47)  # 10:47 itself is after the window
    return {inside: strike_cents, outside: 999_999}, {inside: underlying_cents, outside: 999_999}


def test_concentration_window_day_baseline_multiple_and_share() -> None:
    today_strike = {
        ORDER_MINUTE - 31: 1_000_00,  # before the window, in the day
        ORDER_MINUTE - 30: 2_000_00,  # the window's first minute
        ORDER_MINUTE - 1: 3_000_00,
        ORDER_MINUTE: 9_999_00,  # the order's own minute: its own premium stands for it
        minute_at(TODAY, 9, 0): 50_00,  # before the open: not in the day
    }
    today_underlying = {**today_strike, ORDER_MINUTE - 10: 15_000_00}
    past_days = [date(2026, 11, d) for d in (13, 16, 17, 18, 19)]
    strike_premiums = [10_000_00, 20_000_00, 0, 30_000_00, 40_000_00]
    past_strike, past_underlying = {}, {}
    for day, cents in zip(past_days, strike_premiums, strict=True):
        past_strike[day], past_underlying[day] = _past(day, cents, 100_000_00)
    sizes = {ORDER_MINUTE - 31: 10, ORDER_MINUTE - 2: 20, ORDER_MINUTE: 999}
    found = concentration(
        ORDER_MINUTE, 85_000_00, today_strike, today_underlying, past_strike, past_underlying, None, (sizes, 500)
    )
    assert (found.strike_size, found.strike_size_day) == (20 + 500, 10 + 20 + 500)
    # window: 2,000 + 3,000 + the order's 85,000 = 90,000; the day adds the 1,000 at 10:16.
    assert found.strike == 90_000_00
    assert found.strike_day == 91_000_00
    assert found.underlying == 105_000_00  # + 15,000 on other strikes
    assert found.underlying_day == 106_000_00
    assert found.days == tuple(past_days)
    assert found.strike_usual == pytest.approx(20_000_00)  # (10 + 20 + 0 + 30 + 40) K / 5
    assert found.multiple == pytest.approx(4.5)  # 90,000 / 20,000
    assert found.underlying_usual == pytest.approx(100_000_00)
    assert found.share == pytest.approx(90 / 105)
    assert found.unusual


def test_the_usual_is_over_the_last_twenty_days_and_needs_five() -> None:
    days = [date(2026, 10, 1 + i) for i in range(25)]
    past = {day: {minute_at(day, 10, 30): 100} for day in days}
    found = concentration(ORDER_MINUTE, 300, {}, {}, past, past)
    assert found.days == tuple(days[-20:])
    four = concentration(ORDER_MINUTE, 300, {}, {}, dict(list(past.items())[:4]), dict(list(past.items())[:4]))
    assert not four.enough_history and not four.unusual  # 3× its usual, but four days say nothing


def test_a_strike_silent_at_that_time_on_every_past_day_is_unusual_without_a_multiple() -> None:
    days = [date(2026, 11, d) for d in (13, 16, 17, 18, 19)]
    found = concentration(ORDER_MINUTE, 500, {}, {}, {}, {day: {minute_at(day, 10, 30): 1_000} for day in days})
    assert found.strike_usual == 0 and found.multiple is None and found.unusual


def alert(order_id: str, day: date, **fields: object) -> Alert:
    values: dict = {
        "underlying": "AAPL",
        "day": day,
        "ts_ns": int(datetime(day.year, day.month, day.day, 11, tzinfo=NEW_YORK).timestamp()) * 10**9,
        "sentiment": "BULLISH",
        "premium": Decimal(300_000),
        "dte": 14,
        "profiles": frozenset({"sweeps"}),
    }
    values.update(fields)
    return Alert(order_id=order_id, **values)


def test_analogs_are_similar_alerts_known_before_the_day_newest_first() -> None:
    now = alert("now", TODAY)
    earlier = [
        alert("a", date(2026, 11, 10), move=Decimal("0.02"), known_on=date(2026, 11, 11)),
        alert("b", date(2026, 11, 17), move=Decimal("-0.01"), known_on=date(2026, 11, 18)),
        alert("not-known-yet", date(2026, 11, 19), move=Decimal("0.05"), known_on=TODAY),
        alert("pending", date(2026, 11, 18)),
        alert("bearish", date(2026, 11, 18), sentiment="BEARISH", move=Decimal("0.01"), known_on=TODAY),
        alert("bigger", date(2026, 11, 18), premium=Decimal(600_000), move=Decimal(1), known_on=TODAY),
        alert("longer", date(2026, 11, 16), dte=45, move=Decimal(1), known_on=date(2026, 11, 17)),
        alert("other-rule", date(2026, 11, 16), profiles=frozenset({"blocks"}), move=Decimal(1), known_on=TODAY),
        alert("MSFT", date(2026, 11, 16), underlying="MSFT", move=Decimal(1), known_on=date(2026, 11, 17)),
    ]
    assert [found.order_id for found in analogs(now, earlier)] == ["b", "a"]


def test_cohort_counts_signed_moves_with_a_wilson_interval_and_medians() -> None:
    alerts = [
        alert("1", date(2026, 11, 2), move=Decimal("0.03"), market=Decimal("0.01")),
        alert("2", date(2026, 11, 3), move=Decimal("-0.01"), market=Decimal("0.00")),
        alert("3", date(2026, 11, 4), sentiment="BEARISH", move=Decimal("-0.02"), market=Decimal("-0.03")),
        alert("4", date(2026, 11, 5), move=Decimal("0.01"), market=Decimal("0.02")),
        alert("pending", date(2026, 11, 6)),
    ]
    found = cohort(alerts)
    assert (found.n, found.went_its_way, found.since) == (4, 3, date(2026, 11, 2))
    # Signed: +3%, −1%, +2% (a bearish order, the stock fell 2%), +1%: the median is (1 + 2) / 2.
    assert found.median_move == Decimal("0.015")
    # Over SPY, signed: +2%, −1%, −1% (−(−2% − −3%)), −1%: the median is −1%.
    assert found.median_versus_market == Decimal("-0.01")
    assert (found.low, found.high) == pytest.approx(wilson(3, 4))
    assert not found.enough


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # p = 15/23 = .65217, z² = 3.84146: centre (.65217 + .08351) / 1.16702 = .63039,
        # half 1.95996 × √(.0098628 + .0018154) / 1.16702 = .18149.
        (15, 23, 0.44890, 0.81189),
        (0, 10, 0.0, 0.27753),  # z² / (n + z²) = 3.84146 / 13.84146
        (10, 10, 0.72247, 1.0),
    ],
)
def test_wilson_interval(successes: int, n: int, low: float, high: float) -> None:
    assert wilson(successes, n) == pytest.approx((low, high), abs=1e-5)


def test_the_sentence_of_flow_md() -> None:
    contract = Contract("AAPL", Decimal("195"), "C", date(2026, 12, 20), 14)
    found = Concentration(
        strike=850_000_00,
        underlying=2_236_842_11,
        strike_day=900_000_00,
        underlying_day=5_000_000_00,
        days=tuple(date(2026, 10, 1 + i) for i in range(20)),
        strike_usual=140_000_00,
        underlying_usual=2_000_000_00,
    )
    last = alert("last", date(2026, 11, 15), move=Decimal("0.030"), known_on=date(2026, 11, 16))
    similar = cohort(
        [alert(str(i), date(2026, 9, 2), move=Decimal("0.01") if i < 15 else Decimal("-0.01")) for i in range(23)]
    )
    assert sentence(contract, "BULLISH", found, last, similar) == (
        "AAPL $195 calls 12/20 (14 DTE, bullish): $850K premium in the last 30 minutes (38% of AAPL's), 6.1× this "
        "strike's usual — unusual concentration. Last time (Nov 15) the stock moved +3.0% next day; of 23 "
        "similar alerts since Sep 2, 15 rose next day (65%, 95% CI 45–81%)."
    )


def test_the_sentence_says_too_few_no_history_and_nothing_for_a_neutral_order() -> None:
    contract = Contract("NVDA", Decimal("122.5"), "P", date(2026, 11, 27), 7)
    few_days = Concentration(120_000_00, 120_000_00, 120_000_00, 120_000_00, (date(2026, 11, 19),), 0.0, 0.0)
    last = alert("x", date(2026, 11, 18), sentiment="BEARISH", move=Decimal("-0.012"), known_on=date(2026, 11, 19))
    assert sentence(contract, "BEARISH", few_days, last, cohort([last])) == (
        "NVDA $122.5 puts 11/27 (7 DTE, bearish): $120K premium in the last 30 minutes; too little history to know its "
        "usual (1 trading day). Last time (Nov 18) the stock moved -1.2% next day; of 1 similar alert since "
        "Nov 18, 1 fell next day (100%, 95% CI 21–100%) — too few to say."
    )
    assert sentence(contract, "BEARISH", few_days, None, cohort([])).endswith("No similar alert before.")
    assert sentence(contract, "NEUTRAL", few_days, last, cohort([last])).endswith("(1 trading day).")


def test_money_and_bucket_labels() -> None:
    assert [short_money(x) for x in (850, 8_500, 850_000, 1_234_567, 5_000_000, 12_000_000)] == [
        "$850",
        "$8.5K",
        "$850K",
        "$1.2M",
        "$5M",
        "$12M",
    ]
    assert [multiple_text(x) for x in (4.54, 12.4, 99.6, 9503.0)] == ["4.5×", "12×", "100×", "100×+"]
    assert [percent(x) for x in (0.03, -0.0123, -0.00004, 0)] == ["+3.0%", "-1.2%", "0.0%", "0.0%"]
    assert premium_bucket_label(Decimal(300_000)) == "$250K–$500K"
    assert premium_bucket_label(Decimal(99_999)) == "under $100K"
    assert premium_bucket_label(Decimal(7_000_000)) == "$5M+"
    assert (dte_bucket_label(0), dte_bucket_label(14), dte_bucket_label(200)) == ("0–7 DTE", "8–30 DTE", "91+ DTE")


def test_history_rules_of_a_profile() -> None:
    from trades.domain.order_rules import passes_history_rules
    from trades.domain.rules import Profile

    days = tuple(date(2026, 11, d) for d in (13, 16, 17, 18, 19))
    found = Concentration(90_000_00, 105_000_00, 91_000_00, 106_000_00, days, 20_000_00, 100_000_00, 5_000_000_00)

    def passes(premium: float = 90_000, multiple: float | None = None, share: float | None = None,
               daily: float | None = None) -> bool:  # fmt: skip
        profile = Profile(
            id=1,
            name="p",
            tickers=frozenset(),
            min_strike_multiple=multiple,
            min_strike_share=share,
            min_share_of_daily_premium=daily,
        )
        return passes_history_rules(profile, found, premium)

    assert passes(multiple=4.5) and not passes(multiple=4.6)  # 90K / 20K = 4.5×
    assert passes(share=0.85) and not passes(share=0.86)  # 90 / 105 = 0.857
    # 1% of a $5M average day is $50K.
    assert passes(50_000, daily=0.01) and not passes(49_999, daily=0.01)
    silent = Concentration(500, 500, 500, 500, days, 0.0, 0.0, 1_000.0)
    assert passes_history_rules(Profile(id=1, name="p", tickers=frozenset(), min_strike_multiple=3), silent, 5)
    short = Concentration(90_000_00, 105_000_00, 91_000_00, 106_000_00, days[:4], 20_000_00, 100_000_00, 5.0)
    assert not passes_history_rules(Profile(id=1, name="p", tickers=frozenset(), min_strike_multiple=1), short, 1)
