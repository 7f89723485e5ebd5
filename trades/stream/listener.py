"""The supervisor: one Polygon connection at a time, reconnecting with backoff.

Every reconnect goes through `supervise()`, which alone owns the backoff and the tally of an
outage (since when, how many attempts failed, why): `WebSocketClient.connect` returns on a clean
close and, with `max_reconnects=0`, raises on an error close; a connection *attempt* that fails
(refused, DNS, timeout, HTTP status) would be retried inside websockets' own loop, so
`hand_back_failed_attempt` ends `connect()` with it instead. Each connection gets a fresh
client: a reused one would not resubscribe.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
import sys
import threading
import time
from collections.abc import Generator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from polygon import WebSocketClient
from polygon.exceptions import AuthError

from trades.domain.formatting import duration, plural
from trades.selectors.stream_status import read_kept_for_later, read_last_event_ms
from trades.selectors.subscriptions import FIREHOSE, enabled_channels
from trades.services.stream_status import record_gap, write_status
from trades.stream.backoff import Backoff
from trades.stream.config import ClientOptions
from trades.stream.frames import StatusEvent, count_trades, may_hold_status, status_events, trade_time_range
from trades.stream.lock import ListenerLock, LockUnavailable
from trades.stream.outage import describe_error, describe_status
from trades.stream.publisher import BatchPublisher
from trades.stream.stats import RateLimit, StatsReporter, StreamStats
from trades.stream.status import StatusRecorder

logger = logging.getLogger(__name__)

# A connection that lived this long was healthy: the next failure starts backoff afresh.
STABLE_CONNECTION_SECONDS = 60.0
CLOSE_TIMEOUT_SECONDS = 3.0
ERROR_STATUSES = {"max_connections", "error", "force_disconnect", "auth_timeout", "auth_failed"}
WARNING_STATUSES = {"slow_consumer"}


class ListenerLockHeld(RuntimeError):
    pass


class Outcome(enum.Enum):
    CLOSED = "closed"  # the server closed cleanly
    FAILED = "failed"
    AUTH_FAILED = "auth_failed"
    STOPPED = "stopped"  # we were asked to stop


@dataclass(frozen=True)
class Ending:
    """How one connect_once() ended."""

    outcome: Outcome
    error: str = ""  # why, in the operator's words
    uptime: float | None = None  # seconds it was connected; None: it never was (a failed attempt)


class AttemptFailed(Exception):
    """A failed connection attempt, handed back from inside websockets' retry loop; its
    `__cause__` is the attempt's error."""


def hand_back_failed_attempt() -> Generator[float, None, None]:
    """websockets' `reconnect_delays`. websockets 17 calls it while it handles a failed attempt, to
    ask how long to wait before retrying; raising ends `connect()` with that attempt's error instead.
    (polygon's `connect` makes every error retryable and takes no `process_exception` of ours.)"""
    raise AttemptFailed from sys.exc_info()[1]


def read_enabled_channels() -> list[str]:
    # Runs in a worker thread that lives on: drop a broken or expired connection first.
    close_old_connections()
    return enabled_channels()


def log_status(event: StatusEvent) -> None:
    subscribed = event.message.removeprefix("subscribed to: ")
    unsubscribed = event.message.removeprefix("unsubscribed to: ")
    if event.status == "success" and subscribed != event.message:
        logger.info("📡 Subscribed to %s", subscribed)
    elif event.status == "success" and unsubscribed != event.message:
        logger.info("📡 Unsubscribed from %s", unsubscribed)
    elif event.status in ERROR_STATUSES:
        logger.error("❌ Polygon status %s: %s", event.status, event.message)
    elif event.status in WARNING_STATUSES:
        logger.warning("⚠️ Polygon status %s: %s", event.status, event.message)
    else:
        logger.info("📡 Polygon status %s: %s", event.status, event.message)


