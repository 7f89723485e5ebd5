"""Fixtures shared by several test files. (The environment bootstrap is tests/bootstrap.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from kombu import Connection

from tests.broker import IngestQueue


@pytest.fixture
def ingest_queue() -> Iterator[IngestQueue]:
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        queue = IngestQueue(conn)
        queue.purge()
        yield queue
