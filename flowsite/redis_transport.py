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

2. A message is taken from its queue and recorded as unacknowledged in one step. kombu pops a
   message with BRPOP, then records it (ZADD + HSET) in a second round trip: a worker killed, or a
   Redis gone, between the two loses the message, which is then in neither the queue nor the
   unacked hash (measured: 1 red run in 10 of the chaos suite's SIGKILL scenario). Here a Lua script
   pops the message and records it at once (_POP_AND_RECORD), so a message is always in one of the
   two places: in the hash, kombu's visibility sweep puts it back once its lease runs out. A script
   cannot block, so the worker waits on a doorbell: every publish and every restore pushes a token
   on the queue's doorbell list (``<queue>\x06\x16doorbell``) beside the message, and a worker with
   nothing to take blocks with BRPOP on its queues' doorbells, then runs the script. A message
   without a doorbell (a producer on plain kombu, a worker killed between the two steps) is taken
   at the latest when the wait times out (``brpop_timeout``, 1 s). Tokens and messages stay
   balanced: a pop takes the message's token too, unless the token just woke it.

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
from queue import Empty
from time import monotonic, time
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.json import loads
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)

_LEASE_BATCH = 500  # delivery tags per ZADD
DOORBELL = "doorbell"
_POP, _WAIT = "pop", "wait"

# KEYS: the unacked hash, the unacked index, one doorbell per queue, then the queues' lists in
# kombu's BRPOP order (by priority, then queue). ARGV: now, "1" to take a doorbell with the
# message, the number of queues, then "1" per queue whose messages are to be recorded (not no_ack).
# Returns {queue number, message, its tag if recorded} or nil. Nothing after the RPOP may fail (Redis does not roll a
# script back): a message whose tag cannot be read is returned unrecorded, as BRPOP would.
_POP_AND_RECORD = """
local queues = tonumber(ARGV[3])
local first = 3 + queues
for key = first, #KEYS do
  local item = redis.call('RPOP', KEYS[key])
  if item then
    local queue = (key - first) % queues + 1
    if ARGV[2] == '1' then redis.call('RPOP', KEYS[2 + queue]) end
    if ARGV[3 + queue] == '1' then
      local ok, tag, exchange, routing_key = pcall(function()
        local properties = cjson.decode(item)['properties']
        local info = properties['delivery_info']
        return properties['delivery_tag'], cjson.encode(info['exchange']), cjson.encode(info['routing_key'])
      end)
      if ok and type(tag) == 'string' then
        redis.call('ZADD', KEYS[2], ARGV[1], tag)
        redis.call('HSET', KEYS[1], tag, '[' .. item .. ',' .. exchange .. ',' .. routing_key .. ']')
      else
        tag = false
      end
      return {queue, item, tag}
    end
    return {queue, item, false}
  end
end
return false
"""

# Delivery tags the script recorded and QoS.append has not seen yet (one event loop per process).
_recorded: set[str] = set()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class QoS(kombu_redis.QoS):
    def append(self, message: Any, delivery_tag: str) -> None:
        if delivery_tag in _recorded:  # recorded with its pop: only the in-memory bookkeeping is left
            _recorded.discard(delivery_tag)
            virtual.QoS.append(self, message, delivery_tag)
        else:
            super().append(message, delivery_tag)


