"""Backtests against real PostgreSQL: a profile judged again on the stored orders (trades/selectors/
backtest.py), through the command and the profile form's "Backtest these settings" button.

The history, by hand (premium = price × size × 100; the next-day move and SPY's, raw):

    day    order  contract       prints          premium  side          sentiment  next day
    Mon    A1     AAPL 200 C     2 × 100 @ 5.50  110,000  at the ask    BULLISH    +2.0%, SPY +0.5%
    Mon    A4     AAPL 190 P     100 @ 3.00       30,000  at the ask    BEARISH    +2.0%, SPY +0.5%
    Mon    N1     NVDA 150 P     500 @ 1.00       50,000  at the ask    BEARISH    −3.0%, SPY −1.0%
    Tue    A2     AAPL 210 C     2 × 200 @ 10.00 400,000  at the ask    BULLISH    −1.0%, SPY +0.2%
    Tue    N2     NVDA 160 C     300 @ 5.00      150,000  at the bid    BEARISH    −1.5%, SPY −0.5%
    Tue    N4     NVDA 155 C     100 @ 4.00       40,000  at the ask    BULLISH    −1.5%, SPY −0.5%
    Wed    N3     NVDA 140 P     2 × 200 @ 5.00  200,000  no quote      NEUTRAL    —
    Wed    A3     AAPL 205 C     100 @ 7.00       70,000  at the ask    BULLISH    pending
    Wed    M1     MSFT 400 C     500 @ 10.00     500,000  at the ask    BULLISH    —
    Tue    WD     AAPL 220 C     500 @ 20.00     1M       withdrawn: never in the population
    Fri before: OLD AAPL 200 C   500 @ 10.00     500,000  outside the range

The profiles watch AAPL and NVDA. "bt-orders" judges orders of $100K or more: A1, A2, N2, N3.
"bt-prints" judges each print, $60K or more: A2 (two $200K prints), N2, N3 ($100K prints), A3; not
A1 (two $55K prints).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import profile_data
from trades.domain.calendar import NEW_YORK
from trades.domain.insights import Alert, cohort, wilson
from trades.domain.orders import NS_PER_MS, UNKNOWN_OPENING, Opening, Print, build_order
from trades.domain.rules import Profile, Reference
from trades.domain.side import Quote
from trades.models import FilterProfile, KeptPrint, Order, OrderOutcome, OrderState, WatchedTicker, Watchlist
from trades.selectors.backtest import Backtest, backtest, backtest_lines, last_days, profile_of
from trades.services.orders import Candidate, candidate_row, order_facts, side_fields, store_fills

MONDAY = date(2025, 12, 1)
TUESDAY, WEDNESDAY, FRIDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2), MONDAY + timedelta(days=4)
TICK = Decimal("0.10")
OPENING = Opening(opening=True, opening_strict=False, vol_oi=Decimal("1.50"))
# A1 was judged with a spot and a strike range: its strike (200) is inside a 40% band (161–241).
A1_REFERENCE = Reference(open_interest=500, spot=201.0, strike_min=100.0, strike_max=300.0)


def stored_order(
    ticker: str,
    right: str,
    strike: int,
    day: date,
    prints: list[tuple[str, int, int]],
    *,
    side: str | None = "ask",
    opening: Opening = UNKNOWN_OPENING,
    reference: Reference = Reference(),  # noqa: B008  (frozen)
    outcome: tuple[str, str] | None = None,
    state: str = OrderState.HIT,
) -> str:
    """An order stored as the worker stores one (its row, its prints), traded at 10:30 New York on
    ``day``: ``prints`` as (price, size, exchange); ``side``: its prints at the quote's ask, at its
    bid, or no quote (None); ``outcome``: its next-day move and SPY's. Returns its order id."""
    expiry = day + timedelta(days=25)
    symbol = f"O:{ticker}{expiry:%y%m%d}{right}{strike * 1000:08d}"
    start_ns = int(datetime.combine(day, time(10, 30), tzinfo=NEW_YORK).timestamp()) * 1_000_000_000
    fills = [
        Print(symbol, start_ns + index * 20 * NS_PER_MS, index + 1, exchange, Decimal(price), size, (209,))
        for index, (price, size, exchange) in enumerate(prints)
    ]
    quote = _quote(Decimal(prints[0][0]), side, start_ns - NS_PER_MS)
    order = build_order(fills, quote)
    facts = replace(order_facts(order, {"underlying": ticker}), opening=opening)
    row = candidate_row(Candidate(facts, reference, None, []), "backfill", timezone.now())
    for name, value in side_fields(order, quote).items():
        setattr(row, name, value)
    row.state = state
    row.save()
    store_fills([order], {symbol: ticker}, lambda _: "backfill")
    if outcome is not None:
        move, market = outcome
        OrderOutcome.objects.create(order=row, spot0=Decimal(100), move_1d=Decimal(move), market_1d=Decimal(market))
    return order.id


