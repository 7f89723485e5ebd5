"""Dead letters through a real worker and broker: a batch that keeps failing, and one that kills every
worker process that takes it, end in the database (frames whole) while every other batch goes on."""

from __future__ import annotations

import orjson
import pytest
from django.core.management import call_command

from flowsite.celery import app
from tests import processes
from tests.factories import only_profile
from trades.models import DeadLetter, DeadLetterStatus, OptionTrade

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T0 = 1764948600000  # 2025-12-05 10:30 New York
ENV = {"BATCH_MAX_ATTEMPTS": "3", "CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_UNACKED_LEASE_INTERVAL": "1"}


def frames(*sequences: int, fault: str = "") -> list[str]:
    events = [
        {"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": 6.0, "s": 100, "t": T0 + q, "q": q}
        for q in sequences
    ]
    batch = [orjson.dumps(events).decode()]
    return [*batch, f'[{{"ev":"status","status":"info","message":"FAULT:{fault}"}}]'] if fault else batch


def publish(batch: list[str]) -> str:
    return app.send_task("trades.ingest_batch", args=[batch], kwargs={"source": "live"}, queue="ingest").id


@pytest.fixture(autouse=True)
def big_aapl_prints():
    only_profile("big", ["AAPL"], min_premium=50_000)


def sequences() -> list[int]:
    return sorted(sequence for sequence in OptionTrade.objects.values_list("sequence", flat=True) if sequence)


@pytest.mark.parametrize(("fault", "error"), [("raise", "RuntimeError: an injected bug"), ("exit", "Redelivered")])
def test_a_poison_batch_is_kept_whole_and_the_others_go_on(tmp_path, fault, error):
    worker = processes.start_worker(tmp_path / "worker.log", env=ENV, app="tests.faulty_app")
    try:
        poison = frames(1, 2, fault=fault)
        task_id = publish(poison)
        publish(frames(3))
        publish(frames(4))
        processes.wait_for(
            lambda: DeadLetter.objects.filter(task_id=task_id, status=DeadLetterStatus.DEAD).exists(),
            60,
            "the poison batch to become a dead letter",
        )
        processes.wait_for(lambda: sequences() == [3, 4], 30, "the other batches")
        processes.wait_for(processes.ingest_queue_idle, 30, "the ingest queue to drain")
        assert worker.poll() is None, "the worker died"
    finally:
        processes.stop(worker)
    letter = DeadLetter.objects.get(task_id=task_id)
    assert (letter.frames, letter.attempts, letter.source) == (poison, 3, "live")
    assert letter.error.startswith(error)
    call_command("deadletters", "replay", "--all")  # in this process: the bug is fixed here
    assert sequences() == [1, 2, 3, 4]
