"""The listener's StreamStatus row: written by `manage.py stream` and by the listener's steps, shown in admin."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests import processes
from tests.stream_helpers import FRAMES, STATUS_ONLY, idle_publisher, make_listener, supervise_for
from trades.feed.server import DEFAULT_API_KEY, FeedServer
from trades.feed.source import PrebuiltSource
from trades.models import StreamStatus
from trades.stream import listener as listener_module
from trades.stream.config import ClientOptions
from trades.stream.listener import Listener
from trades.stream.lock import FileLock
from trades.stream.stats import StreamStats

TRADE = '{"ev":"T","sym":"O:AAPL251220C00190000","x":302,"p":1.54,"s":10,"c":[209],"t":1629820676333,"q":1}'
SUBSCRIBED = '[{"ev":"status","status":"success","message":"subscribed to: T.*"}]'


def no_status_row() -> None:
    """Start without a status row: `manage.py stream` children of other tests commit theirs."""
    StreamStatus.objects.all().delete()


def the_status() -> StreamStatus | None:
    return StreamStatus.objects.filter(pk=StreamStatus.SINGLETON_PK).first()


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    # A frame every 0.1 s, then open: the first frame is published at once (the feed was quiet
    # before it), the other four (12 trades) wait in the buffer for the listener's window.
    server = FeedServer(source=PrebuiltSource([STATUS_ONLY, *FRAMES]), rate=30)
    server.start_in_thread()
    yield server
    server.stop()


@pytest.fixture
def listener(tmp_path) -> Listener:
    stats = StreamStats()
    publisher = idle_publisher(stats)
    options = ClientOptions(api_key="key", feed="127.0.0.1:9", secure=False)
    return Listener(
        options=options,
        publisher=publisher,
        lock=FileLock(tmp_path / "lock"),
        stats=stats,
        channels=["T.*"],
        write_status_row=True,
    )


@pytest.mark.django_db(transaction=True)  # the row is written from another thread
def test_the_listener_steps_write_the_status_row(listener: Listener) -> None:
    no_status_row()

    async def steps() -> None:
        listener.client = type("FakeClient", (), {"websocket": object()})()  # type: ignore[assignment]
        await listener.on_frame(SUBSCRIBED)  # the first frame proves the connection: written in the background
        await asyncio.gather(*listener._status_tasks)
        await listener.on_frame(f"[{TRADE},{TRADE}]")
        listener.status.update_rates()
        await listener.write_status()

    asyncio.run(steps())

    status = the_status()
    assert status is not None
    assert status.connected is True
    assert status.url == "ws://127.0.0.1:9/options"
    assert status.subscriptions == ["T.*"]
    assert status.trades_buffered == 2
    assert status.trades_per_second > 0
    assert status.connected_since is not None and status.last_frame_at is not None
    assert timezone.now() - status.heartbeat_at < timedelta(minutes=1)
    assert [(row["status"], row["message"]) for row in status.recent_statuses] == [("success", "subscribed to: T.*")]


def test_a_database_failure_is_logged_and_the_listener_carries_on(listener: Listener, monkeypatch, caplog) -> None:
    def broken(snapshot: dict) -> None:
        raise ConnectionError("database away")

    monkeypatch.setattr(listener_module, "write_status", broken)
    with caplog.at_level(logging.WARNING, logger="trades.stream.listener"):
        asyncio.run(listener.write_status())
        asyncio.run(listener.on_frame(f"[{TRADE}]"))
    assert "Could not write the stream status: ConnectionError: database away" in caplog.text
    assert listener.publisher.trades_buffered == 1


def test_only_the_last_ten_statuses_are_kept(listener: Listener) -> None:
    for n in range(15):
        asyncio.run(listener.on_frame(f'[{{"ev":"status","status":"info","message":"m{n}"}}]'))
    snapshot = listener.status.snapshot(subscriptions=[], trades_buffered=0)
    assert [row["message"] for row in snapshot["recent_statuses"]] == [f"m{n}" for n in range(5, 15)]


@pytest.mark.django_db(transaction=True)  # the row is written from another thread
def test_while_not_connected_the_row_and_the_admin_page_say_since_when_and_why(tmp_path, admin_client: Client) -> None:
    no_status_row()
    with socket.socket() as closed:  # bound, not listening: connecting is refused
        closed.bind(("127.0.0.1", 0))
        listener = make_listener(tmp_path, closed.getsockname()[1], stats_seconds=0.3, write_status_row=True)
        supervise_for(listener, 1.2)

    status = the_status()
    assert status is not None and status.connected is False
    assert status.disconnected_since is not None
    assert timezone.now() - status.disconnected_since < timedelta(seconds=30)
    assert re.fullmatch(
        r"\d failed attempts; last error: connection refused by ws://127\.0\.0\.1:\d+/options", status.outage
    ), status.outage
    html = admin_client.get("/admin/trades/streamstatus/1/change/").content.decode()
    assert re.search(r'verdict-bad".*not connected since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T: \d failed', html)
    assert "connection refused by" in html


@pytest.mark.django_db(transaction=True)  # the child writes to this run's test database
def test_manage_py_stream_reports_connected_then_disconnected(feed: FeedServer, tmp_path) -> None:
    no_status_row()
    log = tmp_path / "stream.log"
    env = {"POLYGON_WS_URL": feed.ws_url, "POLYGON_API_KEY": DEFAULT_API_KEY, "STREAM_STATS_SECONDS": "0.2"}
    process = processes.start(processes.manage("stream", "--batch-ms", "600000"), log, **env)
    try:

        def connected() -> StreamStatus | None:
            status = the_status()
            return status if status and status.connected and status.trades_buffered == 12 else None

        status = processes.wait_for(connected, 15, "a connected status row with 12 trades buffered")
        assert isinstance(status, StreamStatus)
        assert status.url.startswith("ws://127.0.0.1:") and status.url.endswith("/options")
        assert status.subscriptions == ["T.*"]
        statuses = [(row["status"], row["message"]) for row in status.recent_statuses]
        assert ("info", "replay starts") in statuses
        assert ("success", "subscribed to: T.*") in statuses
        first_beat = status.heartbeat_at
        processes.wait_for(
            lambda: (row := the_status()) is not None and row.heartbeat_at > first_beat, 10, "a newer heartbeat"
        )
    finally:
        assert processes.stop(process, signal.SIGTERM) == 0, log.read_text()  # SIGKILLs if it lingers

    status = the_status()
    assert status is not None
    assert status.connected is False
    assert status.trades_buffered == 0  # flushed on the way out
    assert status.messages_published == 2


@pytest.mark.django_db
def test_the_admin_page_shows_the_row_read_only(admin_client: Client) -> None:
    no_status_row()
    StreamStatus.objects.create(
        pk=StreamStatus.SINGLETON_PK,
        connected=True,
        heartbeat_at=timezone.now() - timedelta(seconds=120),
        url="wss://delayed.polygon.io/options",
        subscriptions=["T.*"],
        trades_per_second=12.5,
        recent_statuses=[{"time": "2025-12-05T15:30:00+00:00", "status": "slow_consumer", "message": "behind"}],
    )

    listing = admin_client.get("/admin/trades/streamstatus/")
    assert listing.status_code == 302
    page = admin_client.get(listing["Location"])

    assert page.status_code == 200
    html = page.content.decode()
    # Stale is bad, so it is red (the admin's "no" icon), never a green tick for "stale: yes".
    assert "stale: last heartbeat 120 s ago (stale after 30 s)" in html
    assert '<span class="verdict verdict-bad"' in html
    assert "wss://delayed.polygon.io/options" in html
    assert "slow_consumer" in html and "behind" in html
    assert "connected</span>" in html and "verdict-good" in html
    assert 'name="_save"' not in html, "read only"
    assert admin_client.get("/admin/trades/streamstatus/add/").status_code == 403
    assert admin_client.get("/admin/trades/streamstatus/1/delete/").status_code == 403


@pytest.mark.django_db
def test_the_admin_page_shows_gaps_recovered_and_dead_letters_waiting(admin_client: Client) -> None:
    from trades.models import DeadLetter, GapStatus, StreamGap

    no_status_row()
    StreamGap.objects.all().delete()  # `manage.py stream` children of other tests record theirs
    now = timezone.now()
    StreamStatus.objects.create(pk=StreamStatus.SINGLETON_PK, heartbeat_at=now, last_event_ms=1764948600000)
    StreamGap.objects.create(started_ms=1, ended_ms=2, detected_at=now, status=GapStatus.FILLED, recovered=6)
    StreamGap.objects.create(started_ms=3, ended_ms=4, detected_at=now, status=GapStatus.FAILED)
    DeadLetter.objects.create(
        task_id="t",
        task_name="trades.ingest_batch",
        frames=[],
        source="live",
        status="dead",
        error="x",
        first_failed_at=now,
        last_failed_at=now,
    )
    html = admin_client.get("/admin/trades/streamstatus/1/change/").content.decode()
    assert "2025-12-05 10:30:00 EST" in html  # the newest trade seen, in New York time
    assert '<span class="verdict verdict-good"' in html and "live: last heartbeat 0 s ago" in html
    gaps = html[html.find("Gaps filled over REST") :][:400]
    assert "1 failed, 1 filled</a>; 6 hits recovered" in gaps, gaps
    assert '?status__exact=dead">1</a>' in html


@pytest.mark.django_db
def test_the_admin_list_without_a_row_says_so(admin_client: Client) -> None:
    no_status_row()
    page = admin_client.get("/admin/trades/streamstatus/", follow=True)
    assert page.status_code == 200
    assert "No listener has reported yet" in page.content.decode()