def _quote(price: Decimal, side: str | None, ts_ns: int) -> Quote | None:
    if side == "ask":
        return Quote(price - TICK, price, ts_ns)
    if side == "bid":
        return Quote(price, price + TICK, ts_ns)
    return None


def store_history(monday: date) -> dict[str, str]:
    """The module docstring's orders, in the week of ``monday``: their order ids by name."""
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
    up_aapl, down_nvda = ("0.020000", "0.005000"), ("-0.015000", "-0.005000")
    return {
        "A1": stored_order(
            "AAPL",
            "C",
            200,
            monday,
            [("5.50", 100, 302), ("5.50", 100, 303)],
            opening=Opening(False, False, Decimal("0.50")),
            reference=A1_REFERENCE,
            outcome=up_aapl,
        ),
        "A4": stored_order("AAPL", "P", 190, monday, [("3.00", 100, 302)], outcome=up_aapl),
        "N1": stored_order("NVDA", "P", 150, monday, [("1.00", 500, 302)], outcome=("-0.030000", "-0.010000")),
        "A2": stored_order(
            "AAPL",
            "C",
            210,
            tuesday,
            [("10.00", 200, 302), ("10.00", 200, 304)],
            opening=OPENING,
            outcome=("-0.010000", "0.002000"),
        ),
        "N2": stored_order(
            "NVDA", "C", 160, tuesday, [("5.00", 300, 302)], side="bid", opening=OPENING, outcome=down_nvda
        ),
        "N4": stored_order("NVDA", "C", 155, tuesday, [("4.00", 100, 302)], outcome=down_nvda),
        "WD": stored_order("AAPL", "C", 220, tuesday, [("20.00", 500, 302)], state=OrderState.WITHDRAWN),
        "N3": stored_order("NVDA", "P", 140, wednesday, [("5.00", 200, 302), ("5.00", 200, 303)], side=None),
        "A3": stored_order("AAPL", "C", 205, wednesday, [("7.00", 100, 302)]),
        "M1": stored_order("MSFT", "C", 400, wednesday, [("10.00", 500, 302)]),
        "OLD": stored_order("AAPL", "C", 200, monday - timedelta(days=3), [("10.00", 500, 302)]),
    }


@pytest.fixture
def profiles(db) -> dict[str, FilterProfile]:
    watchlist = Watchlist.objects.create(name="bt")
    WatchedTicker.objects.bulk_create(WatchedTicker(watchlist=watchlist, symbol=ticker) for ticker in ("AAPL", "NVDA"))
    return {
        "orders": FilterProfile.objects.create(
            name="bt-orders", watchlist=watchlist, judges="orders", min_premium=Decimal(100_000)
        ),
        "prints": FilterProfile.objects.create(name="bt-prints", watchlist=watchlist, min_premium=Decimal(60_000)),
    }


@pytest.fixture
def history(profiles) -> dict[str, str]:
    return store_history(MONDAY)


