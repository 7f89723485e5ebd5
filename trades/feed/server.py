"""The local feed's server: Polygon's options stream protocol over any Source, and Polygon's REST
API (trades/feed/rest.py) over a Reference, on the same port.

Runs as the main loop of ``manage.py feed`` or in a thread of its own (tests, the benchmark).
Plain HTTP requests (no WebSocket upgrade) are answered in websockets' ``process_request`` hook,
before any handshake: the WebSocket path is untouched.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from trades.feed.flatfiles import FlatFiles
from trades.feed.history import History
from trades.feed.protocol import (
    AUTH_FAILED,
    AUTH_SUCCESS,
    AUTH_TIMEOUT,
    CONNECTED,
    MAX_CONNECTIONS,
    ProtocolError,
    Subscriptions,
    error_frame,
    handle_control,
    parse_control,
)
from trades.feed.quotes import QuoteBook
from trades.feed.rest import RestApi, RestFaults
from trades.feed.source import Frame, Source, limit_trades
from trades.feed.synthetic import SyntheticFlow
from trades.feed.tape import Tape
from trades.feed.timeline import Timeline
from trades.feed.trade_log import DEFAULT_CAPACITY, TradeLog
from trades.feed.universe import Reference, SyntheticReference, Universe

log = logging.getLogger("trades.feed")

DEFAULT_API_KEY = "flowsite-local"
# Refusals (wrong key, no auth, wrong market, kicked by a newer connection) close with 1008: an
# error close, so the polygon client reconnects as it would against Polygon.
REFUSED = CloseCode.POLICY_VIOLATION
FAULT = CloseCode.INTERNAL_ERROR
# Injected disconnects: a clean close, a dropped TCP connection with no close frame, a server error.
DISCONNECT_CODES = (CloseCode.NORMAL_CLOSURE, CloseCode.ABNORMAL_CLOSURE, CloseCode.INTERNAL_ERROR)
# Bigger than websockets' default (32 KiB): fewer waits for the socket when blasting frames.
WRITE_LIMIT = 1024 * 1024
# Seconds to wait for a client's answer to our close frame before dropping the TCP connection
# (a client that raised AuthError never answers).
CLOSE_TIMEOUT = 1.0


@dataclass
class FeedStats:
    connections: int = 0  # WebSocket connections accepted
    authenticated: int = 0
    open: int = 0  # connections open now
    kicked: int = 0  # older connections closed because of max_connections
    frames_sent: int = 0
    trades_sent: int = 0
    rest_requests: int = 0  # plain HTTP requests answered by the REST side
    disconnects: int = 0  # connections dropped by fault injection
    trades_skipped: int = 0  # trades of gaps: in the trade log, never sent


@dataclass(eq=False)
class FeedConnection:
    number: int
    ws: ServerConnection
    subscriptions: Subscriptions = field(default_factory=Subscriptions)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    streamer: asyncio.Task[None] | None = None
    trades_sent: int = 0


class Pacer:
    """Paces frames to ``rate`` trades per second by sleeping before each frame; 0 is no limit."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.started: float | None = None
        self.trades = 0

    async def wait(self, trades: int) -> None:
        if self.rate <= 0:
            await asyncio.sleep(0)  # let other connections and control messages through
            return
        now = time.monotonic()
        if self.started is None:
            self.started = now
        due = self.started + self.trades / self.rate
        self.trades += trades
        await asyncio.sleep(max(0.0, due - now))


