"""A backfill over the local feed's history (its REST side, through the real polygon-api-client)
judges a past day exactly as streaming that day's tape did: the same hits, the same orders, the
same ids; run twice, it stores nothing twice."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.utils import timezone

from tests.backfill_helpers import forget_stored, stored_hits, stored_orders
from tests.feed_helpers import KEY
from trades.domain.calendar import new_york_date
from trades.feed.history import History, session_ms
from trades.feed.market import spot_on, underlying_model
from trades.feed.rest import RestFaults
from trades.feed.source import PrebuiltSource
from trades.models import (
    BackfillUnit,
    FilterProfile,
    OptionTrade,
    Order,
    OrderState,
    UnitStatus,
    Watchlist,
)
from trades.ops.backfill_bench import settle_orders, stream_day
from trades.polygon_rest import flatfiles
from trades.selectors import flow_rules
from trades.services import backfill, insights, outcomes

pytestmark = pytest.mark.django_db

TICKERS = ("AAPL", "NVDA", "META")
SEED = 5
TODAY = date(2026, 11, 20)
BATCH_FRAMES = 25  # the live side's batches: a few seconds of the day's tape each


@pytest.fixture
def history() -> History:
    return History([underlying_model(ticker, SEED) for ticker in TICKERS], SEED, TODAY, days=3, prints_per_day=6_000)


@pytest.fixture
def feed_of_day(start_feed, settings, history):
    """The feed as it stood on the history's last day: that day's tape, its contracts and quotes."""

    def start(day: date) -> Any:
        feed = start_feed(
            source=PrebuiltSource(history.tape(day).frames), reference=history.as_of(day), history=history
        )
        settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, KEY
        flow_rules.forget_flow_rules()
        return feed

    yield start
    flow_rules.forget_flow_rules()


@pytest.fixture(autouse=True)
def every_order_of_the_mag7(db):
    """Beside the shipped presets, a profile that takes every order from $20,000: much to agree on."""
    watchlist = Watchlist.objects.get(name="mag7")
    FilterProfile.objects.create(name="all-orders", watchlist=watchlist, judges="orders", min_premium=20_000)
    flow_rules.forget_flow_rules()


def stream(history: History, day: date) -> None:
    """The day's tape through the live path: the worker's batches, the closer's ticks, the judging."""
    stream_day([frame.payload.decode() for frame in history.tape(day).frames], day, list(TICKERS), BATCH_FRAMES)
    settle_orders()


def backfill_day(day: date, tickers: tuple[str, ...] = TICKERS) -> list[backfill.UnitReport | None]:
    client = backfill.backfill_client()
    plan = backfill.plan(client, list(tickers), first=day, last=day)
    assert plan.days == [day]
    return [backfill.run_unit(unit_id, client) for unit_id in backfill.record(plan)]


def test_a_backfilled_day_has_the_hits_and_orders_that_streaming_it_had(history, feed_of_day):
    day = history.days[-1]
    feed_of_day(day)
    stream(history, day)
    live_hits, live_orders = stored_hits(), stored_orders()
    assert len(live_hits) > 40 and len(live_orders) > 20  # the day has something to agree on
    assert len({row[4] for row in live_orders.values()}) >= 3  # orders of several types
    assert {row[14] for row in live_orders.values()} == {True, False}  # opening or not: volume and OI agree
    assert all(row[3] for row in live_orders.values() if row[0] == "hit")  # every hit has its insight

    on_top = backfill_day(day)  # met again, the streamed day's rows are the same rows

    assert sum(report.stored for report in on_top if report is not None) == 0
    assert (stored_hits(), stored_orders()) == (live_hits, live_orders)
    assert set(OptionTrade.objects.values_list("source", flat=True)) == {"live"}
    forget_stored()
    BackfillUnit.objects.all().delete()

    reports = backfill_day(day)  # and backfilled alone, the same rows again
    insights.describe_missing()  # as a backfill ends (no outcomes to read: a day alone has no analogs)

    assert all(report is not None for report in reports)
    assert stored_hits() == live_hits
    assert stored_orders() == live_orders
    assert set(OptionTrade.objects.values_list("source", flat=True)) == {"backfill"}
    assert not OptionTrade.objects.filter(sequence__isnull=False).exists()  # REST has no sequence numbers
    units = BackfillUnit.objects.filter(day=day)
    assert {unit.status for unit in units} == {UnitStatus.DONE}
    assert sum(unit.hits for unit in units) == len(live_hits)
    assert sum(unit.orders for unit in units) == sum(row[0] == "hit" for row in live_orders.values())
    assert all(unit.calls > unit.contracts > 0 for unit in units)


