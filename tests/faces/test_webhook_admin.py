"""The webhook admin: endpoints, deliveries and attempts render; its actions do what they say."""

from __future__ import annotations

import orjson
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from trades.models import DeliveryStatus, FilterProfile, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trades.selectors import flow_rules
from trades.services import webhooks
from trades.services.ingest import ingest_frames

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("first_attempts_queued")]

T0 = 1764948600000  # 2025-12-05 10:30 New York


@pytest.fixture
def endpoint(receiver) -> WebhookEndpoint:
    return endpoint_with_two_hits_sent(receiver)


@pytest.fixture
def failing_endpoint(receiver) -> WebhookEndpoint:
    receiver.answer = lambda n: (503, {}, b"down for maintenance")
    return endpoint_with_two_hits_sent(receiver)


def endpoint_with_two_hits_sent(receiver) -> WebhookEndpoint:
    flow_rules.forget_flow_rules()
    FilterProfile.objects.exclude(name="mag7-smart-money").update(enabled=False)
    endpoint = WebhookEndpoint.objects.create(
        name="desk",
        url=receiver.url,  # type: ignore[attr-defined]
        secret=receiver.secret,
        allow_private=True,
    )
    events = [
        {"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": 6.0, "s": 100, "t": T0 + q, "q": q} for q in (1, 2)
    ]
    ingest_frames([orjson.dumps(events).decode()])
    for delivery in WebhookDelivery.objects.all():
        webhooks.deliver(delivery.pk)
    return endpoint


def action(client: Client, changelist: str, name: str, ids: list[int]):
    return client.post(reverse(changelist), {"action": name, "_selected_action": ids}, follow=True)


def test_every_webhook_page_renders(admin_client: Client, endpoint: WebhookEndpoint):
    delivery = WebhookDelivery.objects.first()
    attempt = WebhookAttempt.objects.first()
    assert delivery is not None and attempt is not None
    pages = [
        reverse("admin:trades_webhookendpoint_changelist"),
        reverse("admin:trades_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:trades_webhookendpoint_add"),
        reverse("admin:trades_webhookdelivery_changelist"),
        reverse("admin:trades_webhookdelivery_change", args=[delivery.pk]),
        reverse("admin:trades_webhookattempt_changelist"),
        reverse("admin:trades_webhookendpoint_regenerate_secret", args=[endpoint.pk]),
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page
    assert delivery.webhook_id in admin_client.get(reverse("admin:trades_webhookdelivery_changelist")).content.decode()


def test_each_delivered_alert_says_how_long_after_its_print_it_arrived(admin_client: Client, endpoint):
    page = admin_client.get(reverse("admin:trades_webhookdelivery_changelist")).content.decode()
    deliveries = WebhookDelivery.objects.select_related("trade").exclude(delivered_at=None)
    assert deliveries.count() == 2
    for delivery in deliveries:
        assert delivery.delivered_at is not None and delivery.trade is not None
        late_ms = round((delivery.delivered_at - delivery.trade.traded_at).total_seconds() * 1000)
        assert f"{late_ms:,} ms after the print" in page


def test_the_delivery_changelist_does_not_query_per_row(admin_client: Client, endpoint, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:trades_webhookdelivery_changelist"))


def test_send_test_event_reports_each_outcome(admin_client: Client, endpoint, receiver):
    response = action(admin_client, "admin:trades_webhookendpoint_changelist", "send_test_event", [endpoint.pk])
    assert "Desk: HTTP 200 in" in response.content.decode()  # the admin capitalises messages
    assert receiver.requests[-1].json()["type"] == "webhook.test"
    assert receiver.requests[-1].signature_ok


def test_regenerate_secret_replaces_it(admin_client: Client, endpoint):
    old = endpoint.secret
    admin_client.post(reverse("admin:trades_webhookendpoint_regenerate_secret", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret.startswith("whsec_")


def test_resend_queues_the_selected_deliveries_with_their_ids(admin_client: Client, endpoint, receiver):
    delivery = WebhookDelivery.objects.order_by("pk").first()
    assert delivery is not None and delivery.status == DeliveryStatus.DELIVERED
    response = action(admin_client, "admin:trades_webhookdelivery_changelist", "resend", [delivery.pk])
    assert "1 delivery queued to be sent again." in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert webhooks.deliver(delivery.pk) == "delivered"
    assert [r.webhook_id for r in receiver.requests].count(delivery.webhook_id) == 2


def test_the_endpoint_list_shows_a_failing_endpoint_in_red_with_its_run_of_failures(
    admin_client: Client, failing_endpoint: WebhookEndpoint
):
    failing_endpoint.refresh_from_db()
    assert failing_endpoint.failing_since is not None
    since = f"{timezone.localtime(failing_endpoint.failing_since):%H:%M}"

    page = admin_client.get(reverse("admin:trades_webhookendpoint_changelist")).content.decode()

    assert '<span class="verdict verdict-bad" style="color: var(--error-fg)">' in page
    assert f"Failing since {since} (2 failures): 503 Service Unavailable</span>" in page
    assert "icon-no.svg" in page


def test_the_endpoint_list_shows_a_healthy_endpoint_in_green(admin_client: Client, endpoint: WebhookEndpoint):
    page = admin_client.get(reverse("admin:trades_webhookendpoint_changelist")).content.decode()

    assert 'class="verdict verdict-good"' in page and "icon-yes.svg" in page
    assert "Healthy: last success " in page


def test_the_change_page_shows_the_health_fields_read_only(admin_client: Client, failing_endpoint: WebhookEndpoint):
    page = admin_client.get(reverse("admin:trades_webhookendpoint_change", args=[failing_endpoint.pk]))

    html = page.content.decode()
    assert "Consecutive failures" in html and "Failing since" in html and "Last success at" in html
    assert "503 Service Unavailable" in html
    form = page.context["adminform"].form
    assert not {"consecutive_failures", "failing_since", "last_success_at", "last_error"} & set(form.fields)
