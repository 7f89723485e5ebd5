"""Insights of stored hits against real PostgreSQL: the figures read from the counts, the earlier
alerts and their outcomes (a hand-computed fixture), and a live hit described before its webhooks."""

from datetime import date
from decimal import Decimal

import pytest

from tests.factories import AAPL_195C, frame, ns_at, only_profile, stored_order
from tests.factories import volume_count as count
from tests.order_helpers import a_million_dollar_sweep, settle, trade
from trades.domain.orders import NS_PER_MS
from trades.models import DailyBar, FilterProfile, Order, OrderMatch, OrderState, VolumeCount
from trades.selectors import flow_rules
from trades.selectors.serializers import serialize_order
from trades.services import insights
from trades.services.ingest import ingest_frames

TODAY = date(2026, 11, 20)
AAPL_200C = "O:AAPL261204C00200000"


@pytest.fixture
def sweeps(db) -> FilterProfile:
    return only_profile("sweeps", ["AAPL"], judges="orders", min_premium=Decimal(50_000))


def test_an_orders_insight_from_its_strikes_history_and_the_alerts_before_it(sweeps):
    past_days = [date(2026, 11, d) for d in (13, 16, 17, 18, 19)]
    DailyBar.objects.bulk_create(
        DailyBar(ticker="AAPL", day=day, open=1, high=1, low=1, close=1) for day in [date(2026, 11, 10), *past_days]
    )
    rows = [count(AAPL_200C, TODAY, 10, 37, 15_000), count(AAPL_195C, TODAY, 10, 17, 2_000)]
    rows += [count(AAPL_195C, TODAY, 10, 46, 3_000), count(AAPL_195C, TODAY, 10, 16, 1_000)]
    rows += [
        count(AAPL_195C, TODAY, 10, 47, 9_999),
        count(AAPL_195C, TODAY, 10, 48, 8_888),
    ]  # not before it
    for day, strike in zip(past_days, (10_000, 20_000, 0, 30_000, 40_000), strict=True):
        rows += [count(AAPL_195C, day, 10, 30, strike), count(AAPL_200C, day, 10, 30, 100_000 - strike)]
        rows += [count(AAPL_195C, day, 10, 47, 777_777)]  # the minute of the order: after the window
    VolumeCount.objects.bulk_create(rows)
    stored_order("a", date(2026, 11, 10), sweeps, premium=Decimal(60_000), move_1d=Decimal("0.02"))
    stored_order("b", date(2026, 11, 17), sweeps, premium=Decimal(99_000), move_1d=Decimal("-0.01"))
    stored_order("known-today", date(2026, 11, 19), sweeps, premium=Decimal(60_000), move_1d=Decimal("0.05"))
    stored_order("bigger", date(2026, 11, 18), sweeps, premium=Decimal(100_000), move_1d=Decimal("0.05"))
    subject = stored_order("now", TODAY, sweeps, premium=Decimal(85_000), first_ts_ns=ns_at(TODAY, 10, 47) + 5)

    assert insights.describe_missing() == 5  # oldest first; the subject last
    subject.refresh_from_db()
    # Window 10:17–10:46: 2,000 + 3,000 + the order's 85,000 = $90K; AAPL's adds 15,000 (86%).
    # Usual: (10 + 20 + 0 + 30 + 40) K / 5 = $20K: 4.5×. Analogs: "b" (Nov 17, −1.0%) and "a"; the
    # Nov 19 alert's next day is today (not known yet), the $100K one is in the next bucket up.
    assert subject.insight == (
        "AAPL $195 calls 12/4 (14 DTE, bullish): $90K premium in the last 30 minutes (86% of AAPL's), 4.5× this "
        "strike's usual — unusual concentration. Last time (Nov 17) the stock moved -1.0% next day; of 2 similar "
        "alerts since Nov 10, 1 rose next day (50%, 95% CI 9–91%) — too few to say."
    )
    facts = subject.insight_facts
    assert facts is not None
    assert facts["concentration"] | {"share": round(facts["concentration"]["share"], 4)} == {
        "strike_premium": 90_000.0,
        "underlying_premium": 105_000.0,
        "strike_premium_day": 91_000.0,
        "strike_size": 302,  # one contract a counted minute in the fixture, and the order's 300
        "strike_size_day": 303,
        "underlying_premium_day": 106_000.0,
        "share": 0.8571,
        "baseline_days": 5,
        "baseline_since": "2026-11-13",
        "strike_usual": 20_000.0,
        "underlying_usual": 100_000.0,
        "underlying_daily_usual": 877_777.0,  # 100,000 in the window + 777,777 at 10:47, each day
        "multiple": 4.5,
        "underlying_multiple": 1.05,
        "unusual": True,
    }
    assert facts["last"]["order_id"] == "b" and facts["cohort"]["n"] == 2
    last_next_day = facts["last"]["outcome"]["horizons"][1]
    assert (last_next_day["days"], last_next_day["move"], last_next_day["versus_market"]) == (1, -0.01, -0.011)
    assert facts["similar"] == {
        "underlying": "AAPL",
        "sentiment": "BULLISH",
        "premium": "under $100K",
        "dte": "8–30 DTE",
        "profiles": ["sweeps"],
        "horizon_days": 1,
    }
    assert serialize_order(subject)["insight"] == subject.insight
    assert insights.describe_missing() == 0  # each once