def names_of(result: Backtest, ids: dict[str, str]) -> list[str]:
    by_id = {order_id: name for name, order_id in ids.items()}
    return [by_id[order_id] for order_id in result.alerts]


def of_the_week(profile: Profile) -> Backtest:
    return backtest(profile, MONDAY, FRIDAY)


def test_an_order_profile_fires_on_the_orders_it_passes_with_their_cohort_against_the_baseline(profiles, history):
    result = of_the_week(profile_of(profiles["orders"]))

    assert names_of(result, history) == ["A1", "A2", "N2", "N3"]
    assert result.judged == 8 and result.without_prints == 0  # AAPL and NVDA hits of the week: not M1, WD, OLD
    assert result.per_day == {MONDAY: 1, TUESDAY: 2, WEDNESDAY: 1}
    assert result.per_underlying == {"AAPL": 2, "NVDA": 2}
    # Next day, signed by direction: A1 +2% (its way), A2 −1% (not), N2 +1.5% (bearish, NVDA fell 1.5%);
    # N3 has no direction. 2 of 3: Wilson 95% by hand, p = 2/3, z = 1.96: 0.2077–0.9385.
    alerts = result.cohort
    assert (alerts.n, alerts.went_its_way, alerts.since) == (3, 2, MONDAY)
    assert (alerts.low, alerts.high) == pytest.approx(wilson(2, 3))
    assert (alerts.low, alerts.high) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    assert alerts.median_move == Decimal("0.015")  # of −1%, +1.5%, +2%
    # Over SPY, signed: A1 +1.5%, A2 −1.2%, N2 −(−1.5% − −0.5%) = +1%: the median is +1%.
    assert alerts.median_versus_market == Decimal("0.010")
    assert not alerts.enough
    # The baseline: every order with a direction of (AAPL, Mon), (AAPL, Tue), (NVDA, Tue), (NVDA, Wed):
    # A1 +2%, A4 −2% (bearish, AAPL rose), A2 −1%, N2 +1.5%, N4 −1.5% (bullish, NVDA fell). 2 of 5:
    # Wilson 0.1176–0.7693; the median signed move −1%; over SPY +1.5%, −1.5%, −1.2%, +1%, −1%: −1%.
    baseline = result.baseline
    assert (baseline.n, baseline.went_its_way) == (5, 2)
    assert (baseline.low, baseline.high) == pytest.approx(wilson(2, 5))
    assert (baseline.low, baseline.high) == pytest.approx((0.1176, 0.7693), abs=1e-4)
    assert (baseline.median_move, baseline.median_versus_market) == (Decimal("-0.01"), Decimal("-0.01"))


def test_a_print_profile_fires_on_an_order_when_one_of_its_stored_prints_passes(profiles, history):
    result = of_the_week(profile_of(profiles["prints"]))

    assert names_of(result, history) == ["A2", "N2", "N3", "A3"]  # not A1: two $55K prints
    assert result.per_day == {MONDAY: 0, TUESDAY: 2, WEDNESDAY: 2}  # a day with stored orders and no alert: 0
    assert result.per_underlying == {"AAPL": 2, "NVDA": 2}
    # A2 −1%, N2 +1.5%; A3 is pending. 1 of 2: Wilson 0.0945–0.9055; the median (−1% + 1.5%) / 2.
    alerts = result.cohort
    assert (alerts.n, alerts.went_its_way) == (1 + 1, 1)
    assert (alerts.low, alerts.high) == pytest.approx((0.0945, 0.9055), abs=1e-4)
    assert (alerts.median_move, alerts.median_versus_market) == (Decimal("0.0025"), Decimal("-0.001"))
    # (AAPL, Tue), (NVDA, Tue), (NVDA, Wed), (AAPL, Wed): A2 −1%, N2 +1.5%, N4 −1.5% (A3 pending). 1 of 3.
    baseline = result.baseline
    assert (baseline.n, baseline.went_its_way, baseline.median_move) == (3, 1, Decimal("-0.01"))
    assert (baseline.low, baseline.high) == pytest.approx((0.0615, 0.7923), abs=1e-4)


