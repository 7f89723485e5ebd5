"""``manage.py backfill`` with real Celery workers on the backfill queue, over the local feed's
history: killed (SIGKILL, worker and command alike) while units run, then run again, it ends with
exactly the rows of an uninterrupted run; a further run does nothing."""

from __future__ import annotations

import signal
import subprocess
from datetime import date

import pytest

from tests import processes
from tests.backfill_helpers import forget_stored, stored_hits, stored_orders
from tests.factories import only_profile
from tests.feed_helpers import KEY
from trades.feed.history import History
from trades.feed.market import underlying_model
from trades.feed.source import PrebuiltSource
from trades.models import BackfillUnit, FilterProfile, UnitStatus
from trades.selectors import flow_rules
from trades.services import backfill

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TICKERS = ("NVDA", "META")
SEED = 9
TODAY = date(2026, 11, 20)
# Seconds before an unacknowledged message is handed out again; a live worker renews its lease every second.
FAST_REDELIVERY = {"CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_UNACKED_LEASE_INTERVAL": "1"}


@pytest.fixture
def profiles():
    """Profiles of their own (a transactional test's database holds no presets after another's flush)."""
    watchlist = only_profile("big-prints", list(TICKERS), min_premium=50_000, max_dte=30).watchlist
    FilterProfile.objects.create(name="big-orders", watchlist=watchlist, judges="orders", min_premium=100_000)
    flow_rules.forget_flow_rules()


@pytest.fixture
def history_feed(start_feed, settings, profiles):
    history = History([underlying_model(ticker, SEED) for ticker in TICKERS], SEED, TODAY, days=3, prints_per_day=5_000)
    feed = start_feed(source=PrebuiltSource([]), history=history, reference=history.as_of(TODAY))
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, KEY
    flow_rules.forget_flow_rules()
    yield history, {"POLYGON_REST_URL": feed.rest_url, "POLYGON_API_KEY": KEY, **FAST_REDELIVERY}
    flow_rules.forget_flow_rules()


def command(history: History, log, env: dict[str, str]) -> subprocess.Popen:
    first, last = history.days[0].isoformat(), history.days[-1].isoformat()
    args = processes.manage("backfill", "--from", first, "--to", last, "--tickers", ",".join(TICKERS))
    return processes.start(args, log, **env)


def units_done() -> int:
    return BackfillUnit.objects.filter(status=UnitStatus.DONE).count()


def test_a_backfill_killed_and_run_again_ends_with_the_rows_of_an_uninterrupted_one(history_feed, tmp_path):
    history, env = history_feed
    client = backfill.backfill_client()
    plan = backfill.plan(client, list(TICKERS), first=history.days[0], last=history.days[-1])
    for unit_id in backfill.record(plan):  # the uninterrupted run, in this process
        backfill.run_unit(unit_id, client)
    backfill.finish(client)  # as the command ends a run
    uninterrupted = stored_hits(), stored_orders()
    assert len(uninterrupted[0]) > 20 and len(uninterrupted[1]) >= 3
    forget_stored()
    BackfillUnit.objects.all().delete()

    worker = processes.start_worker(tmp_path / "worker.log", queues="backfill", env=env)
    started = command(history, tmp_path / "first.log", env)
    try:
        processes.wait_for(lambda: units_done() >= 2, 60, "two units done")
        processes.wait_for(
            lambda: BackfillUnit.objects.filter(status=UnitStatus.RUNNING).exists(), 30, "a unit running"
        )
    finally:
        processes.stop(worker, signal.SIGKILL)
        processes.stop(started, signal.SIGKILL)
    interrupted = units_done()
    assert 0 < interrupted < len(plan.units), "the kill came after every unit was done"

    second = processes.start_worker(tmp_path / "worker-2.log", queues="backfill", env=env)
    try:
        again = command(history, tmp_path / "second.log", env)
        assert again.wait(timeout=180) == 0, (tmp_path / "second.log").read_text()
        assert (stored_hits(), stored_orders()) == uninterrupted
        assert units_done() == len(plan.units)

        third = command(history, tmp_path / "third.log", env)
        assert third.wait(timeout=60) == 0
        assert f"{len(plan.units)} units done before; 0 to do" in (tmp_path / "third.log").read_text()
        assert (stored_hits(), stored_orders()) == uninterrupted
    finally:
        processes.stop(second)
