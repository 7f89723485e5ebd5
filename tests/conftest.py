"""Fixtures shared by several test files. (The environment bootstrap is tests/bootstrap.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from kombu import Connection

from tests.broker import IngestQueue
from tests.receiver import Receiver
from trades.feed.server import FeedServer
from trades.feed.source import PrebuiltSource
from trades.feed.universe import parse_reference
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
def fast_password_hashing(settings: Any) -> None:
    """Django's own advice for tests: a fast hash (each admin_client's user took half a second of PBKDF2)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def first_attempts_finished() -> Iterator[None]:
    """No test leaves a webhook's first attempt running into the next, nor its thread's database connection."""
    from trades.services.first_attempts import FIRST_ATTEMPTS

    yield
    FIRST_ATTEMPTS.stop()


@pytest.fixture
def first_attempts_queued(settings: Any) -> None:
    """Every attempt through the webhooks queue, made by calling `deliver()` inside the test's
    transaction (the threads that make first attempts after a commit would never see it: see
    tests/services/test_first_attempts.py for those)."""
    settings.WEBHOOK_FIRST_ATTEMPT_THREADS = 0


@pytest.fixture(autouse=True)
def fresh_rejection_log_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the whole burst of rejection log lines (the budget is per process)."""
    from trades.services import rejections

    monkeypatch.setattr(rejections, "_log_budget", rejections.LogBudget(burst=20, window=10.0))


@pytest.fixture
def start_feed() -> Iterator[Callable[..., FeedServer]]:
    """Start local feeds (stopped after the test): no trades and tests/feed/test_feed_rest.py's reference
    universe unless told otherwise."""
    from tests.feed_helpers import KEY, reference_document

    servers: list[FeedServer] = []

    def start(**options: Any) -> FeedServer:
        options.setdefault("source", PrebuiltSource([]))
        options.setdefault("reference", parse_reference(reference_document()))
        server = FeedServer(api_key=KEY, **options)
        server.start_in_thread(port=0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def order_profile(db, settings):  # type: ignore[no-untyped-def]
    """The one profile: orders of NVDA from $500,000, judged without quotes (side UNKNOWN)."""
    from decimal import Decimal

    from tests.factories import only_profile
    from trades.selectors import flow_rules

    settings.POLYGON_API_KEY = ""
    profile = only_profile("big-orders", ["NVDA"], judges="orders", min_premium=Decimal(500_000))
    yield profile
    flow_rules.forget_flow_rules()