class FeedServer:
    def __init__(
        self,
        *,
        source: Source,
        api_key: str = DEFAULT_API_KEY,
        rate: float = 0.0,
        frame_size: int = 100,
        trades: int | None = None,
        close_when_done: bool = False,
        max_connections: int | None = 1,
        disconnect_after: int | None = None,
        disconnect_code: int = FAULT,
        disconnects: int = 1,
        gap_trades: int | None = None,
        auth_timeout: float = 5.0,
        market: str = "options",
        reference: Reference | None = None,
        record_trades: bool = True,
        trade_log_capacity: int = DEFAULT_CAPACITY,
        history: History | None = None,
        not_entitled: frozenset[str] = frozenset(),
        rest_faults: RestFaults | None = None,
        on_sent: Callable[[Frame], None] | None = None,
    ) -> None:
        """A Polygon-protocol feed of ``source``, and Polygon's REST API over ``reference``
        (None: no contracts; conditions and exchanges still answer) and over the trade log.

        rate: trades per second (0 = as fast as possible); trades: stop the stream after this
        many (each connection's, or the live timeline's); close_when_done: close with 1000 when
        the stream ends (else stay open); max_connections: per key, a newer connection kicks the
        oldest (None = no limit).

        Fault injection: disconnect_after: drop a streaming connection after this many trades,
        with disconnect_code (1000 a clean close, 1006 the TCP connection dropped with no close
        frame, 1011 a server error), for each of the first ``disconnects`` streaming connections.

        gap_trades: None (the default): every connection replays the source from its start.
        A number: connections share one live timeline, and after each injected disconnect at
        least that many trades (whole frames) go by unsent, in the trade log only; the next
        connection continues after them. A live timeline serves one connection at a time.

        record_trades: keep a trade log of what the timeline emits, at most
        ``trade_log_capacity`` trades (the oldest go first), for /v3/trades and the snapshots.

        /v3/quotes serves the synthetic flow's quotes when the source is one, or the reference
        lists one's contracts (pre-built frames); a tape has no quotes.

        history: past trading days served over REST (trades, contracts as of a day, open interest
        per session, bars); not_entitled: REST endpoints (RestApi method names) that answer 403;
        rest_faults: 429s and 503s the REST side answers first.

        on_sent: called with each frame once it is sent (the latency benchmark notes the time).
        """
        check_fault_injection(disconnect_code, disconnects, gap_trades, max_connections)
        self.source = source
        self.api_key = api_key
        self.rate = rate
        self.frame_size = frame_size
        self.trades = trades
        self.close_when_done = close_when_done
        self.max_connections = max_connections
        self.disconnect_after = disconnect_after
        self.disconnect_code = disconnect_code
        self.disconnects = disconnects
        self.gap_trades = gap_trades
        self.auth_timeout = auth_timeout
        self.market = market
        self.reference: Reference = reference if reference is not None else Universe()
        self.trade_log = TradeLog(trade_log_capacity) if record_trades else None
        # A tape's log is its whole day: a contract it never printed did not trade.
        self.rest = RestApi(
            self.reference,
            api_key,
            self.trade_log,
            log_is_complete=isinstance(source, Tape),
            quotes=quote_book(source, self.reference),
            history=history,
            not_entitled=not_entitled,
            faults=rest_faults,
        )
        # Polygon's flat files of the history's days, S3-style under /flatfiles (the API key is the S3 key).
        self.flat_files = FlatFiles(history, api_key) if history is not None else None
        self.stats = FeedStats()
        self.on_sent = on_sent
        self.address: tuple[str, int] | None = None
        self._admitted: list[FeedConnection] = []  # authenticated and open, oldest first
        self._disconnects_left = disconnects if disconnect_after is not None else 0
        self._live = self._timeline() if gap_trades is not None else None
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def ws_url(self) -> str:
        """What POLYGON_WS_URL should be set to (the client appends /options)."""
        if self.address is None:
            raise RuntimeError("the feed is not running")
        return f"ws://{self.address[0]}:{self.address[1]}"

    @property
    def rest_url(self) -> str:
        """What POLYGON_REST_URL should be set to (RESTClient's ``base``)."""
        if self.address is None:
            raise RuntimeError("the feed is not running")
        return f"http://{self.address[0]}:{self.address[1]}"

    # --- Running -----------------------------------------------------------------------

    async def run(self, host: str = "127.0.0.1", port: int = 8765, ready: Callable[[], None] | None = None) -> None:
        """Serve until request_stop() or stop(); ``ready`` is called once the port is bound."""
        self._loop = asyncio.get_running_loop()
        async with serve(
            self._handle,
            host,
            port,
            compression=None,
            close_timeout=CLOSE_TIMEOUT,
            write_limit=WRITE_LIMIT,
            process_request=self._process_request,
        ) as server:
            self.address = bound_address(server)
            if ready is not None:
                ready()
            await self._stopping.wait()
        for task in list(self._background):
            task.cancel()

    def request_stop(self) -> None:
        """Stop serving; call on the server's loop (a signal handler)."""
        self._stopping.set()

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Serve from a daemon thread; return the bound (host, port) once it accepts connections."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve_forever() -> None:
            try:
                asyncio.run(self.run(host, port, ready=ready.set))
            except BaseException as exc:
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=serve_forever, name="feed-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        assert self.address is not None
        return self.address

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread started by start_in_thread (open connections get 1001)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)

    # --- REST ------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """None lets a WebSocket upgrade through to the handshake; any other request gets its REST answer."""
        if is_websocket_upgrade(request):
            return None
        self.stats.rest_requests += 1
        if self.flat_files is not None and self.flat_files.serves(urlsplit(request.path).path):
            found = self.flat_files.handle(request.path, request.headers.get("Authorization"))
            log.log(logging.DEBUG if found.status == 200 else logging.INFO, "S3 %s: %d", request.path, found.status)
            return raw_response(found.status, found.headers, found.body)
        host = request.headers.get("Host")  # as the client dialed us: next_url points back the same way
        base_url = f"http://{host}" if host else self.rest_url
        answer = self.rest.handle(request.path, request.headers.get("Authorization"), base_url)
        level = logging.DEBUG if answer.status == 200 else logging.INFO
        path = urlsplit(request.path).path  # not the query: it may hold apiKey
        log.log(level, "REST %s from %s: %d", shorten(path), format_peer(connection), answer.status)
        return json_response(answer.status, answer.body, answer.headers)

    # --- One connection --------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        self.stats.connections += 1
        self.stats.open += 1
        conn = FeedConnection(self.stats.connections, ws)
        log.info("connection %d from %s", conn.number, format_peer(ws))
        try:
            await self._converse(conn)
        except ConnectionClosed:
            pass
        finally:
            self._release(conn)
            log.info("connection %d closed (code %s) after %d trades", conn.number, ws.close_code, conn.trades_sent)

    async def _converse(self, conn: FeedConnection) -> None:
        ws = conn.ws
        path = urlsplit(ws.request.path).path if ws.request else ""
        if path != f"/{self.market}":
            log.warning("connection %d asked for %r; this feed serves /%s", conn.number, path, self.market)
            await ws.send(error_frame(f"unknown market path {path!r}: this feed serves /{self.market}"))
            await ws.close(REFUSED, "unknown market")
            return
        await ws.send(CONNECTED)
        if not await self._authenticate(conn):
            return
        self._admit(conn)
        conn.streamer = asyncio.create_task(self._stream(conn))
        async for message in ws:
            for reply in handle_control(conn.subscriptions, message):
                await ws.send(reply)
            log.info(
                "connection %d: %s (channels now: %d)", conn.number, shorten(message), len(conn.subscriptions.channels)
            )
            if conn.subscriptions:
                conn.subscribed.set()
            else:
                conn.subscribed.clear()

    async def _authenticate(self, conn: FeedConnection) -> bool:
        ws = conn.ws
        deadline = asyncio.get_running_loop().time() + self.auth_timeout
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    text = await ws.recv()
            except TimeoutError:
                log.warning("connection %d sent no auth within %.1f s", conn.number, self.auth_timeout)
                await ws.send(AUTH_TIMEOUT)
                await ws.close(REFUSED, "authentication timeout")
                return False
            try:
                message = parse_control(text)
            except ProtocolError as exc:
                await ws.send(error_frame(str(exc)))
                continue
            if message.action != "auth":
                await ws.send(error_frame("not authenticated: send an auth action first"))
                continue
            if not hmac.compare_digest(message.params.encode(), self.api_key.encode()):
                log.warning("connection %d: authentication failed", conn.number)
                await ws.send(AUTH_FAILED)
                await ws.close(REFUSED, "authentication failed")
                return False
            await ws.send(AUTH_SUCCESS)
            log.info("connection %d authenticated", conn.number)
            return True

    def _admit(self, conn: FeedConnection) -> None:
        self.stats.authenticated += 1
        self._admitted.append(conn)
        if self.max_connections is None:
            return
        while len(self._admitted) > self.max_connections:
            older = self._admitted.pop(0)
            log.warning(
                "connection %d kicks connection %d (max_connections=%d)",
                conn.number,
                older.number,
                self.max_connections,
            )
            self._kick(older)

    def _kick(self, conn: FeedConnection) -> None:
        self.stats.kicked += 1
        if conn.streamer is not None:
            conn.streamer.cancel()

        async def tell_and_close() -> None:
            try:
                await conn.ws.send(MAX_CONNECTIONS)
                await conn.ws.close(REFUSED, "max connections")
            except ConnectionClosed:
                pass

        # In the background: a slow older client must not hold up the newer one.
        self._spawn(tell_and_close())

    def _release(self, conn: FeedConnection) -> None:
        self.stats.open -= 1
        if conn in self._admitted:
            self._admitted.remove(conn)
        if conn.streamer is not None:
            conn.streamer.cancel()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _claim_disconnect(self) -> int | None:
        """The trades before an injected disconnect for this streaming connection, None for no disconnect."""
        if self._disconnects_left == 0:
            return None
        self._disconnects_left -= 1
        return self.disconnect_after

    def _timeline(self) -> Timeline:
        return Timeline(limit_trades(self.source.frames(self.frame_size), self.trades), self.trade_log)

    # --- Streaming ------------------------------------------------------------------------

    async def _stream(self, conn: FeedConnection) -> None:
        try:
            await self._stream_source(conn)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection %d: the source failed", conn.number)
            await conn.ws.close(FAULT, "feed source failed")

    async def _stream_source(self, conn: FeedConnection) -> None:
        await conn.subscribed.wait()
        timeline = self._live if self._live is not None else self._timeline()
        disconnect_after = self._claim_disconnect()
        pacer = Pacer(self.rate)
        streamed = 0
        while disconnect_after is None or streamed < disconnect_after:
            await conn.subscribed.wait()  # paused while the client has no channels
            async with timeline.lock:  # not while a gap goes by
                frame = timeline.take(None if disconnect_after is None else disconnect_after - streamed)
            if frame is None:
                break
            await pacer.wait(frame.trades)
            await self._send(conn, frame)
            streamed += frame.trades
        if disconnect_after is not None and streamed >= disconnect_after:
            await self._inject_disconnect(conn, timeline, streamed)
            return
        log.info("connection %d: the source is done after %d trades", conn.number, streamed)
        if self.close_when_done:
            await conn.ws.close()

    async def _send(self, conn: FeedConnection, frame: Frame) -> None:
        selected = conn.subscriptions.select(frame)
        if selected is None:
            return
        await conn.ws.send(selected.payload, text=True)
        conn.trades_sent += selected.trades
        self.stats.frames_sent += 1
        self.stats.trades_sent += selected.trades
        if self.on_sent is not None:
            self.on_sent(frame)

    async def _inject_disconnect(self, conn: FeedConnection, timeline: Timeline, streamed: int) -> None:
        self.stats.disconnects += 1
        log.warning(
            "connection %d: injected disconnect %d (%s) after %d trades%s",
            conn.number,
            self.stats.disconnects,
            describe_close(self.disconnect_code),
            streamed,
            f"; the next {self.gap_trades} trades go by unsent" if self.gap_trades else "",
        )
        if self.gap_trades:
            # Held until the gap has passed: the next connection cannot take from the timeline before.
            await timeline.lock.acquire()
            self._spawn(self._skip_gap(timeline, self.gap_trades))
        await drop(conn.ws, self.disconnect_code)

    async def _skip_gap(self, timeline: Timeline, gap_trades: int) -> None:
        """Let at least ``gap_trades`` trades (whole frames) go by at the feed's rate, recorded but unsent."""
        skipped = 0
        try:
            pacer = Pacer(self.rate)
            while skipped < gap_trades:
                frame = timeline.take()
                if frame is None:
                    break
                skipped += frame.trades
                await pacer.wait(frame.trades)
        finally:
            timeline.lock.release()
            self.stats.trades_skipped += skipped
            log.warning("gap over: %d trades went by unsent (in the trade log)", skipped)


