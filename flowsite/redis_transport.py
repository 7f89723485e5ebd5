# The kombu stubs describe neither the Redis channel's internals (_in_poll, _brpop_read, _connparams,
# connection_errors ...) nor the poller's, which this module extends.
# mypy: disable-error-code="attr-defined, misc"
"""kombu's Redis transport with three changes for flowsite's workers.

Registered under kombu's ``redis`` and ``rediss`` schemes by flowsite/celery.py, so every
``redis://`` connection uses it; its options are the broker options in settings.py.

1. A worker survives a Redis restart (kombu 5.7.0). When the worker notices the lost connection
   on another socket than its BRPOP one (the pidbox's pub/sub, say), its consumer channel still
   has a BRPOP pending, and with a prefetch above 1 it also holds unacknowledged messages. Celery
   then calls ``Connection.collect()`` and ``Connection.close()``; in the first,
   ``Channel.close`` stops at the very start, reading the pending BRPOP reply from the dead
   socket, before the channel is marked closed; ``Connection._do_close_transport`` then sets the
   transport's ``client`` to None. The second call closes the channel for real: it drops the
   channel's connection pools, then restores its unacknowledged messages, which needs a new pool,
   and ``Channel._connparams`` reads ``self.connection.client.hostname`` from None. The
   AttributeError is not a connection error, so Celery's ``ignore_errors`` lets it through and the
   worker stops ("Unrecoverable error"). Here the dead BRPOP read no longer stops ``close()``, so
   the channel is closed (and its restore attempted) while the transport still has its client;
   and a channel whose transport is gone raises a connection error, which the callers expect,
   instead of the AttributeError.

2. A message taken by BRPOP while Redis goes away is put back. kombu pops a message with BRPOP,
   then records it as unacknowledged (ZADD + HSET) in a second round trip: when that one fails
   (Redis stopped or killed in between), the message is in neither the queue nor the unacked
   hash, and is lost (about 1 message per 10 broker restarts under steady publishing, measured).
   Here the worker keeps such a message in memory and pushes it back to the head of its queue as
   soon as it can reach Redis again (at the next connection, then every ``unacked_restore_interval``).
   A message whose record did reach Redis although the reply was lost is then delivered twice
   (at least once); one popped while the worker itself dies is still lost.

3. A lease on the messages a worker holds (opt-in: transport option ``unacked_lease_interval``).
   With ack emulation, kombu records each delivered message in the ``unacked_index`` sorted set,
   scored with its delivery time, and any consumer puts back in its queue a message whose score
   is older than ``visibility_timeout``. Every ``unacked_lease_interval`` seconds a worker sets the
   score of every message it still holds to the current time (ZADD XX: a message acknowledged or
   restored meanwhile is not added back). The messages of a live worker then never reach the
   visibility timeout, however long the task or its countdown; those of a dead worker are back in
   their queue within about ``visibility_timeout + unacked_restore_interval`` seconds of its last
   refresh. Held means: delivered on one of this transport's live channels and neither acked nor
   rejected (running, reserved, waiting for its ETA/countdown or for a rate-limit token), plus the
   requests Celery still runs from an earlier connection (they are acked on their old channel).
   Not covered: a broker outage longer than the visibility timeout (every lease lapses, and the
   first worker back puts the others' messages back in their queues), an event loop blocked for
   longer than ``visibility_timeout - unacked_lease_interval``, clocks of worker hosts further
   apart than that (kombu scores with each host's own clock).
"""

from __future__ import annotations

import logging
import threading
from queue import Empty
from time import time
from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)

_LEASE_BATCH = 500  # delivery tags per ZADD

# Messages popped by BRPOP whose unacked record could not be written: [(payload, exchange, routing key)].
# Per process, as the transport and its channels are replaced at every reconnection.
_orphans: list[tuple[dict[str, Any], str, str]] = []
_orphans_lock = threading.Lock()


class QoS(kombu_redis.QoS):
    def append(self, message: Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)
        except self.channel.connection_errors:
            # Not delivered to the consumer (kombu calls it after this); keep it for requeue_orphans().
            delivery = message.delivery_info
            with _orphans_lock:
                _orphans.append((message._raw, delivery["exchange"], delivery["routing_key"]))
            logger.warning(
                "Redis went away before message %s could be recorded as unacknowledged; it will be "
                "put back in its queue on reconnection",
                (message.headers or {}).get("id", delivery_tag),
            )
            raise


