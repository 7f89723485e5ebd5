"""Reads for the listener, called from its worker threads (asyncio.to_thread): where the previous
run stopped, and what its stats line reports as kept for later."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection
from django.db.models import Sum

from trades.models import StreamGap, StreamStatus
from trades.services import dead_letters

logger = logging.getLogger(__name__)


def read_last_event_ms() -> int | None:
    """The newest trade time the previous run saw (its gap starts there); None if unknown."""
    try:
        return StreamStatus.objects.filter(pk=StreamStatus.SINGLETON_PK).values_list("last_event_ms", flat=True).first()
    except Exception as exc:
        logger.warning("Could not read the last run's newest trade time (no gap fill for the restart): %s", exc)
        return None
    finally:
        connection.close()


def read_kept_for_later(since: datetime) -> tuple[int, int]:
    """For the stats line: dead letters waiting to be replayed, and the hits recovered over REST in
    the gaps recorded since `since`. Blocking: run it in a thread."""
    try:
        recovered = StreamGap.objects.filter(detected_at__gte=since).aggregate(total=Sum("recovered"))["total"]
        return dead_letters.waiting_count(), recovered or 0
    finally:
        connection.close()
