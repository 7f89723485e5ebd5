"""A hit's first webhook attempt, made by the process that stored it right after the commit, on
its own threads (services/first_attempts.py): no worker on the webhooks queue is needed for it,
and whatever it cannot do at once goes to that queue. Real receiver, PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from tests.broker import TaskQueue
from tests.processes import wait_for
from tests.receiver import Receiver
from trades import queues
from trades.models import (
    DeliveryStatus,
    FilterProfile,
    OptionTrade,
    WatchedTicker,
    Watchlist,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from trades.selectors import flow_rules
from trades.selectors.serializers import serialize_trade
from trades.services.first_attempts import FIRST_ATTEMPTS
from trades.services.ingest import ingest_frames

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1764948600000  # 2025-12-05 10:30 New York


def hits(count: int) -> list[str]:
    events = [
        {"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": 6.0, "s": 100, "c": [209], "t": T0 + q, "q": q}
        for q in range(1, count + 1)
    ]
    return [orjson.dumps(events).decode()]


@pytest.fixture
def desk(receiver: Receiver) -> Iterator[WebhookEndpoint]:
    """One profile (AAPL from $50,000: every hit below), one endpoint."""
    FilterProfile.objects.all().delete()
    watchlist = Watchlist.objects.create(name="aapl")
    WatchedTicker.objects.create(watchlist=watchlist, symbol="AAPL")
    FilterProfile.objects.create(name="big", watchlist=watchlist, min_premium=50_000)
    flow_rules.forget_flow_rules()
    yield WebhookEndpoint.objects.create(name="desk", url=receiver.url, secret=receiver.secret, allow_private=True)  # type: ignore[attr-defined]
    flow_rules.forget_flow_rules()


@pytest.fixture
def webhooks_queue() -> Iterator[TaskQueue]:
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        queue = TaskQueue(conn, queues.WEBHOOKS)
        queue.purge()
        yield queue


def queued_deliveries(queue: TaskQueue) -> list[int]:
    return sorted(args[0] for task, args in queue.drain() if task == queues.DELIVER_WEBHOOK)


def statuses() -> list[str]:
    return list(WebhookDelivery.objects.order_by("pk").values_list("status", flat=True))


def test_a_hits_first_attempt_needs_no_webhooks_worker(receiver, desk, webhooks_queue):
    ingest_frames(hits(2))

    wait_for(lambda: statuses() == [DeliveryStatus.DELIVERED] * 2, 10, "both deliveries to be recorded")
    assert len(receiver.requests) == 2 and all(request.signature_ok for request in receiver.requests)
    assert WebhookAttempt.objects.count() == 2
    assert OptionTrade.objects.filter(alerted_at__isnull=False).count() == 2  # the latency's last step
    assert queued_deliveries(webhooks_queue) == []
    # Sent from the rows as the worker stored them, not read again: the same as the API shows.
    for trade in OptionTrade.objects.all():
        trade.alerted_at = None  # sent before it was alerted
        as_sent = next(
            request.json()["data"]
            for request in receiver.requests
            if request.json()["data"]["sequence"] == trade.sequence
        )
        assert as_sent == orjson.loads(orjson.dumps(serialize_trade(trade)))


def test_a_failed_first_attempt_is_retried_through_the_webhooks_queue(receiver, desk, webhooks_queue):
    receiver.answer = lambda n: (503, {}, b"busy")
    ingest_frames(hits(1))

    wait_for(lambda: WebhookAttempt.objects.exists() and statuses() == [DeliveryStatus.PENDING], 10, "the attempt")
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.lease_until is None
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now()
    assert queued_deliveries(webhooks_queue) == [delivery.pk]  # with its countdown


def test_what_the_threads_have_no_room_for_goes_to_the_webhooks_queue(receiver, desk, webhooks_queue, settings):
    settings.WEBHOOK_FIRST_ATTEMPT_THREADS = 1  # room for 3: one sending, two waiting
    receiver.hang_seconds = lambda n: 1.0
    ingest_frames(hits(5))

    queued = queued_deliveries(webhooks_queue)
    pending = list(WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).values_list("pk", flat=True))
    assert len(queued) == 2 and sorted(pending) == queued and not WebhookAttempt.objects.filter(delivery__in=queued)
    wait_for(lambda: len(receiver.ids_answered(200)) == 3, 20, "the three taken to be sent")
    FIRST_ATTEMPTS.stop()
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 3


def test_a_lease_too_short_for_an_attempt_leaves_it_to_the_webhooks_queue(receiver, desk, webhooks_queue, settings):
    settings.WEBHOOK_LEASE_SECONDS = 10  # an attempt may take 15 s (5 to connect, 10 to read)
    ingest_frames(hits(1))

    wait_for(lambda: statuses() == [DeliveryStatus.PENDING], 10, "the delivery to be given up")
    FIRST_ATTEMPTS.stop()
    assert queued_deliveries(webhooks_queue) == [WebhookDelivery.objects.get().pk]
    assert receiver.requests == []


def test_the_threads_database_connections_end_with_them(receiver, desk):
    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]

    before = sessions()
    ingest_frames(hits(3))
    wait_for(lambda: statuses() == [DeliveryStatus.DELIVERED] * 3, 10, "the deliveries")
    assert sessions() > before  # the threads' own
    FIRST_ATTEMPTS.stop()
    wait_for(lambda: sessions() == before, 5, "the threads' connections to close")