def test_a_live_hit_is_described_as_it_is_judged_with_the_counts_of_the_batches_before_it(order_profile):
    # Twenty minutes earlier: $5,000 on the sweep's contract, $7,000 on another NVDA contract.
    earlier = [trade(-20 * 60_000, p=0.5, s=100, q=1), trade(-19 * 60_000, sym="O:NVDA251219C00160000", p=0.7, q=2)]
    ingest_frames([frame(*earlier)])
    ingest_frames([frame(*a_million_dollar_sweep())])
    settle()

    (order,) = Order.objects.filter(state=OrderState.HIT)
    assert order.insight_facts is not None
    concentration = order.insight_facts["concentration"]
    assert (concentration["strike_premium"], concentration["underlying_premium"]) == (1_005_000.0, 1_012_000.0)
    assert concentration["strike_size"] == 100 + 2_000  # the earlier print's contracts and the sweep's
    assert concentration["baseline_days"] == 0 and order.insight_facts["similar"] is None  # no quote, no side
    assert order.insight == (
        "NVDA $150 calls 12/19 (14 DTE): $1M premium in the last 30 minutes (99% of NVDA's); no history yet to know "
        "its usual."
    )
    assert order.first_ts_ns // NS_PER_MS == a_million_dollar_sweep()[0]["t"]


SWEEP_CONTRACT = "O:NVDA251219C00150000"


def past_counts(dollars: int) -> None:
    """Five past trading days whose 10:00–10:30 held ``dollars`` on the sweep's contract."""
    for day in (date(2025, 11, 28), date(2025, 12, 1), date(2025, 12, 2), date(2025, 12, 3), date(2025, 12, 4)):
        at = ns_at(day, 10, 10) // 60_000_000_000
        VolumeCount.objects.create(
            symbol=SWEEP_CONTRACT, underlying="NVDA", trade_date=day, minute=at, volume=1, premium=dollars * 100
        )


@pytest.mark.parametrize(("usual", "hits"), [(None, 0), (100_000, 1), (400_000, 0)])
def test_a_live_order_passes_a_history_rule_only_with_the_history_to_judge_it(order_profile, usual, hits):
    FilterProfile.objects.filter(pk=order_profile.pk).update(min_strike_multiple=Decimal(3))
    flow_rules.forget_flow_rules()
    if usual is not None:
        past_counts(usual)
    ingest_frames([frame(*a_million_dollar_sweep())])  # $1M: 10× a $100K usual, 2.5× a $400K one
    settle()
    assert Order.objects.filter(state=OrderState.HIT).count() == hits


def test_a_backfilled_order_failing_a_history_rule_loses_that_match_at_the_backfills_end(sweeps):
    strict = FilterProfile.objects.create(
        name="unusual", watchlist=sweeps.watchlist, judges="orders", min_strike_multiple=3
    )
    both = stored_order("both", TODAY, sweeps)
    OrderMatch.objects.create(order=both, profile=strict)
    only_strict = stored_order("strict-only", TODAY, strict, first_ts_ns=ns_at(TODAY, 12, 0))
    flow_rules.forget_flow_rules()

    assert insights.describe_missing() == 1  # no history: the strict profile's matches fail
    assert list(Order.objects.values_list("order_id", flat=True)) == ["both"]
    assert list(both.profiles.values_list("name", flat=True)) == ["sweeps"]
    assert not Order.objects.filter(pk=only_strict.pk).exists()
