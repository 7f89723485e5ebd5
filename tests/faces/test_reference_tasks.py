"""The reference tasks: names, queue, limits; beat's calls fan out per underlying; spot only while
the market is open; a failure that may pass raises for Celery's retry, one that will not does not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.conf import settings as django_settings

from flowsite.celery import app
from flowsite.redis_transport import Transport
from tests.polygon_rest import PolygonServer, contract_item, contracts_page, ok, serve_polygon, status
from trades import tasks
from trades.models import FilterProfile, OptionContract, WatchedTicker, Watchlist
from trades.polygon_rest import client as client_module
from trades.services.reference_data import ReferenceUnavailable

NY = ZoneInfo("America/New_York")
CONTRACTS = "/v3/reference/options/contracts"


@pytest.fixture
def polygon(settings, monkeypatch) -> Iterator[PolygonServer]:
    monkeypatch.setattr(client_module, "BACKOFF_FACTOR", 0.01)
    with serve_polygon(settings) as server:
        yield server


@pytest.fixture
def watching_spy_and_qqq(db) -> None:
    FilterProfile.objects.update(enabled=False)
    watchlist = Watchlist.objects.create(name="etfs")
    WatchedTicker.objects.bulk_create(WatchedTicker(watchlist=watchlist, symbol=s) for s in ["SPY", "QQQ", "*"])
    FilterProfile.objects.create(name="etfs", watchlist=watchlist)


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[str, list, dict]]:
    calls: list[tuple[str, list, dict]] = []
    for task in (tasks.refresh_contracts, tasks.refresh_open_interest, tasks.refresh_spot):
        monkeypatch.setattr(
            task, "apply_async", lambda args, task=task, **options: calls.append((task.name, args, options))
        )
    return calls


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


@pytest.mark.parametrize(
    "name",
    [
        "trades.refresh_conditions",
        "trades.refresh_contracts",
        "trades.refresh_open_interest",
        "trades.refresh_spot",
        "trades.resolve_contracts",
    ],
)
def test_reference_tasks_are_registered_routed_and_limited(name):
    task = app.tasks[name]
    assert app.amqp.router.route({}, name)["queue"].name == "reference"
    assert task.soft_time_limit is not None and task.time_limit is not None
    assert task.soft_time_limit < task.time_limit


def test_a_live_workers_lease_is_renewed_well_within_the_visibility_timeout():
    """Tasks may outlast the visibility timeout (a long chain): the lease keeps them from being
    handed out again, as long as it is renewed several times per timeout."""
    options: dict[str, Any] = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS
    with app.connection() as connection:
        assert isinstance(connection.transport, Transport)
        assert connection.as_uri().startswith("redis://")  # the scheme Flower's broker page reads
    lease, visibility = float(options["unacked_lease_interval"]), float(options["visibility_timeout"])
    assert 0 < lease * 3 <= visibility


def test_beat_schedule_names_only_registered_tasks():
    assert {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()} <= set(app.tasks)


def test_on_demand_lookups_are_rate_limited():
    assert tasks.resolve_contracts.rate_limit == django_settings.REFERENCE_ON_DEMAND_RATE


@pytest.mark.parametrize("task", [tasks.refresh_contracts, tasks.refresh_open_interest])
def test_beat_calls_fan_out_one_task_per_watched_underlying(watching_spy_and_qqq, enqueued, task):
    assert task() == {"enqueued": ["QQQ", "SPY"]}
    assert [(name, args) for name, args, _ in enqueued] == [(task.name, [["QQQ"]]), (task.name, [["SPY"]])]
    assert all(options["expires"] > 0 for _, _, options in enqueued)


def test_spot_does_nothing_outside_market_hours(watching_spy_and_qqq, enqueued, monkeypatch):
    monkeypatch.setattr(tasks.timezone, "now", lambda: at(2025, 6, 2, 16, 0))

    assert tasks.refresh_spot() == {"skipped": "market closed"}
    assert enqueued == []


def test_spot_fans_out_while_the_market_is_open_and_expires_before_the_next_beat(
    watching_spy_and_qqq, enqueued, monkeypatch
):
    monkeypatch.setattr(tasks.timezone, "now", lambda: at(2025, 6, 2, 10, 0))

    tasks.refresh_spot()

    assert [args for _, args, _ in enqueued] == [[["QQQ"]], [["SPY"]]]
    assert {options["expires"] for _, _, options in enqueued} == {django_settings.SPOT_REFRESH_SECONDS}


@pytest.mark.django_db
def test_a_network_failure_raises_for_a_retry(polygon):
    polygon.on(CONTRACTS, status(503))

    with pytest.raises(ReferenceUnavailable, match="SPY: gave up after retries"):
        tasks.refresh_contracts(["SPY"])  # called directly, Celery's autoretry re-raises


@pytest.mark.django_db
def test_a_refusal_is_reported_not_retried(polygon):
    polygon.on(CONTRACTS, status(403))

    result = tasks.refresh_contracts(["SPY"])

    assert result["failed"]["SPY"].startswith("Polygon answered 403 Forbidden")
    assert len(polygon.requests) == 1


@pytest.mark.django_db
def test_a_successful_refresh_returns_its_report(polygon):
    polygon.on(CONTRACTS, ok(contracts_page([contract_item("O:SPY251219C00600000", "SPY")])))

    assert tasks.refresh_contracts(["SPY"]) == {"kind": "contracts", "ok": ["SPY"], "failed": {}}
    assert OptionContract.objects.filter(underlying="SPY").count() == 1


@pytest.mark.django_db
def test_resolve_contracts_with_nothing_unknown_makes_no_request(polygon, watching_spy_and_qqq):
    OptionContract.objects.create(
        symbol="O:SPY251219C00600000", root="SPY", underlying="SPY", expiry="2025-12-19", right="C", strike=600
    )
    t = int(at(2025, 12, 1, 10, 0).timestamp() * 1000)
    frame = orjson.dumps([{"ev": "T", "sym": "O:SPY251219C00600000", "x": 1, "p": 1.0, "s": 1, "t": t, "q": 1}])

    result = tasks.resolve_contracts([frame.decode()], "live")

    assert result == {"resolved": {"kind": "resolve", "ok": [], "failed": {}}, "ingest": None}
    assert polygon.requests == []