class Channel(kombu_redis.Channel):
    QoS = QoS

    #: Seconds between lease refreshes (0: no lease); a transport option, see the module's docstring.
    unacked_lease_interval = 0

    from_transport_options = (*kombu_redis.Channel.from_transport_options, "unacked_lease_interval")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._no_ack_queues: set[str] = set()
        self._in_flight: tuple[str, list[str]] = (_POP, [])
        self._next = _POP  # what _brpop_start sends: the pop script, or a wait on the doorbells
        self._woken = False  # the last wait took a doorbell: the next pop takes none
        super().__init__(*args, **kwargs)

    def basic_consume(self, queue: str, *args: Any, **kwargs: Any) -> Any:
        no_ack = kwargs.get("no_ack", args[0] if args else False)
        (self._no_ack_queues.add if no_ack else self._no_ack_queues.discard)(queue)
        return super().basic_consume(queue, *args, **kwargs)

    def _doorbell(self, queue: str) -> str:
        return f"{queue}{self.sep}{DOORBELL}"

    def _pop_command(self, queues: list[str], take_doorbell: bool, record: set[str]) -> list[Any]:
        data = [self._q_for_pri(queue, pri) for pri in self.priority_steps for queue in queues]
        keys = [self.unacked_key, self.unacked_index_key, *map(self._doorbell, queues), *data]
        prefix = self.global_keyprefix or ""
        flags = ["1" if self.ack_emulation and queue in record else "0" for queue in queues]
        args = [time(), "1" if take_doorbell else "0", len(queues), *flags]
        return ["EVAL", _POP_AND_RECORD, len(keys), *(prefix + key for key in keys), *args]

    def _brpop_start(self, timeout: float | None = None) -> None:
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        if self._next == _WAIT:
            wait = timeout if timeout is not None else self.brpop_timeout
            command = ["BRPOP", *map(self._doorbell, queues), wait or 0]
            if self.global_keyprefix:
                command = self.client._prefix_args(command)
        else:
            record = set(queues) - self._no_ack_queues
            command = self._pop_command(queues, take_doorbell=not self._woken, record=record)
        self._in_flight = (self._next, queues)
        self._in_poll = self.client.connection
        self._brpop_sent_at = monotonic()
        self.client.connection.send_command(*command)

    def _brpop_read(self, **options: Any) -> bool:
        kind, queues = self._in_flight
        try:
            try:
                reply = self.client.parse_response(
                    self.client.connection, "BRPOP" if kind == _WAIT else "EVAL", **options
                )
            except self.connection_errors:
                # As kombu: disconnect, so that the next poll reconnects.
                self.client.connection.disconnect()
                raise
            if kind == _WAIT:  # a doorbell rang or the wait timed out: pop next
                self._next, self._woken = _POP, bool(reply)
                raise Empty()
            self._woken = False
            if not reply:
                self._next = _WAIT
                raise Empty()
            number, item, tag = reply
            if tag:
                _recorded.add(_text(tag))
            queue = queues[int(number) - 1]
            self._queue_cycle.rotate(queue)
            self.connection._deliver(loads(item), queue)
            return True
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        record = set() if no_ack else {queue}
        with self.conn_or_acquire() as client:
            reply = client.execute_command(*self._pop_command([queue], take_doorbell=True, record=record))
        if not reply:
            return None
        _number, item, tag = reply
        message = self.Message(loads(item), channel=self)
        if not no_ack:
            if tag:
                _recorded.add(_text(tag))
            self.qos.append(message, str(message.delivery_tag))
        return message

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        """kombu's, then the queue's doorbell (after the message: a woken worker finds it)."""
        publish_batch = kwargs.get("_publish_batch")
        super()._put(queue, message, **kwargs)
        if publish_batch is not None:
            publish_batch.add("lpush", self._doorbell(queue), 1)
            return
        with self.conn_or_acquire() as client:
            client.lpush(self._doorbell(queue), 1)

    def _do_restore_message(
        self, payload: dict[str, Any], exchange: str, routing_key: str, pipe: Any, leftmost: bool = False
    ) -> None:
        """kombu's, plus a doorbell for each queue the message goes back to."""
        super()._do_restore_message(payload, exchange, routing_key, pipe, leftmost)
        try:
            for queue in self._lookup(exchange, routing_key):
                pipe.lpush(self._doorbell(queue), 1)
        except self.connection_errors:
            raise
        except Exception:  # as kombu: the message itself is back; a missing doorbell delays it by a wait
            logger.exception("could not ring the doorbell of a restored message")

    def _purge(self, queue: str) -> int:
        with self.conn_or_acquire() as client:
            client.delete(self._doorbell(queue))
        return int(super()._purge(queue))

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        super()._delete(queue, *args, **kwargs)
        with self.conn_or_acquire(client=kwargs.get("client")) as client:
            client.delete(self._doorbell(queue))

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
        old = getattr(cycle, "_flowsite_lease_tref", None)
        if old is not None:
            old.cancel()
        cycle._flowsite_lease_tref = loop.call_repeatedly(interval, self.refresh_leases) if interval > 0 else None

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