class Listener:
    def __init__(
        self,
        *,
        options: ClientOptions,
        publisher: BatchPublisher,
        lock: ListenerLock,
        stats: StreamStats,
        channels: list[str] | None = None,
        once: bool = False,
        refresh_seconds: float = 5.0,
        stats_seconds: float = 5.0,
        flush_timeout_seconds: float = 10.0,
        backoff: Backoff | None = None,
        write_status_row: bool = False,
        track_gaps: bool = False,
    ) -> None:
        self.options = options
        self.publisher = publisher
        self.lock = lock
        self.stats = stats
        self.fixed_channels = channels  # --channels: the database is not consulted
        self.once = once
        self.refresh_seconds = refresh_seconds
        self.stats_seconds = stats_seconds
        self.flush_timeout_seconds = flush_timeout_seconds
        self.backoff = backoff or Backoff()
        self.channels: set[str] = set(channels or [])
        self.client: WebSocketClient | None = None
        self.exit_code = 0
        self.exit_reason = ""
        self._authenticated_websocket: object = None
        self._connected_at = 0.0  # monotonic, set on each connection
        self._error_status: StatusEvent | None = None  # the last error status on this connection
        self._stop = asyncio.Event()
        self._reporter = StatsReporter(stats)
        # The StreamStatus row (admin, /healthz): written from a thread, never on the loop.
        self.write_status_row = write_status_row
        self.status = StatusRecorder(stats, url=options.url)
        self._status_writing = False
        self._status_again = False
        self._status_tasks: set[asyncio.Task[None]] = set()
        # Gaps (live only): the newest trade time seen, and the windows to record for a REST fill.
        self.track_gaps = track_gaps
        self.last_event_ms: int | None = None
        self._last_trades_frame: str | None = None  # folded into last_event_ms when needed
        self._awaiting_first_trade = False
        self._gaps: list[tuple[int, int]] = []
        self._lock_held = False
        self._started_at = timezone.now()
        self._lock_warning = RateLimit(30.0)

    @classmethod
    def from_settings(
        cls,
        options: ClientOptions,
        *,
        publisher: BatchPublisher,
        lock: ListenerLock,
        stats: StreamStats,
        channels: list[str] | None = None,
        once: bool = False,
        track_gaps: bool = False,
    ) -> Listener:
        return cls(
            options=options,
            publisher=publisher,
            lock=lock,
            stats=stats,
            channels=channels,
            once=once,
            refresh_seconds=settings.STREAM_SUBSCRIPTION_REFRESH_SECONDS,
            stats_seconds=settings.STREAM_STATS_SECONDS,
            flush_timeout_seconds=settings.STREAM_FLUSH_TIMEOUT_SECONDS,
            backoff=Backoff(cap=settings.STREAM_RECONNECT_MAX_SECONDS),
            write_status_row=True,
            track_gaps=track_gaps,
        )

    # --- the whole life -------------------------------------------------------------------

    def run(self) -> int:
        """Hold the lock, listen until stopped, flush, release. Returns the exit code."""
        if self.track_gaps and self.write_status_row:
            self.last_event_ms = read_last_event_ms()  # a restart fills the gap since the last run
        self.publisher.start()
        try:
            asyncio.run(self.supervise())
        finally:
            self.flush()
            if self._lock_held:  # else another listener owns the status row
                self.write_final_status()
                self.lock.release()
        return self.exit_code

    async def acquire_lock(self) -> bool:
        """Take the listener lock, waiting (with backoff) while its store is unreachable; False if
        asked to stop meanwhile. Raises ListenerLockHeld when another listener holds it."""
        backoff = Backoff(base=0.5, cap=10.0)
        while not self._stop.is_set():
            try:
                acquired = await asyncio.to_thread(self.lock.acquire)
            except LockUnavailable as exc:
                delay = backoff.next_delay()
                if self._lock_warning.ready():
                    logger.warning("⏳ Waiting for the listener lock's store: %s (retrying)", exc)
                with suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                continue
            if not acquired:
                raise ListenerLockHeld(
                    f"Another stream listener is running (it holds the {self.lock.description}); "
                    "Polygon allows one connection per account, so this one exits."
                )
            self._lock_held = True
            logger.info("🔒 Listener lock held (%s)", self.lock.description)
            return True
        return False

    async def supervise(self) -> None:
        self._install_signal_handlers()
        try:
            if not await self.acquire_lock():
                return
        except BaseException:
            self._remove_signal_handlers()
            raise
        background = [asyncio.create_task(self.report_stats_forever())]
        if self.fixed_channels is None:
            background.append(asyncio.create_task(self.refresh_subscriptions_forever()))
        if self.lock.renew_every_seconds:
            background.append(asyncio.create_task(self.renew_lock_forever(self.lock.renew_every_seconds)))
        try:
            await self.write_status()
            if self.fixed_channels is None:
                await self.refresh_subscriptions()
            while not self._stop.is_set():
                ending = await self.connect_once()
                if ending.outcome is Outcome.AUTH_FAILED:
                    self.report_auth_failure(ending)
                if ending.outcome is Outcome.CLOSED and self.once:
                    logger.info("The server closed the connection; --once: stopping")
                    break
                if self._stop.is_set():
                    break
                if ending.uptime is not None and ending.uptime >= STABLE_CONNECTION_SECONDS:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                self.report_down(ending, delay)
                await self.pause_before_reconnect(delay)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            self.status.note_disconnected()
            await asyncio.gather(*self._status_tasks, return_exceptions=True)
            self._remove_signal_handlers()

    def flush(self) -> None:
        buffered = self.publisher.trades_buffered
        if buffered:
            logger.info("Flushing %d buffered trades to the broker", buffered)
        if not self.publisher.stop(self.flush_timeout_seconds):
            logger.error("❌ Could not flush everything: %d trades left unpublished", self.publisher.trades_buffered)
            self.fail("could not flush to the broker")
        logger.info(
            "👋 Listener stopped: %d messages (%d trades) published, %d trades dropped",
            self.stats.messages_published,
            self.stats.trades_published,
            self.stats.trades_dropped,
        )

    def request_stop(self) -> None:
        if not self._stop.is_set():
            logger.info("🛑 Stopping: closing the connection, then flushing")
        self._stop.set()

    def fail(self, reason: str) -> None:
        self.exit_code = 1
        self.exit_reason = self.exit_reason or reason
        self._stop.set()

    # --- one connection -----------------------------------------------------------------------

    async def connect_once(self) -> Ending:
        channels = sorted(self.channels or {FIREHOSE})
        client = self.client = self.options.build_client(channels)
        outage = self.status.current_outage()
        level = logging.DEBUG if outage.failed_attempts else logging.INFO  # the stats line tells the rest
        logger.log(level, "🔌 Connecting to %s (channels: %s)", self.options.url, ", ".join(channels))
        outage.note_attempt()
        self._error_status = None
        connection = asyncio.create_task(client.connect(self.on_frame, reconnect_delays=hand_back_failed_attempt))
        stop_requested = asyncio.create_task(self._stop.wait())
        await asyncio.wait({connection, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        stop_requested.cancel()
        try:
            outcome, error = await self.finish_connection(client, connection)
        finally:
            uptime = await self.end_connection()
        return Ending(outcome, error, uptime)

    async def end_connection(self) -> float | None:
        """Note that the live connection ended; how long it was up (None: it never came up)."""
        if not self.status.connected:
            return None
        uptime = time.monotonic() - self._connected_at
        self.status.note_disconnected()
        await self.write_status()
        return uptime

    async def finish_connection(self, client: WebSocketClient, connection: asyncio.Task[None]) -> tuple[Outcome, str]:
        """How the connection ended, and why in words."""
        if not connection.done():
            await self.close_client(client, connection)
            return Outcome.STOPPED, ""
        try:
            connection.result()
        except AttemptFailed as exc:
            return Outcome.FAILED, self.describe_failure(exc.__cause__ or exc)
        except AuthError as exc:
            return Outcome.AUTH_FAILED, self.describe_failure(exc)
        except Exception as exc:
            return Outcome.FAILED, self.describe_failure(exc)
        return Outcome.CLOSED, self.describe_failure(None)

    def describe_failure(self, exc: BaseException | None) -> str:
        text = describe_error(exc, self.options.url) if exc else f"{self.options.url} closed the connection cleanly"
        if self._error_status is not None:
            text += f", after {describe_status(self._error_status.status, self._error_status.message)}"
        return text

    def report_down(self, ending: Ending, next_try_in: float) -> None:
        """Tell the operator once per outage (and again if the reason changes); the stats line
        repeats the state every STREAM_STATS_SECONDS."""
        outage = self.status.current_outage()
        wait = duration(next_try_in)
        if ending.uptime is not None:
            outage.note_lost(ending.error, next_try_in)
            lived = duration(ending.uptime)
            logger.warning("⚠️ stream: connection lost after %s up: %s — reconnecting in %s", lived, ending.error, wait)
        elif outage.note_failed_attempt(ending.error, next_try_in):
            logger.warning(
                "⚠️ stream: could not connect: %s — next try in %s (waits grow to %s at most)",
                ending.error,
                wait,
                duration(self.backoff.cap),
            )
        else:
            logger.debug("stream: attempt %d failed: %s — next try in %s", outage.failed_attempts, ending.error, wait)

    def report_auth_failure(self, ending: Ending) -> None:
        # The key is read once at start: retrying could not help, so stop and say what to fix.
        self.status.current_outage().note_failed_attempt(ending.error, None)
        logger.error("❌ stream: could not connect: %s. Not retrying: the key is read at start.", ending.error)
        self.fail("authentication failed: check POLYGON_API_KEY")

    async def close_client(self, client: WebSocketClient, connection: asyncio.Task[None]) -> None:
        if client.websocket is None:  # still connecting: nothing to close or to wait for
            connection.cancel()
            await asyncio.gather(connection, return_exceptions=True)
            return
        with suppress(Exception):
            await asyncio.wait_for(client.close(), CLOSE_TIMEOUT_SECONDS)
        # Closing makes connect() return; if it was between attempts, cancel it. The server may have
        # dropped us meanwhile: however the connection ended, we are stopping.
        try:
            await asyncio.wait_for(asyncio.shield(connection), CLOSE_TIMEOUT_SECONDS)
        except TimeoutError:
            pass
        except Exception as exc:
            logger.info("The connection ended while closing: %s: %s", type(exc).__name__, exc)
        connection.cancel()
        await asyncio.gather(connection, return_exceptions=True)

    async def pause_before_reconnect(self, delay: float) -> None:
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    async def on_frame(self, message: str | bytes) -> None:
        """The client's processor: runs inside the receive loop, so only cheap work here."""
        frame = message.decode() if isinstance(message, bytes) else message
        self.note_connection()
        self.status.note_frame()
        self.stats.frames_received += 1
        trades = count_trades(frame)
        self.stats.trades_received += trades
        if may_hold_status(frame):
            self.handle_statuses(frame)
            if not trades:
                return
        if self._awaiting_first_trade:
            self.note_first_trades(frame)
        self._last_trades_frame = frame
        self.publisher.offer(frame, trades)

    def note_connection(self) -> None:
        # Raw mode hides auth_success (the client consumes it); a first frame proves it.
        websocket = self.client.websocket if self.client else None
        if websocket is not self._authenticated_websocket:
            self._authenticated_websocket = websocket
            self.stats.connections += 1
            logger.info("✅ Authenticated successfully!")
            self.note_connected()
            self.fold_last_event()  # the previous connection's last trade
            self._awaiting_first_trade = self.track_gaps
            self.write_status_soon()

    def note_connected(self) -> None:
        outage = self.status.outage
        self.status.note_connected(self.options.url)
        self._connected_at = time.monotonic()
        if outage is not None and outage.went_wrong():
            attempts = f" ({plural(outage.failed_attempts, 'failed attempt')})" if outage.failed_attempts else ""
            logger.info("🔗 stream: connected after %s down%s", duration(outage.duration()), attempts)

    # --- gaps ---------------------------------------------------------------------------------

    def fold_last_event(self) -> int | None:
        """The newest trade time seen so far (parsing the last frame with trades, once)."""
        if self._last_trades_frame is not None:
            times = trade_time_range(self._last_trades_frame)
            self._last_trades_frame = None
            if times is not None and (self.last_event_ms is None or times[1] > self.last_event_ms):
                self.last_event_ms = times[1]
        return self.last_event_ms

    def note_first_trades(self, frame: str) -> None:
        """The first trades after a (re)connect: what was sent since the last one seen is a gap."""
        times = trade_time_range(frame)
        if times is None:
            return  # no readable trade time: the next frame tells
        self._awaiting_first_trade = False
        before, first = self.last_event_ms, times[0]
        if before is None or first < before:
            return  # nothing seen before, or no time passed between the two
        self._gaps.append((before, first))
        self.stats.gaps += 1
        seconds = (first - before) / 1000
        logger.warning("🕳️ Missed trades between %d and %d (%.1f s): asking REST for them", before, first, seconds)
        self.write_status_soon()

    async def record_gaps(self) -> None:
        """Write the gaps noted so far (from a thread); one that fails stays for the next write."""
        while self._gaps:
            started, ended = self._gaps[0]
            try:
                await asyncio.to_thread(record_gap, started, ended)
            except Exception as exc:
                logger.warning("Could not record the gap %d–%d yet: %s: %s", started, ended, type(exc).__name__, exc)
                return
            self._gaps.pop(0)

    def handle_statuses(self, frame: str) -> None:
        for event in status_events(frame):
            self.stats.recent_statuses.append(event)
            self.status.note_status(event)
            if event.status in ERROR_STATUSES:
                self._error_status = event  # part of the reason if the connection ends
            log_status(event)

    # --- background tasks ----------------------------------------------------------------------

    async def refresh_subscriptions_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            await self.refresh_subscriptions()

    async def refresh_subscriptions(self) -> None:
        try:
            channels = await asyncio.to_thread(read_enabled_channels)
        except Exception as exc:
            logger.warning("Could not read subscriptions (keeping %s): %s", sorted(self.channels) or [FIREHOSE], exc)
            return
        self.apply_channels(channels)

    def apply_channels(self, channels: list[str]) -> None:
        """Subscribe the live connection to exactly `channels`; the client applies it within ~1 s.

        Runs on the client's loop. We state the whole set rather than calling subscribe()/
        unsubscribe(): their wildcard rule (unsubscribing T.* drops every T.… channel) would
        also drop explicit channels we still want.
        """
        desired = set(channels)
        if desired == self.channels:
            return
        if self.channels:
            added, removed = sorted(desired - self.channels), sorted(self.channels - desired)
            logger.info("📡 Subscriptions changed: +%s -%s", added or "[]", removed or "[]")
        self.channels = desired
        if self.client is not None:
            self.client.scheduled_subs = set(desired)
            self.client.schedule_resub = True

    async def report_stats_forever(self) -> None:
        while True:
            await asyncio.sleep(self.stats_seconds)
            if self.write_status_row:
                with suppress(Exception):  # a database that is away is reported by the status write
                    kept = await asyncio.to_thread(read_kept_for_later, self._started_at)
                    self.stats.dead_letters, self.stats.gap_hits_recovered = kept
            line = self._reporter.report(self.publisher.trades_buffered)  # moves the rate window on
            if self.status.connected:
                logger.info(line)
            else:
                logger.warning("📊 stream: %s", self.status.current_outage().describe())
            self.status.update_rates()
            await self.write_status()

    # --- the status row -----------------------------------------------------------------------

    async def write_status(self) -> None:
        """Write the StreamStatus row from a thread. One write at a time; a request made while one
        is under way is folded into one more write afterwards, so the row ends with the latest state.
        A database failure is logged: the listener carries on."""
        if not self.write_status_row:
            return
        if self._status_writing:
            self._status_again = True
            return
        self._status_writing = True
        try:
            again = True
            while again:
                self._status_again = False
                try:
                    await asyncio.to_thread(write_status, self.status_snapshot())
                except Exception as exc:
                    logger.warning("Could not write the stream status: %s: %s", type(exc).__name__, exc)
                await self.record_gaps()
                again = self._status_again
        finally:
            self._status_writing = False

    def write_final_status(self) -> None:
        """After the flush, with the event loop gone: the row's last word (disconnected, what is left,
        the newest trade time for the next run's gap)."""
        if not self.write_status_row:
            return
        try:
            write_status(self.status_snapshot())
        except Exception as exc:
            logger.warning("Could not write the stream status: %s: %s", type(exc).__name__, exc)
        for started, ended in self._gaps:
            try:
                record_gap(started, ended)
            except Exception as exc:
                logger.warning("Could not record the gap %d–%d: %s: %s", started, ended, type(exc).__name__, exc)

    def status_snapshot(self) -> dict[str, Any]:
        snapshot = self.status.snapshot(
            subscriptions=sorted(self.channels or {FIREHOSE}), trades_buffered=self.publisher.trades_buffered
        )
        if self.track_gaps and self.fold_last_event() is not None:
            snapshot["last_event_ms"] = self.last_event_ms
        return snapshot

    def write_status_soon(self) -> None:
        """From the receive loop: write the status in the background, never waiting for it here."""
        if not self.write_status_row:
            return
        task = asyncio.get_running_loop().create_task(self.write_status())
        self._status_tasks.add(task)
        task.add_done_callback(self._status_tasks.discard)

    async def renew_lock_forever(self, every_seconds: float) -> None:
        while True:
            await asyncio.sleep(every_seconds)
            if not await asyncio.to_thread(self.lock.renew):
                logger.error("❌ Lost the listener lock (%s): another listener holds it", self.lock.description)
                self.fail("lost the listener lock")

    # --- signals ----------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.request_stop)

    def _remove_signal_handlers(self) -> None:
        """Stopping: a second SIGTERM must not cut the flush short (it is bounded anyway). Ignore
        it at once: `timeout` and process-group kills send two, and between the loop's handler and
        a later SIG_IGN the default action would kill us."""
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
