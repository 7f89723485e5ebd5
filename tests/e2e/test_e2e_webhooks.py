"""Webhooks for real: Celery workers (with beat's sweeper) deliver hits to a receiver on 127.0.0.1.

Receiver down, then up: every hit arrives once per (endpoint, trade), counted by webhook-id,
and a retry carries the id of the first try. A worker killed with SIGKILL while its delivery
is in flight does not lose it.
"""

from __future__ import annotations

import signal
import time

import orjson
import pytest

from flowsite.celery import app
from tests import processes
from trades.models import DeliveryStatus, FilterProfile, WatchedTicker, Watchlist, WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T0 = 1764948600000  # 2025-12-05 10:30 New York
QUEUES = "ingest,webhooks"


def hits(*sequences: int) -> list[str]:
    events = [
        {"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": 6.0, "s": 100, "t": T0 + q, "q": q}
        for q in sequences
    ]
    return [orjson.dumps(events).decode()]


@pytest.fixture
def endpoints(receiver):
    FilterProfile.objects.all().delete()
    watchlist = Watchlist.objects.create(name="aapl")
    WatchedTicker.objects.create(watchlist=watchlist, symbol="AAPL")
    FilterProfile.objects.create(name="big", watchlist=watchlist, min_premium=50_000)
    for name in ["desk", "backup"]:
        WebhookEndpoint.objects.create(name=name, url=receiver.url, secret=receiver.secret, allow_private=True)


def publish(frames: list[str]) -> None:
    app.send_task("trades.ingest_batch", args=[frames], kwargs={"source": "replay"}, queue="ingest")


def test_receiver_down_then_up_every_hit_arrives_once_per_endpoint(receiver, endpoints, tmp_path):
    up = False
    receiver.answer = lambda n: (200, {}, b"ok") if up else (503, {}, b"down")
    worker = processes.start_worker(tmp_path / "worker.log", queues=QUEUES)
    try:
        publish(hits(1, 2, 3))
        processes.wait_for(lambda: len(receiver.requests) >= 6, 30, "the first tries (2 endpoints × 3 hits)")
        first_tries = {request.webhook_id for request in receiver.requests}
        up = True
        processes.wait_for(lambda: len(receiver.ids_answered(200)) >= 6, 60, "the retries to get through")
        time.sleep(1)  # anything sent twice would arrive now
    finally:
        processes.stop(worker)

    delivered = receiver.ids_answered(200)
    assert len(delivered) == len(set(delivered)) == 6  # once per (endpoint, trade)
    assert set(delivered) == first_tries  # each retry carried the first try's webhook-id
    assert set(delivered) == set(WebhookDelivery.objects.values_list("webhook_id", flat=True))
    assert all(request.signature_ok for request in receiver.requests)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 6


def test_a_worker_killed_during_a_delivery_does_not_lose_it(receiver, endpoints, tmp_path):
    """The first try is made by the worker that stored the hit (it takes no webhooks tasks); killed
    mid-send, its delivery's lease runs out and another worker's sweeper sends it."""
    WebhookEndpoint.objects.filter(name="backup").delete()
    receiver.hang_seconds = lambda n: 30.0 if n == 0 else 0.0  # the first try never gets its answer
    env = {
        "WEBHOOK_CONNECT_TIMEOUT": "1",
        "WEBHOOK_READ_TIMEOUT": "5",
        "WEBHOOK_LEASE_SECONDS": "8",  # longer than an attempt may take: shorter leases go through the queue
        "WEBHOOK_SWEEP_SECONDS": "1",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_LEASE_INTERVAL": "1",
    }
    first = processes.start_worker(tmp_path / "first.log", queues="ingest", env=env)
    try:
        publish(hits(1))
        processes.wait_for(lambda: receiver.requests, 30, "the delivery to be in flight")
    finally:
        processes.stop(first, signal.SIGKILL)
    (in_flight,) = WebhookDelivery.objects.all()
    assert in_flight.status == DeliveryStatus.SENDING  # killed mid-send: nothing recorded yet

    second = processes.start_worker(tmp_path / "second.log", queues=QUEUES, env=env, beat=True)
    try:
        processes.wait_for(lambda: receiver.ids_answered(200), 60, "the delivery to be sent again")
        # Recorded after the answer: wait for it rather than race the worker's shutdown.
        processes.wait_for(lambda: delivery_status(in_flight) == DeliveryStatus.DELIVERED, 30, "it to be recorded")
    finally:
        processes.stop(second)
    assert receiver.ids_answered(200) == [in_flight.webhook_id]
    in_flight.refresh_from_db()
    assert in_flight.status == DeliveryStatus.DELIVERED


def delivery_status(delivery: WebhookDelivery) -> str:
    delivery.refresh_from_db()
    return delivery.status
