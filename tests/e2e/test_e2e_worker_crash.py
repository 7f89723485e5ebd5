"""A Celery worker killed with SIGKILL mid-batch loses nothing, and a batch delivered twice stores once."""

from __future__ import annotations

import signal
import time

import orjson
import pytest

from flowsite.celery import app
from tests import processes
from trades.models import FilterProfile, OptionTrade, WatchedTicker, Watchlist

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T0 = 1764948600000  # 2025-12-05 10:30 New York
HIT_SEQUENCES = [1, 5_000, 9_999, 15_000, 19_999]  # spread over the whole batch
# tests/faulty_app.py: a batch holding this frame takes 3 s longer, so the kill lands inside it.
SLOW_FRAME = '[{"ev":"status","status":"info","message":"FAULT:slow"}]'
# Seconds before an unacknowledged message is handed out again; a live worker renews its lease every second.
FAST_REDELIVERY = {"CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_UNACKED_LEASE_INTERVAL": "1"}


def big_batch(trades: int = 20_000, per_frame: int = 1000) -> list[str]:
    """Many small AAPL prints (judged, not stored) with five $60K hits among them; slow to run."""
    frames = [SLOW_FRAME]
    for start in range(0, trades, per_frame):
        events = []
        for q in range(start, start + per_frame):
            price = 6.0 if q in HIT_SEQUENCES else 0.5
            events.append({"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": price, "s": 100, "t": T0, "q": q})
        frames.append(orjson.dumps(events).decode())
    return frames


def publish(frames: list[str]) -> str:
    return app.send_task("trades.ingest_batch", args=[frames], kwargs={"source": "replay"}, queue="ingest").id


@pytest.fixture
def smart_money_profile():
    FilterProfile.objects.all().delete()
    watchlist = Watchlist.objects.create(name="aapl")
    WatchedTicker.objects.create(watchlist=watchlist, symbol="AAPL")
    FilterProfile.objects.create(name="big", watchlist=watchlist, min_premium=50_000, max_dte=30)


def stored_sequences() -> list[int | None]:
    return list(OptionTrade.objects.order_by("sequence").values_list("sequence", flat=True))


def test_a_worker_killed_mid_batch_loses_nothing(smart_money_profile, tmp_path):
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = processes.start_worker(first_log, env=FAST_REDELIVERY, app="tests.faulty_app")
    try:
        task_id = publish(big_batch())
        processes.wait_for(lambda: f"[{task_id}] received" in first_log.read_text(), 30, "the worker to take the batch")
        time.sleep(0.4)  # well inside the batch (3 s)
    finally:
        processes.stop(first, signal.SIGKILL)
    assert f"[{task_id}] succeeded" not in first_log.read_text(), "the kill came after the batch finished"
    assert stored_sequences() == []  # the batch's transaction never committed

    second = processes.start_worker(second_log, env=FAST_REDELIVERY)
    try:
        processes.wait_for(lambda: f"[{task_id}] succeeded" in second_log.read_text(), 60, "the batch's redelivery")
        assert stored_sequences() == HIT_SEQUENCES

        again = publish(big_batch(trades=2000))  # hits #1 only, already stored
        processes.wait_for(lambda: f"[{again}] succeeded" in second_log.read_text(), 30, "the duplicate batch")
        assert stored_sequences() == HIT_SEQUENCES
    finally:
        processes.stop(second)
