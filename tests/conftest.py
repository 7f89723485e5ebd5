"""Fixtures shared by several test files. (The environment bootstrap is tests/bootstrap.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from kombu import Connection

from tests.broker import IngestQueue
from tests.receiver import Receiver
from trades.webhooks.signing import generate_secret


@pytest.fixture
def ingest_queue() -> Iterator[IngestQueue]:
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        queue = IngestQueue(conn)
        queue.purge()
        yield queue


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that verifies signatures with its own secret."""
    receiver = Receiver(secret=generate_secret())
    receiver.url = receiver.start()  # type: ignore[attr-defined]
    yield receiver
    receiver.stop()


@pytest.fixture(autouse=True)
def fresh_rejection_log_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the whole burst of rejection log lines (the budget is per process)."""
    from trades.services import rejections

    monkeypatch.setattr(rejections, "_log_budget", rejections.LogBudget(burst=20, window=10.0))