def quote_book(source: Source, reference: Reference) -> QuoteBook | None:
    """The synthetic flow's quotes, when the prints come from one (streamed, or pre-built for the
    benchmark, which lists the flow's contracts); a tape has none."""
    if isinstance(source, SyntheticFlow):
        return QuoteBook(source.underlyings)
    if isinstance(reference, SyntheticReference):
        return QuoteBook(reference.flow.underlyings)
    return None


def check_fault_injection(
    disconnect_code: int, disconnects: int, gap_trades: int | None, max_connections: int | None
) -> None:
    if disconnect_code not in DISCONNECT_CODES:
        raise ValueError(f"disconnect_code must be 1000, 1006 or 1011, got {disconnect_code}")
    if disconnects < 1:
        raise ValueError(f"disconnects must be 1 or more, got {disconnects}")
    if gap_trades is not None and gap_trades < 0:
        raise ValueError(f"gap_trades must be 0 or more, got {gap_trades}")
    if gap_trades is not None and max_connections != 1:
        raise ValueError("a live timeline (gap_trades) serves one connection at a time: max_connections must be 1")


async def drop(ws: ServerConnection, code: int) -> None:
    """Close with ``code``; 1006 is no close at all: the TCP connection is aborted, once what was
    sent has left the process (so the trades counted as sent are the ones the client can get)."""
    if code == CloseCode.ABNORMAL_CLOSURE:
        deadline = time.monotonic() + CLOSE_TIMEOUT
        while ws.transport.get_write_buffer_size() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        ws.transport.abort()
        return
    await ws.close(code, "injected fault" if code == FAULT else "injected disconnect")


def describe_close(code: int) -> str:
    if code == CloseCode.ABNORMAL_CLOSURE:
        return "1006: TCP dropped, no close frame"
    return f"close {code}"


def is_websocket_upgrade(request: Request) -> bool:
    return "websocket" in request.headers.get("Upgrade", "").lower()


def json_response(status: int, body: dict[str, object], extra: tuple[tuple[str, str], ...] = ()) -> Response:
    payload = orjson.dumps(body)
    headers = (("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *extra)
    return raw_response(status, headers, payload)


def raw_response(status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> Response:
    return Response(status, http.HTTPStatus(status).phrase, Headers([*headers, ("Connection", "close")]), body)


def bound_address(server: Server) -> tuple[str, int]:
    host, port = server.sockets[0].getsockname()[:2]
    return str(host), int(port)


def format_peer(ws: ServerConnection) -> str:
    peer = ws.remote_address
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


def shorten(message: str | bytes, limit: int = 200) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"
