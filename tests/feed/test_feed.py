"""The local feed against the real polygon-api-client WebSocketClient (and a bare websockets client)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command
from polygon.exceptions import AuthError
from polygon.websocket.models import EquityTrade
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from tests import processes
from tests.feed_helpers import collect, data_frames, polygon_client, trade_events
from trades.feed import FeedServer, Frame, SyntheticFlow, Tape
from trades.feed.protocol import (
    Subscriptions,
    handle_control,
    parse_control,
    split_channels,
    status_frame,
)
from trades.feed.source import PrebuiltSource, frame_from_events, frame_from_payload, limit_trades
from trades.management.commands.feed import Command as FeedCommand

KEY = "test-key"
AAPL = "O:AAPL251220C00190000"
MSFT = "O:MSFT251220P00400000"
SUBSCRIBED_ALL = status_frame("success", "subscribed to: T.*")
TAPE_LINES = [
    f'[{{"ev":"T","sym":"{AAPL}","x":302,"p":1.54,"s":10,"c":[209],"t":1734100000000,"q":1}},'
    f'{{"ev":"T","sym":"{MSFT}","x":308,"p":4.1,"s":3,"t":1734100000001,"q":2}}]',
    f'[ {{"ev": "T", "sym": "{AAPL}", "x": 303, "p": 1.55, "s": 700, "t": 1734100000002, "q": 3}} ]',
    '[{"ev":"T","sym":"O:AAPL251220C001',  # malformed on purpose: not JSON
    f'[{{"ev":"T","sym":"{AAPL}","p":-1}},42,{{"ev":"T","sym":"{MSFT}","x":302,"p":2.0,"s":1,"t":1734100000003,"q":4}}]',
]
TAPE_TEXT = "# a tape for the feed tests\n\n" + "\n".join(TAPE_LINES[:2]) + "\n   \n" + "\n".join(TAPE_LINES[2:]) + "\n"


@pytest.fixture
def tape(tmp_path: Path) -> Path:
    path = tmp_path / "tape.jsonl"
    path.write_text(TAPE_TEXT)
    return path


@pytest.fixture
def start_feed() -> Iterator[Callable[..., tuple[FeedServer, str]]]:
    """Start a FeedServer in a thread; returns it and its ``host:port`` for WebSocketClient(feed=...)."""
    servers: list[FeedServer] = []

    def start(**options: Any) -> tuple[FeedServer, str]:
        server = FeedServer(api_key=KEY, **options)
        host, port = server.start_in_thread(port=0)
        servers.append(server)
        return server, f"{host}:{port}"

    yield start
    for server in servers:
        server.stop()


def run(coroutine: Awaitable[Any], timeout: float = 2.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


async def authenticated(feed: str, path: str = "/options") -> ClientConnection:
    ws = await connect(f"ws://{feed}{path}", compression=None)
    assert orjson.loads(await ws.recv()) == [
        {"ev": "status", "status": "connected", "message": "Connected Successfully"}
    ]
    await ws.send(orjson.dumps({"action": "auth", "params": KEY}).decode())
    assert orjson.loads(await ws.recv()) == [{"ev": "status", "status": "auth_success", "message": "authenticated"}]
    return ws


# --- The real polygon client ------------------------------------------------------------------


def test_raw_client_gets_the_subscription_status_then_the_tape_verbatim(start_feed, tape):
    server, feed = start_feed(source=Tape(tape), close_when_done=True)

    received = collect(polygon_client(feed))  # returns: the feed closes with 1000 when the tape ends

    assert received == [SUBSCRIBED_ALL, *TAPE_LINES]
    assert server.stats.trades_sent == 5  # items with "ev":"T"; the unparseable line counts none
    assert server.stats.frames_sent == 4


def test_parsed_client_gets_trade_models(start_feed, tmp_path):
    path = tmp_path / "valid.jsonl"
    path.write_text("\n".join(TAPE_LINES[:2]) + "\n")
    _, feed = start_feed(source=Tape(path), close_when_done=True)

    received = collect(polygon_client(feed, raw=False))

    trades = [trade for batch in received for trade in batch]
    assert all(isinstance(trade, EquityTrade) for trade in trades)
    assert [(t.symbol, t.price, t.size, t.exchange, t.sequence_number) for t in trades] == [
        (AAPL, 1.54, 10, 302, 1),
        (MSFT, 4.1, 3, 308, 2),
        (AAPL, 1.55, 700, 303, 3),
    ]
    assert trades[0].conditions == [209] and trades[1].conditions is None


def test_wrong_key_makes_the_client_raise_auth_error(start_feed, tape):
    server, feed = start_feed(source=Tape(tape))

    with pytest.raises(AuthError, match="authentication failed"):
        collect(polygon_client(feed, api_key="wrong"))
    assert server.stats.authenticated == 0


def test_symbol_subscription_gets_only_that_symbols_trades(start_feed, tape):
    _, feed = start_feed(source=Tape(tape), close_when_done=True)

    received = collect(polygon_client(feed, channels=(f"T.{MSFT}",)))

    assert received[0] == status_frame("success", f"subscribed to: T.{MSFT}")
    events = trade_events(received)
    assert [event["q"] for event in events] == [2, 4]
    assert {event["sym"] for event in events} == {MSFT}


def test_synthetic_symbol_subscription_filters_the_flow(start_feed):
    flow = SyntheticFlow(["AAPL"], seed=3, start_ms=1_749_060_000_000)
    symbol = orjson.loads(next(flow.frames(1)).payload)[0]["sym"]
    _, feed = start_feed(source=flow, trades=20_000, close_when_done=True)

    events = trade_events(collect(polygon_client(feed, channels=(f"T.{symbol}",))))

    assert events and {event["sym"] for event in events} == {symbol}


def test_close_when_done_ends_connect_after_exactly_the_requested_trades(start_feed):
    server, feed = start_feed(source=SyntheticFlow(seed=1), frame_size=100, trades=250, close_when_done=True)

    received = collect(polygon_client(feed))

    assert [len(orjson.loads(frame)) for frame in data_frames(received)] == [100, 100, 50]
    assert server.stats.trades_sent == 250


def test_without_close_when_done_the_connection_stays_open(start_feed, tape):
    _, feed = start_feed(source=Tape(tape))
    client = polygon_client(feed)

    async def scenario() -> list[str]:
        received: list[str] = []

        async def processor(message: str) -> None:
            received.append(message)

        task = asyncio.create_task(client.connect(processor))
        await asyncio.sleep(0.5)
        assert not task.done()  # the tape is long over (5 frames) but the feed keeps the connection
        await client.close()
        await task
        return received

    assert run(scenario()) == [SUBSCRIBED_ALL, *TAPE_LINES]


def test_a_second_connection_kicks_the_older_one_with_a_status(start_feed):
    server, feed = start_feed(source=SyntheticFlow(seed=2), rate=2000, frame_size=10)
    older = polygon_client(feed)
    newer = polygon_client(feed)

    async def scenario() -> tuple[list[str], list[str], BaseException | None]:
        older_received: list[str] = []
        newer_received: list[str] = []
        older_streaming = asyncio.Event()

        async def on_older(message: str) -> None:
            older_received.append(message)
            if data_frames(older_received):
                older_streaming.set()

        async def on_newer(message: str) -> None:
            newer_received.append(message)
            if data_frames(newer_received):
                await newer.close()

        older_task = asyncio.create_task(older.connect(on_older))
        await older_streaming.wait()
        await newer.connect(on_newer)
        older_error = (await asyncio.gather(older_task, return_exceptions=True))[0]
        return older_received, newer_received, older_error

    older_received, newer_received, older_error = run(scenario())

    assert older_received[-1] == (
        '[{"ev":"status","status":"max_connections","message":"Maximum number of websocket connections exceeded. '
        'You have been disconnected from the older connection."}]'
    )
    assert isinstance(older_error, ConnectionClosedError) and older_error.rcvd is not None
    assert older_error.rcvd.code == 1008
    assert data_frames(newer_received)
    assert server.stats.kicked == 1


def test_max_connections_two_keeps_both(start_feed, tape):
    server, feed = start_feed(source=Tape(tape), max_connections=2)

    async def scenario() -> None:
        first = await authenticated(feed)
        second = await authenticated(feed)
        for ws in (first, second):
            await ws.send('{"action":"subscribe","params":"T.*"}')
            assert await ws.recv() == SUBSCRIBED_ALL
            assert await ws.recv() == TAPE_LINES[0]
            await ws.close()

    run(scenario())
    assert server.stats.kicked == 0


def test_disconnect_after_drops_the_first_connection_with_1011_and_the_client_reconnects(start_feed):
    server, feed = start_feed(
        source=SyntheticFlow(seed=4), frame_size=100, trades=300, disconnect_after=150, close_when_done=True
    )

    received = collect(polygon_client(feed, max_reconnects=1))

    sizes = [len(orjson.loads(frame)) for frame in data_frames(received)]
    assert sizes == [100, 50, 100, 100, 100]  # 150 on the first connection, then the full 300
    assert received.count(SUBSCRIBED_ALL) == 2
    assert server.stats.connections == 2
    assert server.stats.disconnects == 1 and server.stats.trades_skipped == 0


# --- Disconnects: codes, repeats, a live timeline ------------------------------------------------


def numbered_frames(count: int, trades_each: int = 10) -> list[Frame]:
    """Frames of trades whose ``q`` is their position in the stream, from 0."""
    return [
        frame_from_events(
            [
                {"ev": "T", "sym": AAPL, "x": 302, "p": 1.0, "s": 1, "t": 1734100000000 + q, "q": q}
                for q in range(first, first + trades_each)
            ]
        )
        for first in range(0, count * trades_each, trades_each)
    ]


@pytest.mark.parametrize("code", [1000, 1006, 1011])
def test_each_disconnect_code_as_a_websockets_client_sees_it(start_feed, code):
    server, feed = start_feed(source=PrebuiltSource(numbered_frames(5)), disconnect_after=25, disconnect_code=code)

    async def scenario() -> tuple[list[int], ConnectionClosed]:
        ws = await authenticated(feed)
        await ws.send('{"action":"subscribe","params":"T.*"}')
        assert await ws.recv() == SUBSCRIBED_ALL
        sequence: list[int] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                sequence += [event["q"] for event in orjson.loads(await ws.recv())]
        assert ws.close_code == code
        return sequence, closed.value

    sequence, closed = run(scenario())

    assert sequence == list(range(25))  # cut inside the third frame
    assert (closed.rcvd is None) == (code == 1006)  # 1006: no close frame came
    assert server.stats.disconnects == 1


def test_a_clean_1000_disconnect_ends_the_polygon_clients_connect(start_feed):
    server, feed = start_feed(source=PrebuiltSource(numbered_frames(5)), disconnect_after=20, disconnect_code=1000)

    events = trade_events(collect(polygon_client(feed, max_reconnects=5)))

    assert [event["q"] for event in events] == list(range(20))
    assert server.stats.connections == 1  # connect() returned: no reconnect after a clean close


@pytest.mark.parametrize("code", [1006, 1011])
def test_the_polygon_client_reconnects_after_an_error_close_and_continues_at_the_live_edge(start_feed, code):
    server, feed = start_feed(
        source=PrebuiltSource(numbered_frames(5)),
        disconnect_after=20,
        disconnect_code=code,
        gap_trades=0,
        close_when_done=True,
    )

    received = collect(polygon_client(feed, max_reconnects=1))

    assert [event["q"] for event in trade_events(received)] == list(range(50))  # nothing twice, nothing lost
    assert received.count(SUBSCRIBED_ALL) == 2
    assert (server.stats.connections, server.stats.disconnects, server.stats.trades_skipped) == (2, 1, 0)


def test_disconnects_repeat_every_disconnect_after_trades_and_each_gap_goes_by_unsent(start_feed):
    server, feed = start_feed(
        source=PrebuiltSource(numbered_frames(10)),
        disconnect_after=20,
        disconnects=2,
        disconnect_code=1006,
        gap_trades=15,  # whole frames: 20 trades go by
        close_when_done=True,
    )

    sequence = [event["q"] for event in trade_events(collect(polygon_client(feed, max_reconnects=2)))]

    assert sequence == [*range(0, 20), *range(40, 60), *range(80, 100)]
    assert (server.stats.connections, server.stats.disconnects, server.stats.trades_skipped) == (3, 2, 40)


def test_a_gap_after_a_cut_frame_starts_with_its_rest(start_feed):
    server, feed = start_feed(
        source=PrebuiltSource(numbered_frames(5)), disconnect_after=25, gap_trades=1, close_when_done=True
    )

    sequence = [event["q"] for event in trade_events(collect(polygon_client(feed, max_reconnects=1)))]

    assert sequence == [*range(0, 25), *range(30, 50)]  # the gap: the cut frame's other 5 trades
    assert server.stats.trades_skipped == 5


def test_without_a_gap_setting_each_connection_replays_from_the_start(start_feed):
    server, feed = start_feed(
        source=PrebuiltSource(numbered_frames(3)), disconnect_after=10, disconnects=2, close_when_done=True
    )

    sequence = [event["q"] for event in trade_events(collect(polygon_client(feed, max_reconnects=2)))]

    assert sequence == [*range(10), *range(10), *range(30)]
    assert server.stats.disconnects == 2
    assert len(server.trade_log) == 30  # each trade of the history logged once


def test_fault_injection_settings_are_checked():
    source = PrebuiltSource([])
    with pytest.raises(ValueError, match="1000, 1006 or 1011"):
        FeedServer(source=source, disconnect_after=1, disconnect_code=1001)
    with pytest.raises(ValueError, match="disconnects must be 1 or more"):
        FeedServer(source=source, disconnect_after=1, disconnects=0)
    with pytest.raises(ValueError, match="gap_trades must be 0 or more"):
        FeedServer(source=source, disconnect_after=1, gap_trades=-1)
    with pytest.raises(ValueError, match="max_connections must be 1"):
        FeedServer(source=source, gap_trades=0, max_connections=2)


# --- The protocol with a bare client ------------------------------------------------------------


def test_other_market_paths_get_an_error_status_and_a_close(start_feed, tape):
    _, feed = start_feed(source=Tape(tape))

    async def scenario() -> tuple[Any, int | None]:
        async with connect(f"ws://{feed}/stocks", compression=None) as ws:
            status = orjson.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return status, ws.close_code

    status, code = run(scenario())
    assert status[0]["status"] == "error" and "/options" in status[0]["message"]
    assert code == 1008


def test_no_auth_in_time_gets_auth_timeout_and_a_close(start_feed, tape):
    _, feed = start_feed(source=Tape(tape), auth_timeout=0.2)

    async def scenario() -> list[Any]:
        async with connect(f"ws://{feed}/options", compression=None) as ws:
            frames = [orjson.loads(await ws.recv()), orjson.loads(await ws.recv())]
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return frames

    connected, timeout = run(scenario())
    assert connected[0]["status"] == "connected"
    assert timeout[0]["status"] == "auth_timeout"


def test_unknown_actions_get_an_error_and_unsubscribe_is_answered(start_feed, tape):
    _, feed = start_feed(source=Tape(tape))

    async def scenario() -> list[Any]:
        ws = await authenticated(feed)
        await ws.send('{"action":"dance","params":""}')
        replies = [orjson.loads(await ws.recv())]
        await ws.send(f'{{"action":"subscribe","params":"T.{AAPL},T.{MSFT}"}}')
        replies += [orjson.loads(await ws.recv()), orjson.loads(await ws.recv())]
        await ws.send(f'{{"action":"unsubscribe","params":"T.{AAPL},T.{MSFT}"}}')
        while len(replies) < 5:
            reply = orjson.loads(await ws.recv())
            if reply[0]["ev"] == "status":
                replies.append(reply)
        await ws.close()
        return [reply[0] for reply in replies]

    error, *statuses = run(scenario())
    assert error["status"] == "error" and "dance" in error["message"]
    assert [status["message"] for status in statuses] == [
        f"subscribed to: T.{AAPL}",
        f"subscribed to: T.{MSFT}",
        f"unsubscribed to: T.{AAPL}",
        f"unsubscribed to: T.{MSFT}",
    ]


def test_prebuilt_frames_are_sent_as_built(start_feed):
    frames = [frame_from_events([{"ev": "T", "sym": AAPL, "x": 302, "p": 1.0, "s": n, "t": 1, "q": n}]) for n in (1, 2)]
    server, feed = start_feed(source=PrebuiltSource(frames), close_when_done=True)

    received = collect(polygon_client(feed))

    assert received[1:] == [frame.payload.decode() for frame in frames]
    assert server.stats.trades_sent == 2


# --- Protocol and source functions ----------------------------------------------------------------


def test_parse_control_rejects_what_is_not_a_control_message():
    assert parse_control('{"action":"auth","params":"k"}').params == "k"
    for text in ("nope", "[1]", '{"params":"T.*"}', '{"action":"subscribe","params":1}'):
        with pytest.raises(ValueError):
            parse_control(text)


def test_split_channels_drops_blanks_and_repeats():
    assert split_channels(" T.*, ,T.O:A,T.*") == ["T.*", "T.O:A"]


def test_handle_control_updates_the_subscriptions():
    subscriptions = Subscriptions()
    assert handle_control(subscriptions, '{"action":"subscribe","params":"T.*"}') == [SUBSCRIBED_ALL]
    assert subscriptions.all_trades
    handle_control(subscriptions, '{"action":"unsubscribe","params":"T.*"}')
    assert not subscriptions
    assert orjson.loads(handle_control(subscriptions, "{")[0])[0]["status"] == "error"


def test_subscriptions_select_whole_frames_or_their_symbols_trades():
    frame = frame_from_payload(TAPE_LINES[0].encode())
    assert Subscriptions({"T.*"}).select(frame) is frame
    only_msft = Subscriptions({f"T.{MSFT}"}).select(frame)
    assert only_msft is not None and [event["sym"] for event in orjson.loads(only_msft.payload)] == [MSFT]
    assert Subscriptions({"T.O:NOPE"}).select(frame) is None
    assert Subscriptions({"Q.*"}).select(frame) is None
    assert Subscriptions({f"T.{MSFT}"}).select(Frame(b"[{broken", 0)) is None


def test_limit_trades_cuts_the_last_frame_exactly():
    frames = [frame_from_payload(line.encode()) for line in TAPE_LINES]
    assert [frame.trades for frame in frames] == [2, 1, 0, 2]

    limited = list(limit_trades(frames, 4))

    assert [frame.trades for frame in limited] == [2, 1, 0, 1]
    assert orjson.loads(limited[-1].payload) == orjson.loads(TAPE_LINES[3])[:1]
    assert list(limit_trades(frames, 0)) == []


def test_tape_skips_comments_and_blanks_and_loops(tape, tmp_path):
    assert [frame.payload.decode() for frame in Tape(tape).frames(100)] == TAPE_LINES
    looped = Tape(tape, loop=True).frames(100)
    assert [next(looped).payload.decode() for _ in range(8)] == TAPE_LINES * 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("# nothing\n\n")
    assert list(Tape(empty, loop=True).frames(100)) == []  # no endless loop over nothing


# --- The command ------------------------------------------------------------------------------------


def test_command_refuses_a_missing_tape(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("feed", tape=tmp_path / "missing.jsonl")


@pytest.fixture
def built_servers(monkeypatch) -> list[FeedServer]:
    """The servers the feed command builds, instead of serving them."""
    built: list[FeedServer] = []
    monkeypatch.setattr(FeedCommand, "serve", lambda self, server, host, port: built.append(server))
    return built


def test_command_passes_the_fault_injection_and_trade_log_options(tape, built_servers):
    arguments = ["--disconnect-after", "30", "--disconnect-code", "1006", "--disconnects", "3", "--gap-trades", "7"]
    call_command("feed", "--tape", str(tape), *arguments, "--trade-log-size", "500")
    call_command("feed", "--tape", str(tape), "--disconnect-after", "5", "--trade-log-size", "0")

    live, replay = built_servers
    assert (live.disconnect_after, live.disconnect_code, live.disconnects, live.gap_trades) == (30, 1006, 3, 7)
    assert live.trade_log is not None and live.trade_log.capacity == 500
    assert (replay.disconnect_code, replay.disconnects, replay.gap_trades, replay.trade_log) == (1011, 1, None, None)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--disconnect-code", "1006"], "--disconnect-code needs --disconnect-after"),
        (["--disconnects", "2"], "--disconnects needs --disconnect-after"),
        (["--disconnect-after", "5", "--disconnect-code", "1001"], "invalid choice"),
        (["--gap-trades", "5", "--max-connections", "0"], "max_connections must be 1"),
    ],
)
def test_command_refuses_fault_injection_options_that_do_not_fit(tape, built_servers, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("feed", "--tape", str(tape), *arguments)
    assert built_servers == []


def test_command_serves_the_tape_and_exits_0_on_sigterm(tape):
    command = [sys.executable, "manage.py", "feed", "--port", "0", "--api-key", KEY, "--tape", str(tape), "--rate", "0"]
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[2], stderr=subprocess.PIPE, text=True)
    try:
        url = wait_for_listener_url(process)

        received = collect(polygon_client(url), until=lambda received: len(received) == 1 + len(TAPE_LINES))

        assert received == [SUBSCRIBED_ALL, *TAPE_LINES]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.wait()


def wait_for_listener_url(process: subprocess.Popen[str]) -> str:
    found = re.search(r"POLYGON_WS_URL=ws://(\S+) POLYGON_API_KEY=" + KEY, processes.feed_startup_line(process))
    assert found is not None
    return found.group(1)
