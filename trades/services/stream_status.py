"""Writes for the listener, called from its worker threads (asyncio.to_thread), never on its event
loop: the status row, and the gaps it finds. Each closes its connection after, rather than leave one
idle in every executor thread."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from trades.models import StreamStatus
from trades.services import day_volume, gaps


def record_gap(started_ms: int, ended_ms: int) -> None:
    """Record a gap and queue its fill. Blocking: run it in a thread."""
    try:
        gaps.record_gap(started_ms, ended_ms)
    finally:
        connection.close()


def write_status(snapshot: dict[str, Any]) -> None:
    """Store a snapshot as the status row, stamped with a fresh heartbeat. Blocking: run it in a thread."""
    # Any of the loop's executor threads may run this: open a connection for the write and close
    # it after, rather than leave one idle in each thread (one write every STREAM_STATS_SECONDS).
    try:
        StreamStatus.objects.update_or_create(
            pk=StreamStatus.SINGLETON_PK, defaults={**snapshot, "heartbeat_at": timezone.now()}
        )
        if snapshot.get("connected"):
            day_volume.note_listening()  # there before the open: the day's volume counts are whole
    finally:
        connection.close()
