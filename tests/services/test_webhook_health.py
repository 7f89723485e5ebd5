"""Endpoint health: every attempt updates its endpoint's run of failures, a success ends it, each
failed attempt is one WARNING line, and the migration fills the health from the attempts already made.

Real PostgreSQL and a real receiver on 127.0.0.1; `deliver()` runs in the test process.
"""

from __future__ import annotations

import importlib
import logging
import re
import socket
from datetime import timedelta

import orjson
import pytest
from django.apps import apps
from django.utils import timezone

from tests.receiver import Receiver
from trades.domain.webhooks import MAX_ATTEMPTS
from trades.models import EndpointHealth, FilterProfile, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trades.selectors import flow_rules
from trades.services import webhooks
from trades.services.ingest import ingest_frames

pytestmark = pytest.mark.usefixtures("first_attempts_queued")

T0 = 1764948600000  # 2025-12-05 10:30 New York
LOGGER = "trades.services.webhooks"


@pytest.fixture(autouse=True)
def only_smart_money(db):
    flow_rules.forget_flow_rules()
    FilterProfile.objects.exclude(name="mag7-smart-money").update(enabled=False)
    yield
    flow_rules.forget_flow_rules()


def endpoint_for(receiver: Receiver, name: str = "desk", **fields) -> WebhookEndpoint:
    fields.setdefault("allow_private", True)  # the receiver is on 127.0.0.1
    fields.setdefault("url", receiver.url)  # type: ignore[attr-defined]
    return WebhookEndpoint.objects.create(name=name, secret=receiver.secret, **fields)


def new_hits(*sequences: int) -> list[WebhookDelivery]:
    """Ingest one hit per sequence number; their deliveries, oldest trade first."""
    events = [
        {"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": 6.0, "s": 100, "t": T0 + q, "q": q}
        for q in sequences
    ]
    ingest_frames([orjson.dumps(events).decode()])
    return list(WebhookDelivery.objects.filter(trade__sequence__in=sequences).order_by("trade__sequence"))


