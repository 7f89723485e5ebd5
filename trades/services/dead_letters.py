"""Batches whose task failed: kept whole in the database, never dropped, and replayable.

A batch task that raises for any reason but the database being away is retried a few times;
each failure updates its DeadLetter row (frames, error, traceback, attempts). Out of retries, the
row turns `dead` and the message is acknowledged: the batch now lives in the database, not the
broker. A worker killed while running a batch (the kernel's OOM killer, the hard time limit, a
crash) is noticed when the broker hands the batch out again, and counts as a failed attempt, so a
batch that kills every worker that takes it ends here too instead of killing workers forever.

Replaying runs the batch through today's code; judging is idempotent, so a replay stores only
what is not stored yet.
"""

from __future__ import annotations

import logging
import traceback as tracebacks
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from trades import queues
from trades.models import DeadLetter, DeadLetterStatus, TradeSource

logger = logging.getLogger(__name__)

# A batch handed out again: its worker stopped before acknowledging it (a restart), or died running
# it (killed, out of memory, over the hard time limit).
REDELIVERED = "Redelivered: the worker holding this batch stopped or died before finishing it"


@dataclass(frozen=True)
class Batch:
    """A batch task's identity and input, as its dead letter keeps them."""

    task_id: str
    task_name: str
    frames: list[Any]
    source: str


def note_failure(batch: Batch, error: BaseException | str) -> DeadLetter:
    """One more failed attempt: create or update the batch's row (status `retrying`)."""
    if isinstance(error, BaseException):
        message = f"{type(error).__name__}: {error}"
        trace = "".join(tracebacks.format_exception(error))
    else:
        message, trace = error, ""
    now = timezone.now()
    source = batch.source if batch.source in TradeSource.values else TradeSource.LIVE
    with transaction.atomic():
        letter, _ = DeadLetter.objects.select_for_update().get_or_create(
            task_id=batch.task_id,
            defaults={
                "task_name": batch.task_name,
                "frames": batch.frames,
                "source": source,
                "error": message[:500],
                "first_failed_at": now,
                "last_failed_at": now,
            },
        )
        DeadLetter.objects.filter(pk=letter.pk).update(
            attempts=F("attempts") + 1, error=message[:500], traceback=trace, last_failed_at=now
        )
    letter.refresh_from_db()
    return letter


def give_up(letter: DeadLetter) -> None:
    """Out of retries: the batch is dead here, waiting to be replayed."""
    DeadLetter.objects.filter(pk=letter.pk).update(status=DeadLetterStatus.DEAD)
    logger.error(
        "☠️ Dead letter %d: %s %s failed %d times (%s); kept with its %d frames: replay it with "
        "`manage.py deadletters replay %d` or from admin",
        letter.pk,
        letter.task_name,
        letter.task_id,
        letter.attempts,
        letter.error,
        len(letter.frames) if isinstance(letter.frames, list) else 0,
        letter.pk,
    )


def forget(task_id: str) -> None:
    """The batch succeeded after failing: nothing to keep."""
    DeadLetter.objects.filter(task_id=task_id, status=DeadLetterStatus.RETRYING).delete()


def waiting() -> QuerySet[DeadLetter]:
    return DeadLetter.objects.filter(status=DeadLetterStatus.DEAD)


def waiting_count() -> int:
    return waiting().count()


def replay(letter: DeadLetter) -> dict[str, Any]:
    """Run a dead batch through today's code, as the task would, and mark it replayed."""
    from trades.services import ingest, reference_data

    if letter.task_name == queues.RESOLVE_CONTRACTS:
        outcome = reference_data.resolve_frames(letter.frames, letter.source)
        report: dict[str, Any] = {"resolved": outcome.resolved.as_dict()}
        report["ingest"] = outcome.ingest.as_dict() if outcome.ingest is not None else None
    else:
        report = ingest.ingest_frames(letter.frames, source=letter.source).as_dict()
    DeadLetter.objects.filter(pk=letter.pk).update(
        status=DeadLetterStatus.REPLAYED, replayed_at=timezone.now(), replay_report=report
    )
    logger.info("Replayed dead letter %d (%s): %s", letter.pk, letter.task_id, report)
    return report


def database_answers() -> bool:
    """Whether the database answers now: after a database error, tells "the database is away"
    (wait in the broker) from "this batch broke something" (count it as a failure)."""
    try:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False