def test_a_unit_done_is_not_done_again_and_a_rerun_stores_nothing(history, feed_of_day):
    day = history.days[-1]
    feed_of_day(day)
    first = backfill_day(day, ("NVDA",))
    assert sum(report.stored for report in first if report is not None) > 0
    hits, orders_found = stored_hits(), stored_orders()

    assert backfill_day(day, ("NVDA",)) == []  # every unit done: nothing to do
    BackfillUnit.objects.update(status=UnitStatus.PENDING)  # as if it had been killed before it recorded being done
    again = backfill_day(day, ("NVDA",))

    assert [report.stored for report in again if report is not None] == [0]
    assert stored_hits() == hits and stored_orders() == orders_found
    assert all(unit.attempts == 2 for unit in BackfillUnit.objects.all())


def test_without_open_interest_history_the_day_is_judged_with_it_unknown(history, start_feed, settings):
    day = history.days[-1]
    feed = start_feed(
        source=PrebuiltSource([]),
        reference=history.as_of(day),
        history=history,
        not_entitled=frozenset({"list_open_interest"}),
    )
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, KEY

    reports = backfill_day(day)

    assert all(report is not None and "open interest history not in this plan" in report.notes[0] for report in reports)
    assert not OptionTrade.objects.exclude(open_interest=None).exists()
    assert not Order.objects.exclude(opening=None).exists()


def test_a_plan_refused_its_trades_marks_the_units_not_entitled(history, start_feed, settings):
    day = history.days[-1]
    feed = start_feed(source=PrebuiltSource([]), history=history, not_entitled=frozenset({"list_trades"}))
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, KEY
    history.universe(day)

    assert backfill_day(day) == [None] * len(TICKERS)

    units = list(BackfillUnit.objects.all())
    assert {unit.status for unit in units} == {UnitStatus.NOT_ENTITLED}
    assert "403" in units[0].error and "plan" in units[0].error
    assert backfill_day(day) == []  # final: not tried again


def test_the_plan_takes_the_trading_days_from_the_bars(history, feed_of_day):
    feed_of_day(history.days[-1])
    client = backfill.backfill_client()

    plan = backfill.plan(client, ["AAPL"], days=2, last=TODAY - timedelta(days=1))

    assert plan.days == history.days[-2:]
    assert plan.previous == {history.days[-2]: history.days[-3], history.days[-1]: history.days[-2]}
    first = backfill.plan(client, ["AAPL"], first=history.days[0], last=history.days[0])
    before = history.days[0] - timedelta(days=3 if history.days[0].weekday() == 0 else 1)
    assert first.previous == {history.days[0]: before}  # its open interest is the session before's, tape or not
    estimated = backfill.estimate_calls(client, plan)
    assert estimated.calls is not None and estimated.calls > 2 * 10


def test_history_tapes_are_the_same_every_time(history):
    again = History(history.underlyings, SEED, TODAY, days=3, prints_per_day=6_000)
    day = history.days[0]
    assert [frame.payload for frame in again.tape(day).frames] == [frame.payload for frame in history.tape(day).frames]
    first = orjson.loads(history.tape(day).frames[0].payload)[0]
    opens = datetime.fromtimestamp(session_ms(day)[0] / 1000, tz=timezone.get_current_timezone())
    assert first["t"] >= session_ms(day)[0] and first["q"] == session_ms(day)[0] * 1000, opens