def attempt_now(delivery: WebhookDelivery) -> str:
    """Make the delivery due and attempt it once."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return webhooks.deliver(delivery.pk)


def fresh(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def test_an_endpoint_failing_every_attempt_is_failing_with_its_failures_counted(receiver):
    receiver.answer = lambda n: (503, {}, b"down for maintenance")
    endpoint = endpoint_for(receiver)
    first, second = new_hits(1, 2)

    outcomes = [attempt_now(first), attempt_now(second), attempt_now(first)]

    assert outcomes == ["retry"] * 3
    endpoint = fresh(endpoint)
    first_attempt = WebhookAttempt.objects.order_by("attempted_at").first()
    assert first_attempt is not None
    assert endpoint.health is EndpointHealth.FAILING
    assert (endpoint.consecutive_failures, endpoint.last_error) == (3, "503 Service Unavailable")
    assert endpoint.failing_since == first_attempt.attempted_at
    assert endpoint.last_success_at is None
    assert endpoint.health_summary().startswith("Failing since ")
    assert endpoint.health_summary().endswith(" (3 failures): 503 Service Unavailable")


def test_a_success_ends_the_run_of_failures(receiver):
    receiver.answer = lambda n: (500, {}, b"boom") if n < 2 else (200, {}, b"ok")
    endpoint = endpoint_for(receiver)
    (delivery,) = new_hits(1)
    attempt_now(delivery)
    attempt_now(delivery)
    assert fresh(endpoint).consecutive_failures == 2

    assert attempt_now(delivery) == "delivered"

    endpoint = fresh(endpoint)
    success = WebhookAttempt.objects.get(status_code=200)
    assert endpoint.health is EndpointHealth.HEALTHY
    assert (endpoint.consecutive_failures, endpoint.failing_since, endpoint.last_error) == (0, None, "")
    assert endpoint.last_success_at == success.attempted_at
    assert endpoint.health_summary().startswith("Healthy: last success ")


def test_a_failure_without_an_answer_is_named_by_its_error(receiver):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = endpoint_for(receiver, url=f"http://127.0.0.1:{port}/hooks")
    (delivery,) = new_hits(1)

    attempt_now(delivery)

    endpoint = fresh(endpoint)
    assert endpoint.health is EndpointHealth.FAILING
    assert endpoint.last_error.startswith(f"connection failed: 127.0.0.1 port {port}")


def test_never_used_and_disabled(receiver):
    endpoint = endpoint_for(receiver)
    assert endpoint.health is EndpointHealth.NEVER_USED

    receiver.answer = lambda n: (410, {}, b"gone")
    (delivery,) = new_hits(1)
    attempt_now(delivery)

    endpoint = fresh(endpoint)
    assert endpoint.health is EndpointHealth.DISABLED  # inactive outranks its failures
    assert endpoint.consecutive_failures == 1
    assert endpoint.health_summary().startswith("Disabled: 410 Gone on ")


def test_failures_recorded_through_stale_rows_all_count_and_a_form_save_keeps_them(receiver):
    endpoint = endpoint_for(receiver)
    as_one_worker_read_it, as_another_read_it = fresh(endpoint), fresh(endpoint)
    now = timezone.now()

    as_one_worker_read_it.record_failure(now, "503 Service Unavailable")
    as_another_read_it.record_failure(now + timedelta(seconds=1), "read timeout: no answer within 10 s")
    endpoint.rate_limit_per_minute = 30
    endpoint.save()  # as the admin form does, with the row it read before the failures

    endpoint = fresh(endpoint)
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (2, now)
    assert endpoint.last_error == "read timeout: no answer within 10 s"
    assert endpoint.rate_limit_per_minute == 30


# --- the log -------------------------------------------------------------------------------------


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def test_each_failed_attempt_is_one_warning_naming_endpoint_trade_attempt_error_and_next_try(receiver, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    receiver.answer = lambda n: (503, {}, b"down") if n == 0 else (200, {}, b"ok")
    endpoint_for(receiver)
    (delivery,) = new_hits(1)

    attempt_now(delivery)

    (line,) = warnings(caplog)
    assert line.startswith(f"webhook to endpoint desk failed for trade {delivery.trade_id} (O:AAPL251220C00190000), ")
    assert f"attempt 1 of {MAX_ATTEMPTS}, {delivery.webhook_id}: 503 Service Unavailable; next try in " in line
    assert re.search(r"\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T\)$", line), line  # New York time, as the admin

    caplog.clear()
    attempt_now(delivery)
    assert warnings(caplog) == []  # a success is no warning
    assert any(r.levelno == logging.DEBUG and "delivered on attempt 2" in r.getMessage() for r in caplog.records)


def test_the_last_failed_attempt_says_there_is_no_next_try(receiver, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    receiver.answer = lambda n: (500, {}, b"boom")
    endpoint_for(receiver)
    (delivery,) = new_hits(1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)

    assert attempt_now(delivery) == "dead"

    (line,) = warnings(caplog)
    assert f"attempt {MAX_ATTEMPTS} of {MAX_ATTEMPTS}" in line
    assert line.endswith(": 500 Internal Server Error; no next try: the delivery is dead")


# --- the migration --------------------------------------------------------------------------------


def test_the_migration_fills_the_health_from_the_attempts_already_made(receiver):
    fill_health = importlib.import_module("trades.migrations.0010_webhook_endpoint_health").fill_health
    recovered, failing, unused = (endpoint_for(receiver, name) for name in ("recovered", "failing", "unused"))
    new_hits(1)
    delivery_recovered, delivery_failing = (WebhookDelivery.objects.get(endpoint=e) for e in (recovered, failing))
    t = timezone.now() - timedelta(hours=1)

    def attempt(delivery: WebhookDelivery, minutes: int, status_code: int | None, error: str = "") -> None:
        WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=t + timedelta(minutes=minutes),
            status_code=status_code,
            duration_ms=5,
            error=error,
        )

    attempt(delivery_recovered, 0, 503)
    attempt(delivery_recovered, 1, 200)
    attempt(delivery_failing, 0, 200)
    attempt(delivery_failing, 2, 502)
    attempt(delivery_failing, 3, None, "read timeout: no answer within 10 s")

    fill_health(apps, None)

    recovered, failing, unused = (fresh(endpoint) for endpoint in (recovered, failing, unused))
    assert (recovered.health, recovered.last_success_at, recovered.consecutive_failures) == (
        EndpointHealth.HEALTHY,
        t + timedelta(minutes=1),
        0,
    )
    assert failing.health is EndpointHealth.FAILING
    assert (failing.consecutive_failures, failing.failing_since) == (2, t + timedelta(minutes=2))
    assert failing.last_error == "read timeout: no answer within 10 s"
    assert (unused.health, unused.last_success_at, unused.failing_since) == (EndpointHealth.NEVER_USED, None, None)