@pytest.mark.parametrize(
    ("judges", "edit", "fired"),
    [
        ("orders", {"min_premium": Decimal(300_000)}, ["A2"]),
        ("orders", {"sentiments": ["BULLISH"]}, ["A1", "A2"]),  # the side from the stored quote
        ("orders", {"opening": "opening"}, ["A2", "N2"]),  # the opening flags as stored
        ("orders", {"strike_band": Decimal("0.400")}, ["A1"]),  # only A1 was judged with a strike range
        ("prints", {"min_premium": Decimal(150_000)}, ["A2", "N2"]),
        ("prints", {"size_gt_open_interest": True}, []),  # only A1 has an open interest, and it is 500
        ("orders", {"min_strike_multiple": Decimal(3)}, []),  # no stored counts: no usual to judge it by
    ],
)
def test_a_profile_edited_to_be_stricter_fires_on_fewer(profiles, history, judges, edit, fired):
    row = profiles[judges]
    before = of_the_week(profile_of(row))
    for name, value in edit.items():
        setattr(row, name, value)  # edited, not saved

    stricter = of_the_week(profile_of(row))

    assert names_of(stricter, history) == fired
    assert len(stricter.alerts) < len(before.alerts) and set(stricter.alerts) <= set(before.alerts)
    assert stricter.per_day.keys() == before.per_day.keys()


def test_every_underlying_and_orders_whose_prints_are_gone(profiles, history):
    row = profiles["orders"]
    WatchedTicker.objects.create(watchlist=row.watchlist, symbol="*")
    KeptPrint.objects.filter(order_id=history["N3"]).delete()

    result = of_the_week(profile_of(row))

    assert names_of(result, history) == ["A1", "A2", "N2", "M1"]
    assert (result.judged, result.without_prints) == (8, 1)  # M1 now; N3 cannot be rebuilt
    assert result.per_underlying == {"AAPL": 2, "NVDA": 1, "MSFT": 1}
    assert "(1 more without their prints: not judged)" in "\n".join(backtest_lines(result))


def test_the_command_prints_each_profiles_report(profiles, history):
    out = StringIO()
    call_command("backtest", "bt-orders", "bt-prints", "--from", "2025-12-01", "--to", "2025-12-05", stdout=out)
    report = out.getvalue()

    orders, prints = report.split("Backtest of bt-prints")
    assert orders.startswith("Backtest of bt-orders (judges orders) from 2025-12-01 to 2025-12-05\n")
    assert "Judged 8 stored order hits of its names. The history is what was stored" in orders
    assert "manage.py backfill --profiles bt-orders --redo" in orders
    assert "Alerts: 4 on 3 days with stored orders (1.3 a day)" in orders
    for line in ("  2025-12-01 Mon     1", "  2025-12-02 Tue     2", "  2025-12-03 Wed     1"):
        assert line + "\n" in orders
    assert "  AAPL         2\n  NVDA         2\n" in orders
    # 2 of 3: 67%, 21–94%; signed moves −1%, +1.5%, +2%; over SPY −1.2%, +1%, +1.5%.
    assert (
        "  alerts    N 3: 2 went its way (67%, Wilson 95% CI 21–94%), median move +1.5%, median vs SPY +1.0%"
        " — too few to say\n" in orders
    )
    assert (
        "  baseline  N 5: 2 went its way (40%, Wilson 95% CI 12–77%), median move -1.0%, median vs SPY -1.0%"
        " — too few to say\n" in orders
    )
    assert "  2025-12-01 Mon     0\n" in prints


