"""Webhook delivery against a real receiver on 127.0.0.1 and real PostgreSQL, one attempt at a time.

The Celery side (queuing, countdowns, the sweeper in beat, a worker killed mid-send) is covered
by tests/e2e/test_e2e_webhooks.py; here `deliver()` runs in the test process.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from tests.receiver import Receiver
from trades.domain.webhooks import MAX_ATTEMPTS
from trades.models import DeliveryStatus, FilterProfile, OptionTrade, WebhookDelivery, WebhookEndpoint
from trades.selectors import flow_rules
from trades.selectors.serializers import serialize_trade
from trades.services import webhooks
from trades.services.ingest import ingest_frames

pytestmark = pytest.mark.usefixtures("first_attempts_queued")

T0 = 1764948600000  # 2025-12-05 10:30 New York


def hit(q: int, sym: str = "O:AAPL251220C00190000", price: float = 6.0) -> dict:
    return {"ev": "T", "sym": sym, "x": 302, "p": price, "s": 100, "c": [209], "t": T0 + q, "q": q}


@pytest.fixture(autouse=True)
def only_smart_money(db):
    flow_rules.forget_flow_rules()
    FilterProfile.objects.exclude(name="mag7-smart-money").update(enabled=False)
    yield
    flow_rules.forget_flow_rules()


def endpoint_for(receiver: Receiver, name: str = "desk", **fields) -> WebhookEndpoint:
    fields.setdefault("allow_private", True)  # the receiver is on 127.0.0.1
    return WebhookEndpoint.objects.create(name=name, url=receiver.url, secret=receiver.secret, **fields)  # type: ignore[attr-defined]


def the_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("endpoint", "trade").get()


def next_attempt_in(delivery: WebhookDelivery, since) -> timedelta:
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is not None
    return delivery.next_attempt_at - since


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_the_outbox_is_written_with_the_trades_and_only_once(receiver):
    everything = endpoint_for(receiver, "everything")
    smart = endpoint_for(receiver, "smart")
    smart.profiles.add(FilterProfile.objects.get(name="mag7-smart-money"))
    other = endpoint_for(receiver, "other-profile")
    other.profiles.add(FilterProfile.objects.get(name="classic-unusual-activity"))
    endpoint_for(receiver, "switched-off", active=False)
    frames = [orjson.dumps([hit(1), hit(2, sym="O:MSFT251219C00400000")]).decode()]

    ingest_frames(frames)
    ingest_frames(frames)  # redelivered batch

    pairs = set(WebhookDelivery.objects.values_list("endpoint__name", "trade__sequence"))
    assert pairs == {("everything", 1), ("everything", 2), ("smart", 1), ("smart", 2)}
    assert len(set(WebhookDelivery.objects.values_list("webhook_id", flat=True))) == 4
    assert everything.deliveries.filter(status=DeliveryStatus.PENDING).count() == 2


def test_a_delivery_is_signed_and_carries_the_trade_as_the_api_shows_it(receiver):
    endpoint_for(receiver)
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()

    assert webhooks.deliver(delivery.pk) == "delivered"

    (request,) = receiver.requests
    assert request.signature_ok  # verified by the standardwebhooks package
    assert request.webhook_id == delivery.webhook_id
    assert request.json()["type"] == "trade.flagged"
    # The API, after delivery, also says when the alert arrived (the payload could not know).
    api = serialize_trade(OptionTrade.objects.get())
    sent = request.json()["data"]
    assert sent["latency"]["alerted_ms"] is None and api["latency"]["alerted_ms"] >= api["latency"]["stored_ms"]
    assert sent == api | {"latency": api["latency"] | {"alerted_ms": None}}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    attempt = delivery.attempt_log.get()
    assert (attempt.status_code, attempt.response_excerpt, attempt.error) == (200, "ok", "")
    assert webhooks.deliver(delivery.pk) == "not-due"  # delivered once, never again
    assert len(receiver.requests) == 1


def test_a_failure_is_retried_later_with_the_same_webhook_id(receiver):
    receiver.answer = lambda n: (503, {}, b"down for maintenance") if n == 0 else (200, {}, b"ok")
    endpoint_for(receiver)
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()

    before = timezone.now()
    assert webhooks.deliver(delivery.pk) == "retry"
    assert timedelta(seconds=3.9) <= next_attempt_in(delivery, before) <= timedelta(seconds=6.1)  # 5 s ± 20%
    assert delivery.status == DeliveryStatus.PENDING
    assert webhooks.deliver(delivery.pk) == "not-due"

    make_due(delivery)
    assert webhooks.deliver(delivery.pk) == "delivered"
    assert [r.webhook_id for r in receiver.requests] == [delivery.webhook_id, delivery.webhook_id]
    assert [a.status_code for a in delivery.attempt_log.order_by("attempted_at")] == [503, 200]
    assert [a.response_excerpt for a in delivery.attempt_log.order_by("attempted_at")] == ["down for maintenance", "ok"]


def test_retry_after_is_honoured(receiver):
    receiver.answer = lambda n: (429, {"Retry-After": "120"}, b"slow down")
    endpoint_for(receiver)
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()

    before = timezone.now()
    webhooks.deliver(delivery.pk)
    assert next_attempt_in(delivery, before) >= timedelta(seconds=120)  # not the schedule's 5 s


def test_discord_retry_after_in_the_body_is_honoured(receiver):
    receiver.answer = lambda n: (429, {"Content-Type": "application/json"}, b'{"retry_after": 90.5, "global": false}')
    endpoint_for(receiver, format="discord")
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()

    before = timezone.now()
    webhooks.deliver(delivery.pk)
    assert next_attempt_in(delivery, before) >= timedelta(seconds=90.5)


def test_410_gone_disables_the_endpoint(receiver):
    receiver.answer = lambda n: (410, {}, b"gone")
    endpoint = endpoint_for(receiver)
    ingest_frames([orjson.dumps([hit(1)]).decode()])

    assert webhooks.deliver(the_delivery().pk) == "dead"
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert "410" in endpoint.disabled_reason
    ingest_frames([orjson.dumps([hit(2)]).decode()])
    assert WebhookDelivery.objects.count() == 1  # an inactive endpoint gets no new deliveries


def test_after_the_last_attempt_the_delivery_is_dead_and_says_why(receiver):
    receiver.answer = lambda n: (500, {}, b"boom")
    endpoint_for(receiver)
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)

    assert webhooks.deliver(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, MAX_ATTEMPTS)
    assert "HTTP 500" in delivery.last_error


def test_loopback_is_refused_unless_allowed_and_the_refusal_is_logged(receiver):
    endpoint_for(receiver, allow_private=False)
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()

    assert webhooks.deliver(delivery.pk) == "dead"
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert "refused" in delivery.last_error and "127.0.0.1" in delivery.last_error
    assert "refused" in delivery.attempt_log.get().error


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1"])
def test_a_host_resolving_to_a_private_address_is_refused_before_connecting(address, monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 443))]

    def no_connection(*args, **kwargs):
        raise AssertionError("the guard let a connection through")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket, "create_connection", no_connection)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    WebhookEndpoint.objects.create(name="desk", url="https://hooks.example.test/flow")
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()

    assert webhooks.deliver(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert "refused" in delivery.last_error and address in delivery.last_error


def test_a_claim_is_taken_once_and_again_after_its_lease_runs_out(receiver, settings):
    endpoint_for(receiver)
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()

    assert webhooks.claim(delivery.pk) is not None
    assert webhooks.claim(delivery.pk) is None  # another worker holds it
    assert webhooks.sweep() == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert webhooks.sweep() == 1  # the holder died: queued again
    assert webhooks.claim(delivery.pk) is not None


def test_the_rate_limit_postpones_without_counting_an_attempt(receiver):
    endpoint_for(receiver, rate_limit_per_minute=1)
    ingest_frames([orjson.dumps([hit(1), hit(2)]).decode()])
    first, second = WebhookDelivery.objects.order_by("trade__sequence")

    assert webhooks.deliver(first.pk) == "delivered"
    assert webhooks.deliver(second.pk) == "retry"
    assert next_attempt_in(second, timezone.now()) > timedelta(seconds=50)
    assert (second.attempts, len(receiver.requests)) == (0, 1)


def test_resend_starts_a_dead_delivery_afresh_with_the_same_id(receiver):
    receiver.answer = lambda n: (410, {}, b"gone") if n == 0 else (200, {}, b"ok")
    endpoint = endpoint_for(receiver)
    ingest_frames([orjson.dumps([hit(1)]).decode()])
    delivery = the_delivery()
    webhooks.deliver(delivery.pk)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=True)

    assert webhooks.resend(WebhookDelivery.objects.all()) == 1
    assert webhooks.deliver(delivery.pk) == "delivered"
    assert [r.webhook_id for r in receiver.requests] == [delivery.webhook_id] * 2


def test_send_test_event_reports_the_answer(receiver):
    endpoint = endpoint_for(receiver)
    outcome = webhooks.send_test_event(endpoint)
    assert outcome.startswith("desk: HTTP 200 in ")
    (request,) = receiver.requests
    assert request.signature_ok and request.json()["type"] == "webhook.test"
    assert WebhookDelivery.objects.count() == 0
