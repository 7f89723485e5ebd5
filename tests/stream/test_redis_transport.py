"""flowsite/redis_transport.py against the real Redis: the crash kombu 5.7.0 has on a Redis restart,
a message taken and recorded in one step (woken by doorbells), and the lease that keeps a live
worker's batches its own."""

from __future__ import annotations

import contextlib
import json
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


def unacked(connection: Connection) -> dict[Any, Any]:
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    return redis.Redis.from_url(settings.CELERY_BROKER_URL).hgetall(f"{prefix}unacked")


def drain_until(connection: Connection, received: list[Any]) -> None:
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            connection.drain_events(timeout=1)


def test_a_worker_killed_right_after_taking_a_message_leaves_it_recorded(connection: Connection, queue) -> None:
    """kombu took it with BRPOP and recorded it in a second round trip: a worker killed in between
    lost it (in neither the queue nor the unacked hash). Taken here, it is already recorded, and
    kombu's visibility sweep brings it back."""
    producer = connection.Producer()
    producer.publish({"n": 1}, exchange=queue.exchange, routing_key=QUEUE, declare=[queue])
    channel: Any = connection.channel()
    channel.basic_consume(QUEUE, no_ack=False, callback=lambda message: None, consumer_tag="t")
    channel.client.connection = channel.client.connection_pool.get_connection()  # as the poller does
    channel._brpop_start()  # the pop goes out; the worker dies before it reads the reply
    channel.client.connection.disconnect()
    time.sleep(0.2)  # Redis has run the script by now
    held = unacked(connection)
    assert depth(connection) == 0 and len(held) == 1
    payload, exchange, routing_key = json.loads(next(iter(held.values())))
    assert (exchange, routing_key) == (QUEUE, QUEUE)
    assert channel.Message(payload, channel=channel).decode() == {"n": 1}

    channel.qos.visibility_timeout = 0  # the lease has run out
    channel.qos.restore_visible(num=10, interval=1)
    assert depth(connection) == 1 and unacked(connection) == {}


def test_a_waiting_worker_is_woken_by_the_doorbell(connection: Connection, queue) -> None:
    """A consumer waiting on the doorbells takes a message published meanwhile well before its wait
    would time out (a 60 s wait against a 10 s drain: without the doorbell it would time out)."""
    received: list[Any] = []
    consumer_channel: Any = connection.channel()
    consumer_channel.brpop_timeout = 60
    consumer = connection.Consumer(
        queue, channel=consumer_channel, callbacks=[lambda body, message: received.append(body)]
    )
    with consumer:
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.5)  # nothing there yet: the worker now waits on the doorbells
        assert consumer_channel._next == "wait"
        connection.Producer(connection.channel()).publish({"n": 2}, exchange=queue.exchange, routing_key=QUEUE)
        drain_until(connection, received)
    assert received == [{"n": 2}]


def test_a_message_without_a_doorbell_is_taken_when_the_wait_times_out(connection: Connection, queue) -> None:
    """Published by plain kombu (or left by a worker killed between its two steps): no doorbell."""
    producer = connection.Producer()
    producer.publish({"n": 3}, exchange=queue.exchange, routing_key=QUEUE, declare=[queue])
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(f"{prefix}{QUEUE}\x06\x16doorbell")
    channel: Any = connection.channel()
    channel._next = "wait"  # as after an empty pop
    received: list[Any] = []

    def take(body: Any, message: Any) -> None:
        received.append(body)
        message.ack()

    with connection.Consumer(queue, channel=channel, callbacks=[take]):
        drain_until(connection, received)
    assert received == [{"n": 3}] and unacked(connection) == {}


def test_doorbells_stay_balanced_with_the_messages(connection: Connection, queue) -> None:
    producer = connection.Producer()
    for n in range(5):
        producer.publish({"n": n}, exchange=queue.exchange, routing_key=QUEUE, declare=[queue])
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert client.llen(f"{prefix}{QUEUE}\x06\x16doorbell") == 5
    channel: Any = connection.channel()
    bound = Queue(QUEUE, Exchange(QUEUE), QUEUE)(channel)
    taken: list[Any] = [bound.get(no_ack=False), bound.get(no_ack=True)]
    assert client.llen(f"{prefix}{QUEUE}\x06\x16doorbell") == 3 and len(unacked(connection)) == 1  # no_ack: unrecorded
    taken[0].ack()
    assert unacked(connection) == {}
    assert bound.purge() == 3 and client.llen(f"{prefix}{QUEUE}\x06\x16doorbell") == 0


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