def test_rate_limit_storms_and_server_errors_slow_a_backfill_down_without_failing_it(history, start_feed, settings):
    day = history.days[-1]
    as_then = history.as_of(day)
    calm = start_feed(source=PrebuiltSource([]), reference=as_then, history=history)
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = calm.rest_url, KEY
    backfill_day(day, ("NVDA",))
    undisturbed = stored_hits(), stored_orders()
    forget_stored()
    BackfillUnit.objects.all().delete()
    faults = RestFaults(server_errors=2, rate_limited=3, retry_after=1)  # five failures in a row, then calm
    stormy = start_feed(source=PrebuiltSource([]), reference=as_then, history=history, rest_faults=faults)
    settings.POLYGON_REST_URL = stormy.rest_url

    started = time.monotonic()
    reports = backfill_day(day, ("NVDA",))

    assert faults.injected == 5 and time.monotonic() - started >= 3  # Retry-After honoured, three times
    assert all(report is not None for report in reports)
    assert (stored_hits(), stored_orders()) == undisturbed
    assert {unit.status for unit in BackfillUnit.objects.all()} == {UnitStatus.DONE}


# --- Flat files -------------------------------------------------------------------------------------


def use_flat_files(settings, feed: Any, key: str = KEY) -> None:
    settings.POLYGON_FLATFILES_URL = feed.rest_url
    settings.POLYGON_FLATFILES_KEY_ID, settings.POLYGON_FLATFILES_SECRET = key, "local"


def backfill_flat_files(day: date, tickers: tuple[str, ...] = TICKERS) -> list[backfill.UnitReport | None]:
    client = backfill.backfill_client()
    plan = backfill.plan(client, list(tickers), first=day, last=day, source="flatfiles")
    published = flatfiles.etags(flatfiles.flat_files_client(), plan.days)
    return [backfill.run_unit(unit_id, client) for unit_id in backfill.record(plan, published)]


def test_a_day_from_its_flat_file_is_the_day_from_rest(history, feed_of_day, settings):
    day = history.days[-1]
    feed = feed_of_day(day)
    use_flat_files(settings, feed)
    backfill_day(day)
    over_rest = stored_hits(), stored_orders()
    rest_calls = sum(unit.calls for unit in BackfillUnit.objects.all())
    forget_stored()

    (report,) = backfill_flat_files(day)

    assert report is not None and report.etag
    assert (stored_hits(), stored_orders()) == over_rest
    assert report.calls < rest_calls / 10  # one download instead of a call per contract
    unit = BackfillUnit.objects.get(source="flatfiles")
    assert (unit.underlying, unit.tickers, unit.status) == ("", sorted(TICKERS), UnitStatus.DONE)


def test_a_republished_flat_file_is_processed_again_and_adds_nothing(history, feed_of_day, settings):
    day = history.days[-1]
    feed = feed_of_day(day)
    use_flat_files(settings, feed)
    backfill_flat_files(day, ("NVDA",))
    stored = stored_hits(), stored_orders()
    assert backfill_flat_files(day, ("NVDA",)) == []  # done, and the file is the same

    feed.flat_files.republish(day)
    (again,) = backfill_flat_files(day, ("NVDA",))

    assert again is not None and again.stored == 0
    assert (stored_hits(), stored_orders()) == stored
    unit = BackfillUnit.objects.get(source="flatfiles")
    assert unit.attempts == 2 and unit.etag == again.etag


def test_flat_files_refused_mark_the_day_not_entitled_and_say_why(history, feed_of_day, settings):
    day = history.days[-1]
    feed = feed_of_day(day)
    use_flat_files(settings, feed, key="not-the-s3-key")
    client = backfill.backfill_client()
    plan = backfill.plan(client, ["NVDA"], first=day, last=day, source="flatfiles")

    (unit_id,) = backfill.record(plan)
    assert backfill.run_unit(unit_id, client) is None

    unit = BackfillUnit.objects.get(pk=unit_id)
    assert unit.status == UnitStatus.NOT_ENTITLED
    assert "403" in unit.error and "POLYGON_FLATFILES_KEY_ID" in unit.error


# --- Outcomes ---------------------------------------------------------------------------------------


