"""One pace of REST calls for every backfill worker, on every machine: a plan's rate limit is the
account's, not a process's.

The pace lives in the database (`RestPace`, one row per API address): taking a slot moves the row's
next moment on by 1/rate in one short transaction, and the caller sleeps until its slot. A 429 with
Retry-After pushes the next moment out for everyone, so a storm slows all workers down together
instead of each one burning its retries. Without a rate limit, the row is read at most once a
second, only for such a pause.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction

from trades.models import RestPace

logger = logging.getLogger(__name__)

PAUSE_CHECK_SECONDS = 1.0
MAX_SLEEP_SECONDS = 300.0  # a pace so far ahead is a clock gone wrong: never wait longer than this


class SharedPace:
    def __init__(self, api: str, per_minute: float | None = None) -> None:
        self.api = api
        rate = settings.POLYGON_REST_MAX_PER_MINUTE if per_minute is None else per_minute
        self.interval = 60.0 / rate if rate > 0 else 0.0
        self.checked_at = float("-inf")
        self.paused_until = 0.0
        self.waited = 0.0  # seconds this process slept for the pace

    def before_call(self) -> None:
        """Wait for this call's slot."""
        now = time.time()
        if self.interval:
            slot = self._take_slot(now)
        elif now - self.checked_at >= PAUSE_CHECK_SECONDS:
            self.checked_at = now
            row = RestPace.objects.filter(api=self.api).values_list("next_at", flat=True).first()
            self.paused_until = row or 0.0
            slot = self.paused_until
        else:
            slot = self.paused_until
        self._sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """Polygon asked to wait (Retry-After): nobody calls before then."""
        until = time.time() + seconds
        with transaction.atomic():
            row, _ = RestPace.objects.select_for_update().get_or_create(api=self.api)
            if row.next_at < until:
                row.next_at = until
                row.save(update_fields=["next_at"])
        self.paused_until = max(self.paused_until, until)
        logger.warning("Polygon asked to wait %.1f s (429): every backfill worker waits", seconds)

    def _take_slot(self, now: float) -> float:
        with transaction.atomic():
            row, _ = RestPace.objects.select_for_update().get_or_create(api=self.api)
            slot = max(row.next_at, now)
            row.next_at = slot + self.interval
            row.save(update_fields=["next_at"])
        return slot

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            seconds = min(seconds, MAX_SLEEP_SECONDS)
            self.waited += seconds
            time.sleep(seconds)
