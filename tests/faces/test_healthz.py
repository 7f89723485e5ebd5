"""GET /healthz against the real PostgreSQL and Redis: 200 when all is well, 503 when a check fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from tests.proxy import SwitchableProxy
from trades.models import (
    DeadLetter,
    DeadLetterStatus,
    DeliveryStatus,
    GapStatus,
    OptionTrade,
    PrintBatch,
    StreamGap,
    StreamStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

pytestmark = pytest.mark.django_db

URL = "/healthz"


@pytest.fixture(autouse=True)
def no_status_row(db: None) -> None:
    """Start without a status row: `manage.py stream` children of other tests commit theirs."""
    StreamStatus.objects.all().delete()


def beat(seconds_ago: float = 0.0) -> None:
    """The listener's heartbeat, as it would write it `seconds_ago`."""
    StreamStatus.objects.update_or_create(
        pk=StreamStatus.SINGLETON_PK,
        defaults={"connected": True, "heartbeat_at": timezone.now() - timedelta(seconds=seconds_ago)},
    )


def get(client: Client) -> tuple[int, dict]:
    response = client.get(URL)
    return response.status_code, response.json()


@pytest.fixture
def healthy() -> None:
    beat()


def test_all_well_is_200_with_every_check(client: Client, healthy: None) -> None:
    response = client.get(URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    checks = body["checks"]
    assert set(checks) == {"database", "broker", "listener", "queues", "orders", "webhooks", "dead_letters", "gaps"}
    assert all(check["ok"] for check in checks.values()), checks
    assert checks["broker"]["transport"] == "redis"
    assert checks["listener"]["connected"] is True
    assert 0 <= checks["listener"]["heartbeat_age_seconds"] < 30
    assert {"default", "ingest", "orders", "reference", "webhooks"} <= set(checks["queues"])
    assert checks["webhooks"]["oldest_undelivered_age_seconds"] is None
    assert "no-cache" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]


def test_get_only(client: Client, healthy: None) -> None:
    assert client.post(URL).status_code == 405


def test_no_listener_row_is_unhealthy(client: Client) -> None:
    status, body = get(client)

    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["listener"]["error"] == "no listener has reported"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


def test_a_stale_heartbeat_is_503_and_a_fresh_one_200_again(client: Client) -> None:
    beat(seconds_ago=settings.HEALTH_LISTENER_MAX_AGE_SECONDS + 5)
    status, body = get(client)
    assert status == 503
    assert body["checks"]["listener"]["ok"] is False
    assert body["checks"]["listener"]["heartbeat_age_seconds"] > settings.HEALTH_LISTENER_MAX_AGE_SECONDS

    beat()
    status, body = get(client)
    assert status == 200, body


def test_a_listener_alive_but_not_connected_for_too_long_is_503(client: Client) -> None:
    limit = settings.HEALTH_LISTENER_DISCONNECTED_MAX_SECONDS
    outage = "7 failed attempts; last error: connection refused by ws://127.0.0.1:8765/options"

    def down_for(seconds: float) -> None:
        StreamStatus.objects.update_or_create(
            pk=StreamStatus.SINGLETON_PK,
            defaults={
                "connected": False,
                "heartbeat_at": timezone.now(),
                "disconnected_since": timezone.now() - timedelta(seconds=seconds),
                "outage": outage,
            },
        )

    down_for(limit - 10)  # reconnecting, as after any drop: not yet a failure
    status, body = get(client)
    assert body["checks"]["listener"]["ok"] is True, body
    assert body["checks"]["listener"]["disconnected_seconds"] == pytest.approx(limit - 10, abs=5)

    down_for(limit + 10)
    status, body = get(client)
    assert status == 503
    error = body["checks"]["listener"]["error"]
    assert error.startswith(f"the listener has not been connected for {limit + 10:.0f} s (over {limit:g} s)")
    assert error.endswith(outage)


@pytest.fixture
def redis_proxy() -> Iterator[SwitchableProxy]:
    url = urlsplit(settings.CELERY_BROKER_URL)
    proxy = SwitchableProxy((url.hostname or "127.0.0.1", url.port or 6379))
    proxy.up = True
    with override_settings(HEALTH_BROKER_URL=url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()):
        yield proxy
    proxy.close()


def test_redis_unreachable_is_503_and_200_once_it_is_back(
    client: Client, healthy: None, redis_proxy: SwitchableProxy
) -> None:
    status, body = get(client)
    assert status == 200, body

    redis_proxy.switch_off()
    status, body = get(client)
    assert status == 503
    assert body["checks"]["broker"]["ok"] is False
    assert "ConnectionError" in body["checks"]["broker"]["error"]
    assert body["checks"]["queues"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True

    redis_proxy.up = True
    status, body = get(client)
    assert status == 200, body


@override_settings(HEALTH_QUEUE_MAX=2)
def test_a_deep_queue_is_503(client: Client, healthy: None, ingest_queue) -> None:
    import redis

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.rpush(f"{prefix}ingest", "a", "b", "c")
    try:
        status, body = get(client)
    finally:
        broker.delete(f"{prefix}ingest")
    assert status == 503
    assert body["checks"]["queues"]["ingest"] == 3
    assert "ingest" in body["checks"]["queues"]["error"]


def make_delivery(waited: timedelta, status: str = DeliveryStatus.PENDING) -> WebhookDelivery:
    now = timezone.now()
    trade = OptionTrade.objects.create(
        trade_key=f"O:AAPL251220C00190000#{now.timestamp()}",
        symbol="O:AAPL251220C00190000",
        underlying="AAPL",
        root="AAPL",
        expiry=date(2025, 12, 20),
        right="C",
        strike=Decimal("190"),
        price=Decimal("6"),
        size=100,
        shares_per_contract=100,
        premium=Decimal("60000"),
        dte=15,
        exchange=302,
        sip_timestamp=1764948600000,
        traded_at=now,
        received_at=now,
    )
    endpoint, _ = WebhookEndpoint.objects.get_or_create(name="desk", defaults={"url": "https://hooks.example.test/x"})
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, trade=trade, webhook_id=f"msg_{trade.pk}", status=status
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=now - waited)
    return delivery