def test_backfilled_orders_get_what_the_stock_did_next_from_the_days_bars(history, start_feed, settings):
    """Days 1 and 4 of a week of history: day 1's orders are measured at every horizon, day 4's wait
    for the sessions after the history's end. Every move is the feed's own prices, recomputed."""
    with_the_market = [*history.underlyings, underlying_model("SPY", SEED)]
    week = History(with_the_market, SEED, TODAY, days=6, prints_per_day=6_000)
    feed = start_feed(source=PrebuiltSource([]), history=week, reference=week.as_of(TODAY))
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, KEY
    first, fourth = week.days[0], week.days[3]
    for day in (first, fourth):
        backfill_day(day, ("NVDA", "META"))

    report = outcomes.refresh(today=TODAY)

    directional = Order.objects.filter(state=OrderState.HIT, sentiment__in=["BULLISH", "BEARISH"])
    assert report.measured == directional.count() > 0
    models = {model.ticker: model for model in week.underlyings}
    spy = underlying_model("SPY", SEED)
    for order in directional.select_related("outcome"):
        day = new_york_date(order.first_ts_ns // 1_000_000)
        after = week.days[week.days.index(day) :]
        assert order.spot == Decimal(str(spot_on(models[order.underlying], day)))  # judged at that day's price
        found = order.outcome
        assert found.market0 == Decimal(str(spot_on(spy, day)))
        for days, move, market in (
            (0, found.move_0d, found.market_0d),
            (1, found.move_1d, found.market_1d),
            (3, found.move_3d, found.market_3d),
            (5, found.move_5d, found.market_5d),
        ):
            if days >= len(after):
                assert move is None and market is None  # that session is after the history's end: pending
                continue
            close = Decimal(str(spot_on(models[order.underlying], after[days])))
            assert move == (close / found.spot0 - 1).quantize(Decimal("0.000001"))
            assert market == (Decimal(str(spot_on(spy, after[days]))) / found.market0 - 1).quantize(Decimal("0.000001"))
        assert found.complete == (day == first)
    assert {new_york_date(order.first_ts_ns // 1_000_000) for order in directional} == {first, fourth}
    assert outcomes.refresh(today=TODAY).measured == directional.filter(outcome__complete=False).count()


def test_a_day_judged_by_some_profiles_is_judged_again_when_more_are_asked(history, feed_of_day):
    day = history.days[-1]
    feed_of_day(day)
    client = backfill.backfill_client()
    plan = backfill.plan(client, ["NVDA"], first=day, last=day)
    plan.profiles = ["mag7-smart-money"]
    for unit_id in backfill.record(plan):
        backfill.run_unit(unit_id, client)
    assert {name for row in stored_hits().values() for name in row[-1]} == {"mag7-smart-money"}
    assert stored_orders() == {}
    plan.profiles = ["mag7-smart-money"]
    assert backfill.record(plan) == []  # covered

    plan.profiles = []  # every profile now
    (unit_id,) = backfill.record(plan)
    backfill.run_unit(unit_id, client)

    everything = stored_hits(), stored_orders()
    assert {name for row in everything[0].values() for name in row[-1]} > {"mag7-smart-money"}
    assert everything[1]  # the order profiles' hits too
    assert backfill.record(plan) == []
    (again,) = backfill.record(plan, redo=True)  # a profile was edited: judged again, nothing twice
    backfill.run_unit(again, client)
    assert (stored_hits(), stored_orders()) == everything


def test_a_unit_that_keeps_failing_is_retried_then_marked_failed(monkeypatch):
    from trades import tasks

    unit = BackfillUnit.objects.create(source="rest", underlying="NVDA", day=date(2026, 11, 19))
    calls = []

    def away(unit_id: int, client: Any = None) -> None:
        calls.append(unit_id)
        raise ConnectionError("Polygon is away")

    monkeypatch.setattr(backfill, "run_unit", away)
    result = tasks.backfill_unit.apply(args=(unit.pk,)).get()

    assert result == {"failed": "Polygon is away"}
    assert len(calls) == 1 + (tasks.backfill_unit.max_retries or 0)  # retried (eagerly here), then given up
    unit.refresh_from_db()
    assert unit.status == UnitStatus.FAILED and unit.error == "ConnectionError: Polygon is away"
