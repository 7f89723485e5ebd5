"""A tape with a sweep replayed end to end: the local feed, `manage.py stream`, a real Celery worker
with beat, PostgreSQL. A $1M sweep of twenty $50K prints is one order hit under a $500K profile that
judges orders, while a $100K profile that judges prints sees only the one print above $100K."""

import signal
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from flowsite.celery import app
from tests import processes
from tests.factories import frame, only_profile
from tests.order_helpers import a_million_dollar_sweep
from trades import queues
from trades.feed.server import FeedServer
from trades.feed.tape import read_tape
from trades.models import FilterProfile, KeptPrint, OptionTrade, Order, OrderState, PrintBatch

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "e2e-orders-key"
TAPE = Path(__file__).resolve().parents[1] / "tapes" / "orders.tape"


def order_hits() -> list[tuple]:
    return list(Order.objects.filter(state=OrderState.HIT).values_list("type", "premium", "prints", "size"))


def test_a_replayed_sweep_is_one_order_hit_and_prints_are_judged_as_before(tmp_path):
    orders = only_profile("big-orders", ["NVDA"], judges="orders", min_premium=Decimal(500_000))
    FilterProfile.objects.create(name="per-print-100k", watchlist=orders.watchlist, min_premium=Decimal(100_000))
    feed = FeedServer(api_key=KEY, source=read_tape(TAPE), close_when_done=True)
    host, port = feed.start_in_thread(host="127.0.0.1", port=0)
    feed_env = {"POLYGON_REST_URL": f"http://{host}:{port}", "POLYGON_API_KEY": KEY}  # a tape has no quotes
    worker = processes.start_worker(tmp_path / "worker.log", queues="ingest,orders,reference", beat=True, env=feed_env)
    try:
        stream = subprocess.run(
            processes.manage("stream", "--once", "--source", "replay"),
            cwd=processes.ROOT,
            env=processes.process_env(POLYGON_WS_URL=f"ws://{host}:{port}", POLYGON_API_KEY=KEY),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert stream.returncode == 0, stream.stdout + stream.stderr
        # The tape ends; beat's tick carries the watermark on and closes the sweep's order.
        processes.eventually(lambda: order_hits(), timeout=30)
    finally:
        processes.stop(worker)
        feed.stop()

    assert order_hits() == [("SWEEP", Decimal("1000000.00"), 20, 2_000)]
    (sweep,) = Order.objects.filter(state=OrderState.HIT)
    assert (sweep.aggressor, sweep.source, sweep.iso) == ("UNKNOWN", "replay", True)
    assert KeptPrint.objects.filter(order_id=sweep.order_id).count() == 20
    # The profile that judges prints, as before: the $150K print and the $600K block, none of the
    # sweep's $50K prints (and, as before, a later cancel does not take a print hit back).
    assert sorted(OptionTrade.objects.values_list("premium", flat=True)) == [Decimal("150000.00"), Decimal("600000.00")]
    # The $600K block was cancelled: no order of it. Its print is stored (as cancelled) only if its
    # order closed, and became a candidate, before the cancel came: the replay's pace decides.
    assert list(KeptPrint.objects.filter(sequence=3000).values_list("cancelled", flat=True)) in ([], [True])
    assert not Order.objects.filter(symbol="O:NVDA251219P00140000", state=OrderState.HIT).exists()
    worker_log = (tmp_path / "worker.log").read_text()
    assert "💰 Smart Money: SWEEP O:NVDA251219C00150000 $1,000,000 premium, 14 DTE, side unknown [big-orders]" in (
        worker_log
    )


def test_the_closer_killed_mid_sweep_and_a_new_one_started_stores_the_sweep_once(tmp_path):
    """The closer's book is only a cache of the log: a closer SIGKILLed after it took the first half
    of a sweep, and a new one started, builds its book from the consumed batches and stores the
    sweep as one order of twenty prints (a new book of the second half alone would make another)."""
    only_profile("big-orders", ["NVDA"], judges="orders", min_premium=Decimal(500_000))
    # Side UNKNOWN (no feed to ask); the killed closer's ticks come back within seconds, so that it
    # leaves nothing unacknowledged behind for the next test.
    no_quotes = {"POLYGON_API_KEY": "", "CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_UNACKED_LEASE_INTERVAL": "1"}
    sweep = a_million_dollar_sweep()
    worker = processes.start_worker(tmp_path / "worker.log", queues="ingest,reference", env=no_quotes)
    first = processes.start_worker(tmp_path / "closer-1.log", queues=queues.ORDERS, beat=True, env=no_quotes)
    second = None
    try:
        app.send_task(queues.INGEST_BATCH, args=[[frame(*sweep[:10])]], queue=queues.INGEST)
        processes.wait_for(lambda: PrintBatch.objects.filter(consumed=True).exists(), 30, "the closer to take it")
        processes.stop(first, signal.SIGKILL)
        app.send_task(queues.INGEST_BATCH, args=[[frame(*sweep[10:])]], queue=queues.INGEST)
        second = processes.start_worker(tmp_path / "closer-2.log", queues=queues.ORDERS, beat=True, env=no_quotes)
        processes.wait_for(lambda: order_hits() == [("SWEEP", Decimal("1000000.00"), 20, 2_000)], 60, "the sweep")
        processes.wait_for(processes.nothing_unacknowledged, 30, "the killed closer's ticks to come back")
    finally:
        for process in (worker, first, second):
            if process is not None:
                processes.stop(process)

    assert "Built the order book from 10 logged prints" in (tmp_path / "closer-2.log").read_text()
    assert Order.objects.filter(state=OrderState.HIT).count() == 1
    assert KeptPrint.objects.filter(order_id=Order.objects.get(state=OrderState.HIT).order_id).count() == 20