def test_the_command_backtests_the_presets_and_refuses_an_unknown_name(db):
    out = StringIO()
    call_command("backtest", "--presets", "--days", "30", stdout=out)
    first, last = last_days(30)
    for name in ("classic-unusual-activity", "mag7-smart-money", "sweeps"):
        assert f"Backtest of {name} (" in out.getvalue() and f"from {first} to {last}" in out.getvalue()
    assert "Alerts: no stored orders in this range." in out.getvalue()
    assert "  alerts    N 0: none with a known next-day move\n" in out.getvalue()

    with pytest.raises(CommandError, match="no profile named no-such-profile"):
        call_command("backtest", "sweeps", "no-such-profile")
    with pytest.raises(CommandError, match="give --presets"):
        call_command("backtest")


def test_a_cohort_of_ten_or_more_shows_its_rate_interval_and_medians():
    def alert(n: int, move: str) -> Alert:
        return Alert(str(n), "AAPL", MONDAY, n, "BULLISH", Decimal(100_000), 7, frozenset(), Decimal(move), Decimal(0))

    nine_of_twelve = cohort([alert(n, "0.01") for n in range(9)] + [alert(n, "-0.02") for n in range(9, 12)])
    result = Backtest(
        Profile(1, "p", frozenset({"AAPL"})),
        MONDAY,
        MONDAY,
        12,
        0,
        {MONDAY: 12},
        {"AAPL": 12},
        [],
        nine_of_twelve,
        nine_of_twelve,
    )

    lines = backtest_lines(result)

    # Wilson 95% of 9/12 by hand: centre 0.6894, half-width 0.2217.
    expected = "N 12: 9 went its way (75%, Wilson 95% CI 47–91%), median move +1.0%, median vs SPY +1.0%"
    assert f"  alerts    {expected}" in lines and f"  baseline  {expected}" in lines


# --- admin --------------------------------------------------------------------------------------------


@pytest.fixture
def recent_history(profiles) -> date:
    """The history two weeks ago (inside the admin's last 90 days): its Monday."""
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday() + 14)
    store_history(monday)
    return monday


def test_the_backtest_button_shows_the_report_and_saves_nothing(admin_client: Client, profiles, recent_history):
    profile = profiles["orders"]
    url = reverse("admin:trades_filterprofile_change", args=[profile.pk])
    assert 'name="_backtest"' in admin_client.get(url).text

    page = admin_client.post(url, profile_data(profile, min_premium="300000", _save=None, _backtest="Backtest"))

    assert page.status_code == 200
    first, last = last_days(90)
    assert f"Backtest of bt-orders (judges orders) from {first} to {last}" in page.text
    # At $300K: A2, and OLD (the Friday before, inside the last 90 days too).
    assert "Alerts: 2 on 4 days with stored orders" in page.text
    friday, tuesday = recent_history - timedelta(days=3), recent_history + timedelta(days=1)
    assert f"  {friday} Fri     1\n  {recent_history} Mon     0\n  {tuesday} Tue     1\n" in page.text
    assert 'value="300000"' in page.text  # the form keeps what was posted
    profile.refresh_from_db()
    assert profile.min_premium == Decimal(100_000)  # not saved


def test_the_add_form_backtests_an_unsaved_profile_and_shows_errors_as_usual(admin_client: Client, profiles, db):
    url = reverse("admin:trades_filterprofile_add")
    unsaved = FilterProfile(name="bt-new", watchlist=profiles["prints"].watchlist, min_premium=Decimal(60_000))
    count = FilterProfile.objects.count()

    page = admin_client.post(url, profile_data(unsaved, _save=None, _backtest="Backtest"))
    assert page.status_code == 200 and "Backtest of bt-new (judges each print" in page.text

    refused = admin_client.post(url, profile_data(unsaved, min_dte=10, max_dte=5, _save=None, _backtest="Backtest"))
    assert refused.status_code == 200 and "must be at least the minimum DTE" in refused.text
    assert "Backtest of" not in refused.text
    assert FilterProfile.objects.count() == count and not Order.objects.exists()