def test_a_webhook_delivery_waiting_too_long_is_503(client: Client, healthy: None) -> None:
    limit = settings.HEALTH_WEBHOOK_MAX_AGE_SECONDS
    make_delivery(timedelta(seconds=limit / 2))
    status, body = get(client)
    assert status == 200, body
    assert body["checks"]["webhooks"]["oldest_undelivered_age_seconds"] >= limit / 2

    late = make_delivery(timedelta(seconds=limit + 60), status=DeliveryStatus.SENDING)
    status, body = get(client)
    assert status == 503
    assert body["checks"]["webhooks"]["ok"] is False
    assert body["checks"]["webhooks"]["oldest_undelivered_age_seconds"] > limit

    WebhookDelivery.objects.filter(pk=late.pk).update(status=DeliveryStatus.DELIVERED)  # delivered: no longer waiting
    status, body = get(client)
    assert status == 200, body


def test_a_dead_letter_waiting_is_503_until_it_is_replayed(client: Client, healthy: None) -> None:
    now = timezone.now()
    letter = DeadLetter.objects.create(
        task_id="t-1",
        task_name="trades.ingest_batch",
        frames=["[]"],
        source="live",
        status=DeadLetterStatus.DEAD,
        attempts=4,
        error="KeyError: 'x'",
        first_failed_at=now,
        last_failed_at=now,
    )
    status, body = get(client)
    assert (status, body["checks"]["dead_letters"]["waiting"]) == (503, 1)
    assert "manage.py deadletters" in body["checks"]["dead_letters"]["error"]
    DeadLetter.objects.filter(pk=letter.pk).update(status=DeadLetterStatus.REPLAYED)
    assert get(client)[0] == 200


def test_kept_prints_waiting_long_for_the_order_closer_are_503(client: Client, healthy: None) -> None:
    waiting = PrintBatch.objects.create(digest="a", prints=b"{}")
    assert get(client)[0] == 200  # just logged: the next tick takes it
    PrintBatch.objects.filter(pk=waiting.pk).update(received_at=timezone.now() - timedelta(minutes=2))
    status, body = get(client)
    assert (status, body["checks"]["orders"]["oldest_waiting_batch_age_seconds"] >= 120) == (503, True)
    assert "orders queue" in body["checks"]["orders"]["error"]
    PrintBatch.objects.filter(pk=waiting.pk).update(consumed=True)
    assert get(client)[0] == 200


def test_a_gap_that_could_not_be_filled_is_503(client: Client, healthy: None) -> None:
    StreamGap.objects.create(started_ms=1, ended_ms=2, detected_at=timezone.now(), status=GapStatus.FILLED)
    assert get(client)[0] == 200
    StreamGap.objects.create(started_ms=3, ended_ms=4, detected_at=timezone.now(), status=GapStatus.FAILED)
    status, body = get(client)
    assert (status, body["checks"]["gaps"]["failed"]) == (503, 1)


def test_a_broker_that_would_lose_queued_work_on_a_restart_is_named_but_healthy(client: Client, healthy: None) -> None:
    """The test Redis usually runs without persistence (--appendonly no): the check says what that costs."""
    import redis

    persistent = redis.Redis.from_url(settings.CELERY_BROKER_URL).config_get("appendonly")["appendonly"] == "yes"
    status, body = get(client)
    assert status == 200
    assert ("appendonly is off" in body["checks"]["broker"].get("warning", "")) is not persistent


def test_a_failing_webhook_endpoint_is_a_warning_not_a_failure(client: Client, healthy: None) -> None:
    failing = WebhookEndpoint.objects.create(name="desk", url="https://hooks.example.test/x")
    switched_off = WebhookEndpoint.objects.create(name="old", url="https://hooks.example.test/y", active=False)
    since = timezone.now()
    for endpoint in (failing, switched_off):
        endpoint.record_failure(since, "503 Service Unavailable")

    status, body = get(client)

    assert status == 200, body
    webhooks = body["checks"]["webhooks"]
    assert webhooks["ok"] is True
    assert webhooks["warning"] == "webhook endpoints failing: desk"  # a disabled one is not failing
    assert webhooks["failing_endpoints"] == [
        {
            "name": "desk",
            "failing_since": since.isoformat(),
            "consecutive_failures": 1,
            "last_error": "503 Service Unavailable",
        }
    ]

    failing.record_success(timezone.now())
    assert "warning" not in get(client)[1]["checks"]["webhooks"]
