"""flowsite/redis_transport.py against the real Redis: the crash kombu 5.7.0 has on a Redis restart,
messages taken while Redis went away, and the lease that keeps a live worker's batches its own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from kombu import Connection, Exchange, Queue
from redis.exceptions import ConnectionError as RedisConnectionError

from flowsite import redis_transport
from flowsite.celery import app
from tests import processes

QUEUE = "transport-test"


@pytest.fixture
def connection() -> Iterator[Connection]:
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS}
    with Connection(settings.CELERY_BROKER_URL, transport=redis_transport.Transport, transport_options=options) as conn:
        yield conn


@pytest.fixture
def queue(connection: Connection) -> Iterator[Queue]:
    bound = Queue(QUEUE, Exchange(QUEUE), QUEUE)(connection.default_channel)
    bound.declare()
    bound.purge()
    yield bound
    bound.purge()


def depth(connection: Connection) -> int:
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    return int(redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(f"{prefix}{QUEUE}"))


def test_a_channel_whose_connection_is_gone_raises_a_connection_error(connection: Connection) -> None:
    """kombu raised AttributeError ('NoneType' object has no attribute 'hostname'), which Celery does
    not ignore: the worker stopped with "Unrecoverable error"."""
    channel: Any = connection.channel()
    channel.connection.client = None  # what kombu's _do_close_transport leaves behind
    with pytest.raises(RedisConnectionError):
        channel._connparams()
    assert RedisConnectionError in connection.connection_errors or any(
        issubclass(RedisConnectionError, error) for error in connection.connection_errors
    )


def test_a_dead_pending_brpop_does_not_stop_the_close_nor_lose_the_unacked(connection: Connection, queue) -> None:
    producer = connection.Producer()
    producer.publish({"n": 1}, exchange=queue.exchange, routing_key=QUEUE, declare=[queue])
    channel: Any = connection.channel()
    message = Queue(QUEUE, Exchange(QUEUE), QUEUE)(channel).get(no_ack=False)
    assert message is not None and depth(connection) == 0  # delivered, not acknowledged

    def dead_socket() -> None:
        channel._in_poll = False
        raise RedisConnectionError("Connection closed by server.")

    channel._in_poll = True  # a BRPOP was pending when Redis went away
    channel._brpop_read = dead_socket
    channel.close()

    assert channel.closed
    assert depth(connection) == 1  # its unacknowledged message went back to the queue


def test_a_message_taken_while_redis_went_away_goes_back_on_reconnection(connection: Connection, queue) -> None:
    """BRPOP took it, then Redis died before kombu recorded it as unacknowledged: it was in neither place."""
    producer = connection.Producer()
    producer.publish({"n": 1}, exchange=queue.exchange, routing_key=QUEUE, declare=[queue])
    channel = connection.channel()
    original = redis_transport.kombu_redis.QoS.append

    def redis_gone(self, message, delivery_tag):
        raise RedisConnectionError("Connection closed by server.")

    redis_transport.kombu_redis.QoS.append = redis_gone  # type: ignore[method-assign]
    try:
        with pytest.raises(RedisConnectionError):
            Queue(QUEUE, Exchange(QUEUE), QUEUE)(channel).get(no_ack=False)
    finally:
        redis_transport.kombu_redis.QoS.append = original  # type: ignore[method-assign]
    assert depth(connection) == 0 and len(redis_transport._orphans) == 1
    transport: Any = connection.transport
    assert transport.requeue_orphans() == 1
    assert depth(connection) == 1 and redis_transport._orphans == []


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_live_worker_keeps_a_batch_that_outlasts_the_visibility_timeout(tmp_path) -> None:
    """Without the lease, a second worker got the batch after the visibility timeout and ran it again."""
    env = {"CELERY_VISIBILITY_TIMEOUT": "2", "CELERY_UNACKED_LEASE_INTERVAL": "0.5"}
    first = processes.start_worker(tmp_path / "first.log", env=env, app="tests.faulty_app")
    try:
        frames = ['[{"ev":"status","status":"info","message":"FAULT:slow"}]']  # 3 s: longer than 2 s
        task_id = app.send_task("trades.ingest_batch", args=[frames], queue="ingest").id
        processes.wait_for(lambda: f"[{task_id}] received" in (tmp_path / "first.log").read_text(), 30, "the batch")
        second = processes.start_worker(tmp_path / "second.log", env=env, app="tests.faulty_app")
        try:
            processes.wait_for(lambda: f"[{task_id}] succeeded" in (tmp_path / "first.log").read_text(), 30, "it")
            time.sleep(4)  # visibility + restore interval: a second delivery would have come by now
        finally:
            processes.stop(second)
    finally:
        processes.stop(first)
    logs = (tmp_path / "first.log").read_text() + (tmp_path / "second.log").read_text()
    assert logs.count(f"[{task_id}] received") == 1
