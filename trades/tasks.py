"""Celery tasks: thin wrappers that hand their input to a service."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from trades.services import ingest


@shared_task(
    name="trades.ingest_batch",
    # The database being away is the one failure worth waiting out: the batch stays in the
    # broker and is retried (backoff capped well under the broker's visibility timeout).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=None,
)
def ingest_batch(frames: list[str], source: str = "live") -> dict[str, int]:
    """Judge a batch of raw Polygon frames and store the hits. Returns the batch's counts."""
    return ingest.ingest_frames(frames, source=source).as_dict()
