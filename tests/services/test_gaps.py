"""Filling a gap over REST (the local feed's /v3/trades and chain snapshots) through the real
polygon-api-client: what the listener missed is stored once, what it saw is not stored again."""

from __future__ import annotations

import orjson
import pytest
from django.utils import timezone

from tests.factories import only_profile
from tests.feed_helpers import KEY, SYMBOLS, stream_all, trade, write_tape
from trades.feed import Tape
from trades.models import GapStatus, OptionTrade, StreamGap
from trades.selectors import flow_rules
from trades.services import gaps
from trades.services.ingest import ingest_frames

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def every_spy_print_is_a_hit(settings):
    settings.STREAM_GAP_MARGIN_MS = 0
    only_profile("all-spy", ["SPY"], exclude_categories=[])
    yield
    flow_rules.forget_flow_rules()


def stored() -> list[tuple[int, str]]:
    """(trade number, source): the tape's trade n has size n + 1."""
    return sorted((size - 1, source) for size, source in OptionTrade.objects.values_list("size", "source"))


def test_the_trades_missed_in_a_gap_are_fetched_and_stored_once(start_feed, tmp_path, settings):
    feed = start_feed(
        source=Tape(write_tape(tmp_path / "tape.jsonl", 30)),
        disconnect_after=12,
        gap_trades=1,  # whole frames: trades 12 to 14 go by unsent
        disconnect_code=1006,
        close_when_done=True,
    )
    live = stream_all(feed)
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, KEY
    ingest_frames([orjson.dumps(live).decode()])  # what the listener got, as it would have stored it
    assert [n for n, _source in stored()] == [*range(12), *range(15, 30)]
    gap = StreamGap.objects.create(started_ms=trade(11)["t"], ended_ms=trade(15)["t"], detected_at=timezone.now())

    fill = gaps.fill_gap(gap.pk)

    assert fill is not None and fill.underlyings == 1
    assert fill.contracts == len(SYMBOLS)  # the chain's last trades name exactly the contracts that printed
    assert fill.trades_fetched == 5  # 11 to 15: the window is inclusive
    assert stored() == sorted([(n, "live") for n in [*range(12), *range(15, 30)]] + [(n, "gap") for n in (12, 13, 14)])
    gap.refresh_from_db()
    assert (gap.status, gap.hits, gap.recovered, gap.contracts) == (GapStatus.FILLED, 5, 3, 3)
    assert gap.attempted_at is not None
    assert gaps.fill_gap(gap.pk) is None  # filled: nothing to do again


def test_a_gap_longer_than_the_limit_is_recorded_not_filled(settings):
    settings.STREAM_GAP_FILL_MAX_SECONDS = 60
    gap = StreamGap.objects.create(started_ms=0, ended_ms=61_000, detected_at=timezone.now())
    assert gaps.fill_gap(gap.pk) is None
    gap.refresh_from_db()
    assert gap.status == GapStatus.TOO_LONG


def test_the_sweep_queues_only_gaps_no_worker_has_begun(settings, monkeypatch):
    from datetime import timedelta

    settings.STREAM_GAP_SWEEP_SECONDS = 60
    queued: list[int] = []
    monkeypatch.setattr(gaps, "_queue_fill", queued.append)
    long_ago = timezone.now() - timedelta(minutes=5)
    lost = StreamGap.objects.create(started_ms=1, ended_ms=2, detected_at=long_ago)  # its queueing was lost
    StreamGap.objects.create(started_ms=3, ended_ms=4, detected_at=long_ago, attempted_at=long_ago)  # retrying
    StreamGap.objects.create(started_ms=5, ended_ms=6, detected_at=timezone.now())  # just queued
    StreamGap.objects.create(started_ms=7, ended_ms=8, detected_at=long_ago, status=GapStatus.FILLED)
    assert gaps.sweep_gaps() == 1 and queued == [lost.pk]


def test_recording_a_gap_twice_keeps_one_row():
    first = gaps.record_gap(1000, 2000)
    again = gaps.record_gap(1000, 2000)
    assert first.pk == again.pk and StreamGap.objects.count() == 1


def test_a_fill_that_keeps_failing_marks_the_gap_failed(monkeypatch):
    from trades import tasks

    gap = StreamGap.objects.create(started_ms=1, ended_ms=2, detected_at=timezone.now())

    def rest_down(gap_id, client=None):
        raise ConnectionError("REST is down")

    monkeypatch.setattr(gaps, "fill_gap", rest_down)
    assert tasks.fill_gap.apply(args=(gap.pk,)).get() == {"failed": "REST is down"}
    gap.refresh_from_db()
    assert (gap.status, gap.error) == (GapStatus.FAILED, "ConnectionError: REST is down")


def test_admin_lists_gaps_and_fills_selected_ones_again(admin_client):
    from django.conf import settings
    from kombu import Connection, Queue

    gap = StreamGap.objects.create(
        started_ms=trade(11)["t"], ended_ms=trade(15)["t"], detected_at=timezone.now(), status=GapStatus.FAILED
    )
    page = admin_client.get("/admin/trades/streamgap/").content.decode()
    assert "2025-12-05 15:30:00.011" in page and "failed" in page
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        queue = Queue("reference", no_declare=True)(conn.default_channel)
        queue.purge()
        response = admin_client.post(
            "/admin/trades/streamgap/", {"action": "fill_again", "_selected_action": [gap.pk]}, follow=True
        )
        assert "1 gaps queued to be filled" in response.content.decode()
        message = queue.get(no_ack=True)
    assert message is not None and message.headers["task"] == "trades.fill_gap"
    assert message.decode()[0] == [gap.pk]


def test_admin_lists_rejected_input_by_reason(admin_client):
    ingest_frames(['[{"ev":"T","sym":"O:AAPL"}]', "{not json"])
    page = admin_client.get("/admin/trades/rejection/").content.decode()
    assert "bad_symbol" in page and "bad_json" in page and "O:AAPL" in page


def test_a_gap_deleted_before_its_fill_ran_needs_nothing():
    assert gaps.fill_gap(987_654) is None