class Channel(kombu_redis.Channel):
    QoS = QoS

    #: Seconds between lease refreshes (0: no lease); a transport option, see the module's docstring.
    unacked_lease_interval = 0

    from_transport_options = (*kombu_redis.Channel.from_transport_options, "unacked_lease_interval")

    def close(self) -> None:
        if self._in_poll and not self.closed:
            # kombu reads the pending BRPOP reply first and lets a connection error stop close()
            # before anything is closed (see the module's docstring). _brpop_read() has dropped the
            # socket and cleared _in_poll by now, so the close below goes on as usual.
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                logger.debug("pending BRPOP lost while closing the channel", exc_info=True)
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            # Closed with its connection: a connection error, which every caller handles
            # (kombu would raise AttributeError on None.hostname / None.client).
            raise RedisConnectionError("the channel's broker connection is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        options = connection.client.transport_options
        interval = float(options.get("unacked_lease_interval") or 0)
        if interval > 0:
            # kombu sweeps the unacked index as soon as it registers (on_poll_init): renew first the
            # requests this worker still runs from its previous connection, whose leases lapsed
            # while it was reconnecting.
            self.refresh_leases()
        super().register_with_event_loop(connection, loop)
        cycle: Any = self.cycle
        for name in ("_flowsite_lease_tref", "_flowsite_orphans_tref"):
            old = getattr(cycle, name, None)
            if old is not None:
                old.cancel()
            setattr(cycle, name, None)
        if interval > 0:
            cycle._flowsite_lease_tref = loop.call_repeatedly(interval, self.refresh_leases)
        restore_interval = options.get("unacked_restore_interval", Channel.unacked_restore_interval)
        cycle._flowsite_orphans_tref = loop.call_repeatedly(max(1, restore_interval), self.requeue_orphans)
        self.requeue_orphans()

    def requeue_orphans(self) -> int:
        """Push the messages kept by QoS.append back to the head of their queues; return how many."""
        if not _orphans:
            return 0
        cycle: Any = self.cycle
        channel = next((c for c in list(cycle._channels) if not c.closed), None)
        if channel is None:
            return 0
        with _orphans_lock:
            batch = list(_orphans)
            del _orphans[:]
        try:
            with channel.conn_or_acquire() as client, client.pipeline() as pipe:
                for payload, exchange, routing_key in batch:
                    channel._do_restore_message(payload, exchange, routing_key, pipe, leftmost=True)
                pipe.execute()
        except Exception:  # never lose them, never break a reconnection: next tick retries
            with _orphans_lock:
                _orphans[:0] = batch
            logger.warning("could not requeue %d orphaned message(s) yet, will retry", len(batch), exc_info=True)
            return 0
        logger.warning("Put %d message(s) taken while Redis went away back in their queue", len(batch))
        return len(batch)

    def refresh_leases(self) -> int:
        """Set the unacked_index score of every message this worker holds to now; return how many."""
        cycle: Any = self.cycle
        channels = [c for c in list(cycle._channels) if not c.closed and c.ack_emulation]
        if not channels:
            return 0  # no live channel, or ack emulation is off (no unacked index)
        tags: set[str] = set()
        for channel in channels:
            qos = channel._qos
            if qos is not None:
                tags.update(tag for tag in list(qos._delivered) if tag not in qos._dirty)
        tags.update(_celery_held_tags())
        if not tags:
            return 0
        now = time()
        consumer = next((c for c in channels if c.active_queues), channels[0])
        try:
            with consumer.conn_or_acquire() as client, client.pipeline(transaction=False) as pipe:
                ordered = sorted(tags)
                for start in range(0, len(ordered), _LEASE_BATCH):
                    batch = ordered[start : start + _LEASE_BATCH]
                    # The client adds global_keyprefix itself, as for kombu's own commands.
                    pipe.zadd(consumer.unacked_index_key, dict.fromkeys(batch, now), xx=True)
                pipe.execute()
        except consumer.connection_errors:
            # Connection errors must not escape a timer (the event loop would re-raise them);
            # the consumer reconnects by itself and the next tick tries again.
            logger.debug("unacked lease refresh: broker unreachable, next tick retries", exc_info=True)
            return 0
        except consumer.ResponseError:
            logger.warning("unacked lease refresh refused by Redis, next tick retries", exc_info=True)
            return 0
        return len(tags)


def _celery_held_tags() -> set[str]:
    """Delivery tags of the requests the Celery worker in this process still has to ack."""
    try:
        from celery.worker import state
    except ImportError:  # pragma: no cover - kombu without Celery
        return set()
    tags: set[str] = set()
    # scheduled_requests (ETA/countdown) is in neither of the other two sets; on a lost
    # connection Celery drops reserved and scheduled requests, and keeps the active ones.
    for request in (*state.active_requests, *state.reserved_requests, *getattr(state, "scheduled_requests", ())):
        if getattr(request, "acknowledged", False):
            continue
        tag = getattr(getattr(request, "message", None), "delivery_tag", None)
        if tag:
            tags.add(tag)
    return tags
