"""Gaps in the stream: recorded by the listener after each reconnect or restart, filled over REST.

Polygon does not replay what a disconnected client missed. The listener records the window
between the last trade event it saw before and the first one after; a worker asks REST which
watched contracts traded in it and what they traded, and judges those prints through the same
rules, so a hit sent while the listener was away is stored like any other (source "gap"), once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from polygon import RESTClient

from trades import queues
from trades.domain.rules import WILDCARD
from trades.models import GapStatus, StreamGap, TradeSource, Underlying
from trades.polygon_rest.client import rest_client
from trades.polygon_rest.loaders import LoadIssues
from trades.polygon_rest.window import NS_PER_MS, contracts_traded_since, trades_between
from trades.selectors.flow_rules import current_flow_rules
from trades.services import ingest
from trades.services.reference_data import watched_underlyings

logger = logging.getLogger(__name__)

EVENTS_PER_FRAME = 1000


def record_gap(started_ms: int, ended_ms: int) -> StreamGap:
    """Record the window (idempotent) and queue its fill once the row is committed."""
    with transaction.atomic():
        gap, created = StreamGap.objects.get_or_create(
            started_ms=started_ms, ended_ms=ended_ms, defaults={"detected_at": timezone.now()}
        )
        if created:
            transaction.on_commit(lambda: _queue_fill(gap.pk), robust=True)
    logger.info("🕳️ Gap of %.1f s in the stream recorded (%d); filling it over REST", gap.seconds, gap.pk)
    return gap


def _queue_fill(gap_id: int) -> None:
    current_app.send_task(queues.FILL_GAP, args=[gap_id])


@dataclass
class GapFill:
    underlyings: int = 0
    contracts: int = 0
    trades_fetched: int = 0
    ingest: dict[str, Any] = field(default_factory=dict)


def fill_gap(gap_id: int, client: RESTClient | None = None) -> GapFill | None:
    """Fetch and judge what traded in the gap; None if it needs nothing (gone, filled, or too long).

    REST failures raise (the task retries them); the gap stays pending until it is filled.
    """
    gap = StreamGap.objects.filter(pk=gap_id).first()
    if gap is None or gap.status in (GapStatus.FILLED, GapStatus.TOO_LONG):
        return None  # deleted meanwhile, filled, or left to a backfill
    if gap.seconds > settings.STREAM_GAP_FILL_MAX_SECONDS:
        StreamGap.objects.filter(pk=gap.pk).update(status=GapStatus.TOO_LONG)
        logger.warning(
            "Gap %d is %.0f s long (over STREAM_GAP_FILL_MAX_SECONDS): recorded, not filled", gap.pk, gap.seconds
        )
        return None
    StreamGap.objects.filter(pk=gap.pk, attempted_at=None).update(attempted_at=timezone.now())
    fill = fetch_window(gap, client or rest_client())
    stored = fill.ingest.get("stored", 0)
    StreamGap.objects.filter(pk=gap.pk).update(
        status=GapStatus.FILLED,
        underlyings=fill.underlyings,
        contracts=fill.contracts,
        trades_fetched=fill.trades_fetched,
        hits=fill.ingest.get("hits", 0),
        recovered=stored,
        error="",
        filled_at=timezone.now(),
    )
    logger.info(
        "🕳️ Gap %d filled: %d trades of %d contracts fetched, %d hits recovered",
        gap.pk,
        fill.trades_fetched,
        fill.contracts,
        stored,
    )
    return fill


def fetch_window(gap: StreamGap, client: RESTClient) -> GapFill:
    margin = settings.STREAM_GAP_MARGIN_MS
    start_ns = (gap.started_ms - margin) * NS_PER_MS
    end_ns = (gap.ended_ms + margin + 1) * NS_PER_MS - 1  # the whole last millisecond
    issues = LoadIssues()
    fill = GapFill()
    events: list[dict] = []
    for underlying in gap_underlyings():
        fill.underlyings += 1
        for symbol in contracts_traded_since(client, underlying, start_ns, issues):
            fill.contracts += 1
            events += trades_between(client, symbol, start_ns, end_ns, issues)
    fill.trades_fetched = len(events)
    frames = [orjson.dumps(events[i : i + EVENTS_PER_FRAME]).decode() for i in range(0, len(events), EVENTS_PER_FRAME)]
    fill.ingest = ingest.ingest_frames(frames, source=TradeSource.GAP).as_dict()
    return fill


def gap_underlyings() -> list[str]:
    """The watched underlyings; with a profile watching everything, every underlying we know."""
    named = watched_underlyings()
    if not any(WILDCARD in profile.tickers for profile in current_flow_rules().profiles):
        return named
    return sorted(set(named) | set(Underlying.objects.values_list("ticker", flat=True)))


def note_fill_failed(gap_id: int, error: str) -> None:
    StreamGap.objects.filter(pk=gap_id).update(status=GapStatus.FAILED, error=error[:500])
    logger.error("Gap %d could not be filled: %s (fill it again from admin)", gap_id, error)


def sweep_gaps() -> int:
    """Queue the fill of gaps no worker has begun a while after they were recorded (their queueing
    was lost). A fill under way, or retrying while REST is down, is left to its own retries."""
    stuck = StreamGap.objects.filter(
        status=GapStatus.PENDING,
        attempted_at=None,
        detected_at__lt=timezone.now() - timedelta(seconds=settings.STREAM_GAP_SWEEP_SECONDS),
    )
    ids = list(stuck.values_list("pk", flat=True))
    for gap_id in ids:
        _queue_fill(gap_id)
    return len(ids)
